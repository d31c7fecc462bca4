from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Claim, ClaimEvent, OutboxMessage
from tests.backend.claims.conftest import days_ago, local_today, report


def test_verified_customer_reports_a_claim_and_gets_the_whole_checklist(
    client: TestClient, zhang: dict[str, str]
) -> None:
    r = report(client, zhang)
    assert r.status_code == 201, r.text
    claim = r.json()
    assert claim["claim_number"].startswith("CL" + local_today().strftime("%Y%m%d"))
    assert claim["status"] == "documents_pending"
    assert claim["policy_number"] == "P2025000001"
    assert [i["name"] for i in claim["missing"]] == [
        "身份证",
        "医疗发票",
        "费用明细清单",
        "诊断证明",
        "银行卡",
    ]
    assert claim["claimed_amount"] == "2800.00"
    assert "risk_flags" not in claim or claim["risk_flags"] is None  # internal to staff


def test_inpatient_medical_claims_also_need_the_discharge_summary(
    client: TestClient, zhang: dict[str, str]
) -> None:
    claim = report(client, zhang, inpatient=True).json()
    assert "出院小结" in [i["name"] for i in claim["missing"]]


def test_reporting_writes_events_and_an_outbox_row_in_the_same_transaction(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    number = report(client, zhang).json()["claim_number"]
    claim = session.scalars(select(Claim).where(Claim.claim_number == number)).one()
    kinds = session.scalars(select(ClaimEvent.kind).where(ClaimEvent.claim_id == claim.id)).all()
    assert kinds[0] == "reported" and "status_changed" in kinds
    outbox = session.scalars(select(OutboxMessage).where(OutboxMessage.claim_id == claim.id)).all()
    assert [o.kind for o in outbox] == ["claim_filed"]
    assert len(outbox[0].payload["missing"]) == 5


def test_same_idempotency_key_returns_the_same_claim(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    key = str(uuid.uuid4())
    first = report(client, zhang, key=key)
    second = report(client, zhang, key=key)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["claim_number"] == second.json()["claim_number"]
    assert session.scalar(select(func.count()).select_from(Claim)) == 1


def test_missing_idempotency_key_is_refused(client: TestClient, zhang: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/claims",
        headers=zhang,
        json={
            "claim_type": "medical",
            "incident_date": days_ago(1).isoformat(),
            "location": "x",
            "description": "y",
        },
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_required"


def test_refusals_give_a_specific_reason(
    client: TestClient, zhang: dict[str, str], li: dict[str, str]
) -> None:
    cases = [
        (zhang, {"claim_type": "auto"}, "not_covered"),
        (
            zhang,
            {"incident_date": (local_today() + timedelta(days=1)).isoformat()},
            "incident_in_future",
        ),
        (zhang, {"incident_date": "2024-12-31"}, "before_policy_start"),
        (li, {"claim_type": "auto", "incident_date": "2025-05-31"}, "before_policy_start"),
    ]
    for headers, overrides, code in cases:
        r = report(client, headers, **overrides)
        assert r.status_code == 422, (overrides, r.text)
        assert r.json()["error"]["code"] == code, r.text
        assert r.json()["error"]["message"]


def test_check_endpoint_validates_without_creating(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    ok = client.post(
        "/api/v1/claims/check",
        headers=zhang,
        json={"claim_type": "medical", "incident_date": days_ago(2).isoformat()},
    )
    assert ok.json() == {"ok": True, "policy_number": "P2025000001"}
    bad = client.post(
        "/api/v1/claims/check",
        headers=zhang,
        json={"claim_type": "property", "incident_date": days_ago(2).isoformat()},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "not_covered"
    assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_unverified_conversation_cannot_report(client: TestClient, bot, demo: Session) -> None:  # type: ignore[no-untyped-def]
    r = report(client, bot("web:stranger"))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_verified"


def test_claim_numbers_follow_each_other(client: TestClient, zhang: dict[str, str]) -> None:
    a = report(client, zhang).json()["claim_number"]
    b = report(client, zhang).json()["claim_number"]
    assert int(b[-4:]) == int(a[-4:]) + 1
