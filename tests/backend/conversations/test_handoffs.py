"""The handoff lifecycle through the agents' API, as an agent and a customer meet it:
on SQLite and PostgreSQL (the suite's `client` runs on both)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from backend.conversations import handoffs
from backend.conversations.gateway import HANDOFF_MARKER
from backend.core.settings import Settings
from backend.models import ChannelIdentity, Conversation, Handoff, TranscriptMessage
from backend.staff.service import upsert_staff
from channels.messages import InboundMessage
from tests.backend.claims.conftest import bot_headers
from tests.backend.fake_rasa import FakeRasa

Headers = dict[str, str]


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    with FakeRasa(lambda body: [{"text": "（机器人）"}]).running() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, db_url: str, rasa: FakeRasa) -> Settings:
    return Settings(
        database_url=db_url,
        var_dir=tmp_path / "var",
        document_dir=tmp_path / "documents",
        rasa_url=rasa.url,
        service_hours="00:00-24:00",  # agents are always there, unless a test says so
    )


def _login(client: TestClient, demo: Session, username: str, role: str) -> Headers:
    upsert_staff(demo, username, f"{username}-long-password", role, f"客服{username[-1]}")
    demo.commit()
    r = client.post(
        "/api/v1/staff/login", json={"username": username, "password": f"{username}-long-password"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def agent1(client: TestClient, demo: Session) -> Headers:
    return _login(client, demo, "agent1", "agent")


@pytest.fixture
def agent2(client: TestClient, demo: Session) -> Headers:
    return _login(client, demo, "agent2", "agent")


@pytest.fixture
def customer(client: TestClient, demo: Session, settings: Settings) -> Callable[[], str]:
    """A new web conversation verified as 张伟; returns its id."""

    def make() -> str:
        conversation_id = f"web:{uuid.uuid4().hex[:16]}"
        r = client.post(
            "/api/v1/identities/verify",
            headers=bot_headers(settings, conversation_id),
            json={"policy_number": "P2025000001", "id_last4": "1234"},
        )
        assert r.status_code == 200, r.text
        return conversation_id

    return make


def _ask_for_person(client: TestClient, settings: Settings, conversation_id: str) -> Any:
    r = client.post(
        f"/api/v1/conversations/{conversation_id}/handoff",
        headers=bot_headers(settings, conversation_id),
        json={"reason": "request_human"},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _writes(client: TestClient, conversation_id: str, text: str) -> list[str]:
    """The customer writes (through the gateway, as every channel does); the answers."""
    message_id = uuid.uuid4().hex
    message = InboundMessage(
        conversation_id=conversation_id,
        channel="web",
        kind="text",
        sender_id=conversation_id.removeprefix("web:"),
        text=text,
        platform_message_id=message_id,
        dedup_key=message_id,
    )
    gateway = client.app.state.claims.gateway  # type: ignore[attr-defined]
    answers = client.portal.call(gateway.handle_inbound, message)  # type: ignore[union-attr]
    return [a.text or "" for a in answers]


def _transcript(demo: Session, conversation_id: str) -> list[tuple[str, str, str | None]]:
    demo.expire_all()
    rows = demo.scalars(
        select(TranscriptMessage)
        .where(TranscriptMessage.conversation_id == conversation_id)
        .order_by(TranscriptMessage.id)
    ).all()
    return [(r.sender, r.text or "", r.delivery_status) for r in rows]


def test_the_queue_shows_who_waits_why_and_since_when(
    client: TestClient, settings: Settings, agent1: Headers, customer: Callable[[], str]
) -> None:
    conversation_id = customer()
    opened = _ask_for_person(client, settings, conversation_id)
    assert opened["status"] == "open"
    # Asking again while waiting does not queue twice.
    assert _ask_for_person(client, settings, conversation_id)["handoff_id"] == opened["handoff_id"]

    [item] = client.get("/api/v1/handoffs", headers=agent1).json()["items"]
    assert item["id"] == opened["handoff_id"] and item["status"] == "open"
    assert item["customer_name"] == "张伟" and item["channel"] == "web"
    assert item["reason"] == "request_human" and item["callback"] is False
    assert item["agent"] is None and item["waited_seconds"] >= 0


def test_accept_reply_and_hand_back(
    client: TestClient,
    settings: Settings,
    demo: Session,
    rasa: FakeRasa,
    agent1: Headers,
    agent2: Headers,
    customer: Callable[[], str],
) -> None:
    conversation_id = customer()
    handoff_id = _ask_for_person(client, settings, conversation_id)["handoff_id"]

    # While a person has it the bot is not asked; the message is the agent's.
    assert _writes(client, conversation_id, "我的车被刮了，想问问怎么赔") == []
    assert rasa.received == []

    accepted = client.post(f"/api/v1/handoffs/{handoff_id}/accept", headers=agent1)
    assert accepted.status_code == 200 and accepted.json()["agent"] == "agent1"
    assert accepted.json()["status"] == "active"
    # Accepting twice is harmless for the same agent, a conflict for another.
    assert client.post(f"/api/v1/handoffs/{handoff_id}/accept", headers=agent1).status_code == 200
    taken = client.post(f"/api/v1/handoffs/{handoff_id}/accept", headers=agent2)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "handoff_taken"

    reply = client.post(
        f"/api/v1/handoffs/{handoff_id}/messages",
        headers=agent1,
        json={"text": "您好，我来帮您看看"},
    )
    assert reply.status_code == 200, reply.text
    other = client.post(
        f"/api/v1/handoffs/{handoff_id}/messages", headers=agent2, json={"text": "我也来"}
    )
    assert other.status_code == 409
    transcript = _transcript(demo, conversation_id)
    assert ("agent", "您好，我来帮您看看", "sent") in transcript
    assert any(sender == "system" and "已接入" in text for sender, text, _ in transcript)
    assert not any(text == "我也来" for _, text, _ in transcript)

    closed = client.post(
        f"/api/v1/handoffs/{handoff_id}/close", headers=agent1, json={"note": "已解答"}
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["closed_by"] == "agent1"
    assert any("智能助手继续为您服务" in text for _, text, _ in _transcript(demo, conversation_id))
    # The tracker was paused on accept? No: on queueing, by the gateway; resumed now,
    # after hearing what the agent said.
    events = [body for kind, _, body in rasa.calls if kind == "events"]
    assert events[-1] == [{"event": "resume"}]
    assert any(e.get("text") == "您好，我来帮您看看" for batch in events for e in batch)

    # Closed: nothing more can happen to it; the bot answers the customer again.
    for path, body in (("accept", None), ("messages", {"text": "x"}), ("close", {})):
        r = client.post(f"/api/v1/handoffs/{handoff_id}/{path}", headers=agent1, json=body)
        assert r.status_code == 409, (path, r.text)
    assert _writes(client, conversation_id, "你好") == ["（机器人）"]


def test_a_reply_the_platform_refuses_is_kept_as_failed_and_told_plainly(
    client: TestClient,
    settings: Settings,
    demo: Session,
    agent1: Headers,
    customer: Callable[[], str],
) -> None:
    conversation_id = customer()
    handoff_id = _ask_for_person(client, settings, conversation_id)["handoff_id"]
    client.post(f"/api/v1/handoffs/{handoff_id}/accept", headers=agent1)
    demo.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(opted_out=True)
    )
    demo.commit()
    r = client.post(
        f"/api/v1/handoffs/{handoff_id}/messages", headers=agent1, json={"text": "还在吗？"}
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "channel_refused"
    assert "退订" in r.json()["error"]["message"]
    assert ("agent", "还在吗？", "failed") in _transcript(demo, conversation_id)


def test_notes_stay_with_staff_and_a_transfer_moves_the_conversation(
    client: TestClient,
    settings: Settings,
    demo: Session,
    agent1: Headers,
    agent2: Headers,
    customer: Callable[[], str],
) -> None:
    conversation_id = customer()
    handoff_id = _ask_for_person(client, settings, conversation_id)["handoff_id"]
    client.post(f"/api/v1/handoffs/{handoff_id}/accept", headers=agent1)
    note = client.post(
        f"/api/v1/handoffs/{handoff_id}/notes", headers=agent1, json={"text": "客户情绪激动"}
    )
    assert note.status_code == 201
    assert not any("情绪" in text for _, text, _ in _transcript(demo, conversation_id))

    unknown = client.post(
        f"/api/v1/handoffs/{handoff_id}/transfer", headers=agent1, json={"agent": "nobody"}
    )
    assert unknown.status_code == 422
    moved = client.post(
        f"/api/v1/handoffs/{handoff_id}/transfer", headers=agent1, json={"agent": "agent2"}
    )
    assert moved.status_code == 200 and moved.json()["agent"] == "agent2"
    old = client.post(f"/api/v1/handoffs/{handoff_id}/messages", headers=agent1, json={"text": "a"})
    assert old.status_code == 409
    new = client.post(f"/api/v1/handoffs/{handoff_id}/messages", headers=agent2, json={"text": "b"})
    assert new.status_code == 200

    detail = client.get(f"/api/v1/handoffs/{handoff_id}", headers=agent2).json()
    assert [(n["author"], n["text"]) for n in detail["notes"]] == [("agent1", "客户情绪激动")]
    assert [s["kind"] for s in detail["steps"]] == ["opened", "queued", "accepted", "transferred"]
    assert [line["sender"] for line in detail["transcript"]][-1] == "agent"
    assert detail["claims"] == [] or all("claim_number" in c for c in detail["claims"])


def test_close_from_open_and_who_may_call_the_api(
    client: TestClient,
    settings: Settings,
    demo: Session,
    agent1: Headers,
    customer: Callable[[], str],
) -> None:
    conversation_id = customer()
    handoff_id = _ask_for_person(client, settings, conversation_id)["handoff_id"]
    assert client.get("/api/v1/handoffs").status_code == 401
    bot = bot_headers(settings, conversation_id)
    assert client.get("/api/v1/handoffs", headers=bot).status_code == 403
    adjuster = _login(client, demo, "adj9", "adjuster")
    assert client.get("/api/v1/handoffs", headers=adjuster).status_code == 403
    assert client.get("/api/v1/handoffs/999999", headers=agent1).status_code == 404
    # an id no database row can have is refused plainly (SQLite overflowed with a 500)
    for bad in ("89163801266958436333894691192832", "0", "-5"):
        refused = client.post(f"/api/v1/handoffs/{bad}/accept", headers=agent1)
        assert refused.status_code == 422, bad
        assert client.get(f"/api/v1/handoffs/{bad}", headers=agent1).status_code == 422

    closed = client.post(f"/api/v1/handoffs/{handoff_id}/close", headers=agent1, json={})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    demo.expire_all()
    assert demo.get(Conversation, conversation_id).mode == "bot"  # type: ignore[union-attr]
    listed = client.get("/api/v1/handoffs", headers=agent1, params={"status": "closed"}).json()
    assert [i["id"] for i in listed["items"]] == [handoff_id]


def test_leaving_the_queue_by_the_button_or_in_words(
    client: TestClient,
    settings: Settings,
    demo: Session,
    rasa: FakeRasa,
    agent1: Headers,
    customer: Callable[[], str],
) -> None:
    by_button = customer()
    first = _ask_for_person(client, settings, by_button)["handoff_id"]
    assert any("已取消排队" in a for a in _writes(client, by_button, "/leave_queue"))

    in_words = customer()
    second = _ask_for_person(client, settings, in_words)["handoff_id"]
    rasa.intents["算了不用了"] = ("cancel", 0.93)
    assert _writes(client, in_words, "还要等多久") == []  # not a cancel: still waiting
    assert any("已取消排队" in a for a in _writes(client, in_words, "算了不用了"))
    assert rasa.received == []  # no bot turn was run for either

    for handoff_id in (first, second):
        item = client.get(f"/api/v1/handoffs/{handoff_id}", headers=agent1).json()
        assert item["status"] == "closed" and item["closed_by"] == "customer"
    assert _writes(client, in_words, "你好") == ["（机器人）"]


def test_the_wait_limit_promises_a_call_back_and_the_idle_limit_frees_the_agent(
    client: TestClient,
    settings: Settings,
    demo: Session,
    agent1: Headers,
    customer: Callable[[], str],
) -> None:
    waiting, served = customer(), customer()
    waiting_id = _ask_for_person(client, settings, waiting)["handoff_id"]
    served_id = _ask_for_person(client, settings, served)["handoff_id"]
    client.post(f"/api/v1/handoffs/{served_id}/accept", headers=agent1)

    def run_timers(minutes_later: float) -> list[handoffs.Followup]:
        now = datetime.now(UTC) + timedelta(minutes=minutes_later)
        moved = handoffs.due_timers(
            demo, now, wait=timedelta(minutes=10), idle=timedelta(minutes=30)
        )
        demo.commit()
        return moved

    assert run_timers(5) == []  # nothing is due yet
    [callback] = run_timers(11)
    assert (callback.handoff_id, callback.say) == (waiting_id, "callback")
    item = client.get(f"/api/v1/handoffs/{waiting_id}", headers=agent1).json()
    assert item["status"] == "open" and item["callback"] is True
    demo.expire_all()
    assert demo.get(Conversation, waiting).mode == "bot"  # type: ignore[union-attr]

    [released] = run_timers(31)
    assert released.handoff_id == served_id
    item = client.get(f"/api/v1/handoffs/{served_id}", headers=agent1).json()
    assert item["status"] == "open" and item["agent"] is None

    # An agent who takes the call-back gets the conversation from the bot again.
    taken = client.post(f"/api/v1/handoffs/{waiting_id}/accept", headers=agent1)
    assert taken.status_code == 200 and taken.json()["callback"] is False
    demo.expire_all()
    assert demo.get(Conversation, waiting).mode == "handoff"  # type: ignore[union-attr]


def test_outside_service_hours_the_customer_gets_a_call_back_and_the_bot(
    client: TestClient, settings: Settings, demo: Session, customer: Callable[[], str]
) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    night = datetime(2026, 12, 2, 23, 30, tzinfo=shanghai)
    assert not handoffs.in_service_hours("08:00-22:00", "Asia/Shanghai", night)
    assert handoffs.in_service_hours("08:00-22:00", "Asia/Shanghai", night.replace(hour=9))
    assert handoffs.in_service_hours("00:00-24:00", "Asia/Shanghai", night)

    conversation_id = customer()
    handoff, followup = handoffs.open_handoff(
        demo, conversation_id, "request_human", in_service_hours=False
    )
    demo.commit()
    assert handoff.callback is True and followup is not None and followup.say == "callback"
    demo.expire_all()
    assert demo.get(Conversation, conversation_id).mode == "bot"  # type: ignore[union-attr]
    assert demo.get(Handoff, handoff.id).status == "open"  # type: ignore[union-attr]


def test_stats_count_handoffs_waits_and_call_backs(
    client: TestClient,
    settings: Settings,
    demo: Session,
    agent1: Headers,
    customer: Callable[[], str],
) -> None:
    first, second, third = customer(), customer(), customer()
    accepted_id = _ask_for_person(client, settings, first)["handoff_id"]
    _ask_for_person(client, settings, second)
    callback_id = _ask_for_person(client, settings, third)["handoff_id"]
    client.post(f"/api/v1/handoffs/{accepted_id}/accept", headers=agent1)
    demo.execute(update(Handoff).where(Handoff.id == callback_id).values(callback=True))
    demo.commit()
    manager = _login(client, demo, "adj8", "adjuster")

    figures = client.get("/api/v1/stats", headers=manager).json()["handoffs"]
    assert sum(figures["opened_by_day"].values()) == 3
    assert figures["by_reason"] == {"request_human": 3}
    assert figures["accept_seconds_p50"] is not None and figures["accept_seconds_p50"] >= 0
    assert figures["accepted_within_wait_share"] == 1.0
    assert figures["callbacks_pending"] == 1 and figures["waiting_now"] == 1


def test_agents_see_the_customers_name_and_claims_only_while_their_verification_lasts(
    client: TestClient,
    settings: Settings,
    demo: Session,
    agent1: Headers,
    customer: Callable[[], str],
) -> None:
    conversation_id = customer()
    client.post(
        "/api/v1/claims",
        headers={**bot_headers(settings, conversation_id), "Idempotency-Key": uuid.uuid4().hex},
        json={
            "claim_type": "medical",
            "incident_date": (datetime.now(UTC) - timedelta(days=2)).date().isoformat(),
            "location": "北京协和医院",
            "description": "感冒发烧看门诊",
            "claimed_amount": "800.00",
        },
    ).raise_for_status()
    handoff_id = _ask_for_person(client, settings, conversation_id)["handoff_id"]
    detail = client.get(f"/api/v1/handoffs/{handoff_id}", headers=agent1).json()
    assert detail["customer_name"] == "张伟"
    [claim] = detail["claims"]
    assert claim["status"] == "documents_pending" and "身份证" in "".join(claim["missing"])

    demo.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.conversation_id == conversation_id)
        .values(verified_at=datetime.now(UTC) - timedelta(days=30))
    )
    demo.commit()
    detail = client.get(f"/api/v1/handoffs/{handoff_id}", headers=agent1).json()
    assert detail["customer_name"] is None and detail["claims"] == []


def test_a_turn_that_hands_over_tells_where_the_customer_stands_and_no_other_turn_looks(
    client: TestClient,
    settings: Settings,
    demo: Session,
    rasa: FakeRasa,
    customer: Callable[[], str],
) -> None:
    conversation_id = customer()
    looks: list[str] = []

    sessions = client.app.state.claims.session_factory  # type: ignore[attr-defined]

    @event.listens_for(sessions, "do_orm_execute")
    def seen(execution: ORMExecuteState) -> None:
        if execution.is_select and "FROM handoffs" in str(execution.statement):
            looks.append(str(execution.statement))

    # An ordinary turn: no look for a handoff.
    assert _writes(client, conversation_id, "你好") == ["（机器人）"]
    assert looks == []

    def hand_over(_body: Any) -> list[dict[str, Any]]:
        # As actions/handoff.py does: open the handoff through the API, say so, and mark it.
        _ask_for_person(client, settings, conversation_id)
        return [{"text": "好的，这就为您转人工客服。"}, {"custom": {HANDOFF_MARKER: "open"}}]

    rasa.answer = hand_over
    answers = _writes(client, conversation_id, "转人工")
    # The marker is nobody's message; the customer hears the bot, then the queue.
    assert answers == [
        "好的，这就为您转人工客服。",
        "正在排队等人工客服，接入后会在这里回复您。不想等了，可以回到智能助手。",
    ]
    assert looks, "the turn that handed over looked up the handoff"


def test_the_app_and_the_bot_agree_on_the_handoff_marker() -> None:
    """The marker is written by the bot's action (bot environment) and read here: the
    two copies of its name must stay the same, or every handoff turn goes unnoticed."""
    action = (Path(__file__).resolve().parents[3] / "actions" / "handoff.py").read_text()
    assert f'HANDOFF_MARKER = "{HANDOFF_MARKER}"' in action
