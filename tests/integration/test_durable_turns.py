"""A web chat message whose app replica stops mid-turn is still answered, once: it is
kept as an unanswered turn before the visitor hears 202, and a notifications worker
answers it once the replica's lease on it has run out (as for SMS,
test_twilio_durable.py)."""

from __future__ import annotations

import time

import httpx

from backend.core.settings import Settings
from tests.integration.conftest import (
    RunningApp,
    StartApp,
    inbound_turns,
    notifications_worker,
    wait_for,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(40))


def worker_settings(app: RunningApp) -> Settings:
    return app.settings.model_copy(update={"inbound_retry_seconds": 0.2})


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
