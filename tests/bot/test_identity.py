from rasa_sdk.executor import CollectingDispatcher

from actions.identity import ValidateIdentityForm
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import (
    CONVERSATION,
    form_tracker,
    render,
    responses,
    slot_changes,
    user_event,
)

FORM = "identity_form"


async def test_activation_remembers_the_goal_and_asks_the_policy_number(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(FORM, None, text="我的理赔怎么样了", intent="query_claim_status")
    events = await ValidateIdentityForm().run(dispatcher, tracker, {})
    assert slot_changes(events) == {"goal": "query_claim_status", "requested_slot": "policy_number"}
    assert dispatcher.messages == []


async def test_policy_number_then_id_verifies_and_binds(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(FORM, "policy_number", text="p2025000001", candidates={})
    events = await ValidateIdentityForm().run(dispatcher, tracker, {})
    assert slot_changes(events) == {"policy_number": "P2025000001", "requested_slot": "id_last4"}

    tracker = form_tracker(
        FORM, "id_last4", {"id_last4": "1234"}, text="1234", slots={"policy_number": "P2025000001"}
    )
    events = await ValidateIdentityForm().run(dispatcher, tracker, {})
    changes = slot_changes(events)
    assert changes["verified"] is True
    assert changes["policyholder_name"] == "张伟"
    assert changes["id_last4"] is None  # not kept once used
    assert changes["requested_slot"] is None  # form done
    assert render(dispatcher, changes) == ["身份核实通过，张伟您好！"]
    assert backend.bound[CONVERSATION] == "P2025000001"
    call = backend.calls("POST", "/identities/verify")[0]
    assert call.body == {"policy_number": "P2025000001", "id_last4": "1234"}
    assert call.headers["X-Conversation-Id"] == CONVERSATION


async def test_both_in_one_message(backend: FakeBackend, dispatcher: CollectingDispatcher) -> None:
    tracker = form_tracker(
        FORM, "policy_number", {"policy_number": "P2025000001"}, text="P2025000001 1234"
    )
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes["verified"] is True and changes["requested_slot"] is None


async def test_wrong_id_is_told_plainly_with_attempts_left(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(
        FORM, "id_last4", {"id_last4": "9999"}, text="9999", slots={"policy_number": "P2025000001"}
    )
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes["policy_number"] is None and changes["id_last4"] is None
    assert changes["requested_slot"] == "policy_number"
    assert "verified" not in changes
    assert render(dispatcher) == [
        "保单号和身份证后四位对不上，请核对后重新输入。您还可以再试 4 次。"
    ]


async def test_last_try_warns_then_lock_is_explained_and_stops_the_form(
    backend: FakeBackend,
) -> None:
    backend.failures["P2025000001"] = 3
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM, "id_last4", {"id_last4": "0000"}, text="0000", slots={"policy_number": "P2025000001"}
    )
    await ValidateIdentityForm().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_identity_failed_last_try"]

    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        FORM, "id_last4", {"id_last4": "0000"}, text="0000", slots={"policy_number": "P2025000001"}
    )
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes["identity_blocked"] is True
    assert changes["requested_slot"] is None  # stops asking
    assert render(dispatcher) == [
        "为保护您的信息安全，多次核对失败后身份验证已暂时锁定，大约 15 分钟后可以再试。着急的话说“转人工”，由客服帮您核实。"
    ]


async def test_a_new_request_after_a_lock_tries_again(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(
        FORM, None, text="我要报案", intent="report_claim", slots={"identity_blocked": True}
    )
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes == {
        "goal": "report_claim",
        "identity_blocked": None,
        "requested_slot": "policy_number",
    }


async def test_malformed_answers_are_explained(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(FORM, "policy_number", text="2025000001")
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes == {"policy_number": None, "requested_slot": "policy_number"}
    assert responses(dispatcher) == ["utter_policy_number_invalid"]

    dispatcher = CollectingDispatcher()
    tracker = form_tracker(FORM, "id_last4", text="12345", slots={"policy_number": "P2025000001"})
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes["id_last4"] is None
    assert responses(dispatcher) == ["utter_id_last4_invalid"]
    assert backend.calls("POST", "/identities/verify") == []


async def test_digressions_are_not_taken_as_answers(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    for text, intent in [("转人工", "request_human"), ("不想给", "deny"), ("理赔要多久", "faq")]:
        tracker = form_tracker(FORM, "policy_number", text=text, intent=intent)
        changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
        # Only requested_slot: Rasa rejects the form and the digression rules run.
        assert set(changes) == {"requested_slot"}
    assert dispatcher.messages == []


async def test_backend_down_or_slow_is_a_polite_stop(backend: FakeBackend) -> None:
    for failure in (503, "hang"):
        backend.broken = {"/identities": failure}
        dispatcher = CollectingDispatcher()
        tracker = form_tracker(
            FORM,
            "id_last4",
            {"id_last4": "1234"},
            text="1234",
            slots={"policy_number": "P2025000001"},
        )
        changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
        assert changes["identity_blocked"] is True and changes["requested_slot"] is None
        assert render(dispatcher) == [
            "身份核实服务暂时连不上，请稍后再试；着急的话可以说“转人工”。"
        ]


async def test_already_verified_needs_nothing(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(
        FORM,
        None,
        text="查进度",
        intent="query_claim_status",
        slots={"verified": True},
        history=[user_event("你好", "greet")],
    )
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes["requested_slot"] is None
