"""Figures to steer the claims process by."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from statistics import median
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.claims import service
from backend.core.deps import SessionDep, SettingsDep
from backend.core.security import AnyStaffDep
from backend.core.settings import Settings
from backend.domain.types import ClaimStatus
from backend.models import Claim, Handoff, OutboxMessage, Survey

router = APIRouter(prefix="/api/v1", tags=["stats"])


class NoticeStats(BaseModel):
    """Proactive notices (the outbox): what reached customers and what did not."""

    by_status: dict[str, int]  # pending, sending, sent, delivered, failed, suppressed
    by_route: dict[str, int]  # wechat_customer_service, wechat_template, sms, web
    failed_by_kind: dict[str, int]
    oldest_due_seconds: float | None  # age of the oldest notice waiting to go out


class SurveyStats(BaseModel):
    """The rating question after a claim is closed (回访)."""

    answered: int
    average_rating: float | None
    by_rating: dict[str, int]  # "1".."5"
    claims_closed: int
    response_rate: float | None  # ratings of a claim / closed claims


class HandoffStats(BaseModel):
    """Conversations handed to a person."""

    opened_by_day: dict[str, int]  # "2026-12-02" (local day) -> handoffs opened
    by_reason: dict[str, int]
    accept_seconds_p50: float | None
    accept_seconds_p90: float | None
    accepted_within_wait_share: float | None  # of those accepted, within HANDOFF_WAIT_MINUTES
    callbacks_pending: int
    waiting_now: int


class StatsOut(BaseModel):
    total_claims: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    cycle_time_days_median: float | None
    cycle_time_days_p90: float | None
    fast_track_share: float | None
    decided_within_limit_share: float | None
    open_overdue: int
    notices: NoticeStats
    surveys: SurveyStats
    handoffs: HandoffStats


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    # nearest-rank percentile: the smallest value with at least 90% at or below it
    rank = max(1, -(-9 * len(ordered) // 10))
    return ordered[rank - 1]


def _notice_stats(session: Session, now: datetime) -> NoticeStats:
    by_status = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    by_route = session.execute(
        select(OutboxMessage.route, func.count())
        .where(OutboxMessage.route.is_not(None), OutboxMessage.status.in_(("sent", "delivered")))
        .group_by(OutboxMessage.route)
    ).all()
    failed = session.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.status == "failed")
        .group_by(OutboxMessage.kind)
    ).all()
    oldest = session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.next_attempt_at <= now
        )
    )
    return NoticeStats(
        by_status={status: count for status, count in by_status},
        by_route={str(route): count for route, count in by_route},
        failed_by_kind={kind: count for kind, count in failed},
        oldest_due_seconds=None if oldest is None else round((now - oldest).total_seconds(), 1),
    )


def _survey_stats(session: Session) -> SurveyStats:
    rows = session.execute(select(Survey.rating, func.count()).group_by(Survey.rating)).all()
    answered = sum(count for _, count in rows)
    about_claims = session.scalar(
        select(func.count()).select_from(Survey).where(Survey.claim_number.is_not(None))
    )
    average = session.scalar(select(func.avg(Survey.rating)))
    closed = session.scalar(
        select(func.count()).select_from(Claim).where(Claim.status == ClaimStatus.CLOSED)
    )
    return SurveyStats(
        answered=answered,
        average_rating=None if average is None else round(float(average), 2),
        by_rating={str(rating): count for rating, count in sorted(rows)},
        claims_closed=closed or 0,
        response_rate=None if not closed else round((about_claims or 0) / closed, 4),
    )


def _handoff_stats(session: Session, settings: Settings) -> HandoffStats:
    zone = ZoneInfo(settings.timezone)
    opened = session.scalars(select(Handoff.opened_at)).all()
    by_day = Counter(at.astimezone(zone).date().isoformat() for at in opened)
    by_reason = session.execute(select(Handoff.reason, func.count()).group_by(Handoff.reason)).all()
    accepted = session.execute(
        select(Handoff.opened_at, Handoff.accepted_at).where(Handoff.accepted_at.is_not(None))
    ).all()
    waits = sorted((at - opened_at).total_seconds() for opened_at, at in accepted if at)
    limit = settings.handoff_wait_minutes * 60
    callbacks = session.scalar(
        select(func.count())
        .select_from(Handoff)
        .where(Handoff.status == "open", Handoff.callback.is_(True))
    )
    waiting = session.scalar(
        select(func.count())
        .select_from(Handoff)
        .where(Handoff.status == "open", Handoff.callback.is_(False))
    )
    return HandoffStats(
        opened_by_day=dict(sorted(by_day.items())),
        by_reason={reason: count for reason, count in by_reason},
        accept_seconds_p50=round(median(waits), 1) if waits else None,
        accept_seconds_p90=round(_p90(waits), 1) if waits else None,
        accepted_within_wait_share=(
            round(sum(w <= limit for w in waits) / len(waits), 4) if waits else None
        ),
        callbacks_pending=callbacks or 0,
        waiting_now=waiting or 0,
    )


def _days(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 86400, 2)


@router.get("/stats")
def stats(_staff: AnyStaffDep, session: SessionDep, settings: SettingsDep) -> StatsOut:
    claims = list(session.scalars(select(Claim)).all())
    today = service.local_today(settings)
    cycle = [_days(c.created_at, c.paid_at) for c in claims if c.paid_at is not None]
    approved = [c for c in claims if c.approved_at is not None]
    decided_in_time: list[bool] = []
    open_overdue = 0
    for claim in claims:
        status = service.deadline_status(settings, claim, today)
        decision = status.get("decision")
        if decision is not None and decision.met_in_time is not None:
            decided_in_time.append(decision.met_in_time)
        if claim.status not in (ClaimStatus.CLOSED, ClaimStatus.WITHDRAWN) and (
            status.overdue or status.advance_payment_flag
        ):
            open_overdue += 1

    def share(part: int, whole: int) -> float | None:
        return None if whole == 0 else float(round(Decimal(part) / Decimal(whole), 4))

    return StatsOut(
        total_claims=len(claims),
        by_status=dict(Counter(c.status.value for c in claims)),
        by_type=dict(Counter(c.claim_type.value for c in claims)),
        cycle_time_days_median=median(cycle) if cycle else None,
        cycle_time_days_p90=_p90(cycle) if cycle else None,
        fast_track_share=share(sum(c.fast_track for c in approved), len(approved)),
        decided_within_limit_share=share(sum(decided_in_time), len(decided_in_time)),
        open_overdue=open_overdue,
        notices=_notice_stats(session, datetime.now(UTC)),
        surveys=_survey_stats(session),
        handoffs=_handoff_stats(session, settings),
    )
