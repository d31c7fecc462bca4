from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.clock import refresh_clocks
from backend.core.settings import Settings
from backend.models import Claim, ClaimEvent, OutboxMessage
from tests.backend.claims.conftest import PNG, attach_all, days_ago, report, upload


def _outbox_events(session: Session, number: str) -> list[str]:
    return list(
        session.scalars(
            select(OutboxMessage.kind)
            .where(OutboxMessage.claim_number == number)
            .order_by(OutboxMessage.id)
        ).all()
    )


def _backdate(session: Session, settings: Settings, claim_number: str, **days_ago: int) -> None:
    """Move a claim's milestones (e.g. approved_at=8) that many days into the past, as
    if they had happened then (so the stored clocks move with them)."""
    claim = session.scalars(
        select(Claim)
        .where(Claim.claim_number == claim_number)
        .execution_options(populate_existing=True)
    ).one()
    for field, n in days_ago.items():
        setattr(claim, field, datetime.now(UTC) - timedelta(days=n))
    refresh_clocks(settings, claim)
    session.flush()


def test_small_clear_claim_is_fast_tracked_when_the_last_document_arrives(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="2800.00").json()
    done = attach_all(client, zhang, claim)
    assert done["status"] == "approved"
    assert done["fast_track"] is True
    assert done["payout_amount"] == "2800.00"  # deductible 0, ratio 100%
    assert done["missing"] == []
    assert _outbox_events(session, claim["claim_number"]) == ["claim_filed", "approved"]
    assert done["deadlines"]["payment_due"] is not None


def test_above_the_fast_track_limit_goes_to_an_adjuster(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="3000.01").json()
    done = attach_all(client, zhang, claim)
    assert done["status"] == "under_review" and done["fast_track"] is False
    assert _outbox_events(session, claim["claim_number"])[-1] == "documents_complete"
    assert done["deadlines"]["decision_due"] == (days_ago(0) + timedelta(days=30)).isoformat()


def test_a_risk_flag_stops_the_fast_track_and_staff_see_why(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]
) -> None:
    # Reported 45 days after the incident: late_report.
    claim = report(
        client, zhang, claimed_amount="500.00", incident_date=days_ago(45).isoformat()
    ).json()
    done = attach_all(client, zhang, claim)
    assert done["status"] == "under_review"
    staff_view = client.get(f"/api/v1/claims/{claim['claim_number']}", headers=adjuster).json()
    assert [f["code"] for f in staff_view["risk_flags"]] == ["late_report"]
    assert staff_view["risk_flags"][0]["reason"]
    assert any(e["kind"] == "sent_to_manual_review" for e in staff_view["events"])


def test_the_same_document_in_two_claims_is_flagged(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]
) -> None:
    first = report(client, zhang, claimed_amount="100.00").json()
    second = report(client, zhang, claimed_amount="100.00").json()
    same = PNG + b"same-invoice"
    for claim in (first, second):
        doc = upload(client, zhang, same)
        r = client.post(
            f"/api/v1/claims/{claim['claim_number']}/documents/{doc}/attach",
            json={"item_code": "invoice"},
            headers=zhang,
        )
        assert r.status_code == 200
    view = client.get(f"/api/v1/claims/{second['claim_number']}", headers=adjuster).json()
    assert "duplicate_document" in [f["code"] for f in view["risk_flags"]]


