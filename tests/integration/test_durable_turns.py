"""A WeChat or web chat message whose app replica stops mid-turn is still answered, once:
the transaction that stores it also keeps it as an unanswered turn, and a notifications
worker answers it once the replica's lease on it has run out (as for SMS,
test_twilio_durable.py)."""

from __future__ import annotations

import time

import httpx

from backend.core.settings import Settings
from tests.integration.conftest import (
    RunningApp,
    StartApp,
    inbound_turns,
    new_openid,
    notifications_worker,
    wait_for,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(40))


def worker_settings(app: RunningApp) -> Settings:
    return app.settings.model_copy(update={"inbound_retry_seconds": 0.2})


def test_a_wechat_message_whose_replica_stops_mid_turn_is_pushed_by_a_worker_once(
    start_app: StartApp, database_url: str
) -> None:
    replica = start_app(database_url=database_url, inbound_lease_seconds=2, reply_budget=0.5)
    openid = new_openid()
    conversation_id = f"wechat:{openid}"
    msg_id = replica.callbacks.next_msg_id()
    created = int(time.time())
    replica.rasa.delay = 12  # the bot's turn is still running when the replica goes away

    callback = replica.callbacks.text(openid, "我的理赔进度", msg_id=msg_id, create_time=created)
    assert replica.wechat_reply(replica.post_wechat(callback)) is None  # "success"

    # Stored, and kept as a turn to answer, in the transaction of the turn itself.
    [kept] = replica.transcript(conversation_id)
    assert (kept.direction, kept.text, kept.platform_message_id) == (
        "inbound",
        "我的理赔进度",
        msg_id,
    )
    [turn] = inbound_turns(replica, conversation_id)
    assert turn.answered_at is None and turn.channel == "wechat"
    wait_for(lambda: replica.rasa.received, what="the replica's bot turn to start")
    replica.stop()  # its turn is cut off unanswered (as if the process died)
    assert replica.wechat.messages_to(openid) == []

    replica.rasa.delay = 0
    with notifications_worker(worker_settings(replica)):
        pushed = wait_for(
            lambda: replica.wechat.messages_to(openid), timeout=15, what="the worker's push"
        )
        time.sleep(1.0)  # it looks five more times
    assert pushed == [
        {"touser": openid, "msgtype": "text", "text": {"content": "你说：我的理赔进度"}}
    ]
    assert len(replica.wechat.messages_to(openid)) == 1
    texts = [(m.direction, m.text) for m in replica.transcript(conversation_id)]
    assert texts == [("inbound", "我的理赔进度"), ("outbound", "你说：我的理赔进度")]
    [turn] = inbound_turns(replica, conversation_id)
    assert turn.answered_at is not None and turn.attempts == 2

    # WeChat delivering the message again, to another replica, changes nothing.
    asked = len(replica.rasa.received)
    again = start_app(database_url=database_url, reply_budget=0.5)
    retry = again.callbacks.text(openid, "我的理赔进度", msg_id=msg_id, create_time=created)
    assert again.wechat_reply(again.post_wechat(retry)) is None
    again.stop()  # lets any background work finish: a second push would show now
    assert len(again.wechat.messages_to(openid)) == 1
    assert len(again.rasa.received) == asked
    assert len(again.transcript(conversation_id)) == 2


def test_a_wechat_turn_answered_passively_is_not_taken_up_again(
    start_app: StartApp, database_url: str
) -> None:
    app = start_app(database_url=database_url, inbound_lease_seconds=1)
    openid = new_openid()
    callback = app.callbacks.text(openid, "你好", msg_id=app.callbacks.next_msg_id())

    with notifications_worker(worker_settings(app)):
        assert app.wechat_reply(app.post_wechat(callback)) == "你说：你好"
        app.wait_for_transcript(f"wechat:{openid}", 2)
        time.sleep(2.5)  # past the lease
    assert app.wechat.messages_to(openid) == []  # nothing pushed besides the reply
    assert len(app.rasa.received) == 1
    texts = [(m.direction, m.text) for m in app.transcript(f"wechat:{openid}")]
    assert texts == [("inbound", "你好"), ("outbound", "你说：你好")]
    [turn] = inbound_turns(app, f"wechat:{openid}")
    assert turn.answered_at is not None and turn.attempts == 1


