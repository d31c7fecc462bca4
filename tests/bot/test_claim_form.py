import uuid
from datetime import date, timedelta

from rasa_sdk.executor import CollectingDispatcher

from actions.claim_form import (
    ActionAskClaimConfirmed,
    ActionCancel,
    ActionSubmitClaim,
    ValidateClaimForm,
)
from actions.normalize import today_in_china
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import (
    CONVERSATION,
    form_tracker,
    make_tracker,
    render,
    responses,
    slot_changes,
    user_event,
)

FORM = "claim_form"
VERIFIED = {"verified": True}


def ago(days: int) -> str:
    return (today_in_china() - timedelta(days=days)).isoformat()


async def test_one_sentence_fills_every_field(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    text = "昨天在医院看急诊花了三千五"
    entities = [
        {"entity": "incident_date", "value": "昨天", "start": 0, "end": 2},
        {"entity": "location", "value": "医院", "start": 3, "end": 5},
        {"entity": "claim_type", "value": "medical", "start": 6, "end": 8},
        {"entity": "amount", "value": "三千五", "start": 10, "end": 13},
    ]
    tracker = form_tracker(
        FORM, None, text=text, intent="report_claim", entities=entities, slots=VERIFIED
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claim_type"] == "medical"
    assert changes["incident_date"] == ago(1)
    assert changes["location"] == "医院"
    assert changes["description"] == text
    assert changes["claimed_amount"] == "3500.00"
    assert changes["claim_policy_number"] == "P2025000001"
    assert changes["requested_slot"] == "claim_confirmed"
    assert dispatcher.messages == []
    assert backend.calls("POST", "/claims/check")[0].body == {
        "claim_type": "medical",
        "incident_date": ago(1),
    }


async def test_report_before_verification_is_read_when_the_form_starts(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    history = [
        user_event("上周五在停车场被追尾了 修车花了4800", "report_claim"),
        {"event": "action", "name": "identity_form"},
        user_event("P2025000001", "inform"),
    ]
    tracker = form_tracker(
        FORM, None, text="1234", intent="inform", slots=VERIFIED, history=history
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claim_type"] is None  # auto is not covered by 张伟's policy
    assert changes["claimed_amount"] == "4800.00"
    assert changes["requested_slot"] == "claim_type"
    assert render(dispatcher) == [
        "您名下的保单不含车险保障，车辆损失没法在这里报案。如果是别的类型请重新选；有疑问可以说“转人工”。"
    ]


async def test_plain_report_asks_the_type_first(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(FORM, None, text="我要报案", intent="report_claim", slots=VERIFIED)
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes == {"requested_slot": "claim_type"}


async def test_type_from_words_and_unknown_type(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    tracker = form_tracker(FORM, "claim_type", text="看病", slots=VERIFIED)
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claim_type"] == "medical" and changes["requested_slot"] == "incident_date"

    dispatcher = CollectingDispatcher()
    tracker = form_tracker(FORM, "claim_type", text="嗯那个", slots=VERIFIED)
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claim_type"] is None
    assert responses(dispatcher) == ["utter_claim_type_unknown"]


async def test_date_rules_are_explained(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)
    ahead = (today_in_china() + timedelta(days=40)).isoformat()
    cases = {
        ahead: f"出险日期 {ahead} 还没到呢，请确认一下是哪天发生的。",
        "2024-12-20": "出险日期 2024-12-20 在您保单生效之前，保单只保障生效之后发生的事故。如果日期说错了，请重新说一下。",
    }
    for answer, said in cases.items():
        dispatcher = CollectingDispatcher()
        tracker = form_tracker(
            FORM, "incident_date", text=answer, slots={**VERIFIED, "claim_type": "medical"}
        )
        changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
        assert changes["incident_date"] is None and changes["requested_slot"] == "incident_date"
        assert render(dispatcher) == [said]


async def test_limitation_expired(backend: FakeBackend, dispatcher: CollectingDispatcher) -> None:
    backend.bind(CONVERSATION)
    backend.refusals = {"/claims/check": (422, {"code": "limitation_expired", "message": "x"})}
    tracker = form_tracker(
        FORM, "incident_date", text="2024-01-03", slots={**VERIFIED, "claim_type": "medical"}
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["incident_date"] is None
    assert responses(dispatcher) == ["utter_limitation_expired"]
    assert "第26条" in render(dispatcher)[0]


async def test_unreadable_date_and_amount(backend: FakeBackend) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM, "incident_date", text="上周吧", slots={**VERIFIED, "claim_type": "medical"}
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["incident_date"] is None and responses(dispatcher) == [
        "utter_incident_date_invalid"
    ]

    dispatcher = CollectingDispatcher()
    filled = {
        **VERIFIED,
        "claim_type": "medical",
        "incident_date": ago(1),
        "location": "医院",
        "description": "看急诊发烧",
    }
    tracker = form_tracker(FORM, "claimed_amount", text="好多钱", slots=filled)
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claimed_amount"] is None and responses(dispatcher) == [
        "utter_claimed_amount_invalid"
    ]

    dispatcher = CollectingDispatcher()
    tracker = form_tracker(FORM, "claimed_amount", text="两亿", slots=filled)
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claimed_amount"] is None
    assert render(dispatcher) == ["金额 200,000,000.00 元好像不太对，请再确认一下。"]


async def test_amount_unknown_is_allowed(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    filled = {
        **VERIFIED,
        "claim_type": "medical",
        "incident_date": ago(1),
        "location": "医院",
        "description": "看急诊发烧",
    }
    tracker = form_tracker(FORM, "claimed_amount", text="还不知道呢", intent="deny", slots=filled)
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claimed_amount"] == "unknown" and changes["requested_slot"] == "claim_confirmed"


async def test_location_and_description_checks(backend: FakeBackend) -> None:
    base = {**VERIFIED, "claim_type": "medical", "incident_date": ago(1)}
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM, "location", {"location": "在朝阳区人民医院"}, text="在朝阳区人民医院", slots=base
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["location"] == "朝阳区人民医院" and changes["requested_slot"] == "description"

    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM, "description", {"description": "摔"}, text="摔", slots={**base, "location": "家"}
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["description"] is None and changes["requested_slot"] == "description"
    assert changes["description_draft"] == "摔"  # asked once more (action_ask_description)


FILLED = {
    **VERIFIED, "claim_type": "medical", "incident_date": ago(1), "location": "人民医院",
    "description": "昨天在医院看急诊", "claimed_amount": "3500.00",
}  # fmt: skip


async def test_summary_shows_the_claim_in_words(dispatcher: CollectingDispatcher) -> None:
    tracker = make_tracker(slots=FILLED)
    await ActionAskClaimConfirmed().run(dispatcher, tracker, {})
    assert render(dispatcher, FILLED) == [
        f"请核对报案信息：\n类型：医疗\n日期：{ago(1)}\n地点：人民医院\n经过：昨天在医院看急诊\n金额：¥3,500.00\n没问题回“确认”，要改回“不对”。"
    ]
    dispatcher = CollectingDispatcher()
    unknown = {**FILLED, "claimed_amount": "unknown", "claim_type": "auto"}
    await ActionAskClaimConfirmed().run(dispatcher, make_tracker(slots=unknown), {})
    assert (
        "类型：车险" in render(dispatcher, unknown)[0]
        and "金额：暂不清楚" in render(dispatcher, unknown)[0]
    )


async def test_confirm_sets_one_idempotency_key(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(
        FORM,
        "claim_confirmed",
        {"claim_confirmed": True},
        text="确认",
        intent="affirm",
        slots=FILLED,
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claim_confirmed"] is True and changes["requested_slot"] is None
    uuid.UUID(changes["claim_submission_key"])


async def test_an_unsure_yes_does_not_file_the_claim(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(
        FORM,
        "claim_confirmed",
        {"claim_confirmed": True},
        text="对吗",
        intent="affirm",
        slots=FILLED,
        confidence=0.41,
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claim_confirmed"] is None
    assert changes["requested_slot"] == "claim_confirmed"  # the summary is shown again
    assert "claim_submission_key" not in changes
    assert responses(dispatcher) == ["utter_claim_confirm_unsure"]
    assert backend.calls("POST", "/claims") == []

    pressed = CollectingDispatcher()
    button = form_tracker(
        FORM,
        "claim_confirmed",
        {"claim_confirmed": True},
        text="/affirm",
        intent="affirm",
        slots=FILLED,
        confidence=1.0,
    )
    changes = slot_changes(await ValidateClaimForm().run(pressed, button, {}))
    assert changes["claim_confirmed"] is True and pressed.messages == []


async def test_no_asks_which_field_and_reasks_only_that_one(backend: FakeBackend) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM,
        "claim_confirmed",
        {"claim_confirmed": False},
        text="不对",
        intent="deny",
        slots=FILLED,
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["claim_correcting"] is True
    assert changes["requested_slot"] == "correction_field"

    dispatcher = CollectingDispatcher()
    state = {**FILLED, "claim_correcting": True}
    tracker = form_tracker(
        FORM,
        "correction_field",
        {"correction_field": "incident_date"},
        text='/inform{"field":"incident_date"}',
        slots=state,
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["incident_date"] is None
    assert changes["requested_slot"] == "incident_date"

    dispatcher = CollectingDispatcher()
    state = {
        **FILLED,
        "claim_correcting": True,
        "correction_field": "incident_date",
        "incident_date": None,
    }
    tracker = form_tracker(FORM, "incident_date", text="前天", slots=state)
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["incident_date"] == ago(2)
    assert changes["requested_slot"] == "claim_confirmed"  # the summary again, nothing else


async def test_no_naming_the_field_skips_the_question(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(
        FORM,
        "claim_confirmed",
        {"claim_confirmed": False},
        text="地点不对",
        intent="deny",
        slots=FILLED,
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["location"] is None and changes["requested_slot"] == "location"


async def test_no_with_the_new_value_shows_the_summary_again(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    tracker = form_tracker(
        FORM,
        "claim_confirmed",
        {"incident_date": "前天", "claim_confirmed": False},
        text="不对，是前天",
        intent="deny",
        slots=FILLED,
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["incident_date"] == ago(2)
    assert changes["requested_slot"] == "claim_confirmed"


async def test_digressions_reject_the_form(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    for text, intent in [
        ("算了不报了", "cancel"),
        ("理赔要多久", "faq"),
        ("转人工", "request_human"),
    ]:
        tracker = form_tracker(FORM, "claim_type", text=text, intent=intent, slots=VERIFIED)
        changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
        assert set(changes) == {"requested_slot"}


async def test_rules_unreachable_do_not_block_the_form(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.broken = {"/claims/check": "hang"}
    tracker = form_tracker(
        FORM, "incident_date", text="昨天", slots={**VERIFIED, "claim_type": "medical"}
    )
    changes = slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {}))
    assert changes["incident_date"] == ago(1) and dispatcher.messages == []


CONFIRMED = {
    **FILLED,
    "claim_confirmed": True,
    "claim_submission_key": "5f0c3c2e-4c47-4b8e-9f7e-3c1d2b0a9e11",
}


async def test_submit_gives_number_and_whole_checklist(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    events = await ActionSubmitClaim().run(dispatcher, make_tracker(slots=CONFIRMED), {})
    said = render(dispatcher)
    assert said[0] == (
        f"报案成功！理赔号：CL{today_in_china():%Y%m%d}0001\n请准备以下材料，拍照直接发给我就行：\n"
        "1. 身份证\n2. 医疗发票\n3. 费用明细清单\n4. 诊断证明\n5. 银行卡\n"
        "材料齐全后，我们会在30日内给出审核结果。"
    )
    assert responses(dispatcher)[1:] == []  # 3,500 > 3,000: no fast track
    call = backend.calls("POST", "/claims")[-1]
    assert call.headers["Idempotency-Key"] == CONFIRMED["claim_submission_key"]
    assert call.body == {"claim_type": "medical", "incident_date": ago(1), "location": "人民医院",
                         "description": "昨天在医院看急诊", "claimed_amount": "3500.00"}  # fmt: skip
    changes = slot_changes(events)
    assert changes["last_claim_number"] == f"CL{today_in_china():%Y%m%d}0001"
    assert changes["claim_type"] is None and changes["claim_submission_key"] is None
    assert changes["submission_pending"] is False


async def test_inpatient_and_fast_track(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    slots = {**CONFIRMED, "description": "肺炎住院三天", "claimed_amount": "2800.00"}
    await ActionSubmitClaim().run(dispatcher, make_tracker(slots=slots), {})
    assert backend.calls("POST", "/claims")[-1].body["inpatient"] is True
    assert "5. 出院小结" in render(dispatcher)[0]
    assert responses(dispatcher)[1] == "utter_claim_fast_track"


async def test_timeout_keeps_the_claim_and_the_key_and_retry_does_not_duplicate(
    backend: FakeBackend,
) -> None:
    backend.bind(CONVERSATION)
    backend.broken = {"/claims": "hang"}
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitClaim().run(dispatcher, make_tracker(slots=CONFIRMED), {})
    assert render(dispatcher) == [
        "网络有点问题，报案还没提交成功，您填的信息都还在。回复“确认”我再提交一次。"
    ]
    assert slot_changes(events) == {
        "claim_submission_key": CONFIRMED["claim_submission_key"],
        "submission_pending": True,
    }

    backend.broken = {}
    for _ in range(2):  # "确认" twice: still one claim
        dispatcher = CollectingDispatcher()
        await ActionSubmitClaim().run(
            dispatcher, make_tracker(slots={**CONFIRMED, "submission_pending": True}), {}
        )
        assert responses(dispatcher)[0] == "utter_claim_created"
    assert len(backend.claims) == 1
    keys = {
        call.headers["Idempotency-Key"]
        for call in backend.calls("POST", "/claims")
        if call.path == "/claims"
    }
    assert keys == {CONFIRMED["claim_submission_key"]}


async def test_backend_error_answer_is_polite(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    backend.broken = {"/claims": 500}
    await ActionSubmitClaim().run(dispatcher, make_tracker(slots=CONFIRMED), {})
    assert responses(dispatcher) == ["utter_claim_submit_failed"]


async def test_refused_submission_is_explained(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    backend.refusals = {"/claims": (422, {"code": "after_policy_end", "message": "x"})}
    events = await ActionSubmitClaim().run(dispatcher, make_tracker(slots=CONFIRMED), {})
    assert responses(dispatcher) == ["utter_after_policy_end", "utter_claim_not_submitted"]
    assert render(dispatcher)[0].startswith(f"出险日期 {ago(1)} 在您保单到期之后")
    assert slot_changes(events)["submission_pending"] is False


async def test_lost_binding_asks_to_verify_again(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    events = await ActionSubmitClaim().run(
        dispatcher, make_tracker(slots=CONFIRMED), {}
    )  # not bound
    assert responses(dispatcher) == ["utter_identity_expired"]
    assert slot_changes(events)["verified"] is False


async def test_cancel_stops_the_report_and_says_what_is_kept(
    dispatcher: CollectingDispatcher,
) -> None:
    events = await ActionCancel().run(
        dispatcher, make_tracker(text="算了", intent="cancel", slots=CONFIRMED), {}
    )
    changes = slot_changes(events)
    assert all(
        changes[slot] is None
        for slot in ("claim_type", "incident_date", "claim_submission_key", "pending_attachments")
    )
    assert changes["submission_pending"] is False and changes["goal"] is None
    assert changes["claim_draft"]["incident_date"] == CONFIRMED["incident_date"]
    assert render(dispatcher) == [
        "好的，报案先停下了，没有提交。您已经说过的类型、日期、地点、经过、金额我先替您记着，"
        "改主意了说“继续报案”就能接着填。"
    ]


async def test_cancel_with_nothing_filled_says_nothing_is_kept(
    dispatcher: CollectingDispatcher,
) -> None:
    await ActionCancel().run(dispatcher, make_tracker(text="算了", intent="cancel"), {})
    assert render(dispatcher) == ["好的，已取消，刚才填的内容不会保存。还有什么可以帮您？"]


def test_date_helper_is_today_based() -> None:
    assert date.fromisoformat(ago(0)) == today_in_china()
