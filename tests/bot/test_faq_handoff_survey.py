import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from actions.handoff import HANDOFF_MARKER, ActionHandoff
from actions.survey import ActionSubmitSurvey, ValidateSurveyForm
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import (
    CONVERSATION,
    DOMAIN,
    form_tracker,
    make_tracker,
    render,
    responses,
    slot_changes,
)


def selected(topic: str) -> dict:
    return {
        "faq": {
            "response": {
                "intent_response_key": f"faq/{topic}",
                "utter_action": f"utter_faq/{topic}",
            }
        }
    }


@pytest.mark.parametrize(
    "topic",
    sorted(name.split("/")[1] for name in DOMAIN["responses"] if name.startswith("utter_faq/")),
)
async def test_every_faq_answer_is_complete(backend: FakeBackend, topic: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(
        dispatcher, make_tracker(text="?", intent="faq", response_selector=selected(topic)), {}
    )
    assert responses(dispatcher) == [f"utter_faq/{topic}"]
    render(dispatcher)  # every {variable} filled


async def test_faq_uses_the_backend_limits_and_falls_back_to_its_defaults(
    backend: FakeBackend,
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(
        dispatcher,
        make_tracker(text="快赔额度", intent="faq", response_selector=selected("fast_track")),
        {},
    )
    assert render(dispatcher) == [
        "快速理赔：医疗险 ¥3,000、意外险 ¥3,000、车险 ¥5,000 以内，责任清楚的案件，材料齐全后系统自动审核，优先赔付。超过额度的走正常审核，30日内出结果。"
    ]
    backend.broken = {"/settings": "hang"}
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(
        dispatcher,
        make_tracker(text="多久", intent="faq", response_selector=selected("claim_duration")),
        {},
    )
    assert render(dispatcher)[0].startswith(
        "材料齐全后，我们在30日内作出核定；核定赔付并达成协议后，10日内付款。"
    )


async def test_faq_without_a_selection_is_a_polite_miss(dispatcher: CollectingDispatcher) -> None:
    await ActionAnswerFaq().run(dispatcher, make_tracker(text="?", intent="faq"), {})
    assert responses(dispatcher) == ["utter_default"]


@pytest.mark.parametrize(
    ("intent", "reason", "said"),
    [
        (
            "request_human",
            "request_human",
            "好的，已为您转接人工客服，稍后会有工作人员在这里回复您，请稍候。",
        ),
        (
            "complain",
            "complain",
            "非常抱歉给您添麻烦了。已把您的情况转给人工客服，工作人员会尽快在这里回复您。",
        ),
        (
            "nlu_fallback",
            "fallback",
            "抱歉我一直没理解您的意思，已为您转接人工客服，稍后会有工作人员在这里回复您。",
        ),
    ],
)
async def test_handoff_opens_in_the_backend(
    backend: FakeBackend, intent: str, reason: str, said: str
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionHandoff().run(
        dispatcher, make_tracker(text="x", intent=intent, sender_id="sms:+8613800000001"), {}
    )
    assert backend.handoffs == [("sms:+8613800000001", reason)]
    assert render(dispatcher) == [said]
    # The app hears that this turn opened a handoff (and says where the customer stands).
    assert dispatcher.messages[0]["custom"] == {HANDOFF_MARKER: backend.handoff_status}


async def test_outside_service_hours_the_bot_promises_no_person_and_carries_on(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.handoff_status = "callback"  # the app says when someone will call back
    await ActionHandoff().run(dispatcher, make_tracker(text="转人工", intent="request_human"), {})
    assert backend.handoffs and render(dispatcher) == []
    assert [m["custom"] for m in dispatcher.messages] == [{HANDOFF_MARKER: "callback"}]


async def test_handoff_failure_is_said(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.broken = {"/conversations": 502}
    await ActionHandoff().run(dispatcher, make_tracker(text="转人工", intent="request_human"), {})
    assert render(dispatcher) == ["转人工暂时没成功，非常抱歉，请稍后再说一次“转人工”。"]
    assert not any(m.get("custom") for m in dispatcher.messages)


FORM = "survey_form"


async def test_survey_rating_and_comment(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(FORM, None, text="", intent="EXTERNAL_survey")
    assert slot_changes(await ValidateSurveyForm().run(dispatcher, tracker, {})) == {
        "requested_slot": "survey_rating"
    }

    tracker = form_tracker(
        FORM, "survey_rating", {"survey_rating": "4"}, text='/inform{"rating":"4"}'
    )
    assert slot_changes(await ValidateSurveyForm().run(dispatcher, tracker, {})) == {
        "survey_rating": "4",
        "requested_slot": "survey_comment",
    }

    tracker = form_tracker(FORM, "survey_rating", text="非常满意", intent="rate_service")
    assert (
        slot_changes(await ValidateSurveyForm().run(dispatcher, tracker, {}))["survey_rating"]
        == "5"
    )

    tracker = form_tracker(
        FORM,
        "survey_comment",
        {"survey_comment": "没有"},
        text="没有",
        intent="deny",
        slots={"survey_rating": "5"},
    )
    changes = slot_changes(await ValidateSurveyForm().run(dispatcher, tracker, {}))
    assert changes == {"survey_comment": "-", "requested_slot": None}
    assert dispatcher.messages == []


async def test_rating_in_the_request_itself(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(FORM, None, text="五星好评", intent="rate_service")
    assert slot_changes(await ValidateSurveyForm().run(dispatcher, tracker, {})) == {
        "survey_rating": "5",
        "requested_slot": "survey_comment",
    }


async def test_bad_rating_is_explained(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(FORM, "survey_rating", text="八分")
    assert (
        slot_changes(await ValidateSurveyForm().run(dispatcher, tracker, {}))["survey_rating"]
        is None
    )
    assert render(dispatcher) == ["请回一个1到5之间的数字就行。"]
    tracker = form_tracker(FORM, "survey_rating", text="不想评", intent="deny")
    assert set(
        slot_changes(await ValidateSurveyForm().run(CollectingDispatcher(), tracker, {}))
    ) == {"requested_slot"}


async def test_survey_is_stored_with_the_claim(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    slots = {
        "survey_rating": "2",
        "survey_comment": "太慢了",
        "survey_claim_number": "CL202611250007",
    }
    events = await ActionSubmitSurvey().run(dispatcher, make_tracker(slots=slots), {})
    assert backend.surveys == [{"rating": 2, "comment": "太慢了", "claim_number": "CL202611250007"}]
    assert responses(dispatcher) == ["utter_survey_thanks_low"]
    assert slot_changes(events) == {
        "survey_rating": None,
        "survey_comment": None,
        "survey_claim_number": None,
    }

    dispatcher = CollectingDispatcher()
    await ActionSubmitSurvey().run(
        dispatcher, make_tracker(slots={"survey_rating": "5", "survey_comment": "-"}), {}
    )
    assert backend.surveys[-1] == {"rating": 5}
    assert render(dispatcher) == ["感谢您的评价，我们会继续努力！"]


async def test_survey_backend_down(backend: FakeBackend, dispatcher: CollectingDispatcher) -> None:
    backend.broken = {"/surveys": "hang"}
    await ActionSubmitSurvey().run(dispatcher, make_tracker(slots={"survey_rating": "5"}), {})
    assert render(dispatcher) == ["评价暂时没保存成功，抱歉，您可以稍后再评。"]
    assert CONVERSATION


async def test_a_claim_is_rated_once(backend: FakeBackend) -> None:
    slots = {"survey_rating": "5", "survey_comment": "-", "survey_claim_number": "CL202611250007"}
    dispatcher = CollectingDispatcher()
    await ActionSubmitSurvey().run(dispatcher, make_tracker(slots=slots), {})
    assert responses(dispatcher) == ["utter_survey_thanks"]

    dispatcher = CollectingDispatcher()
    events = await ActionSubmitSurvey().run(
        dispatcher, make_tracker(slots={**slots, "survey_rating": "1"}), {}
    )
    assert render(dispatcher) == [
        "这笔理赔您之前已经评价过了（每笔理赔只记一次评价），谢谢您！还有意见的话可以说“转人工”告诉客服。"
    ]
    assert backend.surveys == [{"rating": 5, "claim_number": "CL202611250007"}]
    assert slot_changes(events) == {
        "survey_rating": None,
        "survey_comment": None,
        "survey_claim_number": None,
    }


async def test_survey_refused_for_another_reason_is_not_called_already_done(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.refusals = {"/surveys": (422, {"code": "validation_error", "message": "x"})}
    await ActionSubmitSurvey().run(dispatcher, make_tracker(slots={"survey_rating": "4"}), {})
    assert responses(dispatcher) == ["utter_survey_save_failed"]
