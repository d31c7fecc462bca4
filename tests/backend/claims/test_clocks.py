"""The stored legal clocks of a claim (`claims.decision_due_on` ... `next_due_on`):
set by the service at each milestone, and always what `deadline_status()` says."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.core.clock import CLOCK_COLUMNS, deadline_status, local_today, refresh_clocks
from backend.core.settings import Settings
from backend.domain.types import ClaimStatus, ClaimType
from backend.models import Claim, Policy
from tests.backend.claims.conftest import PNG, attach_all, days_ago, report, upload

NO_CLOCK: dict[str, Any] = dict.fromkeys(CLOCK_COLUMNS)


def stored_clocks(session: Session, claim_number: str) -> dict[str, Any]:
    row = session.execute(
        select(*(getattr(Claim, c) for c in CLOCK_COLUMNS)).where(
            Claim.claim_number == claim_number
        )
    ).one()
    return dict(zip(CLOCK_COLUMNS, row, strict=True))


def after(days: int) -> date:
    return days_ago(-days)


def test_clock_columns_follow_each_milestone_through_a_reopening(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="9999.00").json()
    n = claim["claim_number"]
    # Documents pending: no legal clock runs yet.
    assert stored_clocks(session, n) == NO_CLOCK

    attach_all(client, zhang, claim)  # complete today, above the fast-track limit
    decision = {
        **NO_CLOCK,
        "decision_due_on": after(30),
        "advance_payment_from_on": after(60),
        "next_due_on": after(30),
        "next_due_clock": "decision",
    }
    assert stored_clocks(session, n) == decision

    r = client.post(f"/api/v1/claims/{n}/approve", json={"amount": "9999.00"}, headers=adjuster)
    assert r.status_code == 200, r.text
    approved = {
        **decision,
        "decided_on": days_ago(0),
        "payment_due_on": after(10),
        "next_due_on": after(10),
        "next_due_clock": "payment",
    }
    assert stored_clocks(session, n) == approved

    r = client.post(f"/api/v1/claims/{n}/mark-paid", json={"reference": "TX-9"}, headers=adjuster)
    assert r.status_code == 200, r.text
    paid = {**approved, "paid_on": days_ago(0), "next_due_on": None, "next_due_clock": None}
    assert stored_clocks(session, n) == paid

    r = client.post(f"/api/v1/claims/{n}/close", json={}, headers=adjuster)
    assert r.status_code == 200, r.text
    assert stored_clocks(session, n) == paid  # closing is no milestone of any clock

    r = client.post(f"/api/v1/claims/{n}/reopen", json={"reason": "新发票"}, headers=adjuster)
    assert r.status_code == 200, r.text
    # A new round: the first payment no longer stops anything, nothing is due yet.
    assert stored_clocks(session, n) == NO_CLOCK

    r = client.post(
        f"/api/v1/claims/{n}/request-documents",
        json={"items": ["invoice"], "reason": "请补充新发票"},
        headers=adjuster,
    )
    assert r.status_code == 200, r.text
    assert stored_clocks(session, n) == NO_CLOCK
    doc = upload(client, zhang, PNG + b"second invoice")
    r = client.post(
        f"/api/v1/claims/{n}/documents/{doc}/attach", json={"item_code": "invoice"}, headers=zhang
    )
    assert r.status_code == 200 and r.json()["status"] == "under_review", r.text
    assert stored_clocks(session, n) == decision

    r = client.post(f"/api/v1/claims/{n}/reject", json={"reason": "非保险责任"}, headers=adjuster)
    assert r.status_code == 200, r.text
    rejected = {
        **decision,
        "decided_on": days_ago(0),
        "rejection_notice_due_on": after(3),
        "next_due_on": after(3),
        "next_due_clock": "rejection_notice",
    }
    assert stored_clocks(session, n) == rejected

    r = client.post(
        f"/api/v1/claims/{n}/rejection-notice", json={"channel": "letter"}, headers=adjuster
    )
    assert r.status_code == 200, r.text
    assert stored_clocks(session, n) == {
        **rejected,
        "rejection_notified_on": days_ago(0),
        "next_due_on": None,
        "next_due_clock": None,
    }


def test_a_claim_withdrawn_before_a_decision_has_no_clock(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, claim)
    n = claim["claim_number"]
    assert stored_clocks(session, n)["next_due_clock"] == "decision"
    r = client.post(f"/api/v1/claims/{n}/withdraw", json={"reason": "不报了"}, headers=zhang)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert stored_clocks(session, n) == NO_CLOCK


def test_fast_tracked_claim_owes_only_the_payment(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="800.00").json()
    assert attach_all(client, zhang, claim)["status"] == "approved"
    assert stored_clocks(session, claim["claim_number"]) == {
        **NO_CLOCK,
        "decision_due_on": after(30),
        "advance_payment_from_on": after(60),
        "decided_on": days_ago(0),
        "payment_due_on": after(10),
        "next_due_on": after(10),
        "next_due_clock": "payment",
    }


# -- the stored columns always say what deadline_status() says --------------------------


def _moment(rng: random.Random, base: datetime) -> datetime:
    """A moment some days from `base`, often just around local midnight (16:00 UTC in
    Shanghai), where the UTC date and the local date differ."""
    minutes = rng.choice([-1, 0, 1, rng.randint(-720, 720)])
    return base + timedelta(days=rng.randint(0, 80), minutes=minutes)


def _random_claim(rng: random.Random, policy: Policy, index: int) -> Claim:
    base = datetime(2026, 9, 1, 16, 0, tzinfo=UTC)
    claim = Claim(
        claim_number=f"CL20260901{index:04d}",
        policy_id=policy.id,
        claim_type=ClaimType.MEDICAL,
        status=ClaimStatus.UNDER_REVIEW,
        incident_date=date(2026, 8, 30),
        location="北京",
        description="生成的案件",
        reported_by="test",
        reported_on=date(2026, 9, 1),
    )
    reopened = rng.random() < 0.2
    if reopened:
        claim.reopened_at = _moment(rng, base)
    for field, chance in (
        ("documents_completed_at", 0.8),
        ("approved_at", 0.4),
        ("rejected_at", 0.2),
        ("rejection_notified_at", 0.5),
        ("paid_at", 0.5),
        ("withdrawn_at", 0.1),
    ):
        if rng.random() < chance:
            setattr(claim, field, _moment(rng, base))
    return claim


def test_stored_clocks_equal_deadline_status_for_many_claims(
    demo: Session, settings: Settings
) -> None:
    session = demo
    rng = random.Random(12)
    policy = session.scalars(select(Policy).order_by(Policy.policy_number)).first()
    assert policy is not None
    claims = [_random_claim(rng, policy, i) for i in range(300)]
    for claim in claims:
        refresh_clocks(settings, claim)
    session.add_all(claims)
    session.flush()
    session.expire_all()  # compare what the database gives back

    todays = [date(2026, 9, 1) + timedelta(days=d) for d in range(0, 160, 7)]
    stored = session.scalars(select(Claim).where(Claim.claim_number.like("CL20260901%"))).all()
    assert len(stored) == 300
    for claim in stored:
        for today in todays:
            status = deadline_status(settings, claim, today)
            assert claim.decision_due_on == status.due_date("decision")
            assert claim.payment_due_on == status.due_date("payment")
            assert claim.rejection_notice_due_on == status.due_date("rejection_notice")
            assert claim.advance_payment_from_on == status.advance_payment_from
            open_clocks = sorted((d for d in status.deadlines if d.open), key=lambda d: d.due)
            if open_clocks:
                assert (claim.next_due_on, claim.next_due_clock) == (
                    open_clocks[0].due,
                    open_clocks[0].name,
                )
                assert (claim.next_due_on - today).days == open_clocks[0].days_left
            else:
                assert (claim.next_due_on, claim.next_due_clock) == (None, None)
            # What a query on the columns decides is what the domain decides.
            overdue = claim.next_due_on is not None and claim.next_due_on < today
            assert overdue == bool(status.overdue)
            advance = (
                claim.advance_payment_from_on is not None
                and claim.decided_on is None
                and claim.advance_payment_from_on <= today
            )
            assert advance == status.advance_payment_flag
            for name, column in (
                ("decision", claim.decided_on),
                ("payment", claim.paid_on),
                ("rejection_notice", claim.rejection_notified_on),
            ):
                deadline = status.get(name)
                if deadline is not None:
                    assert deadline.completed_on == column

    # And counted in SQL, overdue on a day is the same set the domain finds.
    today = date(2026, 10, 20)
    in_sql = session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(Claim.claim_number.like("CL20260901%"), Claim.next_due_on < today)
    )
    in_python = sum(bool(deadline_status(settings, c, today).overdue) for c in stored)
    assert in_sql == in_python and in_python > 0


def test_local_dates_are_taken_in_the_business_time_zone(settings: Settings) -> None:
    claim = Claim(
        # 23 Nov 16:30 UTC is 24 Nov 00:30 in Shanghai: the clock counts from the 24th.
        documents_completed_at=datetime(2026, 11, 23, 16, 30, tzinfo=UTC),
    )
    refresh_clocks(settings, claim)
    assert claim.decision_due_on == date(2026, 12, 24)
    assert claim.next_due_clock == "decision"
    assert local_today(settings) == datetime.now(ZoneInfo("Asia/Shanghai")).date()
