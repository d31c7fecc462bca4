"""validate_claim_form and validate_identity_form with messages off the happy path:
facts in any order, stories given to other questions, a short story, corrections at
any step, a cancelled report taken up again (issue 10). Real actions, fake backend."""

from __future__ import annotations

from datetime import timedelta

from rasa_sdk.executor import CollectingDispatcher

from actions.claim_form import (
    ActionAskDescription,
    ActionCancel,
    ValidateClaimForm,
    story_facts,
)
from actions.identity import ValidateIdentityForm
from actions.normalize import parse_amount, parse_incident_date, parse_location, today_in_china
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import (
    CONVERSATION,
    form_tracker,
    make_tracker,
    render,
    slot_changes,
    user_event,
)

FORM = "claim_form"
VERIFIED = {"verified": True}


def ago(days: int) -> str:
    return (today_in_china() - timedelta(days=days)).isoformat()


async def run(tracker, dispatcher=None):  # type: ignore[no-untyped-def]
    dispatcher = dispatcher or CollectingDispatcher()
    return slot_changes(await ValidateClaimForm().run(dispatcher, tracker, {})), dispatcher


# ------------------------------------------------------------------ numbers, dates, places


def test_amounts_dates_and_places_as_people_write_them() -> None:
    today = today_in_china()
    assert parse_amount("前天在医院看门诊花了八百") == parse_amount("800", strict=True)
    assert str(parse_amount("三千二")) == "3200.00"
    assert str(parse_amount("一万五千块上下")) == "15000.00"
    assert str(parse_amount("八百五")) == "850.00"
    assert str(parse_amount("2.3万")) == "23000.00"
    assert parse_incident_date("大前天") == today - timedelta(days=3)
    assert parse_incident_date("前天晚上") == today - timedelta(days=2)
    assert parse_incident_date("头天晚上") == today - timedelta(days=1)
    assert parse_incident_date("12月1号") <= today  # never in the future
    assert parse_location("昨天在北京协和医院住院") == "北京协和医院"
    assert parse_location("在吗") is None and parse_location("现在怎么办") is None


def test_a_place_name_alone_is_not_a_story() -> None:
    assert "description" not in story_facts("在朝阳区人民医院", {})
    facts = story_facts("前天在医院看门诊花了八百", {})
    assert facts == {
        "claim_type": "medical", "incident_date": ago(2), "claimed_amount": "800.00",
        "location": "医院", "description": "前天在医院看门诊花了八百",
    }  # fmt: skip


# ------------------------------------------------------------------ facts in any order


async def test_story_given_to_the_type_question_keeps_every_fact(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)
    tracker = form_tracker(FORM, "claim_type", text="前天在医院看门诊花了八百", slots=VERIFIED)
    changes, dispatcher = await run(tracker)
    assert changes["claim_type"] == "medical"
    assert changes["incident_date"] == ago(2)
    assert changes["claimed_amount"] == "800.00"
    assert changes["location"] == "医院"
    assert changes["description"] == "前天在医院看门诊花了八百"
    assert changes["requested_slot"] == "claim_confirmed"
    assert dispatcher.messages == []


async def test_a_fact_for_a_later_question_is_kept_and_not_asked(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)
    slots = {**VERIFIED, "claim_type": "medical"}
    tracker = form_tracker(FORM, "incident_date", text="大前天 花了三千二", slots=slots)
    changes, _ = await run(tracker)
    assert changes["incident_date"] == ago(3) and changes["claimed_amount"] == "3200.00"
    assert changes["requested_slot"] == "location"


async def test_a_place_answer_does_not_change_the_type(backend: FakeBackend) -> None:
    slots = {**VERIFIED, "claim_type": "accident", "incident_date": ago(1)}
    tracker = form_tracker(FORM, "location", text="市第一人民医院", slots=slots)
    changes, _ = await run(tracker)
    assert changes == {"location": "市第一人民医院", "requested_slot": "description"}


async def test_identity_and_story_in_one_message_are_read_when_the_report_starts(
    backend: FakeBackend,
) -> None:
    backend.bind(CONVERSATION)
    first = "你好 我是张伟 保单号P2025000001 身份证后四位1234 前天在人民医院看门诊花了八百"
    history = [user_event(first, "inform"), {"event": "action", "name": "identity_form"}]
    tracker = form_tracker(FORM, None, text=first, intent="inform", slots=VERIFIED, history=history)
    changes, _ = await run(tracker)
    assert changes["claim_type"] == "medical" and changes["incident_date"] == ago(2)
    assert changes["claimed_amount"] == "800.00" and changes["location"] == "人民医院"
    assert "P2025000001" not in changes["description"] and "1234" not in changes["description"]
    assert changes["requested_slot"] == "claim_confirmed"


async def test_report_typed_at_the_policy_question_keeps_the_goal_and_asks_again(
    backend: FakeBackend,
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "identity_form", "policy_number", text="我要报案", intent="report_claim"
    )
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    # A slot event, so Rasa does not reject the form: the question comes again.
    assert changes == {"goal": "report_claim", "requested_slot": "policy_number"}
    assert dispatcher.messages == []


