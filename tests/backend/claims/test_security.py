"""Attacks on the claims API found by probing the running app (issue 11): each one is
refused with the status a client can act on, and nothing changes. Runs on SQLite and
PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.models import Claim, ClaimEvent, OutboxMessage
from tests.backend.claims.conftest import attach_all, days_ago, payment_headers, report


def _claim_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Claim)) or 0


def _under_review(client: TestClient, headers: dict[str, str], amount: str) -> dict[str, Any]:
    claim = report(client, headers, claimed_amount=amount).json()
    claim = attach_all(client, headers, claim)
    assert claim["status"] == "under_review", claim["status"]
    return claim


# -- 2. a partial approval above the claimed amount ---------------------------------------


def test_a_partial_approval_above_the_claimed_amount_is_refused(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]
) -> None:
    claim = _under_review(client, zhang, "5000.00")
    n = claim["claim_number"]
    r = client.post(
        f"/api/v1/claims/{n}/partially-approve",
        json={"amount": "40000", "reason": "部分费用不在保障范围"},
        headers=adjuster,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "amount_above_claimed"
    view = client.get(f"/api/v1/claims/{n}", headers=adjuster).json()
    assert view["status"] == "under_review"
    assert view["payout_amount"] is None and view["approved_amount"] is None

    # Within the claimed amount a partial approval still works, capped by the limit left.
    ok = client.post(
        f"/api/v1/claims/{n}/partially-approve",
        json={"amount": "4000", "reason": "部分费用不在保障范围"},
        headers=adjuster,
    )
    assert ok.status_code == 200, ok.text
    assert Decimal(ok.json()["approved_amount"]) == Decimal("4000.00")


# -- 3. staff filing without naming the policy --------------------------------------------


def test_staff_must_name_the_policy_when_filing(
    client: TestClient, agent: dict[str, str], demo: Session
) -> None:
    before = _claim_count(demo)
    body = {
        "claim_type": "medical",
        "incident_date": days_ago(1).isoformat(),
        "location": "北京",
        "description": "电话报案",
        "claimed_amount": "100.00",
    }
    r = client.post("/api/v1/claims", json=body, headers={**agent, "Idempotency-Key": "k-no-pol"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "policy_required"
    check = client.post(
        "/api/v1/claims/check",
        json={k: body[k] for k in ("claim_type", "incident_date")},
        headers=agent,
    )
    assert check.status_code == 422
    assert _claim_count(demo) == before

    named = client.post(
        "/api/v1/claims",
        json={**body, "policy_number": "P2025000001"},
        headers={**agent, "Idempotency-Key": "k-pol"},
    )
    assert named.status_code == 201, named.text
    assert named.json()["policy_number"] == "P2025000001"


# -- 8. one Idempotency-Key, two different reports ----------------------------------------


def test_an_idempotency_key_reused_with_other_data_is_a_conflict(
    client: TestClient, zhang: dict[str, str], demo: Session
) -> None:
    first = report(client, zhang, key="same-key", claimed_amount="100.00")
    assert first.status_code == 201
    retry = report(client, zhang, key="same-key", claimed_amount="100.00")
    assert retry.status_code == 200
    assert retry.json()["claim_number"] == first.json()["claim_number"]
    before = _claim_count(demo)

    other = report(client, zhang, key="same-key", claimed_amount="9000.00", location="上海")
    assert other.status_code == 422
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["claim_number"] == first.json()["claim_number"]
    assert _claim_count(demo) == before
    stored = client.get(f"/api/v1/claims/{first.json()['claim_number']}", headers=zhang).json()
    assert Decimal(stored["claimed_amount"]) == Decimal("100.00")


# -- 10. the payment callback ---------------------------------------------------------------


def _approved(client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]) -> str:
    claim = _under_review(client, zhang, "5000.00")
    n = str(claim["claim_number"])
    r = client.post(f"/api/v1/claims/{n}/approve", json={"amount": "4000"}, headers=adjuster)
    assert r.status_code == 200, r.text
    return n


def _callback(client: TestClient, settings: Settings, body: dict[str, Any], **kw: Any) -> Any:
    raw = json.dumps(body).encode()
    return client.post(
        "/api/v1/payments/callback", content=raw, headers=payment_headers(settings, raw, **kw)
    )


def _events(session: Session, claim_number: str) -> list[tuple[str, str | None]]:
    claim = session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()
    session.expire_all()
    rows = session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id)).all()
    return [(e.kind, e.to_status.value if e.to_status else None) for e in rows]


def _notices(session: Session, claim_number: str) -> list[str]:
    claim = session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.claim_id == claim.id)).all()
    return [str(r.kind.value if hasattr(r.kind, "value") else r.kind) for r in rows]


def test_a_payment_callback_without_status_is_not_a_payment(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str], settings: Settings
) -> None:
    n = _approved(client, zhang, adjuster)
    r = _callback(client, settings, {"claim_number": n, "reference": "PAY-9"})
    assert r.status_code == 422
    assert client.get(f"/api/v1/claims/{n}", headers=adjuster).json()["status"] == "approved"


def test_a_stale_or_unsigned_payment_callback_is_refused(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str], settings: Settings
) -> None:
    n = _approved(client, zhang, adjuster)
    body = {"claim_number": n, "reference": "PAY-OLD", "status": "succeeded"}
    # Signed correctly, but an hour ago: a captured callback replayed later.
    assert _callback(client, settings, body, at=time.time() - 3600).status_code == 401
    assert _callback(client, settings, body, at=time.time() + 3600).status_code == 401
    raw = json.dumps(body).encode()
    # The old scheme (HMAC of the body alone, no timestamp) is no longer accepted.
    unsigned = client.post(
        "/api/v1/payments/callback",
        content=raw,
        headers={"X-Payment-Signature": payment_headers(settings, raw)["X-Payment-Signature"]},
    )
    assert unsigned.status_code == 401
    # The timestamp is signed: moving it forward breaks the signature.
    headers = payment_headers(settings, raw, at=time.time() - 3600)
    headers["X-Payment-Timestamp"] = str(int(time.time()))
    moved = client.post("/api/v1/payments/callback", content=raw, headers=headers)
    assert moved.status_code == 401
    assert client.get(f"/api/v1/claims/{n}", headers=adjuster).json()["status"] == "approved"


def test_a_failure_callback_is_recorded_once_and_never_after_paid(
    client: TestClient,
    zhang: dict[str, str],
    adjuster: dict[str, str],
    settings: Settings,
    demo: Session,
) -> None:
    n = _approved(client, zhang, adjuster)
    failed = {"claim_number": n, "reference": "PAY-F1", "status": "failed_account_closed"}
    assert _callback(client, settings, failed).status_code == 200
    assert _callback(client, settings, failed).status_code == 200  # the same one again
    assert _events(demo, n).count(("payment_failed", None)) == 1
    assert _notices(demo, n).count("payment_failed") == 1

    paid = {"claim_number": n, "reference": "PAY-S1", "status": "succeeded"}
    assert _callback(client, settings, paid).json()["status"] == "paid"
    late_failure = {"claim_number": n, "reference": "PAY-F2", "status": "failed"}
    r = _callback(client, settings, late_failure)
    assert r.status_code == 409
    assert _events(demo, n).count(("payment_failed", None)) == 1
    assert _events(demo, n).count(("status_changed", "paid")) == 1


def test_a_payment_reference_of_one_claim_cannot_pay_another(
    client: TestClient,
    zhang: dict[str, str],
    adjuster: dict[str, str],
    settings: Settings,
    demo: Session,
) -> None:
    first = _approved(client, zhang, adjuster)
    second = _approved(client, zhang, adjuster)
    body = {"claim_number": first, "reference": "PAY-X", "status": "succeeded"}
    assert _callback(client, settings, body).json()["status"] == "paid"
    r = _callback(client, settings, {**body, "claim_number": second})
    assert r.status_code == 409
    assert client.get(f"/api/v1/claims/{second}", headers=adjuster).json()["status"] == "approved"


# -- 9. a survey naming another customer's claim -------------------------------------------


def test_a_survey_may_only_rate_the_callers_own_claim(
    client: TestClient, zhang: dict[str, str], li: dict[str, str], demo: Session
) -> None:
    from backend.models import Survey

    theirs = report(client, zhang).json()["claim_number"]
    r = client.post("/api/v1/surveys", json={"rating": 1, "claim_number": theirs}, headers=li)
    assert r.status_code == 404
    demo.expire_all()
    assert demo.scalars(select(Survey).where(Survey.claim_number == theirs)).all() == []
    # The owner can still rate it afterwards (the stranger did not use up the one rating).
    mine = client.post("/api/v1/surveys", json={"rating": 5, "claim_number": theirs}, headers=zhang)
    assert mine.status_code == 201
