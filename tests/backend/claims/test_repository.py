"""The claims read side: the adjusters' work queue (order, filters, paging, search,
overdue by clock), the staff claim page, and lists that cost a bounded number of SQL
statements however many claims there are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backend.claims.repository import QueueFilters, claim_detail, work_queue
from backend.core.clock import refresh_clocks
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain.types import ClaimStatus, ClaimType
from backend.models import Claim, Policy, RiskFlagRecord
from tests.backend.claims.conftest import attach_all, report

S = ClaimStatus
TODAY = date(2026, 12, 1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date) -> datetime:
    """10:00 in Shanghai on that day, as the UTC moment the service would store."""
    return datetime.combine(day, time(10, 0), SHANGHAI).astimezone(UTC)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def make_claim(
    session: Session,
    settings: Settings,
    number: str,
    policy_number: str,
    status: ClaimStatus,
    reported_on: date,
    *,
    complete: date | None = None,
    approved: date | None = None,
    fast_track: bool = False,
    risks: tuple[str, ...] = (),
) -> Claim:
    policy = session.scalars(select(Policy).where(Policy.policy_number == policy_number)).one()
    claim_type = {
        "P2025000001": ClaimType.MEDICAL,
        "P2025000002": ClaimType.AUTO,
        "P2025000003": ClaimType.PROPERTY,
        "P2025000004": ClaimType.ACCIDENT,
        "P2026000005": ClaimType.MEDICAL,
    }[policy_number]
    claim = Claim(
        claim_number=number,
        policy_id=policy.id,
        claim_type=claim_type,
        status=status,
        incident_date=reported_on,
        location="上海",
        description="测试案件",
        claimed_amount=Decimal("5000.00"),
        reported_by="test",
        reported_on=reported_on,
        fast_track=fast_track,
        documents_completed_at=at(complete) if complete else None,
        approved_at=at(approved) if approved else None,
    )
    refresh_clocks(settings, claim)
    session.add(claim)
    session.flush()
    for code in risks:
        session.add(RiskFlagRecord(claim_id=claim.id, code=code, reason=f"{code} 的理由"))
    session.flush()
    return claim


@pytest.fixture
def queue(demo: Session, settings: Settings) -> Session:
    """Eight claims with hand-picked clocks (today is 1 Dec 2026):
    B decision due 24 Nov (overdue), H and A due 1 Dec (H reported first), G due 16 Dec,
    D, C, F no open clock (by report date); E is approved (payment overdue), not awaiting
    a decision."""
    s = demo
    make_claim(s, settings, "CL202611010001", "P2025000001", S.UNDER_REVIEW, d(11, 1),
               complete=d(11, 1), risks=("late_report",))  # fmt: skip
    make_claim(s, settings, "CL202611010002", "P2025000002", S.UNDER_REVIEW, d(10, 20),
               complete=d(10, 25))  # fmt: skip
    make_claim(s, settings, "CL202611010003", "P2025000003", S.DOCUMENTS_PENDING, d(11, 20))
    make_claim(s, settings, "CL202611010004", "P2025000004", S.REOPENED, d(11, 5))
    make_claim(s, settings, "CL202611010005", "P2026000005", S.APPROVED, d(11, 10),
               complete=d(11, 10), approved=d(11, 10), fast_track=True)  # fmt: skip
    make_claim(s, settings, "CL202611010006", "P2025000001", S.REPORTED, d(11, 28),
               risks=("near_limit", "duplicate_document"))  # fmt: skip
    make_claim(s, settings, "CL202611010007", "P2025000002", S.UNDER_REVIEW, d(11, 15),
               complete=d(11, 16))  # fmt: skip
    make_claim(s, settings, "CL202611010008", "P2025000003", S.UNDER_REVIEW, d(10, 30),
               complete=d(11, 1))  # fmt: skip
    return s


def numbers(session: Session, page: int = 1, page_size: int = 25, **filters: Any) -> list[str]:
    result = work_queue(
        session, QueueFilters(**filters), today=TODAY, page=page, page_size=page_size
    )
    return [row.claim_number[-1] for row in result.rows]  # the last digit names the claim


def test_queue_nearest_deadline_first_then_oldest_report_and_no_clock_last(
    queue: Session,
) -> None:
    # B(24 Nov) H(1 Dec, reported 30 Oct) A(1 Dec, 1 Nov) G(16 Dec) | D(5 Nov) C(20 Nov) F(28 Nov)
    assert numbers(queue) == ["2", "8", "1", "7", "4", "3", "6"]


def test_queue_rows_say_what_the_adjuster_sees(queue: Session) -> None:
    rows = {r.claim_number: r for r in work_queue(queue, QueueFilters(), today=TODAY).rows}
    late = rows["CL202611010002"]
    assert (late.policy_number, late.holder_name, late.claim_type) == (
        "P2025000002",
        "李娜",
        ClaimType.AUTO,
    )
    assert (late.next_due_on, late.next_due_clock, late.overdue, late.days_left) == (
        d(11, 24),
        "decision",
        True,
        -7,
    )
    due_today = rows["CL202611010001"]
    assert (due_today.overdue, due_today.days_left, due_today.risk_codes) == (
        False,
        0,
        ("late_report",),
    )
    assert rows["CL202611010006"].risk_codes == ("duplicate_document", "near_limit")
    none = rows["CL202611010003"]
    assert (none.next_due_on, none.next_due_clock, none.overdue, none.days_left) == (
        None,
        None,
        False,
        None,
    )
    assert none.status == S.DOCUMENTS_PENDING and none.claimed_amount == Decimal("5000.00")
    assert rows["CL202611010007"].days_left == 15


def test_queue_filters(queue: Session) -> None:
    assert numbers(queue, status=S.APPROVED) == ["5"]
    assert numbers(queue, status=S.REOPENED) == ["4"]
    assert numbers(queue, claim_type=ClaimType.AUTO) == ["2", "7"]
    assert numbers(queue, risk=True) == ["1", "6"]
    assert numbers(queue, risk=False) == ["2", "8", "7", "4", "3"]
    assert numbers(queue, fast_track=True) == []
    assert numbers(queue, status=S.APPROVED, fast_track=True) == ["5"]
    assert numbers(queue, fast_track=False) == ["2", "8", "1", "7", "4", "3", "6"]
    assert numbers(queue, claim_type=ClaimType.MEDICAL, risk=True) == ["1", "6"]


def test_overdue_is_by_the_nearest_open_clock(queue: Session) -> None:
    assert numbers(queue, overdue=True) == ["2"]
    assert numbers(queue, overdue=False) == ["8", "1", "7", "4", "3", "6"]
    # The approved claim's payment was due 20 Nov and is not paid.
    [paid_late] = work_queue(queue, QueueFilters(status=S.APPROVED, overdue=True), today=TODAY).rows
    assert (paid_late.next_due_clock, paid_late.next_due_on, paid_late.days_left) == (
        "payment",
        d(11, 20),
        -11,
    )
    # On 2 Dec the two claims due on 1 Dec are overdue too.
    later = work_queue(queue, QueueFilters(overdue=True), today=d(12, 2))
    assert [r.claim_number[-1] for r in later.rows] == ["2", "8", "1"]


def test_search_by_claim_or_policy_number(queue: Session) -> None:
    assert numbers(queue, search="CL202611010007") == ["7"]
    assert numbers(queue, search=" cl202611010007 ") == ["7"]  # any case, trimmed
    assert numbers(queue, search="P2025000003") == ["8", "3"]
    assert numbers(queue, search="p2025000004") == ["4"]
    assert numbers(queue, search="CL20261101000") == ["2", "8", "1", "7", "4", "3", "6"]
    assert numbers(queue, search="P202500000") == ["2", "8", "1", "7", "4", "3", "6"]
    assert numbers(queue, search="CL2026110100%") == []  # a wildcard is a character
    assert numbers(queue, search="CL_0") == []
    assert numbers(queue, search="NOPE") == []
    assert numbers(queue, search="   ") == ["2", "8", "1", "7", "4", "3", "6"]


def test_paging(queue: Session) -> None:
    first = work_queue(queue, QueueFilters(), today=TODAY, page=1, page_size=3)
    assert [r.claim_number[-1] for r in first.rows] == ["2", "8", "1"]
    assert (first.total, first.page, first.page_size, first.pages) == (7, 1, 3, 3)
    assert numbers(queue, page=2, page_size=3) == ["7", "4", "3"]
    assert numbers(queue, page=3, page_size=3) == ["6"]
    beyond = work_queue(queue, QueueFilters(), today=TODAY, page=4, page_size=3)
    assert beyond.rows == [] and beyond.total == 7
    filtered = work_queue(queue, QueueFilters(risk=True), today=TODAY, page=1, page_size=1)
    assert filtered.total == 2 and [r.claim_number for r in filtered.rows] == ["CL202611010001"]


def test_bad_paging_is_refused(queue: Session) -> None:
    for page, size in ((0, 25), (1, 0), (1, 101)):
        with pytest.raises(ApiError) as refused:
            work_queue(queue, QueueFilters(), today=TODAY, page=page, page_size=size)
        assert refused.value.status_code == 422


# -- statements per request: no N+1 ---------------------------------------------------


@contextmanager
def counting(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    connection = session.connection()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", count)


def test_a_queue_page_is_three_statements(queue: Session) -> None:
    with counting(queue) as statements:
        page = work_queue(queue, QueueFilters(), today=TODAY)
    assert len(page.rows) == 7
    assert len(statements) == 3  # the rows, their risk codes, the count


def _add_claims(session: Session, settings: Settings, count: int, start: int) -> None:
    for i in range(start, start + count):
        make_claim(session, settings, f"CL20261102{i:04d}", "P2025000001", S.UNDER_REVIEW,
                   d(11, 2), complete=d(11, 2), risks=("late_report",))  # fmt: skip


def test_listing_claims_costs_the_same_statements_for_3_or_30_claims(
    client: TestClient, demo: Session, settings: Settings, adjuster: dict[str, str]
) -> None:
    _add_claims(demo, settings, 3, 1)
    with counting(demo) as few_statements:
        few = client.get("/api/v1/claims", headers=adjuster)
    assert few.status_code == 200 and len(few.json()["items"]) == 3
    _add_claims(demo, settings, 27, 4)
    with counting(demo) as many_statements:
        many = client.get("/api/v1/claims", headers=adjuster)
    assert many.status_code == 200 and len(many.json()["items"]) == 30
    assert many.json()["items"][0]["risk_flags"] == [
        {"code": "late_report", "reason": "late_report 的理由"}
    ]
    assert len(many_statements) == len(few_statements)
    assert len(many_statements) <= 10


def test_the_queue_route_pages_and_filters_for_adjusters_only(
    client: TestClient, queue: Session, adjuster: dict[str, str], zhang: dict[str, str]
) -> None:
    r = client.get("/api/v1/claims/queue?page_size=2&claim_type=auto", headers=adjuster)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and body["page"] == 1 and body["page_size"] == 2
    assert [row["claim_number"] for row in body["rows"]] == ["CL202611010002", "CL202611010007"]
    assert body["rows"][0]["holder_name"] == "李娜"
    assert client.get("/api/v1/claims/queue", headers=zhang).status_code == 403
    bad = client.get("/api/v1/claims/queue?page=0", headers=adjuster)
    assert bad.status_code == 422


# -- the staff claim page -------------------------------------------------------------


def test_claim_detail_loads_everything_the_page_shows_up_front(
    client: TestClient, zhang: dict[str, str], session: Session
) -> None:
    claim = report(client, zhang, claimed_amount="9999.00").json()
    attach_all(client, zhang, claim)
    session.expire_all()
    with counting(session) as statements:
        detail = claim_detail(session, claim["claim_number"].lower())
    assert len(statements) <= 8
    with counting(session) as later:
        # Everything is loaded: reading it costs nothing (lazy loading would raise).
        assert detail.holder.name == "张伟"
        assert detail.policy.policy_number == "P2025000001"
        assert [c.claim_type for c in detail.policy.coverages] == [ClaimType.MEDICAL]
        codes = [e.code for e in detail.claim.checklist]
        assert [doc.checklist_code for doc in detail.documents] == codes
        assert all(entry.received for entry in detail.claim.checklist)
        kinds = [e.kind for e in detail.events]
        assert kinds[0] == "reported" and kinds[-1] == "sent_to_manual_review"
        assert kinds.count("document_attached") == len(codes)
        assert detail.claim.risk_flags == []
        assert detail.claim.next_due_clock == "decision"
    assert later == []


def test_claim_detail_of_an_unknown_claim_is_not_found(demo: Session) -> None:
    with pytest.raises(ApiError) as missing:
        claim_detail(demo, "CL209901010001")
    assert missing.value.status_code == 404