def test_wechat_events_that_need_no_answer_leave_no_turn_behind(
    start_app: StartApp, database_url: str
) -> None:
    app = start_app(database_url=database_url)
    openid = new_openid()
    report = app.callbacks.sign(
        "<xml>"
        f"<ToUserName><![CDATA[{app.wechat.app_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
        "<MsgID>200163836</MsgID><Status><![CDATA[success]]></Status>"
        "</xml>",
        openid=openid,
    )
    view = app.callbacks.event(openid, "VIEW", event_key="https://claims.example.com/")
    leaving = app.callbacks.event(openid, "unsubscribe")
    after = app.callbacks.text(openid, "还在吗", msg_id=app.callbacks.next_msg_id())
    for callback in (report, view, leaving, after):
        assert app.wechat_reply(app.post_wechat(callback)) is None
    app.stop()
    # The person's three kept (the template report is the platform's, not theirs).
    assert len(app.transcript(f"wechat:{openid}")) == 3
    assert inbound_turns(app, f"wechat:{openid}") == []
    assert app.rasa.received == []


def visitor_cookie(app: RunningApp) -> dict[str, str]:
    """A browser's conversation cookie (sent by hand: the app marks it Secure, as it
    is served over https behind the proxy)."""
    page = app.client.get("/chat")
    assert page.status_code == 200
    return {"Cookie": f"claims_chat={page.cookies['claims_chat']}"}


def conversation_of(cookie: dict[str, str]) -> str:
    return cookie["Cookie"].split("=", 1)[1].split("|")[0].strip('"')


def history_texts(app: RunningApp, cookie: dict[str, str]) -> list[tuple[str, str]]:
    response = httpx.get(app.base_url + "/chat/api/history", headers=cookie, timeout=10)
    assert response.status_code == 200
    return [(line["sender"], line["text"]) for line in response.json()["lines"]]


def test_a_web_chat_message_whose_replica_stops_is_kept_and_answered_by_a_worker_once(
    start_app: StartApp, database_url: str
) -> None:
    replica = start_app(database_url=database_url, inbound_lease_seconds=2)
    cookie = visitor_cookie(replica)
    replica.rasa.delay = 12  # the bot's turn is still running when the replica goes away

    sent = replica.client.post("/chat/api/messages", json={"text": "我要报案"}, headers=cookie)

    assert sent.status_code == 202
    # In the history before the visitor heard 202: a reload shows it.
    assert history_texts(replica, cookie) == [("customer", "我要报案")]
    wait_for(lambda: replica.rasa.received, what="the replica's bot turn to start")
    replica.stop()  # its turn is cut off unanswered (as if the process died)

    replica.rasa.delay = 0
    again = start_app(database_url=database_url)  # where the reloaded page lands
    conversation_id = conversation_of(cookie)
    with notifications_worker(worker_settings(replica)):
        again.wait_for_transcript(conversation_id, 2, timeout=15)
        time.sleep(1.0)  # it looks five more times
    assert history_texts(again, cookie) == [("customer", "我要报案"), ("bot", "你说：我要报案")]
    [turn] = inbound_turns(again, conversation_id)
    assert turn.answered_at is not None and turn.attempts == 2


def test_a_web_chat_attachment_is_kept_before_the_visitor_hears_202(
    start_app: StartApp, database_url: str
) -> None:
    app = start_app(database_url=database_url)
    cookie = visitor_cookie(app)
    app.rasa.delay = 3

    sent = app.client.post(
        "/chat/api/attachments",
        content=PNG,
        headers={**cookie, "X-Filename": "invoice.png"},
    )

    assert sent.status_code == 202
    document_id = sent.json()["document_id"]
    conversation_id = conversation_of(cookie)
    [kept] = app.transcript(conversation_id)
    assert (kept.direction, kept.document_id) == ("inbound", document_id)
    [turn] = inbound_turns(app, conversation_id)
    assert turn.answered_at is None
    app.rasa.delay = 0
    app.wait_for_transcript(conversation_id, 2, timeout=10)
    wait_for(lambda: inbound_turns(app, conversation_id)[0].answered_at, what="the turn's end")
