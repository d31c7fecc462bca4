"""Two identical report requests at the same moment make one claim: against real,
committed databases (not the rolled-back test transaction), SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import Settings
from backend.demo import load_demo_data
from backend.main import create_app
from backend.models import Claim
from tests.backend.claims.conftest import bot_headers, days_ago
from tests.conftest import TODAY, scratch_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def committed_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'concurrent.db'}"
        migrate.upgrade(url)
        yield url
        return
    with scratch_postgres("claims_conc") as url:
        yield url


def test_two_concurrent_identical_reports_make_one_claim(committed_db: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=committed_db,
        var_dir=tmp_path / "var",
        document_dir=tmp_path / "docs",
        rasa_url="http://127.0.0.1:9",
    )
    engine = make_engine(committed_db)
    with transaction(make_session_factory(engine)) as session:
        load_demo_data(session, TODAY)
    app = create_app(settings)
    key = str(uuid.uuid4())
    body = {
        "claim_type": "medical",
        "incident_date": days_ago(1).isoformat(),
        "location": "上海",
        "description": "门诊",
        "claimed_amount": "300.00",
    }
    with TestClient(app) as client:
        headers = bot_headers(settings, "web:racer")
        assert (
            client.post(
                "/api/v1/identities/verify",
                headers=headers,
                json={"policy_number": "P2025000001", "id_last4": "1234"},
            ).status_code
            == 200
        )
        barrier = threading.Barrier(2)
        results: list[tuple[int, str]] = []

        def send() -> None:
            barrier.wait()
            r = client.post(
                "/api/v1/claims", json=body, headers={**headers, "Idempotency-Key": key}
            )
            results.append((r.status_code, r.json().get("claim_number", r.text)))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert sorted(code for code, _ in results) == [200, 201], results
    assert results[0][1] == results[1][1]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Claim)).scalar_one() == 1
    engine.dispose()
