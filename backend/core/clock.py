"""Local dates and the legal clocks of a claim, in the business time zone.

The clocks themselves are pure date arithmetic (`backend.domain.deadlines`); this
module turns a claim's UTC timestamps into the local dates of its current round and
keeps the clock columns of `claims` (`decision_due_on`, `next_due_on`, ...) equal to
what `deadline_status()` says, so queues and figures can filter and order by the
nearest legal deadline in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from backend.domain import deadlines as deadline_rules

if TYPE_CHECKING:
    from backend.models import Claim


class ClockSettings(Protocol):
    """What the clocks need from the settings (the app's `Settings` has all of it)."""

    @property
    def timezone(self) -> str: ...
    @property
    def decision_days(self) -> int: ...
    @property
    def payment_days(self) -> int: ...
    @property
    def rejection_notice_days(self) -> int: ...
    @property
    def advance_payment_days(self) -> int: ...


def local_today(settings: ClockSettings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def days_from_today(settings: ClockSettings, days: int) -> str:
    """The local date `days` from today, as the customer is told it (ISO)."""
    return (local_today(settings) + timedelta(days=days)).isoformat()


def local_day(settings: ClockSettings, moment: datetime | None) -> date | None:
    return None if moment is None else moment.astimezone(ZoneInfo(settings.timezone)).date()


@dataclass(frozen=True)
class Milestones:
    """A claim's milestone timestamps (UTC), as stored on `claims`."""

    documents_completed_at: datetime | None = None
    approved_at: datetime | None = None
    rejected_at: datetime | None = None
    rejection_notified_at: datetime | None = None
    paid_at: datetime | None = None
    withdrawn_at: datetime | None = None
    reopened_at: datetime | None = None

    @classmethod
    def of(cls, claim: Claim) -> Milestones:
        return cls(
            documents_completed_at=claim.documents_completed_at,
            approved_at=claim.approved_at,
            rejected_at=claim.rejected_at,
            rejection_notified_at=claim.rejection_notified_at,
            paid_at=claim.paid_at,
            withdrawn_at=claim.withdrawn_at,
            reopened_at=claim.reopened_at,
        )

    def current(self, moment: datetime | None) -> datetime | None:
        """A milestone of the current round only: a reopening starts the clocks again,
        and what happened before it (e.g. the first payment) no longer stops them."""
        if moment is None or self.reopened_at is None:
            return moment
        return moment if moment >= self.reopened_at else None


@dataclass(frozen=True)
class RoundDays:
    """The current round's milestones as local dates."""

    documents_complete_on: date | None
    approved_on: date | None
    rejected_on: date | None
    rejection_notified_on: date | None
    paid_on: date | None
    withdrawn_on: date | None

    @property
    def decided_on(self) -> date | None:
        decisions = [d for d in (self.approved_on, self.rejected_on) if d is not None]
        return min(decisions) if decisions else None


def round_days(settings: ClockSettings, milestones: Milestones) -> RoundDays:
    def day(moment: datetime | None) -> date | None:
        return local_day(settings, milestones.current(moment))

    return RoundDays(
        documents_complete_on=day(milestones.documents_completed_at),
        approved_on=day(milestones.approved_at),
        rejected_on=day(milestones.rejected_at),
        rejection_notified_on=day(milestones.rejection_notified_at),
        paid_on=day(milestones.paid_at),
        withdrawn_on=day(milestones.withdrawn_at),
    )


def milestone_status(
    settings: ClockSettings, milestones: Milestones, today: date
) -> deadline_rules.DeadlineStatus:
    days = round_days(settings, milestones)
    return deadline_rules.deadline_status(
        today=today,
        documents_complete_on=days.documents_complete_on,
        approved_on=days.approved_on,
        rejected_on=days.rejected_on,
        rejection_notified_on=days.rejection_notified_on,
        paid_on=days.paid_on,
        withdrawn_on=days.withdrawn_on,
        decision_days=settings.decision_days,
        payment_days=settings.payment_days,
        rejection_notice_days=settings.rejection_notice_days,
        advance_payment_days=settings.advance_payment_days,
    )


def deadline_status(
    settings: ClockSettings, claim: Claim, today: date
) -> deadline_rules.DeadlineStatus:
    """The legal clocks of one claim on `today` (its current round)."""
    return milestone_status(settings, Milestones.of(claim), today)


# The clock columns of `claims`, in the order the migration adds them.
CLOCK_COLUMNS = (
    "decision_due_on",
    "payment_due_on",
    "rejection_notice_due_on",
    "advance_payment_from_on",
    "decided_on",
    "paid_on",
    "rejection_notified_on",
    "next_due_on",
    "next_due_clock",
)


def clock_values(settings: ClockSettings, milestones: Milestones) -> dict[str, date | str | None]:
    """The clock columns for these milestones. None of them depends on `today`: due
    dates and completions are fixed by the milestones, so the stored values stay true
    until the next milestone, and overdue is `next_due_on < today` in SQL."""
    days = round_days(settings, milestones)
    # Any day works: only overdue/soon_due/days_left depend on it, and none is stored.
    status = milestone_status(settings, milestones, date(2000, 1, 1))
    open_clocks = [d for d in status.deadlines if d.open]
    # min() keeps the first of equal due dates: decision, payment, rejection notice.
    nearest = min(open_clocks, key=lambda d: d.due) if open_clocks else None
    return {
        "decision_due_on": status.due_date("decision"),
        "payment_due_on": status.due_date("payment"),
        "rejection_notice_due_on": status.due_date("rejection_notice"),
        "advance_payment_from_on": status.advance_payment_from,
        "decided_on": days.decided_on,
        "paid_on": days.paid_on,
        "rejection_notified_on": days.rejection_notified_on,
        "next_due_on": nearest.due if nearest else None,
        "next_due_clock": nearest.name if nearest else None,
    }


def refresh_clocks(settings: ClockSettings, claim: Claim) -> None:
    """Recompute the stored clock columns after a milestone changed. Called by the
    claims service wherever it moves a claim or stamps a milestone."""
    for column, value in clock_values(settings, Milestones.of(claim)).items():
        setattr(claim, column, value)
