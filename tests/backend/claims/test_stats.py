"""What a manager reads at /api/v1/stats about notices and the rating question."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.models import OutboxMessage
from tests.backend.claims.conftest import attach_all, report


def test_stats_count_notices_by_outcome_and_the_ratings_of_closed_claims(
    client: TestClient,
    zhang: dict[str, str],
    adjuster: dict[str, str],
    demo: Session,
) -> None:
    claim = report(client, zhang, claimed_amount="100.00").json()
    number = claim["claim_number"]
    attach_all(client, zhang, claim)  # the fast track approves it
    assert client.post(f"/api/v1/claims/{number}/mark-paid", json={}, headers=adjuster).is_success
    assert client.post(f"/api/v1/claims/{number}/close", json={}, headers=adjuster).is_success
    other = report(client, zhang, claimed_amount="9000.00").json()["claim_number"]

    # What the worker made of some of them: the filing notice went out as a template,
    # the other claim's could not be delivered anywhere.
    demo.execute(
        update(OutboxMessage)
        .where(OutboxMessage.claim_number == number, OutboxMessage.kind == "claim_filed")
        .values(status="sent", route="wechat_template")
    )
    demo.execute(
        update(OutboxMessage)
        .where(OutboxMessage.claim_number == other)
        .values(status="failed", last_error="no_channel")
    )
    demo.commit()
    written = len(demo.scalars(select(OutboxMessage)).all())

    rated = client.post(
        "/api/v1/surveys", json={"rating": 4, "claim_number": number}, headers=zhang
    )
    assert rated.status_code == 201
    stats = client.get("/api/v1/stats", headers=adjuster).json()

    notices = stats["notices"]
    assert sum(notices["by_status"].values()) == written
    assert notices["by_status"]["sent"] == 1 and notices["by_status"]["failed"] == 1
    assert notices["by_status"]["pending"] == written - 2
    assert notices["by_route"] == {"wechat_template": 1}
    assert notices["failed_by_kind"] == {"claim_filed": 1}
    assert notices["oldest_due_seconds"] is not None and notices["oldest_due_seconds"] >= 0

    assert stats["surveys"] == {
        "answered": 1,
        "average_rating": 4.0,
        "by_rating": {"4": 1},
        "claims_closed": 1,
        "response_rate": 1.0,
        "distribution": [{"rating": r, "answers": int(r == 4)} for r in range(1, 6)],
        "low_ratings": [],
    }
