from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import Settings
from backend.main import create_app
from backend.models import Conversation, Document, TranscriptMessage
from tests.backend.fake_rasa import FakeRasa

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(40))


def answer(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body["message"] == "/upload_document":
        return [
            {
                "recipient_id": body["sender"],
                "text": "收到材料，这是哪一项？",
                "buttons": [{"title": "医疗发票", "payload": '/inform{"item":"invoice"}'}],
            }
        ]
    return [{"recipient_id": body["sender"], "text": f"你说：{body['message']}"}]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, FakeRasa, Settings]]:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    migrate.upgrade(url)
    with FakeRasa(answer).running() as rasa:
        settings = Settings(
            database_url=url,
            var_dir=tmp_path / "var",
            document_dir=tmp_path / "docs",
            rasa_url=rasa.url,
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        srv = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base, rasa, settings
        srv.should_exit = True
        thread.join(10)


def _next_event(lines: Iterator[str]) -> list[dict[str, Any]]:
    for line in lines:
        if line.startswith("data: "):
            return list(json.loads(line[6:]))
    raise AssertionError("event stream ended")


@contextmanager
def _visitor(base: str) -> Iterator[httpx.Client]:
    """A browser: opening /chat gives it its conversation cookie."""
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/chat").status_code == 200
        yield client


def _conversation_of(client: httpx.Client) -> str:
    return str(client.cookies["claims_chat"]).split("|")[0]


def test_the_page_gives_a_new_visitor_a_signed_http_only_conversation_cookie(
    server: tuple[str, FakeRasa, Settings],
) -> None:
    base, _, _ = server
    page = httpx.get(base + "/chat")
    assert page.status_code == 200 and "理赔助手" in page.text and "EventSource" in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("claims_chat=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/chat" in cookie
    conversation = cookie.split("=", 1)[1].split("|")[0].strip('"')
    assert conversation.startswith("web:") and conversation not in page.text
    # A visitor who has one keeps it.
    again = httpx.get(base + "/chat", cookies={"claims_chat": page.cookies["claims_chat"]})
    assert "set-cookie" not in again.headers


def test_without_a_valid_cookie_nothing_is_taken(server: tuple[str, FakeRasa, Settings]) -> None:
    base, rasa, settings = server
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.post("/chat/api/messages", json={"text": "你好"}).status_code == 401
        forged = {"claims_chat": "web:abcdef123456|9999999999|00"}
        r = client.post("/chat/api/messages", json={"text": "你好"}, cookies=forged)
        assert r.status_code == 401
        assert client.get("/chat/api/history", cookies=forged).status_code == 401
        up = client.post("/chat/api/attachments", content=PNG, cookies=forged)
        assert up.status_code == 401
    time.sleep(0.3)
    assert rasa.received == []
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as session:
        assert session.scalars(select(TranscriptMessage)).all() == []
        assert session.scalars(select(Document)).all() == []
    engine.dispose()


def test_message_reaches_the_bot_and_the_answer_is_pushed(
    server: tuple[str, FakeRasa, Settings],
) -> None:
    base, rasa, settings = server
    with (
        _visitor(base) as client,
        client.stream("GET", "/chat/api/events") as events,
    ):
        cid = _conversation_of(client)
        lines = events.iter_lines()
        assert next(lines).startswith(": connected")
        r = client.post("/chat/api/messages", json={"text": "你好"})
        assert r.status_code == 202
        assert _next_event(lines)[0]["text"] == "你说：你好"
        # A photo becomes a stored document passed to the bot; buttons come back.
        up = client.post(
            "/chat/api/attachments", content=PNG, headers={"X-Filename": "../../invoice.png"}
        )
        assert up.status_code == 202
        pushed = _next_event(lines)
        assert pushed[0]["buttons"][0]["title"] == "医疗发票"
        # The button's text carries no numbered lines: the page shows buttons once.
        assert "回复" not in pushed[0]["text"]
        # Typing the button's number (or clicking it) sends its payload, not the digit.
        client.post("/chat/api/messages", json={"text": "1"})
        _next_event(lines)
        # A payload the bot did not offer cannot be sent: it is free text.
        client.post("/chat/api/messages", json={"text": '/inform{"item":"bank_card"}'})
        _next_event(lines)
    assert [m["message"] for m in rasa.received] == [
        "你好",
        "/upload_document",
        '/inform{"item":"invoice"}',
        '/inform{"item":"bank_card"}',
    ]
    assert rasa.received[3]["sender"] == cid
    attachments = rasa.received[1]["metadata"]["attachments"]
    assert attachments[0]["document_id"].startswith("d_")
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as session:
        doc = session.get(Document, attachments[0]["document_id"])
        assert doc is not None and doc.media_type == "image/png" and doc.uploaded_by == cid
        texts = session.scalars(
            select(TranscriptMessage.text).where(
                TranscriptMessage.conversation_id == cid, TranscriptMessage.direction == "inbound"
            )
        ).all()
        assert texts[0] == "你好" and texts[2] == "1"
    engine.dispose()


def test_after_a_reload_the_page_shows_the_conversation_and_the_open_buttons(
    server: tuple[str, FakeRasa, Settings],
) -> None:
    base, _, _ = server
    with _visitor(base) as client, client.stream("GET", "/chat/api/events") as events:
        lines = events.iter_lines()
        next(lines)
        client.post("/chat/api/messages", json={"text": "你好"})
        _next_event(lines)
        client.post("/chat/api/attachments", content=PNG, headers={"X-Filename": "a.png"})
        _next_event(lines)
        cookie = client.cookies["claims_chat"]
    # The same browser, later (a reload, or a new tab).
    with httpx.Client(base_url=base, timeout=10, cookies={"claims_chat": cookie}) as again:
        history = again.get("/chat/api/history").json()
    assert [(line["sender"], line["text"]) for line in history["lines"]] == [
        ("customer", "你好"),
        ("bot", "你说：你好"),
        ("bot", "收到材料，这是哪一项？"),
    ]
    assert history["buttons"] == [{"title": "医疗发票", "payload": '/inform{"item":"invoice"}'}]


def test_handed_off_conversation_does_not_reach_the_bot(
    server: tuple[str, FakeRasa, Settings],
) -> None:
    base, rasa, settings = server
    with _visitor(base) as client:
        cid = _conversation_of(client)
        engine = make_engine(settings.database_url)
        with transaction(make_session_factory(engine)) as session:
            session.add(Conversation(id=cid, channel="web", mode="handoff"))
        client.post("/chat/api/messages", json={"text": "人呢"})
    time.sleep(0.5)
    assert rasa.received == []
    with transaction(make_session_factory(engine)) as session:
        stored = session.scalars(
            select(TranscriptMessage.text).where(TranscriptMessage.conversation_id == cid)
        ).all()
    assert stored == ["人呢"]  # kept for the agent, not lost
    engine.dispose()


def test_bot_down_gives_a_short_apology_and_keeps_the_message(
    server: tuple[str, FakeRasa, Settings],
) -> None:
    base, rasa, _ = server
    rasa.fail = True
    with _visitor(base) as client, client.stream("GET", "/chat/api/events") as events:
        lines = events.iter_lines()
        next(lines)
        client.post("/chat/api/messages", json={"text": "在吗"})
        assert "抱歉" in _next_event(lines)[0]["text"]
        history = client.get("/chat/api/history").json()["lines"]
    assert history[0] == {**history[0], "sender": "customer", "text": "在吗"}


def test_a_cookie_of_another_channel_is_refused(server: tuple[str, FakeRasa, Settings]) -> None:
    from channels.webchat import session

    base, rasa, settings = server
    forged = session.sign(settings.channels, "wechat:someone", time.time())
    r = httpx.post(base + "/chat/api/messages", json={"text": "x"}, cookies={"claims_chat": forged})
    assert r.status_code == 401 and rasa.received == []


def production_settings(tmp_path: Path, **extra: Any) -> Settings:
    key = base64.b64encode(bytes(range(32))).decode()
    return Settings(
        app_env="production",
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        var_dir=tmp_path / "var",
        document_dir=tmp_path / "documents",
        bot_service_token="prod-bot-token",
        jwt_secret="prod-jwt-secret-" + "x" * 32,
        payment_callback_secret="prod-payment-secret",
        document_keys=f"k1:{key}",
        rasa_token="prod-rasa-token",
        **extra,
    )


def test_the_try_out_chat_is_off_in_production_unless_asked_for(tmp_path: Path) -> None:
    with TestClient(create_app(production_settings(tmp_path))) as off:
        assert off.get("/chat").status_code == 404
        assert off.post("/chat/api/messages", json={}).status_code == 404
    with TestClient(create_app(production_settings(tmp_path, web_chat=True))) as on:
        page = on.get("/chat")
        assert page.status_code == 200 and "理赔助手" in page.text


def test_the_try_out_chat_is_on_in_development(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(var_dir=tmp_path / "var"))) as client:
        assert client.get("/chat").status_code == 200
