from rasa_sdk.executor import CollectingDispatcher

from actions.documents import (
    ActionAskDocumentClaimNumber,
    ActionAskDocumentItem,
    ActionAttachDocuments,
    ActionReceiveDocuments,
    ActionRequiredDocuments,
    ValidateDocumentForm,
)
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import (
    CONVERSATION,
    form_tracker,
    make_tracker,
    render,
    responses,
    slot_changes,
)

FORM = "document_form"
PHOTO = {"document_id": "d_photo1", "media_type": "image/jpeg"}


async def test_attachments_from_the_channel_metadata_are_kept(
    dispatcher: CollectingDispatcher,
) -> None:
    tracker = make_tracker(
        text="发票",
        intent="upload_document",
        metadata={"attachments": [PHOTO, {"bogus": 1}]},
        slots={"pending_attachments": [{"document_id": "d_old", "media_type": "image/png"}]},
    )
    events = await ActionReceiveDocuments().run(dispatcher, tracker, {})
    assert slot_changes(events) == {
        "pending_attachments": [{"document_id": "d_old", "media_type": "image/png"}, PHOTO],
        "has_attachments": True,
    }
    assert dispatcher.messages == []


async def test_no_attachment_explains_how_to_send(dispatcher: CollectingDispatcher) -> None:
    events = await ActionReceiveDocuments().run(
        dispatcher, make_tracker(text="怎么上传材料", intent="upload_document"), {}
    )
    assert slot_changes(events) == {"has_attachments": False}
    assert render(dispatcher) == [
        "直接在这里发送材料的照片或文件就行，一次可以发多张，我会帮您归到对应的理赔里。"
    ]


