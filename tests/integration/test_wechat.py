"""WeChat Official Account callbacks against the real app: signed (plain and AES) XML
posts in, passive replies and customer-service messages out, the transcript kept."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import replace
from typing import Any

import pytest
from redis import Redis

from tests.fakes.fake_wechat import WeChatCallbacks
from tests.integration.conftest import (
    RunningApp,
    StartApp,
    closed_port_url,
    new_openid,
    wait_for,
)

APOLOGY = "抱歉，系统繁忙，您的消息已收到，请稍后再试。"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + secrets.token_bytes(600) + b"\xff\xd9"


def new_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def rows(app: RunningApp, conversation_id: str) -> list[tuple[Any, ...]]:
    """The transcript as an operator reads it."""
    return [
        (m.direction, m.sender, m.channel, m.text, m.platform_message_id, m.delivery_status)
        for m in app.transcript(conversation_id)
    ]


@pytest.mark.parametrize("mode", ["plain", "aes"])
def test_text_reaches_the_bot_and_the_answer_is_the_passive_reply(
    start_app: StartApp, database_url: str, mode: str
) -> None:
    app = start_app(database_url=database_url, aes_key=new_aes_key() if mode == "aes" else None)
    openid = new_openid()
    msg_id = app.callbacks.next_msg_id()

    response = app.post_wechat(app.callbacks.text(openid, "我要报案", msg_id=msg_id))

    assert response.status_code == 200
    reply = app.callbacks.read_reply(response.content)  # in AES mode: checked and decrypted
    assert reply is not None
    assert (reply["ToUserName"], reply["FromUserName"]) == (openid, app.callbacks.account)
    assert (reply["MsgType"], reply["Content"]) == ("text", "你说：我要报案")
    [asked] = app.rasa.received
    assert (asked["sender"], asked["message"]) == (f"wechat:{openid}", "我要报案")
    assert asked["metadata"]["channel"] == "wechat"
    app.wait_for_transcript(f"wechat:{openid}", 2)  # the reply's row follows the reply
    assert rows(app, f"wechat:{openid}") == [
        ("inbound", "customer", "wechat", "我要报案", msg_id, None),
        ("outbound", "bot", "wechat", "你说：我要报案", None, "sent"),
    ]
    assert app.wechat.sent_messages == []  # answered passively, not also pushed


def test_url_verification_echoes_only_for_our_signature(start_app: StartApp) -> None:
    app = start_app()
    good = app.callbacks.verification("echo-1234")
    assert app.client.get("/channels/wechat", params=good).text == "echo-1234"
    forged = {**good, "signature": "0" * 40}
    assert app.client.get("/channels/wechat", params=forged).status_code == 403
    stale = app.callbacks.verification("echo-1234", timestamp=int(time.time()) - 600)
    assert app.client.get("/channels/wechat", params=stale).status_code == 403


@pytest.mark.parametrize("mode", ["plain", "aes"])
def test_forged_and_stale_callbacks_are_refused_and_nothing_happens(
    start_app: StartApp, mode: str
) -> None:
    aes_key = new_aes_key() if mode == "aes" else None
    app = start_app(aes_key=aes_key)
    openid = new_openid()
    now = int(time.time())
    valid = app.callbacks.text(openid, "伪造的消息")
    signature_param = "msg_signature" if aes_key else "signature"
    impostor = WeChatCallbacks(
        token=secrets.token_hex(12), app_id=app.callbacks.app_id, aes_key=aes_key
    )
    refused = [
        # A signature that is not ours.
        replace(valid, params={**valid.params, signature_param: "f" * 40}),
        # Signed with another account's token.
        impostor.text(openid, "伪造的消息"),
        # A replay: correctly signed, but over 5 minutes old.
        app.callbacks.text(openid, "旧消息", timestamp=now - 301),
        # No signature at all.
        replace(valid, params={"openid": openid}),
    ]
    if aes_key:
        # The signature covers the encrypted message: altering it on the way is caught.
        tampered = valid.body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[QUFB")
        refused.append(replace(valid, body=tampered))
        # Safe mode refuses plain callbacks, even correctly signed ones.
        plain = WeChatCallbacks(token=app.callbacks.token, app_id=app.callbacks.app_id)
        refused.append(plain.text(openid, "明文消息"))
    for callback in refused:
        response = app.post_wechat(callback)
        assert response.status_code == 403, callback.params
        assert "你说" not in response.text

    app.stop()  # nothing may still be running in the background
    assert app.rasa.received == []
    assert app.conversation(f"wechat:{openid}") is None
    assert app.transcript(f"wechat:{openid}") == []
    assert app.wechat.api_calls == [] and app.wechat.token_fetches == 0


def test_slow_bot_turn_is_pushed_once_and_retries_start_no_second_turn(
    redis_url: tuple[str, str], start_app: StartApp
) -> None:
    app = start_app(reply_budget=0.5, redis=redis_url)
    app.rasa.delay = 1.5  # over the reply budget
    openid = new_openid()
    msg_id = app.callbacks.next_msg_id()
    created = int(time.time())

    def delivery() -> str:
        # WeChat redelivers the same message (MsgId, CreateTime), freshly signed.
        callback = app.callbacks.text(openid, "查询理赔进度", msg_id=msg_id, create_time=created)
        response = app.post_wechat(callback)
        assert response.status_code == 200
        return response.text

    assert delivery() == "success"  # at the budget, before the bot has answered
    assert delivery() == "success"  # retry while the bot is still busy
    pushed = wait_for(lambda: app.wechat.messages_to(openid), what="the pushed answer")
    assert pushed == [
        {"touser": openid, "msgtype": "text", "text": {"content": "你说：查询理赔进度"}}
    ]
    assert delivery() == "success"  # retries after the answer was pushed
    assert delivery() == "success"

    # Shared through Redis under this test's prefix, not in the process.
    redis_client = Redis.from_url(redis_url[0])
    try:
        assert any(msg_id in key.decode() for key in redis_client.scan_iter(redis_url[1] + "*"))
    finally:
        redis_client.close()

    app.stop()  # lets any background work finish: a second push would show now
    assert len(app.wechat.messages_to(openid)) == 1
    assert len(app.rasa.received) == 1
    assert rows(app, f"wechat:{openid}") == [
        ("inbound", "customer", "wechat", "查询理赔进度", msg_id, None),
        ("outbound", "bot", "wechat", "你说：查询理赔进度", None, "sent"),
    ]


def test_image_is_stored_as_an_encrypted_document_and_given_to_the_bot(
    start_app: StartApp,
) -> None:
    app = start_app()
    openid = new_openid()
    conversation_id = f"wechat:{openid}"
    media_id = "MEDIA_" + secrets.token_hex(8)
    app.wechat.add_media(media_id, JPEG, "image/jpeg", "invoice.jpg")
    app.rasa.answer = lambda body: [{"text": "收到您的照片，这是哪一项材料？"}]
    msg_id = app.callbacks.next_msg_id()

    response = app.post_wechat(app.callbacks.image(openid, media_id, msg_id=msg_id))

    assert app.wechat_reply(response) == "收到您的照片，这是哪一项材料？"
    assert len(app.wechat.calls_to("/cgi-bin/media/get")) == 1
    [asked] = app.rasa.received
    assert asked["message"] == "/upload_document"
    [attachment] = asked["metadata"]["attachments"]
    document_id = attachment["document_id"]
    assert attachment["media_type"] == "image/jpeg"

    document = app.document(document_id)
    assert document is not None
    assert (document.media_type, document.size, document.uploaded_by) == (
        "image/jpeg",
        len(JPEG),
        conversation_id,
    )
    blob = app.stored_blob(document)
    assert blob != JPEG and JPEG[16:80] not in blob  # encrypted at rest
    # The bot (for this conversation) reads back exactly the photo that was sent.
    token = app.settings.bot_service_token
    assert token is not None
    content = app.client.get(
        f"/api/v1/documents/{document_id}/content",
        headers={
            "Authorization": f"Bearer {token.get_secret_value()}",
            "X-Conversation-Id": conversation_id,
        },
    )
    assert content.status_code == 200 and content.content == JPEG
    [inbound, _] = app.wait_for_transcript(conversation_id, 2)
    assert (inbound.document_id, inbound.platform_message_id) == (document_id, msg_id)


def test_numbered_buttons_go_out_as_numbers_and_come_back_as_payloads(
    start_app: StartApp,
) -> None:
    app = start_app()

    def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
        if body["message"] == "我要报案":
            return [
                {
                    "text": "请问是哪一类理赔？",
                    "buttons": [
                        {"title": "医疗", "payload": '/inform{"claim_type":"medical"}'},
                        {"title": "意外", "payload": '/inform{"claim_type":"accident"}'},
                    ],
                }
            ]
        return [{"text": "好的，请描述一下经过。"}]

    app.rasa.answer = bot
    openid = new_openid()

    first = app.post_wechat(app.callbacks.text(openid, "我要报案"))
    assert app.wechat_reply(first) == "请问是哪一类理赔？\n回复 1 医疗\n回复 2 意外"

    second = app.post_wechat(app.callbacks.text(openid, "2"))

    assert app.wechat_reply(second) == "好的，请描述一下经过。"
    assert [m["message"] for m in app.rasa.received] == [
        "我要报案",
        '/inform{"claim_type":"accident"}',
    ]
    # The transcript keeps what the person typed.
    assert [m.text for m in app.transcript(f"wechat:{openid}") if m.direction == "inbound"] == [
        "我要报案",
        "2",
    ]


def test_handed_off_conversation_goes_to_the_agent_not_the_bot(start_app: StartApp) -> None:
    app = start_app()
    openid = new_openid()
    app.add_conversation(f"wechat:{openid}", mode="handoff")
    msg_id = app.callbacks.next_msg_id()

    response = app.post_wechat(app.callbacks.text(openid, "人工客服在吗", msg_id=msg_id))

    assert response.status_code == 200 and response.text == "success"  # the agent answers
    app.stop()
    assert app.rasa.received == []
    assert app.wechat.sent_messages == []
    assert rows(app, f"wechat:{openid}") == [
        ("inbound", "customer", "wechat", "人工客服在吗", msg_id, None),
    ]


@pytest.mark.parametrize("failure", ["http_500", "refused"])
def test_bot_down_gives_one_short_apology_and_keeps_the_message(
    start_app: StartApp, failure: str
) -> None:
    if failure == "refused":
        app = start_app(rasa_url=closed_port_url())
    else:
        app = start_app()
        app.rasa.fail = True
    openid = new_openid()
    msg_id = app.callbacks.next_msg_id()
    created = int(time.time())

    def delivery() -> str | None:
        callback = app.callbacks.text(openid, "我的理赔到哪了", msg_id=msg_id, create_time=created)
        return app.wechat_reply(app.post_wechat(callback))

    assert delivery() == APOLOGY
    assert len(APOLOGY) <= 30
    # WeChat retries when it missed the reply: the same answer, not a second turn.
    assert delivery() in (APOLOGY, None)

    app.stop()
    assert len(app.rasa.received) == (1 if failure == "http_500" else 0)
    assert app.wechat.sent_messages == []  # not pushed on top of the passive reply
    assert rows(app, f"wechat:{openid}") == [
        ("inbound", "customer", "wechat", "我的理赔到哪了", msg_id, None),
        ("outbound", "bot", "wechat", APOLOGY, None, "sent"),
    ]


def test_subscribe_is_welcomed_and_unsubscribe_opts_out(start_app: StartApp) -> None:
    app = start_app()
    welcome = "您好，我是理赔助手：可以报案、查询理赔进度、了解所需材料。"
    app.rasa.answer = lambda body: (
        [{"text": welcome}] if body["message"] == "/greet" else [{"text": "?"}]
    )
    openid = new_openid()
    conversation_id = f"wechat:{openid}"
    joined = int(time.time())

    subscribed = app.post_wechat(app.callbacks.event(openid, "subscribe", create_time=joined))

    assert app.wechat_reply(subscribed) == welcome
    assert [(m["sender"], m["message"]) for m in app.rasa.received] == [(conversation_id, "/greet")]
    conversation = app.conversation(conversation_id)
    assert conversation is not None and not conversation.opted_out

    left = app.post_wechat(app.callbacks.event(openid, "unsubscribe", create_time=joined + 60))

    assert left.status_code == 200 and left.text == "success"
    conversation = app.conversation(conversation_id)
    assert conversation is not None and conversation.opted_out
    assert len(app.rasa.received) == 1  # the bot is not asked to talk to someone who left

    # Coming back clears the opt-out and is welcomed again.
    back = app.post_wechat(app.callbacks.event(openid, "subscribe", create_time=joined + 120))
    assert app.wechat_reply(back) == welcome
    conversation = app.conversation(conversation_id)
    assert conversation is not None and not conversation.opted_out
    assert [m.text for m in app.transcript(conversation_id) if m.direction == "inbound"] == [
        "[subscribe]",
        "[unsubscribe]",
        "[subscribe]",
    ]
    assert app.wechat.sent_messages == []
