"""The web chat behind a load balancer: two app replicas and a notifications worker on
one database and the real Redis. A page's event stream is held by one replica; the
answer to a message posted through the other, and a notice the worker sends, reach it
(Redis pub/sub), and each arrives once."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend.composition import open_services
from backend.core import migrate
from backend.core.settings import Settings
from backend.main import create_app
from channels.messages import OutboundMessage
from tests.backend.fake_rasa import FakeRasa
from tests.backend.webchat.test_webchat import _conversation_of, _next_event, _visitor, answer
from tests.conftest import REDIS_URL


@contextmanager
def replica(settings: Settings) -> Iterator[str]:
    """One app process's worth: its own event loop and port (uvicorn in a thread)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Settings, FakeRasa]]:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    migrate.upgrade(url)
    with FakeRasa(answer).running() as rasa:
        yield (
            Settings(
                database_url=url,
                var_dir=tmp_path / "var",  # one cookie key for both replicas, as deployed
                document_dir=tmp_path / "docs",
                rasa_url=rasa.url,
                redis_url=REDIS_URL,
                redis_key_prefix=f"test:{secrets.token_hex(4)}:",
            ),
            rasa,
        )


def test_answers_and_notices_reach_the_page_whichever_process_sends_them(
    shared: tuple[Settings, FakeRasa],
) -> None:
    settings, rasa = shared
    with (
        replica(settings) as replica_a,
        replica(settings) as replica_b,
        _visitor(replica_a) as page,
        page.stream("GET", "/chat/api/events") as events,
    ):
        lines = events.iter_lines()
        assert next(lines).startswith(": connected")
        cid = _conversation_of(page)
        # The load balancer sends the next request to the other replica.
        with httpx.Client(
            base_url=replica_b, timeout=10, cookies={"claims_chat": page.cookies["claims_chat"]}
        ) as other:
            assert other.post("/chat/api/messages", json={"text": "你好"}).status_code == 202
        assert [m["text"] for m in _next_event(lines)] == ["你说：你好"]

        async def worker_sends_a_notice() -> None:
            async with open_services(settings) as worker:
                await worker.outbound.send_text(
                    cid, [OutboundMessage(text="您的理赔已受理")], sender="system"
                )

        asyncio.run(worker_sends_a_notice())
        assert [m["text"] for m in _next_event(lines)] == ["您的理赔已受理"]

        # Nothing arrives twice: the next event is the next answer.
        with httpx.Client(
            base_url=replica_b, timeout=10, cookies={"claims_chat": page.cookies["claims_chat"]}
        ) as other:
            other.post("/chat/api/messages", json={"text": "再见"})
        assert [m["text"] for m in _next_event(lines)] == ["你说：再见"]
    assert [m["message"] for m in rasa.received] == ["你好", "再见"]