def test_attaching_an_item_not_on_the_checklist_is_refused(
    client: TestClient, zhang: dict[str, str]
) -> None:
    claim = report(client, zhang).json()
    doc = upload(client, zhang, PNG + b"x")
    r = client.post(
        f"/api/v1/claims/{claim['claim_number']}/documents/{doc}/attach",
        json={"item_code": "repair_invoice"},
        headers=zhang,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_on_checklist"


def test_adjuster_approves_with_deductible_and_ratio(
    client: TestClient,
    bot,
    demo: Session,
    adjuster: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    fang = bot("web:wangfang")
    client.post(
        "/api/v1/identities/verify",
        headers=fang,
        json={"policy_number": "P2025000004", "id_last4": "9012"},
    )
    claim = report(client, fang, claim_type="accident", claimed_amount="8000.00").json()
    attach_all(client, fang, claim)
    n = claim["claim_number"]
    r = client.post(f"/api/v1/claims/{n}/approve", json={"amount": "7000.00"}, headers=adjuster)
    assert r.status_code == 200, r.text
    assert r.json()["payout_amount"] == "6300.00"  # (7000 - 0) x 90%
    paid = client.post(f"/api/v1/claims/{n}/mark-paid", json={"reference": "TX1"}, headers=adjuster)
    assert paid.json()["status"] == "paid"
    closed = client.post(f"/api/v1/claims/{n}/close", json={}, headers=adjuster)
    assert closed.json()["status"] == "closed"
    kinds = [(e["kind"], e["to_status"], e["actor"]) for e in closed.json()["events"]]
    assert ("status_changed", "approved", "adjuster") in kinds
    assert ("status_changed", "paid", "adjuster") in kinds


def test_policy_limit_is_shared_by_claims(
    client: TestClient,
    bot,
    demo: Session,
    adjuster: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    fang = bot("web:wangfang2")
    client.post(
        "/api/v1/identities/verify",
        headers=fang,
        json={"policy_number": "P2025000004", "id_last4": "9012"},
    )
    numbers = []
    for _ in range(2):
        c = report(client, fang, claim_type="accident", claimed_amount="9000.00").json()
        attach_all(client, fang, c)
        numbers.append(c["claim_number"])
    first = client.post(
        f"/api/v1/claims/{numbers[0]}/approve", json={"amount": "9000.00"}, headers=adjuster
    )
    assert first.json()["payout_amount"] == "8100.00"
    second = client.post(
        f"/api/v1/claims/{numbers[1]}/approve", json={"amount": "9000.00"}, headers=adjuster
    )
    # 10000 limit - 8100 already approved = 1900 left, x 90%
    assert second.json()["payout_amount"] == "1710.00"


def test_rejection_needs_a_reason_and_a_person(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str], agent: dict[str, str]
) -> None:
    claim = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, claim)
    n = claim["claim_number"]
    no_reason = client.post(f"/api/v1/claims/{n}/reject", json={"reason": ""}, headers=adjuster)
    assert no_reason.status_code == 422
    by_agent = client.post(f"/api/v1/claims/{n}/reject", json={"reason": "x"}, headers=agent)
    assert by_agent.status_code == 403
    by_bot = client.post(f"/api/v1/claims/{n}/reject", json={"reason": "x"}, headers=zhang)
    assert by_bot.status_code == 403
    ok = client.post(f"/api/v1/claims/{n}/reject", json={"reason": "非保险责任"}, headers=adjuster)
    assert ok.json()["status"] == "rejected"
    assert (
        ok.json()["deadlines"]["rejection_notice_due"]
        == (days_ago(0) + timedelta(days=3)).isoformat()
    )
    reopened = client.post(
        f"/api/v1/claims/{n}/reopen", json={"reason": "客户补充了新证据"}, headers=adjuster
    )
    assert reopened.json()["status"] == "reopened"


def test_rejection_notice_stops_the_three_day_clock(
    client: TestClient,
    zhang: dict[str, str],
    adjuster: dict[str, str],
    session: Session,
    settings: Settings,
) -> None:
    claim = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, claim)
    n = claim["claim_number"]
    early = client.post(
        f"/api/v1/claims/{n}/rejection-notice", json={"channel": "letter"}, headers=adjuster
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_rejected"
    client.post(f"/api/v1/claims/{n}/reject", json={"reason": "非保险责任"}, headers=adjuster)
    # Rejected four days ago and no notice recorded: overdue for staff.
    _backdate(session, settings, n, rejected_at=4)
    listed = client.get("/api/v1/claims?overdue=true", headers=adjuster).json()["items"]
    assert [c["claim_number"] for c in listed] == [n]
    bad = client.post(
        f"/api/v1/claims/{n}/rejection-notice", json={"channel": "pigeon"}, headers=adjuster
    )
    assert bad.status_code == 422
    by_bot = client.post(
        f"/api/v1/claims/{n}/rejection-notice", json={"channel": "letter"}, headers=zhang
    )
    assert by_bot.status_code == 403
    sent = client.post(
        f"/api/v1/claims/{n}/rejection-notice",
        json={"channel": "letter", "reference": "EMS1234567890"},
        headers=adjuster,
    )
    assert sent.status_code == 200
    notice = next(d for d in sent.json()["deadlines"]["items"] if d["name"] == "rejection_notice")
    assert notice["done_on"] == days_ago(0).isoformat() and notice["overdue"] is False
    assert sent.json()["events"][-1]["kind"] == "rejection_notice_sent"
    assert sent.json()["events"][-1]["data"] == {"channel": "letter", "reference": "EMS1234567890"}
    assert client.get("/api/v1/claims?overdue=true", headers=adjuster).json()["items"] == []
    twice = client.post(
        f"/api/v1/claims/{n}/rejection-notice", json={"channel": "sms"}, headers=adjuster
    )
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "rejection_notice_already_recorded"


def test_request_more_documents_only_for_items_on_the_checklist(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, claim)
    n = claim["claim_number"]
    new_item = client.post(
        f"/api/v1/claims/{n}/request-documents",
        json={"items": ["accident_report"], "reason": "需要"},
        headers=adjuster,
    )
    assert new_item.status_code == 422 and new_item.json()["error"]["code"] == "not_on_checklist"
    again = client.post(
        f"/api/v1/claims/{n}/request-documents",
        json={"items": ["invoice"], "reason": "发票照片模糊"},
        headers=adjuster,
    )
    assert again.status_code == 200
    body = again.json()
    assert body["status"] == "documents_pending"
    assert body["missing"] == [{"code": "invoice", "name": "医疗发票"}]
    assert _outbox_events(session, n)[-1] == "documents_requested"


def test_illegal_move_is_a_clear_conflict(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]
) -> None:
    claim = report(client, zhang).json()
    r = client.post(f"/api/v1/claims/{claim['claim_number']}/mark-paid", json={}, headers=adjuster)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "illegal_transition"
    assert "documents_pending" in r.json()["error"]["message"]


