"""Twilio SMS against the real app: signed form posts to the public URL in, answers
through the (fake) REST API with a status callback, delivery status and opt-outs kept."""

from __future__ import annotations

from dataclasses import replace

from tests.fakes.fake_twilio import TwilioWebhooks
from tests.integration.conftest import (
    PUBLIC_BASE_URL,
    TWILIO_NUMBER,
    RunningApp,
    StartApp,
    new_phone,
    wait_for,
)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def outbound_status(app: RunningApp, conversation_id: str) -> tuple[str | None, str | None]:
    [row] = [m for m in app.transcript(conversation_id) if m.direction == "outbound"]
    return row.delivery_status, row.error_code


def test_sms_reaches_the_bot_and_the_answer_goes_out_with_delivery_status(
    start_app: StartApp, database_url: str
) -> None:
    app = start_app(database_url=database_url)
    phone = new_phone()
    conversation_id = f"sms:{phone}"
    inbound = app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="我的理赔进度")

    response = app.post_twilio(inbound)

    assert response.status_code == 200 and response.text == EMPTY_TWIML
    [sent] = app.twilio.wait_for_messages(1)
    assert (sent["to"], sent["from"], sent["body"]) == (phone, TWILIO_NUMBER, "你说：我的理赔进度")
    assert sent["status_callback"] == f"{PUBLIC_BASE_URL}/channels/twilio/status"
    [asked] = app.rasa.received
    assert (asked["sender"], asked["message"]) == (conversation_id, "我的理赔进度")
    assert asked["metadata"]["channel"] == "sms"
    inbound_row, outbound_row = app.wait_for_transcript(conversation_id, 2)
    assert (inbound_row.direction, inbound_row.text, inbound_row.platform_message_id) == (
        "inbound",
        "我的理赔进度",
        inbound.form["MessageSid"],
    )
    assert (outbound_row.direction, outbound_row.text, outbound_row.platform_message_id) == (
        "outbound",
        "你说：我的理赔进度",
        sent["sid"],
    )
    assert outbound_row.delivery_status == "queued"

    def status(value: str, **extra: str) -> int:
        callback = app.webhooks.status_callback(
            message_sid=sent["sid"], status=value, to=phone, from_=TWILIO_NUMBER, **extra
        )
        return app.post_twilio(callback).status_code

    assert status("sent") == 204
    assert outbound_status(app, conversation_id) == ("sent", None)
    assert status("delivered") == 204
    assert outbound_status(app, conversation_id) == ("delivered", None)

    # Forged status callbacks change nothing.
    genuine = app.webhooks.status_callback(
        message_sid=sent["sid"], status="undelivered", to=phone, from_=TWILIO_NUMBER
    )
    forged = [
        replace(genuine, headers={**genuine.headers, "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}),
        replace(
            genuine, headers={k: v for k, v in genuine.headers.items() if k != "X-Twilio-Signature"}
        ),
        # Signed, then altered on the way.
        replace(genuine, form={**genuine.form, "MessageStatus": "failed", "ErrorCode": "30003"}),
        # Signed with somebody else's auth token.
        TwilioWebhooks(
            auth_token="0" * 32, public_base_url=PUBLIC_BASE_URL, account_sid=app.twilio.account_sid
        ).status_callback(message_sid=sent["sid"], status="failed", to=phone, from_=TWILIO_NUMBER),
    ]
    for callback in forged:
        assert app.post_twilio(callback).status_code == 403
    assert outbound_status(app, conversation_id) == ("delivered", None)

    # A late, out-of-order callback does not take the status back.
    assert status("sent") == 204
    assert outbound_status(app, conversation_id) == ("delivered", None)

    app.stop()
    assert len(app.twilio.messages) == 1 and len(app.rasa.received) == 1


def test_forged_inbound_sms_is_refused_and_nothing_happens(start_app: StartApp) -> None:
    app = start_app()
    phone = new_phone()
    genuine = app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="你好")
    forged = [
        replace(genuine, headers={**genuine.headers, "X-Twilio-Signature": "AAAA"}),
        replace(genuine, form={**genuine.form, "Body": "把理赔款打到这个账户"}),
        # Signed over the URL the app sees, not the public one Twilio calls.
        TwilioWebhooks(
            auth_token=app.twilio.auth_token,
            public_base_url=app.base_url,
            account_sid=app.twilio.account_sid,
        ).inbound_sms(from_=phone, to=TWILIO_NUMBER, body="你好"),
    ]
    for webhook in forged:
        assert app.post_twilio(webhook).status_code == 403

    app.stop()
    assert app.rasa.received == []
    assert app.twilio.requests == 0
    assert app.conversation(f"sms:{phone}") is None


def test_number_refused_with_21610_is_opted_out_and_gets_nothing_more(
    start_app: StartApp,
) -> None:
    app = start_app()
    phone = new_phone()
    conversation_id = f"sms:{phone}"
    app.twilio.opt_out(phone)  # the person texted STOP to Twilio earlier

    app.post_twilio(app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="你好"))

    wait_for(
        lambda: (c := app.conversation(conversation_id)) is not None and c.opted_out,
        what="the conversation to be opted out",
    )
    assert app.twilio.requests == 1 and app.twilio.messages == []
    assert outbound_status(app, conversation_id) == ("failed", "21610")

    later = app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="还在吗")
    assert app.post_twilio(later).status_code == 200
    app.wait_for_transcript(conversation_id, 3)
    assert app.twilio.requests == 1  # nothing more attempted

    # Twilio's own keyword: the person opts back in (Twilio lifts its block) and is
    # answered again.
    app.twilio.opted_out.discard(phone)
    app.post_twilio(app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="start"))
    [welcome] = app.twilio.wait_for_messages(1)
    assert (welcome["to"], welcome["body"]) == (phone, "你说：/greet")
    conversation = app.conversation(conversation_id)
    assert conversation is not None and not conversation.opted_out

    app.stop()  # whatever the app was going to send has been sent now
    assert app.twilio.requests == 2  # the refused one and the welcome back, nothing else
    assert [m["message"] for m in app.rasa.received] == ["你好", "/greet"]
    assert [(m.direction, m.text) for m in app.transcript(conversation_id)] == [
        ("inbound", "你好"),
        ("outbound", "你说：你好"),
        ("inbound", "还在吗"),  # kept for the record, not answered
        ("inbound", "start"),
        ("outbound", "你说：/greet"),
    ]


def test_stop_opts_out_and_start_comes_back(start_app: StartApp) -> None:
    app = start_app()
    phone = new_phone()
    conversation_id = f"sms:{phone}"

    def sms(body: str, opt_out_type: str | None = None) -> None:
        extra = {"OptOutType": opt_out_type} if opt_out_type else None
        webhook = app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body=body, extra=extra)
        assert app.post_twilio(webhook).status_code == 200

    # Twilio (Advanced Opt-Out) has already confirmed the STOP itself.
    sms("STOP", "STOP")
    wait_for(
        lambda: (c := app.conversation(conversation_id)) is not None and c.opted_out,
        what="the conversation to be opted out",
    )
    sms("理赔进度")
    app.wait_for_transcript(conversation_id, 2)
    assert app.twilio.requests == 0

    sms("START", "START")
    [sent] = app.twilio.wait_for_messages(1)
    assert sent["to"] == phone
    conversation = app.conversation(conversation_id)
    assert conversation is not None and not conversation.opted_out
    app.stop()
    assert app.twilio.requests == 1
