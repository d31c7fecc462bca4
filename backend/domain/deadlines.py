"""Statutory time limits per claim (Insurance Law Art. 22–25), as pure date arithmetic.

- decision: within 30 days after the documents are complete (Art. 23);
- payment: within 10 days after an approval (Art. 23);
- rejection notice: within 3 days after a rejection (Art. 24);
- advance payment (先予支付): 60 days after the documents are complete with no
  decision, the amount that can already be determined must be paid (Art. 25); the
  claim is flagged for staff.

A due date is the last day still in time: documents complete on 25 Nov give a
decision due on 25 Dec, and the claim is overdue from 26 Dec. "Soon due" means due
today or within the next `soon_days` days.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

DECISION_DAYS = 30
PAYMENT_DAYS = 10
REJECTION_NOTICE_DAYS = 3
ADVANCE_PAYMENT_DAYS = 60
SOON_DAYS = 3

DeadlineName = Literal["decision", "payment", "rejection_notice"]


def as_date(name: str, value: date) -> date:
    """Refuse a datetime where a calendar date is meant.

    A datetime is a date subclass, so it would slip through and compare by the hour
    (or fail deep inside with a confusing message); the caller converts to the
    business time zone's date first.
    """
    if isinstance(value, datetime):
        raise TypeError(f"{name} must be a date, not a datetime: convert it to the local date")
    if not isinstance(value, date):
        raise TypeError(f"{name} must be a date, got {type(value).__name__}")
    return value


def add_months(day: date, months: int) -> date:
    """Same day `months` later (or earlier); a day the target month lacks becomes its last.

    Civil Code Art. 202: a period counted in months or years ends on the corresponding
    day of the last month, or on that month's last day when there is none, so
    31 Mar + 1 month = 30 Apr and 29 Feb 2024 + 2 years = 28 Feb 2026.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def decision_due(documents_complete_on: date, *, decision_days: int = DECISION_DAYS) -> date:
    return as_date("documents_complete_on", documents_complete_on) + timedelta(days=decision_days)


def payment_due(approved_on: date, *, payment_days: int = PAYMENT_DAYS) -> date:
    return as_date("approved_on", approved_on) + timedelta(days=payment_days)


def rejection_notice_due(
    rejected_on: date, *, rejection_notice_days: int = REJECTION_NOTICE_DAYS
) -> date:
    return as_date("rejected_on", rejected_on) + timedelta(days=rejection_notice_days)


def advance_payment_from(
    documents_complete_on: date, *, advance_payment_days: int = ADVANCE_PAYMENT_DAYS
) -> date:
    """The first day on which an undecided claim is flagged for advance payment."""
    return as_date("documents_complete_on", documents_complete_on) + timedelta(
        days=advance_payment_days
    )


@dataclass(frozen=True)
class Deadline:
    """One time limit that applies to a claim, as seen on `today`."""

    name: DeadlineName
    due: date
    completed_on: date | None  # when what was due was done (decided, paid, notified)
    overdue: bool  # still open and today is after the due date
    soon_due: bool  # still open and due today or within soon_days
    days_left: int | None  # due − today while open (negative when overdue); None once done

    @property
    def open(self) -> bool:
        return self.completed_on is None

    @property
    def met_in_time(self) -> bool | None:
        """For figures: None while open, else whether it was done by the due date."""
        if self.completed_on is None:
            return None
        return self.completed_on <= self.due


@dataclass(frozen=True)
class DeadlineStatus:
    """The deadlines that apply to one claim on `today`, and what needs attention."""

    deadlines: tuple[Deadline, ...]
    advance_payment_flag: bool
    advance_payment_from: date | None  # set once the documents are complete

    @property
    def overdue(self) -> tuple[DeadlineName, ...]:
        return tuple(d.name for d in self.deadlines if d.overdue)

    @property
    def soon_due(self) -> tuple[DeadlineName, ...]:
        return tuple(d.name for d in self.deadlines if d.soon_due)

    @property
    def needs_attention(self) -> bool:
        """Listed for staff: something overdue, soon due, or due for advance payment."""
        return bool(self.overdue or self.soon_due or self.advance_payment_flag)

    def get(self, name: DeadlineName) -> Deadline | None:
        return next((d for d in self.deadlines if d.name == name), None)

    def due_date(self, name: DeadlineName) -> date | None:
        deadline = self.get(name)
        return deadline.due if deadline else None