def test_customer_withdraws_before_a_decision(client: TestClient, zhang: dict[str, str]) -> None:
    claim = report(client, zhang).json()
    r = client.post(
        f"/api/v1/claims/{claim['claim_number']}/withdraw", json={"reason": "不报了"}, headers=zhang
    )
    assert r.json()["status"] == "withdrawn"


def test_overdue_claims_are_listed_for_staff(
    client: TestClient,
    zhang: dict[str, str],
    adjuster: dict[str, str],
    session: Session,
    settings: Settings,
) -> None:
    late = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, late)
    fresh = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, fresh)
    # The documents of one claim were complete 61 days ago and nobody decided.
    _backdate(session, settings, late["claim_number"], documents_completed_at=61)
    listed = client.get("/api/v1/claims?overdue=true", headers=adjuster).json()["items"]
    assert [c["claim_number"] for c in listed] == [late["claim_number"]]
    deadlines = listed[0]["deadlines"]
    assert deadlines["advance_payment_flag"] is True
    assert [d["name"] for d in deadlines["items"] if d["overdue"]] == ["decision"]


def test_payment_due_and_soon_due(
    client: TestClient,
    zhang: dict[str, str],
    adjuster: dict[str, str],
    session: Session,
    settings: Settings,
) -> None:
    claim = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, claim)
    n = claim["claim_number"]
    client.post(f"/api/v1/claims/{n}/approve", json={"amount": "9999.00"}, headers=adjuster)
    _backdate(session, settings, n, approved_at=8)
    view = client.get(f"/api/v1/claims/{n}", headers=adjuster).json()
    payment = next(d for d in view["deadlines"]["items"] if d["name"] == "payment")
    assert payment["soon_due"] is True and payment["overdue"] is False
    _backdate(session, settings, n, approved_at=11)
    view = client.get(f"/api/v1/claims/{n}", headers=adjuster).json()
    payment = next(d for d in view["deadlines"]["items"] if d["name"] == "payment")
    assert payment["overdue"] is True


