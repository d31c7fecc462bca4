from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_reports_each_dependency(client: TestClient, db_url: str) -> None:
    body = client.get("/health").json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["backend"] == (
        "sqlite" if "sqlite" in db_url else "postgresql"
    )
    assert body["checks"]["redis"] == {"status": "not_configured"}
    # Nothing listens where the test settings put Rasa: the API still works, degraded.
    assert body["checks"]["rasa"]["status"] == "down"
    assert body["status"] == "degraded"
