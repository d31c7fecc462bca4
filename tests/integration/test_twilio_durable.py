"""An SMS Twilio has had its 200 for is never lost: Twilio does not send it again, so the
app stores it before answering the webhook, and when the replica that took it stops
before answering, another replica answers it, once."""

from __future__ import annotations

import time

from sqlalchemy import select

from backend.core.db import transaction
from backend.models import InboundTurn
from tests.integration.conftest import TWILIO_NUMBER, RunningApp, StartApp, new_phone, wait_for

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def inbound_turns(app: RunningApp, conversation_id: str) -> list[InboundTurn]:
    with transaction(app._sessions) as session:
        return list(
            session.scalars(
                select(InboundTurn).where(InboundTurn.conversation_id == conversation_id)
            ).all()
        )


def test_an_sms_accepted_by_a_replica_that_stops_is_answered_by_another_once(
    start_app: StartApp, database_url: str
) -> None:
    # Replica A takes the message and holds it for 2 s; it would look for stalled ones
    # only once a minute, so no one but B picks it up.
    replica_a = start_app(
        database_url=database_url, inbound_lease_seconds=2, inbound_retry_seconds=60
    )
    phone = new_phone()
    conversation_id = f"sms:{phone}"
    inbound = replica_a.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="我的理赔进度")
    replica_a.rasa.delay = 12  # the bot's turn is still running when A goes away

    response = replica_a.post_twilio(inbound)

    assert response.status_code == 200 and response.text == EMPTY_TWIML
    # Durable before Twilio heard 200.
    [kept] = replica_a.transcript(conversation_id)
    assert (kept.direction, kept.text) == ("inbound", "我的理赔进度")
    [turn] = inbound_turns(replica_a, conversation_id)
    assert turn.answered_at is None and "From" not in turn.message  # no platform form kept
    wait_for(lambda: replica_a.rasa.received, what="A's bot turn to start")
    replica_a.stop()  # its turn is cut off unanswered (as if the process died)
    assert replica_a.twilio.messages == []

    replica_a.rasa.delay = 0
    replica_b = start_app(database_url=database_url, inbound_retry_seconds=0.2)
    [sent] = replica_b.twilio.wait_for_messages(1, timeout=10)
    assert (sent["to"], sent["body"]) == (phone, "你说：我的理赔进度")
    # Twilio delivering the same message again changes nothing.
    assert replica_b.post_twilio(inbound).status_code == 200
    time.sleep(1.0)  # B looks five more times
    assert len(replica_b.twilio.messages) == 1
    texts = [(m.direction, m.text) for m in replica_b.transcript(conversation_id)]
    assert texts == [("inbound", "我的理赔进度"), ("outbound", "你说：我的理赔进度")]
    [turn] = inbound_turns(replica_b, conversation_id)
    assert turn.answered_at is not None and turn.attempts == 2


def test_an_answered_sms_is_not_taken_up_again(start_app: StartApp, database_url: str) -> None:
    # The lease outlasts the turn (as the default's 120 s outlasts Rasa's and Twilio's
    # timeouts); the app looks for stalled messages five times a second.
    app = start_app(database_url=database_url, inbound_lease_seconds=3, inbound_retry_seconds=0.2)
    phone = new_phone()
    inbound = app.webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="你好")

    assert app.post_twilio(inbound).status_code == 200

    app.twilio.wait_for_messages(1)
    time.sleep(4)  # past the lease
    assert [m["body"] for m in app.twilio.messages] == ["你说：你好"]
    assert len(app.rasa.received) == 1
    [turn] = inbound_turns(app, f"sms:{phone}")
    assert turn.answered_at is not None and turn.attempts == 1