async def test_a_story_at_the_policy_question_is_not_called_a_bad_policy_number(
    backend: FakeBackend,
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "identity_form", "policy_number", text="孩子上周三发烧住院了 花了一万五", intent="inform"
    )
    changes = slot_changes(await ValidateIdentityForm().run(dispatcher, tracker, {}))
    assert changes == {"goal": "report_claim", "requested_slot": "policy_number"}
    assert dispatcher.messages == []


# ------------------------------------------------------------------ free-text story


async def test_a_short_story_gets_one_follow_up_then_is_taken(backend: FakeBackend) -> None:
    slots = {**VERIFIED, "claim_type": "medical", "incident_date": ago(1), "location": "家"}
    changes, dispatcher = await run(form_tracker(FORM, "description", text="发烧", slots=slots))
    assert changes["description"] is None and changes["description_draft"] == "发烧"
    assert changes["requested_slot"] == "description" and dispatcher.messages == []
    slots["description_draft"] = "发烧"
    asked = CollectingDispatcher()
    await ActionAskDescription().run(asked, make_tracker(slots=slots), {})
    assert render(asked) == [
        "收到。能再多说一点吗？比如怎么发生的、伤到哪里或看的什么病。没有要补充的回“就这些”。"
    ]  # instead of the question: one gentle follow-up
    for reply, story, intent in [
        ("烧到39度去打了针", "发烧，烧到39度去打了针", "complain"),
        ("就这些", "发烧", "goodbye"),
    ]:
        changes, dispatcher = await run(
            form_tracker(FORM, "description", text=reply, intent=intent, slots=slots)
        )
        assert changes["description"] == story and changes["description_draft"] is None
        assert changes["requested_slot"] == "claimed_amount" and dispatcher.messages == []


async def test_a_story_classified_as_a_question_is_still_the_story(backend: FakeBackend) -> None:
    slots = {**VERIFIED, "claim_type": "medical", "incident_date": ago(1), "location": "医院"}
    text = "昨天做了个胃镜花了一千二 这个能报吗"
    changes, _ = await run(form_tracker(FORM, "description", text=text, intent="faq", slots=slots))
    assert changes["description"] == text and changes["claimed_amount"] == "1200.00"
    # A real question in between is not the story.
    changes, _ = await run(
        form_tracker(FORM, "description", text="理赔要多久", intent="faq", slots=slots)
    )
    assert changes == {"requested_slot": "description"}


# ------------------------------------------------------------------ corrections, cancel, resume


async def test_a_correction_at_any_step_changes_that_field(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)
    slots = {**VERIFIED, "claim_type": "medical", "incident_date": ago(1)}
    changes, _ = await run(
        form_tracker(FORM, "location", text="日期不对，是大前天", slots=slots)
    )
    changes.pop("claim_policy_number", None)  # the backend's rules ran on the new date
    assert changes == {"incident_date": ago(3), "requested_slot": "location"}
    slots = {**slots, "location": "医院", "description": "看病", "claimed_amount": "800.00"}
    changes, _ = await run(form_tracker(FORM, "claim_confirmed", text="金额改成一千五", slots=slots))
    assert changes["claimed_amount"] == "1500.00"
    assert changes["requested_slot"] == "claim_confirmed"  # the summary again


async def test_cancel_then_change_of_mind_takes_the_report_up_again(
    backend: FakeBackend,
) -> None:
    backend.bind(CONVERSATION)
    filled = {**VERIFIED, "claim_type": "medical", "incident_date": ago(2)}
    cancel = await ActionCancel().run(
        CollectingDispatcher(), make_tracker(text="算了不报了", intent="cancel", slots=filled), {}
    )
    draft = slot_changes(cancel)["claim_draft"]
    assert draft == {"claim_type": "medical", "incident_date": ago(2)}
    for text in ("要不还是报了吧", "继续刚才的"):
        tracker = form_tracker(
            FORM, None, text=text, intent="report_claim",
            slots={**VERIFIED, "claim_draft": draft},
        )  # fmt: skip
        changes, _ = await run(tracker)
        assert changes["claim_type"] == "medical" and changes["incident_date"] == ago(2)
        assert changes["claim_draft"] is None and changes["requested_slot"] == "location"
    # A new report after a cancelled one starts empty, and forgets the old one.
    tracker = form_tracker(
        FORM, None, text="我要报案", intent="report_claim",
        slots={**VERIFIED, "claim_draft": draft},
        history=[user_event("算了不报了", "cancel"), {"event": "action", "name": "action_cancel"},
                 user_event("你好", "greet"), {"event": "action", "name": "utter_greet"}],
    )  # fmt: skip
    changes, _ = await run(tracker)
    assert changes == {"claim_draft": None, "requested_slot": "claim_type"}
