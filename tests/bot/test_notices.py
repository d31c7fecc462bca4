"""action_notice_preference: the customer picks the channel for proactive notices, or
stops and restarts them, in the chat; the backend stores it on the policyholder."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.notices import ActionNoticePreference
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import (
    CONVERSATION,
    make_tracker,
    render,
    responses,
    slot_changes,
    user_event,
)

VERIFIED = {"verified": True}
ASKED_ONCE = "好的，不再主动给您发理赔通知了，进度随时可以找我查；想恢复时说“恢复通知”。"


def wish(text: str, entities: list[dict] | None = None):
    return make_tracker(
        text=text, intent="notice_preference", entities=entities or [], slots=VERIFIED
    )


async def say(text: str, entities: list[dict] | None = None) -> list[str]:
    dispatcher = CollectingDispatcher()
    await ActionNoticePreference().run(dispatcher, wish(text, entities), {})
    return render(dispatcher)


async def test_choose_sms_then_stop_then_restart(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)

    assert await say("以后发短信通知我") == ["好的，以后理赔进度通过短信通知您。"]
    assert backend.notice_preferences["P2025000001"] == {"channel": "sms", "paused": False}
    [call] = backend.calls("PUT", "/me/notice-preferences")
    assert call.body == {"channel": "sms", "paused": False}
    assert call.headers["X-Conversation-Id"] == CONVERSATION

    assert await say("别再给我发通知了") == [ASKED_ONCE]
    assert backend.calls("PUT", "/me/notice-preferences")[-1].body == {"paused": True}
    # The channel stays what the customer chose; only the pause changed.
    assert backend.notice_preferences["P2025000001"] == {"channel": "sms", "paused": True}

    assert await say("恢复通知") == ["好的，已恢复理赔进度通知。"]
    assert backend.notice_preferences["P2025000001"] == {"channel": "sms", "paused": False}


async def test_choosing_a_channel_also_ends_a_pause(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)
    backend.notice_preferences["P2025000001"] = {"channel": "auto", "paused": True}
    assert await say("别发短信了，用微信通知我就行") == ["好的，以后理赔进度通过微信公众号通知您。"]
    assert backend.notice_preferences["P2025000001"] == {"channel": "wechat", "paused": False}


@pytest.mark.parametrize(
    ("text", "entities", "body"),
    [
        ('/notice_preference{"notice_channel":"sms"}', [{"entity": "notice_channel", "value": "sms"}],
         {"channel": "sms", "paused": False}),
        ('/notice_preference{"notice_switch":"off"}', [{"entity": "notice_switch", "value": "off"}],
         {"paused": True}),
        ('/notice_preference{"notice_switch":"on"}', [{"entity": "notice_switch", "value": "on"}],
         {"paused": False}),
        # Words the action's lists do not know, but the NLU's synonyms did.
        ("消息走那个吧", [{"entity": "notice_channel", "value": "wechat"}],
         {"channel": "wechat", "paused": False}),
        ("这个就算了", [{"entity": "notice_switch", "value": "off"}], {"paused": True}),
    ],
)  # fmt: skip
async def test_buttons_and_entities(
    backend: FakeBackend, text: str, entities: list[dict], body: dict
) -> None:
    backend.bind(CONVERSATION)
    await say(text, entities)
    assert backend.calls("PUT", "/me/notice-preferences")[-1].body == body


@pytest.mark.parametrize("text", ["短信别发了", "帮我把短信通知关了"])
async def test_a_channel_only_turned_down_is_a_stop(backend: FakeBackend, text: str) -> None:
    backend.bind(CONVERSATION)
    # The NLU tags the channel word whether it is wanted or not.
    assert await say(text, [{"entity": "notice_channel", "value": "sms"}]) == [ASKED_ONCE]
    assert backend.calls("PUT", "/me/notice-preferences")[-1].body == {"paused": True}


async def test_unclear_wish_offers_the_choices_without_calling_the_backend(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    await ActionNoticePreference().run(dispatcher, wish("通知设置"), {})
    assert responses(dispatcher) == ["utter_notify_which"]
    assert render(dispatcher) == ["理赔进度通知想怎么收？可以选微信或短信，也可以暂停。"]
    assert backend.calls("PUT", "/me/notice-preferences") == []


async def test_after_verification_the_earlier_wish_is_carried_out(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    # identity_form ran in between: the latest message is the ID, not the wish.
    backend.bind(CONVERSATION)
    history = [
        user_event("以后发短信通知我", "notice_preference"),
        user_event("P2025000001", "inform"),
    ]
    tracker = make_tracker(text="1234", intent="inform", slots=VERIFIED, history=history)
    await ActionNoticePreference().run(dispatcher, tracker, {})
    assert render(dispatcher) == ["好的，以后理赔进度通过短信通知您。"]
    assert backend.notice_preferences["P2025000001"]["channel"] == "sms"


async def test_lost_binding_asks_to_verify_again(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    events = await ActionNoticePreference().run(dispatcher, wish("不要推送了"), {})  # not bound
    assert responses(dispatcher) == ["utter_identity_expired"]
    assert slot_changes(events) == {"verified": False}
    assert backend.notice_preferences == {}


async def test_backend_trouble_is_said(backend: FakeBackend) -> None:
    backend.bind(CONVERSATION)
    backend.broken = {"/me/notice-preferences": "hang"}
    assert await say("恢复通知") == [
        "系统开小差了，暂时没办成，请稍后再试；着急的话可以说“转人工”。"
    ]
    backend.broken = {}
    backend.refusals = {
        "/me/notice-preferences": (422, {"code": "no_phone", "message": "没有手机号"})
    }
    assert await say("以后发短信通知我") == [
        "通知方式暂时没能改成功，抱歉。可以稍后再试，或者说“转人工”请客服帮您设置。"
    ]
