"""The WeChat callback driven exactly as WeChat drives it: signed query string, XML body
(plain, or AES safe mode), passive reply or "success" plus customer-service messages."""

from __future__ import annotations

import time

import pytest

from channels.messages import Button, MediaRef, OutboundMessage
from tests.channels.conftest import (
    OPENID,
    RecordingGateway,
    new_aes_key,
    running_channels,
    wechat_settings,
)
from tests.fakes.fake_wechat import FakeWeChat, WeChatCallbacks

pytestmark = pytest.mark.anyio


# -- URL verification ------------------------------------------------------------------


async def test_url_verification_echoes_echostr(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    async with running_channels(
        wechat_settings(fake_wechat, wechat_token), RecordingGateway()
    ) as h:
        response = await h.client.get("/channels/wechat", params=callbacks.verification("abc123"))
        assert response.status_code == 200
        assert response.text == "abc123"

        forged = {**callbacks.verification("abc123"), "signature": "0" * 40}
        assert (await h.client.get("/channels/wechat", params=forged)).status_code == 403


# -- signatures: forged and stale are refused before anything happens -------------------


async def test_forged_signature_is_refused_and_nothing_is_processed(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "你好")
        forged = {**callback.params, "signature": callback.params["signature"][::-1]}
        assert (await h.post_callback(forged, callback.body)).status_code == 403

        # Signed by someone who does not know our token.
        impostor = WeChatCallbacks(token="not-our-token", app_id=fake_wechat.app_id)
        other = impostor.text(OPENID, "你好")
        assert (await h.post_callback(other.params, other.body)).status_code == 403

        missing = {k: v for k, v in callback.params.items() if k != "signature"}
        assert (await h.post_callback(missing, callback.body)).status_code == 403
        await h.runtime.drain()

    assert gateway.inbound == []
    assert gateway.outbound == []
    assert fake_wechat.api_calls == []
    assert fake_wechat.token_fetches == 0


# Clear of the 300-second edge: the test and the app read the clock at different moments
# (whole seconds), so 301 could be 300 by the time the app looks.
@pytest.mark.parametrize("age_seconds", [310, 3600, -310])
async def test_stale_or_future_timestamp_is_refused(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, age_seconds: int
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        # Correctly signed, but for a timestamp outside the 5-minute window: a replay.
        callback = callbacks.text(OPENID, "你好", timestamp=int(time.time()) - age_seconds)
        assert (await h.post_callback(callback.params, callback.body)).status_code == 403
        await h.runtime.drain()
    assert gateway.inbound == []


async def test_safe_mode_refuses_tampered_and_plain_callbacks(
    fake_wechat: FakeWeChat, wechat_token: str
) -> None:
    aes_key = new_aes_key()
    safe = WeChatCallbacks(token=wechat_token, app_id=fake_wechat.app_id, aes_key=aes_key)
    plain = WeChatCallbacks(token=wechat_token, app_id=fake_wechat.app_id)
    gateway = RecordingGateway()
    settings = wechat_settings(fake_wechat, wechat_token, aes_key=aes_key)
    async with running_channels(settings, gateway) as h:
        callback = safe.text(OPENID, "你好")
        tampered = callback.body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[AAAA")
        assert (await h.post_callback(callback.params, tampered)).status_code == 403

        # A plain callback (valid plain signature) is not accepted once safe mode is set.
        plain_callback = plain.text(OPENID, "你好")
        response = await h.post_callback(plain_callback.params, plain_callback.body)
        assert response.status_code == 403

        # Encrypted for another official account (other AppID, same key and token).
        other_app = WeChatCallbacks(
            token=wechat_token, app_id="wxffffffffffffffff", aes_key=aes_key
        )
        foreign = other_app.text(OPENID, "你好")
        assert (await h.post_callback(foreign.params, foreign.body)).status_code == 403
        await h.runtime.drain()
    assert gateway.inbound == []


async def test_signed_but_malformed_body_is_a_bad_request(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.sign("<xml><MsgType>text</MsgType>", openid=OPENID)
        assert (await h.post_callback(callback.params, callback.body)).status_code == 400
    assert gateway.inbound == []


# -- passive replies ------------------------------------------------------------------


async def test_text_in_plain_mode_gets_a_passive_reply(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "我要报案", msg_id="24555000000000001")
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert response.status_code == 200
    reply = callbacks.read_reply(response.content)
    assert reply is not None
    assert reply["MsgType"] == "text"
    assert reply["Content"] == "收到：我要报案"
    assert reply["ToUserName"] == OPENID
    assert reply["FromUserName"] == callbacks.account

    [message] = gateway.inbound
    assert message.conversation_id == f"wechat:{OPENID}"
    assert (message.channel, message.kind, message.text) == ("wechat", "text", "我要报案")
    assert message.platform_message_id == "24555000000000001"
    assert message.dedup_key == "wechat:msg:24555000000000001"
    assert gateway.outbound == [
        {
            "conversation_id": f"wechat:{OPENID}",
            "text": "收到：我要报案",
            "route": "wechat_passive",
            "status": "sent",
            "platform_message_id": None,
            "error_code": None,
        }
    ]
    assert fake_wechat.sent_messages == []  # nothing went through the API


async def test_text_in_safe_mode_is_decrypted_and_the_reply_encrypted(
    fake_wechat: FakeWeChat, wechat_token: str
) -> None:
    aes_key = new_aes_key()
    safe = WeChatCallbacks(token=wechat_token, app_id=fake_wechat.app_id, aes_key=aes_key)
    gateway = RecordingGateway()
    settings = wechat_settings(fake_wechat, wechat_token, aes_key=aes_key)
    async with running_channels(settings, gateway) as h:
        callback = safe.text(OPENID, "查询进度")
        assert "查询进度".encode() not in callback.body  # it really is encrypted
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert response.status_code == 200
    assert "收到".encode() not in response.content  # the reply is encrypted too
    reply = safe.read_reply(response.content)  # checks the reply's signature, decrypts
    assert reply is not None and reply["Content"] == "收到：查询进度"
    assert [m.text for m in gateway.inbound] == ["查询进度"]


async def test_several_text_messages_are_joined_into_one_passive_reply(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway(
        reply=lambda m: [
            OutboundMessage(text="您好，我是理赔助手。"),
            OutboundMessage(text="请问需要办理什么？"),
        ]
    )
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "你好")
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    reply = callbacks.read_reply(response.content)
    assert reply is not None
    assert reply["Content"] == "您好，我是理赔助手。\n\n请问需要办理什么？"
    assert [o["route"] for o in gateway.outbound] == ["wechat_passive", "wechat_passive"]
    assert fake_wechat.sent_messages == []


async def test_an_answer_with_an_image_goes_through_the_customer_service_api(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    fake_wechat.add_media("GUIDE_IMAGE", b"\x89PNG...", "image/png")
    gateway = RecordingGateway(
        reply=lambda m: [
            OutboundMessage(text="请参照示例拍摄发票："),
            OutboundMessage(image=MediaRef(wechat_media_id="GUIDE_IMAGE")),
        ]
    )
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "发票怎么拍")
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert response.text == "success"
    assert [(m["msgtype"], m.get("text"), m.get("image")) for m in fake_wechat.sent_messages] == [
        ("text", {"content": "请参照示例拍摄发票："}, None),
        ("image", None, {"media_id": "GUIDE_IMAGE"}),
    ]
    assert [o["route"] for o in gateway.outbound] == ["wechat_customer_service"] * 2


# -- the 5-second rule and WeChat's retries ---------------------------------------------


async def test_slow_turn_answers_once_through_the_api_and_retries_start_no_turn(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway(delay_seconds=1.0)
    settings = wechat_settings(fake_wechat, wechat_token, wechat_reply_budget_seconds=0.3)
    async with running_channels(settings, gateway) as h:
        callback = callbacks.text(OPENID, "我的理赔到哪一步了")
        first = await h.post_callback(callback.params, callback.body)
        sent_when_answered = list(fake_wechat.sent_messages)
        # WeChat retries the very same callback three times.
        retries = [await h.post_callback(callback.params, callback.body) for _ in range(3)]
        await h.runtime.drain()

    assert first.status_code == 200 and first.text == "success"
    assert sent_when_answered == []  # at the budget, before the slow turn was done
    assert [r.text for r in retries] == ["success"] * 3
    assert len(gateway.inbound) == 1  # one bot turn
    assert fake_wechat.sent_messages == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "收到：我的理赔到哪一步了"}}
    ]
    assert [o["route"] for o in gateway.outbound] == ["wechat_customer_service"]


async def test_retry_after_a_passive_reply_gets_the_same_reply_without_a_new_turn(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "你好")
        first = await h.post_callback(callback.params, callback.body)
        retry = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert callbacks.read_reply(first.content) is not None
    first_reply = callbacks.read_reply(first.content)
    retry_reply = callbacks.read_reply(retry.content)
    assert first_reply is not None and retry_reply is not None
    assert retry_reply["Content"] == first_reply["Content"] == "收到：你好"
    assert len(gateway.inbound) == 1
    assert len(gateway.outbound) == 1  # recorded once
    assert fake_wechat.sent_messages == []


async def test_a_retry_arriving_while_the_first_still_waits_takes_over_the_reply(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    """WeChat retries because it gave up on the first connection: the answer must come
    back on the retry's connection, once."""
    import asyncio

    gateway = RecordingGateway(delay_seconds=0.4)
    settings = wechat_settings(fake_wechat, wechat_token, wechat_reply_budget_seconds=1.5)
    async with running_channels(settings, gateway) as h:
        callback = callbacks.text(OPENID, "你好")
        first_task = asyncio.create_task(h.post_callback(callback.params, callback.body))
        await asyncio.sleep(0.1)
        retry = await h.post_callback(callback.params, callback.body)
        first = await first_task
        await h.runtime.drain()

    assert first.text == "success"
    retry_reply = callbacks.read_reply(retry.content)
    assert retry_reply is not None and retry_reply["Content"] == "收到：你好"
    assert len(gateway.inbound) == 1
    assert fake_wechat.sent_messages == []


async def test_events_dedup_by_sender_create_time_and_event(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway(reply=lambda m: [OutboundMessage(text="欢迎关注理赔助手")])
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        created = int(time.time())
        subscribe = callbacks.event(OPENID, "subscribe", create_time=created)
        first = await h.post_callback(subscribe.params, subscribe.body)
        again = callbacks.event(OPENID, "subscribe", create_time=created)  # WeChat's retry
        await h.post_callback(again.params, again.body)
        click = callbacks.event(OPENID, "CLICK", event_key="REPORT_CLAIM", create_time=created)
        await h.post_callback(click.params, click.body)
        await h.runtime.drain()

    reply = callbacks.read_reply(first.content)
    assert reply is not None and reply["Content"] == "欢迎关注理赔助手"
    assert [(m.kind, m.event, m.event_key) for m in gateway.inbound] == [
        ("event", "subscribe", None),
        ("event", "click", "REPORT_CLAIM"),
    ]
    assert gateway.inbound[0].dedup_key == f"wechat:event:{OPENID}:{created}:subscribe"


async def test_unsubscribe_marks_the_person_opted_out_and_says_nothing(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway(reply=lambda m: [OutboundMessage(text="再见")])
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.event(OPENID, "unsubscribe")
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert response.text == "success"
    assert gateway.opted_out == [(f"wechat:{OPENID}", "wechat_unsubscribe")]
    assert [m.event for m in gateway.inbound] == ["unsubscribe"]  # still in the transcript
    assert gateway.outbound == [] and fake_wechat.sent_messages == []


async def test_a_failing_gateway_still_gets_the_person_a_short_apology(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway(fail=True)
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "你好")
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()
    reply = callbacks.read_reply(response.content)
    assert reply is not None and reply["Content"].startswith("抱歉")


# -- numbered buttons -------------------------------------------------------------------


def _menu_or_echo(message: object) -> list[OutboundMessage]:
    from channels.messages import InboundMessage

    assert isinstance(message, InboundMessage)
    if message.text == "菜单":
        return [
            OutboundMessage(
                text="请选择要办理的业务：",
                buttons=(Button("报案", "/report_claim"), Button("查询进度", "/claim_status")),
            ),
            OutboundMessage(text="也可以：", buttons=(Button("转人工", "/human"),)),
        ]
    return [OutboundMessage(text=f"好的（{message.text}）")]


async def test_numbered_buttons_render_and_map_back_to_payloads(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway(reply=_menu_or_echo)
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:

        async def say(text: str) -> str:
            callback = callbacks.text(OPENID, text)
            response = await h.post_callback(callback.params, callback.body)
            reply = callbacks.read_reply(response.content)
            assert reply is not None
            return str(reply["Content"])

        menu = await say("菜单")
        assert menu == (
            "请选择要办理的业务：\n回复 1 报案\n回复 2 查询进度\n\n也可以：\n回复 3 转人工"
        )
        assert await say("２") == "好的（/claim_status）"  # full-width digit
        await say("菜单")
        assert await say("转人工") == "好的（/human）"  # the title works too
        # The last turn had no buttons: a plain "1" now is just "1".
        assert await say("1") == "好的（1）"
        await h.runtime.drain()

    picked = next(m for m in gateway.inbound if m.original_text == "２")
    assert picked.text == "/claim_status"
    assert picked.button_payload == "/claim_status"
    assert gateway.inbound[-1].button_payload is None


# -- media ------------------------------------------------------------------------------


async def test_an_image_is_downloaded_at_once_and_stored_as_a_document(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    photo = b"\xff\xd8\xff\xe0JFIF-invoice-photo"
    fake_wechat.add_media("MEDIA_INVOICE_1", photo, "image/jpeg", "MEDIA_INVOICE_1.jpg")
    gateway = RecordingGateway(reply=lambda m: [OutboundMessage(text="发票已收到")])
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.image(OPENID, "MEDIA_INVOICE_1")
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    reply = callbacks.read_reply(response.content)
    assert reply is not None and reply["Content"] == "发票已收到"
    [stored] = gateway.stored_media
    assert stored["data"] == photo
    assert stored["content_type"] == "image/jpeg"
    assert stored["conversation_id"] == f"wechat:{OPENID}"
    [message] = gateway.inbound
    assert message.kind == "image" and message.media_id == "MEDIA_INVOICE_1"
    [attachment] = message.attachments
    assert attachment.document_id == stored["document_id"]
    assert attachment.size == len(photo)
    assert len(fake_wechat.calls_to("/cgi-bin/media/get")) == 1


async def test_an_expired_media_id_still_reaches_the_gateway_with_the_reason(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway(reply=lambda m: [OutboundMessage(text="图片没有收到，请重新发送")])
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.image(OPENID, "MEDIA_GONE")
        await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()
    [message] = gateway.inbound
    assert message.attachments == ()
    assert message.media_error == "download failed (40007)"
    assert gateway.stored_media == []


async def test_voice_keeps_the_audio_and_uses_the_recognition_text(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    fake_wechat.add_media("VOICE_1", b"#!AMR\n...", "audio/amr", "VOICE_1.amr")
    fake_wechat.add_media("VOICE_2", b"#!AMR\n...", "audio/amr", "VOICE_2.amr")
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        with_text = callbacks.voice(OPENID, "VOICE_1", recognition="我要报案")
        await h.post_callback(with_text.params, with_text.body)
        without = callbacks.voice(OPENID, "VOICE_2")
        await h.post_callback(without.params, without.body)
        await h.runtime.drain()

    first, second = gateway.inbound
    assert (first.kind, first.text, first.media_format) == ("voice", "我要报案", "amr")
    assert (second.kind, second.text) == ("voice", None)  # the gateway asks to type
    assert [s["filename"] for s in gateway.stored_media] == ["VOICE_1.amr", "VOICE_2.amr"]
    assert all(m.attachments for m in gateway.inbound)


async def test_a_file_is_stored_under_its_title(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    fake_wechat.add_media("FILE_1", b"%PDF-1.7 discharge summary", "application/pdf", "x.pdf")
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.file(OPENID, "FILE_1", "出院小结.pdf", size=26)
        await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()
    [stored] = gateway.stored_media
    assert (stored["filename"], stored["content_type"]) == ("出院小结.pdf", "application/pdf")
    assert gateway.inbound[0].kind == "file"


async def test_two_different_menu_clicks_in_one_second_both_count(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        created = int(time.time())
        for key in ("REPORT_CLAIM", "CLAIM_STATUS", "CLAIM_STATUS"):
            click = callbacks.event(OPENID, "CLICK", event_key=key, create_time=created)
            await h.post_callback(click.params, click.body)
        await h.runtime.drain()
    assert [m.event_key for m in gateway.inbound] == ["REPORT_CLAIM", "CLAIM_STATUS"]


async def test_a_slow_answer_to_a_closed_window_is_recorded_as_failed(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    fake_wechat.close_window(OPENID)
    gateway = RecordingGateway(
        delay_seconds=0.5,
        reply=lambda m: [OutboundMessage(text="第一条"), OutboundMessage(text="第二条")],
    )
    settings = wechat_settings(fake_wechat, wechat_token, wechat_reply_budget_seconds=0.2)
    async with running_channels(settings, gateway) as h:
        callback = callbacks.text(OPENID, "你好")
        assert (await h.post_callback(callback.params, callback.body)).text == "success"
        await h.runtime.drain()
    assert fake_wechat.sent_messages == []
    # The first refusal stops the rest (their order would break); both are on record.
    assert [(o["text"], o["status"], o["error_code"]) for o in gateway.outbound] == [
        ("第一条", "failed", "45015"),
        ("第二条", "failed", "45015"),
    ]
    assert len(fake_wechat.calls_to("/cgi-bin/message/custom/send")) == 1


async def test_routes_of_an_unconfigured_channel_are_not_found() -> None:
    from channels.settings import ChannelSettings

    settings = ChannelSettings(_env_file=None, redis_url=None)
    gateway = RecordingGateway()
    async with running_channels(settings, gateway) as h:
        assert (await h.client.get("/channels/wechat")).status_code == 404
        assert (await h.client.post("/channels/wechat", content=b"<xml/>")).status_code == 404
        assert (await h.client.post("/channels/twilio/sms", data={"a": "b"})).status_code == 404
    assert gateway.inbound == []


async def test_a_long_slow_answer_uses_few_api_messages_and_none_too_long(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    # WeChat accepts only 5 customer-service messages per message the user sent.
    fake_wechat.limit_replies(OPENID, 5)
    claims = [f"理赔 CL2026112500{n:02d}：材料已齐，正在审核。" for n in range(1, 8)]
    gateway = RecordingGateway(
        delay_seconds=0.5,
        reply=lambda m: [OutboundMessage(text="您共有 7 笔理赔："), *map(_text, claims)],
    )
    settings = wechat_settings(fake_wechat, wechat_token, wechat_reply_budget_seconds=0.2)
    async with running_channels(settings, gateway) as h:
        callback = callbacks.text(OPENID, "我的理赔怎么样了")
        assert (await h.post_callback(callback.params, callback.body)).text == "success"
        await h.runtime.drain()

    sent = [m["text"]["content"] for m in fake_wechat.sent_messages]
    assert sent == ["\n\n".join(["您共有 7 笔理赔：", *claims])]  # one message, in order
    assert [o["status"] for o in gateway.outbound] == ["sent"] * 8


async def test_an_answer_over_wechats_length_limit_is_split_at_line_ends(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    lines = [
        f"第{n}行：这是一段很长的说明文字，用来超过微信单条文本消息的长度上限。" for n in range(60)
    ]
    gateway = RecordingGateway(reply=lambda m: [OutboundMessage(text="\n".join(lines))])
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "说明")
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert response.text == "success"  # too long for a passive reply
    sent = [m["text"]["content"] for m in fake_wechat.sent_messages]
    assert len(sent) > 1
    assert all(len(piece.encode()) <= 2048 for piece in sent)
    assert "\n".join(sent).splitlines() == lines  # nothing lost, nothing cut mid-line
    assert [o["status"] for o in gateway.outbound] == ["sent"]


async def test_the_reply_quota_running_out_is_recorded_not_retried(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    fake_wechat.add_media("GUIDE_IMAGE", b"\x89PNG...", "image/png")
    fake_wechat.limit_replies(OPENID, 1)
    gateway = RecordingGateway(
        reply=lambda m: [
            OutboundMessage(text="请参照示例拍摄发票："),
            OutboundMessage(image=MediaRef(wechat_media_id="GUIDE_IMAGE")),
            OutboundMessage(text="拍好后直接发给我。"),
        ]
    )
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "发票怎么拍")
        await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert [m["msgtype"] for m in fake_wechat.sent_messages] == ["text"]
    assert [(o["status"], o["error_code"]) for o in gateway.outbound] == [
        ("sent", None),
        ("failed", "45047"),
        ("failed", "45047"),
    ]


def _text(text: str) -> OutboundMessage:
    return OutboundMessage(text=text)
