from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from backend.core.settings import Settings
from tests.backend.fake_rasa import FakeRasa


def test_health_reports_each_dependency(client: TestClient, db_url: str) -> None:
    body = client.get("/health").json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["backend"] == (
        "sqlite" if "sqlite" in db_url else "postgresql"
    )
    assert body["checks"]["redis"] == {"status": "not_configured"}
    # Nothing listens where the test settings put Rasa: the API still works, degraded.
    assert body["checks"]["rasa"]["status"] == "down"
    # No notifications worker runs in this test: customers would hear nothing.
    assert body["checks"]["notifications"]["status"] == "down"
    assert body["checks"]["notifications"]["worker_last_seen_seconds"] is None
    assert body["status"] == "degraded"


def test_health_asks_rasa_with_its_token(client: TestClient, settings: Settings) -> None:
    with FakeRasa(lambda body: [], token="the-rasa-token").running() as rasa:
        settings.rasa_url = rasa.url
        settings.rasa_token = SecretStr("the-rasa-token")
        ok = client.get("/health").json()
        settings.rasa_token = SecretStr("another-token")
        refused = client.get("/health").json()
    assert ok["checks"]["rasa"] == {"status": "ok"}
    assert refused["checks"]["rasa"] == {"status": "down", "error": "refused RASA_TOKEN"}
    assert refused["status"] == "degraded"
    assert "the-rasa-token" not in str(ok) + str(refused)


def test_development_generates_a_rasa_token_and_production_requires_one(tmp_path: Path) -> None:
    first = Settings(var_dir=tmp_path, rasa_token=None)
    again = Settings(var_dir=tmp_path, rasa_token=None)
    assert first.rasa_token is not None and len(first.rasa_token.get_secret_value()) >= 32
    assert again.rasa_token == first.rasa_token  # kept in var/dev-secrets.json
    with pytest.raises(ValueError, match="RASA_TOKEN"):
        Settings(
            app_env="production",
            var_dir=tmp_path,
            bot_service_token=SecretStr("x"),
            jwt_secret=SecretStr("x"),
            payment_callback_secret=SecretStr("x"),
            document_keys=SecretStr("k1:" + "A" * 44),
            rasa_token=None,
        )