def _deadline(
    name: DeadlineName, due: date, completed_on: date | None, today: date, soon_days: int
) -> Deadline:
    if completed_on is not None:
        return Deadline(name, due, completed_on, overdue=False, soon_due=False, days_left=None)
    days_left = (due - today).days
    return Deadline(
        name,
        due,
        None,
        overdue=days_left < 0,
        soon_due=0 <= days_left <= soon_days,
        days_left=days_left,
    )


def deadline_status(
    *,
    today: date,
    documents_complete_on: date | None = None,
    approved_on: date | None = None,
    rejected_on: date | None = None,
    rejection_notified_on: date | None = None,
    paid_on: date | None = None,
    withdrawn_on: date | None = None,
    decision_days: int = DECISION_DAYS,
    payment_days: int = PAYMENT_DAYS,
    rejection_notice_days: int = REJECTION_NOTICE_DAYS,
    advance_payment_days: int = ADVANCE_PAYMENT_DAYS,
    soon_days: int = SOON_DAYS,
) -> DeadlineStatus:
    """Which time limits apply to a claim, which are overdue and which are soon due.

    Pass the milestones of the claim's current round (after a reopening, the dates
    since the reopening) as local dates in the business time zone: the day its
    documents were complete (again, after a re-request), the day it was approved
    (fully or partially) or rejected, the day the rejection notice went out, the day
    it was paid, and the day it was withdrawn. A clock starts at its milestone and
    stops when what it waits for happens. A claim withdrawn before a decision has no
    decision due at all. Given both an approval and a rejection date, the earlier
    one is the decision.

    - decision applies once documents are complete, done when approved or rejected;
    - payment applies once approved, done when paid;
    - rejection_notice applies once rejected, done when the notice is sent;
    - advance_payment_flag: documents complete for advance_payment_days or more,
      with no decision and no withdrawal.
    """
    today = as_date("today", today)
    for days_name, days in (
        ("decision_days", decision_days),
        ("payment_days", payment_days),
        ("rejection_notice_days", rejection_notice_days),
        ("advance_payment_days", advance_payment_days),
        ("soon_days", soon_days),
    ):
        if days < 0:
            raise ValueError(f"{days_name} must not be negative, got {days}")

    documents_complete_on = _optional_date("documents_complete_on", documents_complete_on)
    approved_on = _optional_date("approved_on", approved_on)
    rejected_on = _optional_date("rejected_on", rejected_on)
    rejection_notified_on = _optional_date("rejection_notified_on", rejection_notified_on)
    paid_on = _optional_date("paid_on", paid_on)
    withdrawn_on = _optional_date("withdrawn_on", withdrawn_on)

    deadlines: list[Deadline] = []
    advance_flag = False
    advance_from: date | None = None
    decisions = [day for day in (approved_on, rejected_on) if day is not None]
    decided_on = min(decisions) if decisions else None
    # Withdrawn before any decision: there is nothing left to decide, so no decision
    # is due (and it must not count as late in the figures).
    withdrawn_undecided = decided_on is None and withdrawn_on is not None
    if documents_complete_on is not None and not withdrawn_undecided:
        due = decision_due(documents_complete_on, decision_days=decision_days)
        deadlines.append(_deadline("decision", due, decided_on, today, soon_days))
        advance_from = advance_payment_from(
            documents_complete_on, advance_payment_days=advance_payment_days
        )
        advance_flag = decided_on is None and today >= advance_from
    if approved_on is not None:
        due = payment_due(approved_on, payment_days=payment_days)
        deadlines.append(_deadline("payment", due, paid_on, today, soon_days))
    if rejected_on is not None:
        due = rejection_notice_due(rejected_on, rejection_notice_days=rejection_notice_days)
        deadlines.append(
            _deadline("rejection_notice", due, rejection_notified_on, today, soon_days)
        )
    return DeadlineStatus(tuple(deadlines), advance_flag, advance_from)


def _optional_date(name: str, value: date | None) -> date | None:
    return None if value is None else as_date(name, value)
