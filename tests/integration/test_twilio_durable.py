"""An SMS Twilio has had its 200 for is never lost: Twilio does not send it again, so the
app stores it before answering the webhook, and when the replica that took it stops
before answering, a notifications worker answers it, once."""

from __future__ import annotations

import time

from tests.integration.conftest import (
    TWILIO_NUMBER,
    StartApp,
    inbound_turns,
    new_phone,
    notifications_worker,
    wait_for,
)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def test_an_sms_accepted_by_a_replica_that_stops_is_answered_by_a_worker_once(
    start_app: StartApp, database_url: str
) -> None:
    # The replica holds what it took for 2 s; after that a worker may answer it.
    replica = start_app(database_url=database_url, inbound_lease_seconds=2)
    phone = new_phone()
    conversation_id = f"sms:{phone}"
    inbound = replica.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="我的理赔进度")
    replica.rasa.delay = 12  # the bot's turn is still running when the replica goes away

    response = replica.post_twilio(inbound)

    assert response.status_code == 200 and response.text == EMPTY_TWIML
    # Durable before Twilio heard 200.
    [kept] = replica.transcript(conversation_id)
    assert (kept.direction, kept.text) == ("inbound", "我的理赔进度")
    [turn] = inbound_turns(replica, conversation_id)
    assert turn.answered_at is None and "From" not in turn.message  # no platform form kept
    wait_for(lambda: replica.rasa.received, what="the replica's bot turn to start")
    replica.stop()  # its turn is cut off unanswered (as if the process died)
    assert replica.twilio.messages == []

    replica.rasa.delay = 0
    worker_settings = replica.settings.model_copy(update={"inbound_retry_seconds": 0.2})
    with notifications_worker(worker_settings):
        [sent] = replica.twilio.wait_for_messages(1, timeout=15)
        assert (sent["to"], sent["body"]) == (phone, "你说：我的理赔进度")
        time.sleep(1.0)  # it looks five more times
    assert len(replica.twilio.messages) == 1
    texts = [(m.direction, m.text) for m in replica.transcript(conversation_id)]
    assert texts == [("inbound", "我的理赔进度"), ("outbound", "你说：我的理赔进度")]
    [turn] = inbound_turns(replica, conversation_id)
    assert turn.answered_at is not None and turn.attempts == 2
    # Twilio delivering the same message again changes nothing.
    again = start_app(database_url=database_url)
    assert again.post_twilio(inbound).status_code == 200
    time.sleep(0.5)
    assert len(again.twilio.messages) == 1


def test_an_answered_sms_is_not_taken_up_again(start_app: StartApp, database_url: str) -> None:
    # The lease outlasts the turn (as the default's 120 s outlasts Rasa's and Twilio's
    # timeouts); a worker looks for stalled messages five times a second.
    app = start_app(database_url=database_url, inbound_lease_seconds=3)
    phone = new_phone()
    inbound = app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="你好")

    with notifications_worker(app.settings.model_copy(update={"inbound_retry_seconds": 0.2})):
        assert app.post_twilio(inbound).status_code == 200
        app.twilio.wait_for_messages(1)
        time.sleep(4)  # past the lease
    assert [m["body"] for m in app.twilio.messages] == ["你说：你好"]
    assert len(app.rasa.received) == 1
    [turn] = inbound_turns(app, f"sms:{phone}")
    assert turn.answered_at is not None and turn.attempts == 1
