"""Many bot calls at once, as a busy hour brings them (the action servers call the app
for every customer in a turn): every one is answered, none waits for a database lock
that the request holding it cannot give back. Before, on SQLite, with every worker
thread taken by a request waiting for the write lock, the one holding it could not get
a thread to commit: everything stood still for the 30 s lock timeout, then failed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import Settings
from backend.demo import load_demo_data
from backend.main import create_app
from tests.backend.claims.conftest import bot_headers
from tests.conftest import TODAY
from tests.live_app import serving

CALLS = 120


def test_a_burst_of_bot_calls_is_answered_without_a_stall(tmp_path: Path) -> None:
    # The embedded default (SQLite), in a file of its own with the demo policies committed.
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        load_demo_data(session, TODAY)
    engine.dispose()
    settings = Settings(
        database_url=url,
        var_dir=tmp_path / "var",
        document_dir=tmp_path / "documents",
        rasa_url="http://127.0.0.1:9",
    )
    app = create_app(settings)

    async def burst(base: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CALLS)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            # Each verifies a customer of its own conversation: a write per call.
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/identities/verify",
                        headers=bot_headers(settings, f"web:{uuid.uuid4().hex[:16]}"),
                        json={"policy_number": "P2025000001", "id_last4": "1234"},
                    )
                    for _ in range(CALLS)
                )
            )

    with serving(app, log_config=None) as base:
        responses = asyncio.run(burst(base))
    failed = [(r.status_code, r.text[:120]) for r in responses if r.status_code != 200]
    assert not failed, failed
    assert all(r.json()["verified"] is True for r in responses), responses[0].json()
