"""Claims queries for the read side: lists, the adjusters' work queue and the staff
claim page. Each loads what it shows in a bounded number of statements (eager
loading, one IN query per child collection), never one query per claim, and filters
by the stored legal clocks (`claims.next_due_on`, see backend.core.clock) in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.claims.moves import Who
from backend.core.errors import ApiError
from backend.domain.deadlines import SOON_DAYS
from backend.domain.types import ClaimStatus, ClaimType
from backend.models import (
    ChecklistEntry,
    Claim,
    ClaimEvent,
    Coverage,
    Document,
    Policy,
    Policyholder,
    RiskFlagRecord,
)

S = ClaimStatus
# The claims an adjuster still has to decide: the queue shows these unless told otherwise.
AWAITING_DECISION: tuple[ClaimStatus, ...] = (
    S.REPORTED,
    S.DOCUMENTS_PENDING,
    S.UNDER_REVIEW,
    S.REOPENED,
)
MAX_PAGE_SIZE = 100


def claim_query() -> Any:
    """A claim with what every view of it shows: checklist, risk flags, policy."""
    return select(Claim).options(
        selectinload(Claim.checklist),
        selectinload(Claim.risk_flags),
        selectinload(Claim.policy).selectinload(Policy.coverages),
    )


def documents_by_claim(session: Session, claim_ids: list[int]) -> dict[int, list[Document]]:
    """The documents of many claims in one query, in upload order."""
    found: dict[int, list[Document]] = defaultdict(list)
    if not claim_ids:
        return found
    rows = session.scalars(
        select(Document)
        .where(Document.claim_id.in_(claim_ids))
        .order_by(Document.created_at, Document.id)
    )
    for document in rows:
        assert document.claim_id is not None
        found[document.claim_id].append(document)
    return found


# ---------------------------------------------------------------- one claim


def get_claim(session: Session, claim_number: str, who: Who, *, for_update: bool = False) -> Claim:
    stmt = claim_query().where(Claim.claim_number == claim_number)
    if who.policyholder_id is not None:
        stmt = stmt.join(Policy, Policy.id == Claim.policy_id).where(
            Policy.policyholder_id == who.policyholder_id
        )
    if for_update:
        stmt = stmt.with_for_update(of=Claim)
    claim = session.scalars(stmt).one_or_none()
    if claim is None:
        # Another customer's claim is "not found" too: never reveal that it exists.
        raise ApiError(404, "not_found", "没有找到这个理赔案件 / claim not found")
    return claim


def events_of(session: Session, claim: Claim) -> list[ClaimEvent]:
    return list(
        session.scalars(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.id)
        ).all()
    )


def documents_of(session: Session, claim: Claim) -> list[Document]:
    return list(
        session.scalars(
            select(Document).where(Document.claim_id == claim.id).order_by(Document.created_at)
        ).all()
    )


def coverage_of(policy: Policy, claim_type: ClaimType) -> Coverage | None:
    return next((c for c in policy.coverages if c.claim_type == claim_type), None)


def policy_of(session: Session, claim: Claim) -> Policy:
    return session.scalars(
        select(Policy).where(Policy.id == claim.policy_id).options(selectinload(Policy.coverages))
    ).one()


def checklist_entries(session: Session, claim: Claim) -> dict[str, ChecklistEntry]:
    rows = session.scalars(select(ChecklistEntry).where(ChecklistEntry.claim_id == claim.id))
    return {entry.code: entry for entry in rows}


def missing_codes(session: Session, claim: Claim) -> list[str]:
    entries = sorted(checklist_entries(session, claim).values(), key=lambda e: e.position)
    return [e.code for e in entries if not e.received]


# ---------------------------------------------------------------- the API's lists


def attention_condition(today: date, soon_days: int = SOON_DAYS) -> ColumnElement[bool]:
    """Past or near a legal time limit: an open clock due within `soon_days` (or
    overdue), or due for advance payment (documents complete long ago, no decision)."""
    return or_(
        Claim.next_due_on <= today + timedelta(days=soon_days),
        and_(Claim.advance_payment_from_on <= today, Claim.decided_on.is_(None)),
    )


def list_claims(
    session: Session,
    *,
    policyholder_id: int | None,
    status: ClaimStatus | None = None,
    claim_type: ClaimType | None = None,
    needs_attention_on: date | None = None,
) -> list[Claim]:
    """Claims, newest first, with checklist, risk flags and policy loaded. A customer
    (policyholder_id set) sees only their own; `needs_attention_on` keeps the claims
    past or near a legal time limit on that day."""
    stmt = claim_query().order_by(Claim.created_at.desc(), Claim.id.desc())
    if policyholder_id is not None:
        stmt = stmt.join(Policy, Policy.id == Claim.policy_id).where(
            Policy.policyholder_id == policyholder_id
        )
    if status is not None:
        stmt = stmt.where(Claim.status == status)
    if claim_type is not None:
        stmt = stmt.where(Claim.claim_type == claim_type)
    if needs_attention_on is not None:
        stmt = stmt.where(attention_condition(needs_attention_on))
    return list(session.scalars(stmt).all())


# ---------------------------------------------------------------- the work queue


@dataclass(frozen=True)
class QueueFilters:
    status: ClaimStatus | None = None  # None = the claims awaiting a decision
    claim_type: ClaimType | None = None
    risk: bool | None = None  # has at least one risk flag
    fast_track: bool | None = None
    overdue: bool | None = None  # next_due_on < today
    search: str | None = None  # claim number or policy number (case-insensitive; prefix OK)


@dataclass(frozen=True)
class QueueRow:
    claim_number: str
    status: ClaimStatus
    claim_type: ClaimType
    policy_number: str
    holder_name: str
    claimed_amount: Decimal | None
    reported_on: date
    fast_track: bool
    risk_codes: tuple[str, ...]
    next_due_on: date | None
    next_due_clock: str | None
    overdue: bool
    days_left: int | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _like_prefix(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _queue_conditions(filters: QueueFilters, today: date) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status is None:
        conditions.append(Claim.status.in_(AWAITING_DECISION))
    else:
        conditions.append(Claim.status == filters.status)
    if filters.claim_type is not None:
        conditions.append(Claim.claim_type == filters.claim_type)
    if filters.fast_track is not None:
        conditions.append(Claim.fast_track == filters.fast_track)
    if filters.risk is not None:
        flagged = exists().where(RiskFlagRecord.claim_id == Claim.id)
        conditions.append(flagged if filters.risk else ~flagged)
    if filters.overdue is not None:
        late = Claim.next_due_on < today
        conditions.append(
            late
            if filters.overdue
            else or_(Claim.next_due_on.is_(None), Claim.next_due_on >= today)
        )
    term = (filters.search or "").strip().upper()
    if term:
        # Claim and policy numbers are stored upper case: a prefix LIKE on each uses
        # its unique index (the PostgreSQL database has the C collation), and the
        # policy side is a subquery so the two combine as one index OR on claims.
        pattern = _like_prefix(term)
        conditions.append(
            or_(
                Claim.claim_number.like(pattern, escape="\\"),
                Claim.policy_id.in_(
                    select(Policy.id).where(Policy.policy_number.like(pattern, escape="\\"))
                ),
            )
        )
    return conditions


def work_queue(
    session: Session,
    filters: QueueFilters,
    *,
    today: date,
    page: int = 1,
    page_size: int = 25,
) -> QueuePage:
    """The adjusters' queue: nearest legal deadline first (claims with no open clock
    last), then the oldest report. Three statements: the page, its risk codes, the
    count."""
    if page < 1:
        raise ApiError(422, "validation_error", "页码从 1 开始 / page starts at 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ApiError(
            422,
            "validation_error",
            f"每页 1 到 {MAX_PAGE_SIZE} 条 / page_size must be 1 to {MAX_PAGE_SIZE}",
        )
    conditions = _queue_conditions(filters, today)
    rows = session.execute(
        select(
            Claim.id,
            Claim.claim_number,
            Claim.status,
            Claim.claim_type,
            Policy.policy_number,
            Policyholder.name,
            Claim.claimed_amount,
            Claim.reported_on,
            Claim.fast_track,
            Claim.next_due_on,
            Claim.next_due_clock,
        )
        .join(Policy, Policy.id == Claim.policy_id)
        .join(Policyholder, Policyholder.id == Policy.policyholder_id)
        .where(*conditions)
        .order_by(Claim.next_due_on.asc().nulls_last(), Claim.reported_on, Claim.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    codes: dict[int, list[str]] = defaultdict(list)
    if rows:
        for claim_id, code in session.execute(
            select(RiskFlagRecord.claim_id, RiskFlagRecord.code)
            .where(RiskFlagRecord.claim_id.in_([r.id for r in rows]))
            .order_by(RiskFlagRecord.claim_id, RiskFlagRecord.code)
        ):
            codes[claim_id].append(code)
    total = session.scalar(select(func.count()).select_from(Claim).where(*conditions)) or 0
    return QueuePage(
        rows=[
            QueueRow(
                claim_number=r.claim_number,
                status=r.status,
                claim_type=r.claim_type,
                policy_number=r.policy_number,
                holder_name=r.name,
                claimed_amount=r.claimed_amount,
                reported_on=r.reported_on,
                fast_track=r.fast_track,
                risk_codes=tuple(codes.get(r.id, ())),
                next_due_on=r.next_due_on,
                next_due_clock=r.next_due_clock,
                overdue=r.next_due_on is not None and r.next_due_on < today,
                days_left=None if r.next_due_on is None else (r.next_due_on - today).days,
            )
            for r in rows
        ],
        total=total,
        page=page,
        page_size=page_size,
    )


# ---------------------------------------------------------------- the staff claim page


@dataclass(frozen=True)
class ClaimDetail:
    """One claim with all the staff claim page shows, loaded up front: the claim
    (checklist, risk flags, policy with its coverages and holder), its documents in
    upload order and its events in order."""

    claim: Claim
    documents: list[Document]
    events: list[ClaimEvent]

    @property
    def policy(self) -> Policy:
        return self.claim.policy

    @property
    def holder(self) -> Policyholder:
        return self.claim.policy.policyholder


def claim_detail(session: Session, claim_number: str) -> ClaimDetail:
    claim = session.scalars(
        select(Claim)
        .where(Claim.claim_number == claim_number.strip().upper())
        .options(
            selectinload(Claim.checklist),
            selectinload(Claim.risk_flags),
            selectinload(Claim.events),
            selectinload(Claim.policy).selectinload(Policy.coverages),
            selectinload(Claim.policy).selectinload(Policy.policyholder),
        )
    ).one_or_none()
    if claim is None:
        raise ApiError(404, "not_found", "没有找到这个理赔案件 / claim not found")
    documents = documents_by_claim(session, [claim.id]).get(claim.id, [])
    return ClaimDetail(claim=claim, documents=documents, events=list(claim.events))
