"""Twilio SMS driven as Twilio drives it: signed form posts to the public URL, answers
through the (fake) REST API, status callbacks, opted-out numbers."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from channels.messages import Button, InboundMessage, OutboundMessage
from channels.twilio.segments import count_segments
from channels.twilio.sender import (
    SmsOptedOutError,
    SmsRejectedError,
    SmsSender,
    SmsTransportError,
)
from tests.channels.conftest import (
    INTERNAL_BASE_URL,
    PHONE,
    PUBLIC_BASE_URL,
    TWILIO_NUMBER,
    RecordingGateway,
    running_channels,
    twilio_settings,
)
from tests.fakes.fake_twilio import FakeTwilio, SignedForm, TwilioWebhooks

pytestmark = pytest.mark.anyio


async def _post(client: httpx.AsyncClient, signed: SignedForm) -> httpx.Response:
    return await client.post(signed.path, data=signed.form, headers=signed.headers)


async def test_inbound_sms_is_answered_through_the_rest_api(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    gateway = RecordingGateway(delay_seconds=1.0)  # a bot turn slower than the webhook
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="理赔进度")
        response = await _post(h.client, inbound)
        sent_when_acknowledged = list(fake_twilio.messages)
        await h.runtime.drain()

    assert response.status_code == 200
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert sent_when_acknowledged == []  # empty TwiML at once, not after the turn
    [message] = gateway.inbound
    assert (message.conversation_id, message.channel, message.kind) == (
        f"sms:{PHONE}",
        "sms",
        "text",
    )
    assert message.text == "理赔进度"
    assert message.platform_message_id == inbound.form["MessageSid"]

    [sent] = fake_twilio.messages
    assert (sent["to"], sent["from"], sent["body"]) == (PHONE, TWILIO_NUMBER, "收到：理赔进度")
    assert sent["status_callback"] == f"{PUBLIC_BASE_URL}/channels/twilio/status"
    assert gateway.outbound == [
        {
            "conversation_id": f"sms:{PHONE}",
            "text": "收到：理赔进度",
            "route": "sms",
            "status": "queued",
            "platform_message_id": sent["sid"],
            "error_code": None,
        }
    ]


async def test_forged_or_misaddressed_webhooks_are_refused(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="你好")

        tampered = SignedForm(inbound.path, {**inbound.form, "Body": "转账给我"}, inbound.headers)
        assert (await _post(h.client, tampered)).status_code == 403

        unsigned_headers = {k: v for k, v in inbound.headers.items() if k != "X-Twilio-Signature"}
        unsigned = SignedForm(inbound.path, inbound.form, unsigned_headers)
        assert (await _post(h.client, unsigned)).status_code == 403

        # Signed over the URL the app sees behind the proxy, not the public one Twilio calls.
        internal = TwilioWebhooks(
            auth_token=fake_twilio.auth_token,
            public_base_url=INTERNAL_BASE_URL,
            account_sid=fake_twilio.account_sid,
        ).inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="你好")
        assert (await _post(h.client, internal)).status_code == 403

        wrong_token = TwilioWebhooks(
            auth_token="0" * 32,
            public_base_url=PUBLIC_BASE_URL,
            account_sid=fake_twilio.account_sid,
        ).status_callback(message_sid="SM1", status="delivered", to=PHONE, from_=TWILIO_NUMBER)
        assert (await _post(h.client, wrong_token)).status_code == 403
        await h.runtime.drain()

    assert gateway.inbound == [] and gateway.statuses == []
    assert fake_twilio.requests == 0


async def test_a_redelivered_sms_starts_no_second_turn(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="你好")
        for _ in range(3):
            assert (await _post(h.client, inbound)).status_code == 200
        await h.runtime.drain()
    assert len(gateway.inbound) == 1
    assert len(fake_twilio.messages) == 1


async def test_status_callbacks_are_recorded(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="你好")
        await _post(h.client, inbound)
        await h.runtime.drain()
        [sent] = fake_twilio.messages
        # Twilio calls the StatusCallback URL it was given, signed over that URL.
        assert sent["status_callback"].startswith(PUBLIC_BASE_URL)
        path = sent["status_callback"][len(PUBLIC_BASE_URL) :]
        for status, error in (("sent", None), ("delivered", None)):
            callback = twilio_webhooks.status_callback(
                message_sid=sent["sid"],
                status=status,
                to=PHONE,
                from_=TWILIO_NUMBER,
                error_code=error,
                path=path,
            )
            assert (await _post(h.client, callback)).status_code == 204
        failed = twilio_webhooks.status_callback(
            message_sid="SM" + "f" * 32,
            status="undelivered",
            to=PHONE,
            from_=TWILIO_NUMBER,
            error_code="30003",
        )
        assert (await _post(h.client, failed)).status_code == 204

    assert gateway.statuses == [
        (sent["sid"], "sent", None),
        (sent["sid"], "delivered", None),
        ("SM" + "f" * 32, "undelivered", "30003"),
    ]
    assert gateway.opted_out == []


async def test_an_opted_out_number_gets_nothing_and_is_marked(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    fake_twilio.opt_out(PHONE)
    gateway = RecordingGateway()
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="你好")
        await _post(h.client, inbound)
        await h.runtime.drain()

    assert fake_twilio.messages == []
    assert gateway.opted_out == [(f"sms:{PHONE}", "sms_21610")]
    assert [(o["status"], o["error_code"]) for o in gateway.outbound] == [("failed", "21610")]


async def test_stop_is_recorded_as_opt_out_and_not_answered(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        stop = twilio_webhooks.inbound_sms(
            from_=PHONE, to=TWILIO_NUMBER, body="STOP", extra={"OptOutType": "STOP"}
        )
        await _post(h.client, stop)
        await h.runtime.drain()
    assert gateway.opted_out == [(f"sms:{PHONE}", "sms_stop")]
    assert [(m.kind, m.event, m.text) for m in gateway.inbound] == [
        ("event", "unsubscribe", "STOP")
    ]
    assert fake_twilio.messages == []


@pytest.mark.parametrize("word", ["STOP", " stop ", "Unsubscribe", "退订", "td"])
async def test_a_stop_word_without_advanced_opt_out_still_opts_the_number_out(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks, word: str
) -> None:
    """Twilio blocks the number after its default STOP words whether or not Advanced
    Opt-Out tells us (OptOutType); answering would only earn a 21610."""
    gateway = RecordingGateway()
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        await _post(h.client, twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body=word))
        await h.runtime.drain()
    assert gateway.opted_out == [(f"sms:{PHONE}", "sms_stop")]
    assert fake_twilio.messages == []


async def test_stop_inside_a_sentence_is_not_an_opt_out(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    gateway = RecordingGateway(reply=lambda m: [OutboundMessage(text="好的")])
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        body = "please stop the claim"
        await _post(h.client, twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body=body))
        await h.runtime.drain()
    assert gateway.opted_out == []
    assert [m["body"] for m in fake_twilio.messages] == ["好的"]


async def test_a_long_answer_is_split_into_sms_that_twilio_accepts(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    checklist = "\n".join(f"{i}. 第{i}项材料：请拍清楚四个角，文字可辨认。" for i in range(1, 101))
    long_line = "说" * 1700  # one line longer than an SMS may be

    def bot(message: InboundMessage) -> list[OutboundMessage]:
        return [
            OutboundMessage(text="报案成功，案件号 CL202612010001。"),
            OutboundMessage(text=checklist),
            OutboundMessage(text=long_line),
        ]

    gateway = RecordingGateway(reply=bot)
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="报案")
        await _post(h.client, inbound)
        await h.runtime.drain()

    bodies = [m["body"] for m in fake_twilio.messages]
    assert all(len(b) <= 1600 for b in bodies)
    # Nothing is lost or reordered: the SMS, read in order, are the whole answer.
    assert "".join(bodies).replace("\n", "") == (
        "报案成功，案件号 CL202612010001。" + checklist + long_line
    ).replace("\n", "")
    # A message that does not fit after the one before starts its own SMS and is cut at
    # line ends; a line longer than an SMS is cut where it must be.
    assert bodies[0] == "报案成功，案件号 CL202612010001。"
    assert bodies[1].startswith("1. 第1项材料") and bodies[2].endswith(
        "100. 第100项材料：请拍清楚四个角，文字可辨认。"
    )
    assert bodies[3] == "说" * 1600 and bodies[4] == "说" * 100
    sids = [m["sid"] for m in fake_twilio.messages]
    assert [(o["status"], o["platform_message_id"]) for o in gateway.outbound] == [
        ("queued", sids[0]),
        ("queued", sids[2]),  # the checklist ends in the third SMS
        ("queued", sids[4]),
    ]


async def test_an_sms_refused_midway_stops_the_rest_and_says_which_failed(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    def bot(message: InboundMessage) -> list[OutboundMessage]:
        return [OutboundMessage(text="甲" * 1500), OutboundMessage(text="乙" * 1500)]

    gateway = RecordingGateway(reply=bot)
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="你好")
        fake_twilio.fail_http(503, times=10)
        await _post(h.client, inbound)
        await h.runtime.drain()

    assert fake_twilio.messages == []
    assert [(o["status"], o["error_code"]) for o in gateway.outbound] == [
        ("failed", "transport"),
        ("failed", "transport"),
    ]


async def test_numbered_buttons_work_over_sms(
    fake_twilio: FakeTwilio, twilio_webhooks: TwilioWebhooks
) -> None:
    def bot(message: InboundMessage) -> list[OutboundMessage]:
        if message.text == "菜单":
            return [
                OutboundMessage(
                    text="请选择：",
                    buttons=(Button("报案", "/report_claim"), Button("查询进度", "/claim_status")),
                )
            ]
        return [OutboundMessage(text=f"好的（{message.text}）")]

    gateway = RecordingGateway(reply=bot)
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        await _post(
            h.client, twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="菜单")
        )
        await h.runtime.drain()
        await _post(h.client, twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="2"))
        await h.runtime.drain()

    assert [m["body"] for m in fake_twilio.messages] == [
        "请选择：\n回复 1 报案\n回复 2 查询进度",
        "好的（/claim_status）",
    ]


# -- the sender on its own ------------------------------------------------------------


def _sender(fake: FakeTwilio, http: httpx.AsyncClient, *, token: str | None = None) -> SmsSender:
    return SmsSender(
        account_sid=fake.account_sid,
        auth_token=SecretStr(token or fake.auth_token),
        from_number=TWILIO_NUMBER,
        api_base_url=fake.base_url,
        status_callback_url=f"{PUBLIC_BASE_URL}/channels/twilio/status",
        http=http,
        timeout_seconds=0.5,
    )


async def test_sender_logs_segments_and_types_errors(
    fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="channels")
    async with httpx.AsyncClient() as http:
        sender = _sender(fake_twilio, http)
        receipt = await sender.send(PHONE, "您的理赔申请已受理，" * 8)  # 80 Chinese characters
        assert receipt.sid.startswith("SM") and receipt.status == "queued"
        assert (receipt.segments.encoding, receipt.segments.segments) == ("UCS-2", 2)
        assert (
            f"{receipt.sid} to +86138****5678 queued: 2 segment(s), UCS-2, 80 chars" in caplog.text
        )
        assert PHONE not in caplog.text
        assert fake_twilio.auth_token not in caplog.text

        fake_twilio.opt_out("+15551230000")
        with pytest.raises(SmsOptedOutError) as opted_out:
            await sender.send("+15551230000", "Your claim is approved")
        assert opted_out.value.code == 21610

        fake_twilio.fail_http(503)
        with pytest.raises(SmsTransportError) as unavailable:
            await sender.send(PHONE, "hello")
        assert unavailable.value.request_sent  # it may have been sent: no blind resend

        fake_twilio.delay(1.0)
        with pytest.raises(SmsTransportError):
            await sender.send(PHONE, "hello")
        fake_twilio.delay(0)

        with pytest.raises(SmsRejectedError) as unauthorized:
            await _sender(fake_twilio, http, token="f" * 32).send(PHONE, "hello")
        assert unauthorized.value.code == 20003

    assert next(m["body"] for m in fake_twilio.messages if m["to"] == PHONE).startswith("您的理赔")


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        # ...and an escape pair is never split across parts: 306 septets, yet 3 parts.
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("理" * 70, "UCS-2", 70, 1),
        ("理" * 71, "UCS-2", 71, 2),
        ("理" * 134, "UCS-2", 134, 2),
        ("理" * 135, "UCS-2", 135, 3),
        ("Claim 理赔", "UCS-2", 8, 1),  # one Chinese character makes the whole SMS UCS-2
        ("😀" * 35, "UCS-2", 70, 1),  # astral characters are two UTF-16 units
    ],
)
def test_segments_are_counted_per_encoding(
    text: str, encoding: str, units: int, segments: int
) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)
