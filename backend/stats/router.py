"""Figures to steer the claims process by."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from statistics import median

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from backend.claims import service
from backend.core.deps import SessionDep, SettingsDep
from backend.core.security import AnyStaffDep
from backend.domain.types import ClaimStatus
from backend.models import Claim

router = APIRouter(prefix="/api/v1", tags=["stats"])


class StatsOut(BaseModel):
    total_claims: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    cycle_time_days_median: float | None
    cycle_time_days_p90: float | None
    fast_track_share: float | None
    decided_within_limit_share: float | None
    open_overdue: int


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    # nearest-rank percentile: the smallest value with at least 90% at or below it
    rank = max(1, -(-9 * len(ordered) // 10))
    return ordered[rank - 1]


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
    )