def test_events_are_never_rewritten_by_later_changes(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="100.00").json()
    row = session.scalars(select(Claim).where(Claim.claim_number == claim["claim_number"])).one()
    before = [
        (e.id, e.kind, e.created_at)
        for e in session.scalars(
            select(ClaimEvent).where(ClaimEvent.claim_id == row.id).order_by(ClaimEvent.id)
        )
    ]
    attach_all(client, zhang, claim)
    after = [
        (e.id, e.kind, e.created_at)
        for e in session.scalars(
            select(ClaimEvent).where(ClaimEvent.claim_id == row.id).order_by(ClaimEvent.id)
        )
    ]
    assert after[: len(before)] == before and len(after) > len(before)


def test_stats_show_the_figures(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]
) -> None:
    fast = report(client, zhang, claimed_amount="100.00").json()
    attach_all(client, zhang, fast)
    slow = report(client, zhang, claimed_amount="9000.00").json()
    attach_all(client, zhang, slow)
    client.post(
        f"/api/v1/claims/{slow['claim_number']}/approve",
        json={"amount": "9000.00"},
        headers=adjuster,
    )
    client.post(f"/api/v1/claims/{fast['claim_number']}/mark-paid", json={}, headers=adjuster)
    stats = client.get("/api/v1/stats", headers=adjuster).json()
    assert stats["total_claims"] == 2
    assert stats["by_status"] == {"paid": 1, "approved": 1}
    assert stats["by_type"] == {"medical": 2}
    assert stats["fast_track_share"] == 0.5
    assert stats["decided_within_limit_share"] == 1.0
    assert stats["cycle_time_days_median"] is not None
    assert client.get("/api/v1/stats", headers=zhang).status_code == 403


def test_payment_callback_is_signed(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str], settings
) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.backend.claims.conftest import payment_headers

    claim = report(client, zhang, claimed_amount="100.00").json()
    attach_all(client, zhang, claim)
    body = json.dumps(
        {"claim_number": claim["claim_number"], "reference": "PAY-1", "status": "succeeded"}
    ).encode()
    forged = client.post(
        "/api/v1/payments/callback",
        content=body,
        headers={**payment_headers(settings, body), "X-Payment-Signature": "00"},
    )
    assert forged.status_code == 401
    ok = client.post(
        "/api/v1/payments/callback", content=body, headers=payment_headers(settings, body)
    )
    assert ok.json() == {"claim_number": claim["claim_number"], "status": "paid"}
    again = client.post(
        "/api/v1/payments/callback", content=body, headers=payment_headers(settings, body)
    )
    assert again.json()["status"] == "paid"  # repeated callback changes nothing
    view = client.get(f"/api/v1/claims/{claim['claim_number']}", headers=adjuster).json()
    assert [e["to_status"] for e in view["events"]].count("paid") == 1
    assert Decimal(view["payout_amount"]) == Decimal("100.00")


def test_multipart_upload_onto_a_checklist_item(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]
) -> None:
    from tests.backend.claims.conftest import PDF

    claim = report(client, zhang).json()
    n = claim["claim_number"]
    r = client.post(
        f"/api/v1/claims/{n}/documents",
        headers=zhang,
        files={"file": ("../../etc/passwd.pdf", PDF, "application/pdf")},
        data={"item_code": "diagnosis_certificate"},
    )
    assert r.status_code == 201, r.text
    assert "diagnosis_certificate" not in [m["code"] for m in r.json()["missing"]]
    docs = client.get(f"/api/v1/claims/{n}", headers=adjuster).json()["documents"]
    assert [(d["item_code"], d["media_type"]) for d in docs] == [
        ("diagnosis_certificate", "application/pdf")
    ]
    content = client.get(f"/api/v1/documents/{docs[0]['document_id']}/content", headers=zhang)
    assert content.content == PDF
    forged = client.post(
        f"/api/v1/claims/{n}/documents",
        headers=zhang,
        files={"file": ("invoice.jpg", b"just some text, not an image", "image/jpeg")},
        data={"item_code": "invoice"},
    )
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "unsupported_type"
    after = client.get(f"/api/v1/claims/{n}", headers=adjuster).json()
    assert len(after["documents"]) == 1 and "invoice" in [m["code"] for m in after["missing"]]