async def test_the_one_open_claim_is_chosen_and_missing_items_are_offered(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION, received=("id_card",))
    backend.add_claim(CONVERSATION, status="paid")  # not open for documents
    tracker = form_tracker(
        FORM,
        None,
        text="",
        intent="upload_document",
        slots={"verified": True, "pending_attachments": [PHOTO]},
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_claim_number"] == claim["claim_number"]
    assert changes["requested_slot"] == "document_item"

    dispatcher = CollectingDispatcher()
    await ActionAskDocumentItem().run(
        dispatcher, make_tracker(slots={"document_claim_number": claim["claim_number"]}), {}
    )
    assert render(dispatcher) == ["这是哪一项材料？"]
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == ["医疗发票", "费用明细清单", "诊断证明", "银行卡"]
    assert buttons[0]["payload"] == '/inform{"document_item": "invoice"}'


async def test_several_open_claims_ask_which(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    first = backend.add_claim(CONVERSATION)
    second = backend.add_claim(CONVERSATION, status="reported")
    tracker = form_tracker(
        FORM,
        None,
        text="",
        intent="upload_document",
        slots={"verified": True, "pending_attachments": [PHOTO]},
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["requested_slot"] == "document_claim_number"

    await ActionAskDocumentClaimNumber().run(dispatcher, make_tracker(), {})
    assert responses(dispatcher) == ["utter_ask_document_claim_number"]
    assert {b["payload"] for b in dispatcher.messages[0]["buttons"]} == {
        f'/inform{{"claim_number": "{first["claim_number"]}"}}',
        f'/inform{{"claim_number": "{second["claim_number"]}"}}',
    }

    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM, "document_claim_number", text="CL209901010001", slots={"pending_attachments": [PHOTO]}
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_claim_number"] is None
    assert responses(dispatcher) == ["utter_document_claim_number_invalid"]

    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM,
        "document_claim_number",
        {"document_claim_number": second["claim_number"]},
        text=second["claim_number"],
        slots={"pending_attachments": [PHOTO]},
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert (
        changes["document_claim_number"] == second["claim_number"]
        and changes["requested_slot"] == "document_item"
    )


async def test_item_by_name_or_button(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION)
    state = {"pending_attachments": [PHOTO], "document_claim_number": claim["claim_number"]}
    tracker = form_tracker(
        FORM, "document_item", {"document_item": "这是发票"}, text="这是发票", slots=state
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_item"] == "invoice" and changes["requested_slot"] is None

    tracker = form_tracker(
        FORM, "document_item", {"document_item": "驾驶证"}, text="驾驶证", slots=state
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_item"] is None
    assert responses(dispatcher) == ["utter_document_item_invalid"]


async def test_no_open_claim_stops_with_an_explanation(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    tracker = form_tracker(
        FORM,
        None,
        text="",
        intent="upload_document",
        slots={"verified": True, "pending_attachments": [PHOTO]},
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["pending_attachments"] is None and changes["requested_slot"] is None
    assert render(dispatcher) == ["您目前没有需要补材料的理赔。要报案的话说“报案”就行。"]


async def test_attach_says_what_is_still_missing(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION, received=("id_card", "itemized_bill"))
    slots = {
        "pending_attachments": [PHOTO, {"document_id": "d_photo2", "media_type": "image/jpeg"}],
        "document_claim_number": claim["claim_number"],
        "document_item": "invoice",
    }
    events = await ActionAttachDocuments().run(dispatcher, make_tracker(slots=slots), {})
    assert render(dispatcher) == [
        f"收到！已归入理赔 {claim['claim_number']} 的“医疗发票”。还缺：诊断证明、银行卡。"
    ]
    assert [c.path.split("/")[4] for c in backend.calls("POST", "/claims/")] == [
        "d_photo1",
        "d_photo2",
    ]
    assert slot_changes(events)["pending_attachments"] is None


async def test_last_item_starts_the_review(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(
        CONVERSATION, received=("id_card", "invoice", "itemized_bill", "diagnosis_certificate")
    )
    slots = {
        "pending_attachments": [PHOTO],
        "document_claim_number": claim["claim_number"],
        "document_item": "bank_card",
    }
    await ActionAttachDocuments().run(dispatcher, make_tracker(slots=slots), {})
    said = render(dispatcher)[0]
    assert said.startswith(f"收到！理赔 {claim['claim_number']} 的材料已经齐了，审核已开始，最晚 ")


async def test_attach_refused_or_backend_down(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION)
    slots = {
        "pending_attachments": [PHOTO],
        "document_claim_number": claim["claim_number"],
        "document_item": "accident_report",
    }
    dispatcher = CollectingDispatcher()
    await ActionAttachDocuments().run(dispatcher, make_tracker(slots=slots), {})
    assert responses(dispatcher) == ["utter_document_not_on_checklist"]
    render(dispatcher)

    backend.broken = {"/claims": "hang"}
    dispatcher = CollectingDispatcher()
    events = await ActionAttachDocuments().run(
        dispatcher, make_tracker(slots={**slots, "document_item": "invoice"}), {}
    )
    assert render(dispatcher) == ["材料没有归档成功，请稍后再发一次；着急的话可以说“转人工”。"]
    assert slot_changes(events)["has_attachments"] is False


async def test_required_documents_for_a_verified_customer(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION, received=("id_card", "invoice", "itemized_bill"))
    await ActionRequiredDocuments().run(
        dispatcher,
        make_tracker(text="还缺啥", intent="ask_required_documents", slots={"verified": True}),
        {},
    )
    assert render(dispatcher) == [
        f"理赔 {claim['claim_number']} 还缺：诊断证明、银行卡。拍照发给我就能补交。"
    ]


async def test_required_documents_in_general(backend: FakeBackend) -> None:
    dispatcher = CollectingDispatcher()
    entities = [{"entity": "claim_type", "value": "auto"}]
    await ActionRequiredDocuments().run(
        dispatcher,
        make_tracker(text="车险要什么材料", intent="ask_required_documents", entities=entities),
        {},
    )
    assert responses(dispatcher) == ["utter_checklist_auto"]
    assert backend.requests == []  # nothing about the customer before verification

    dispatcher = CollectingDispatcher()
    await ActionRequiredDocuments().run(
        dispatcher, make_tracker(text="要什么材料", intent="ask_required_documents"), {}
    )
    assert responses(dispatcher) == ["utter_checklist_which_type"]

    backend.broken = {"/claims": 503}
    dispatcher = CollectingDispatcher()
    await ActionRequiredDocuments().run(
        dispatcher,
        make_tracker(text="住院要什么", intent="ask_required_documents", slots={"verified": True}),
        {},
    )
    assert responses(dispatcher) == ["utter_checklist_medical"]


async def test_a_caption_names_the_document(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION)
    tracker = form_tracker(
        FORM, None, text="这是诊断证明", intent="upload_document",
        slots={"verified": True, "pending_attachments": [PHOTO]},
    )  # fmt: skip
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_claim_number"] == claim["claim_number"]
    assert changes["document_item"] == "diagnosis_certificate"
    assert changes["requested_slot"] is None  # nothing to ask
    assert dispatcher.messages == []


async def test_a_caption_waits_for_the_claim_to_be_chosen(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    backend.add_claim(CONVERSATION)
    second = backend.add_claim(CONVERSATION)
    slots = {"verified": True, "pending_attachments": [PHOTO]}
    tracker = form_tracker(FORM, None, text="发票", intent="upload_document", slots=slots)
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_item"] == "发票"
    assert changes["requested_slot"] == "document_claim_number"

    tracker = form_tracker(
        FORM, "document_claim_number", {"document_claim_number": second["claim_number"]},
        text=second["claim_number"], slots={**slots, "document_item": "发票"},
    )  # fmt: skip
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_item"] == "invoice" and changes["requested_slot"] is None


async def test_more_photos_during_the_question_join_the_batch(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION)
    second_photo = {"document_id": "d_photo2", "media_type": "image/jpeg"}
    state = {"pending_attachments": [PHOTO], "document_claim_number": claim["claim_number"]}
    tracker = form_tracker(
        FORM, "document_item", {"document_item": "图片"}, text="图片", intent="upload_document",
        slots=state,
    )  # fmt: skip
    tracker.latest_message["metadata"] = {"attachments": [second_photo]}
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["pending_attachments"] == [PHOTO, second_photo]
    assert changes["document_item"] is None and changes["requested_slot"] == "document_item"
    assert dispatcher.messages == []  # no "wrong answer" for a photo

    tracker = form_tracker(
        FORM, "document_item", {"document_item": "发票"}, text="发票", intent="upload_document",
        slots=state,
    )  # fmt: skip
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_item"] == "invoice"


async def test_item_named_while_the_claim_is_asked(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    backend.add_claim(CONVERSATION)
    second = backend.add_claim(CONVERSATION)
    slots = {"pending_attachments": [PHOTO]}
    tracker = form_tracker(
        FORM, "document_claim_number", text="费用明细", intent="upload_document", slots=slots
    )
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_item"] == "费用明细"
    assert changes["requested_slot"] == "document_claim_number"  # still asked, not rejected
    tracker = form_tracker(
        FORM, "document_claim_number", {"document_claim_number": second["claim_number"]},
        text=second["claim_number"], slots={**slots, "document_item": "费用明细"},
    )  # fmt: skip
    changes = slot_changes(await ValidateDocumentForm().run(dispatcher, tracker, {}))
    assert changes["document_item"] == "itemized_bill" and changes["requested_slot"] is None


async def test_attaching_a_file_the_backend_does_not_know(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    claim = backend.add_claim(CONVERSATION)
    backend.refusals = {f"/claims/{claim['claim_number']}/documents": (404, {"code": "document_not_found"})}
    slots = {
        "pending_attachments": [PHOTO],
        "document_claim_number": claim["claim_number"],
        "document_item": "invoice",
    }
    await ActionAttachDocuments().run(dispatcher, make_tracker(slots=slots), {})
    assert render(dispatcher) == ["没找到刚才发的文件，可能已经过期，请重新发送一次。"]


async def test_no_instructions_while_photos_wait_for_a_question(
    dispatcher: CollectingDispatcher,
) -> None:
    tracker = make_tracker(
        text="费用明细", intent="upload_document", slots={"pending_attachments": [PHOTO]}
    )
    events = await ActionReceiveDocuments().run(dispatcher, tracker, {})
    assert slot_changes(events) == {"has_attachments": False}
    assert dispatcher.messages == []
