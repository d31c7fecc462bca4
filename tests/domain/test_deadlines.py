from datetime import date, datetime

import pytest

from backend.domain.deadlines import (
    add_months,
    add_years,
    advance_payment_from,
    deadline_status,
    decision_due,
    payment_due,
    rejection_notice_due,
)

COMPLETE = date(2026, 11, 25)  # documents complete


def test_due_dates_follow_the_insurance_law() -> None:
    assert decision_due(COMPLETE) == date(2026, 12, 25)  # Art. 23: 30 days
    assert payment_due(date(2026, 12, 1)) == date(2026, 12, 11)  # Art. 23: 10 days
    assert rejection_notice_due(date(2026, 12, 30)) == date(2027, 1, 2)  # Art. 24: 3 days
    assert advance_payment_from(COMPLETE) == date(2027, 1, 24)  # Art. 25: 60 days


def test_days_are_settings() -> None:
    assert decision_due(COMPLETE, decision_days=15) == date(2026, 12, 10)
    assert payment_due(COMPLETE, payment_days=7) == date(2026, 12, 2)
    assert rejection_notice_due(COMPLETE, rejection_notice_days=1) == date(2026, 11, 26)
    assert advance_payment_from(COMPLETE, advance_payment_days=45) == date(2027, 1, 9)


def test_due_dates_across_29_february() -> None:
    assert decision_due(date(2028, 2, 1)) == date(2028, 3, 2)  # 2028 is a leap year
    assert decision_due(date(2027, 2, 1)) == date(2027, 3, 3)
    assert payment_due(date(2028, 2, 25)) == date(2028, 3, 6)


def test_nothing_applies_before_the_documents_are_complete() -> None:
    status = deadline_status(today=COMPLETE)
    assert status.deadlines == ()
    assert status.overdue == ()
    assert status.soon_due == ()
    assert not status.advance_payment_flag
    assert status.advance_payment_from is None
    assert status.due_date("decision") is None
    assert not status.needs_attention


@pytest.mark.parametrize(
    ("today", "overdue", "soon_due", "days_left"),
    [
        (date(2026, 11, 25), False, False, 30),
        (date(2026, 12, 21), False, False, 4),  # one day before the soon window
        (date(2026, 12, 22), False, True, 3),  # soon window starts 3 days before
        (date(2026, 12, 25), False, True, 0),  # due today: still in time
        (date(2026, 12, 26), True, False, -1),  # one day late
        (date(2027, 1, 20), True, False, -26),
    ],
)
def test_decision_clock(today: date, overdue: bool, soon_due: bool, days_left: int) -> None:
    status = deadline_status(today=today, documents_complete_on=COMPLETE)
    decision = status.get("decision")
    assert decision is not None
    assert decision.due == date(2026, 12, 25)
    assert (decision.overdue, decision.soon_due, decision.days_left) == (
        overdue,
        soon_due,
        days_left,
    )
    assert status.overdue == (("decision",) if overdue else ())
    assert status.soon_due == (("decision",) if soon_due else ())
    assert decision.open
    assert decision.met_in_time is None


def test_soon_days_is_a_parameter() -> None:
    status = deadline_status(today=date(2026, 12, 18), documents_complete_on=COMPLETE, soon_days=7)
    assert status.soon_due == ("decision",)
    status = deadline_status(today=date(2026, 12, 24), documents_complete_on=COMPLETE, soon_days=0)
    assert status.soon_due == ()
    status = deadline_status(today=date(2026, 12, 25), documents_complete_on=COMPLETE, soon_days=0)
    assert status.soon_due == ("decision",)


@pytest.mark.parametrize(
    ("today", "flag"),
    [
        (date(2027, 1, 23), False),  # day 59
        (date(2027, 1, 24), True),  # day 60: flagged for advance payment
        (date(2027, 3, 1), True),
    ],
)
def test_advance_payment_flag_at_60_days_without_a_decision(today: date, flag: bool) -> None:
    status = deadline_status(today=today, documents_complete_on=COMPLETE)
    assert status.advance_payment_flag is flag
    assert status.advance_payment_from == date(2027, 1, 24)
    assert status.overdue == ("decision",)
    assert status.needs_attention


def test_no_advance_payment_flag_once_decided() -> None:
    status = deadline_status(
        today=date(2027, 3, 1),
        documents_complete_on=COMPLETE,
        rejected_on=date(2027, 2, 1),
        rejection_notified_on=date(2027, 2, 2),
    )
    assert not status.advance_payment_flag
    assert status.overdue == ()


def test_decided_in_time_then_payment_clock_runs() -> None:
    status = deadline_status(
        today=date(2026, 12, 12),
        documents_complete_on=COMPLETE,
        approved_on=date(2026, 12, 5),
    )
    decision = status.get("decision")
    payment = status.get("payment")
    assert decision is not None and payment is not None
    assert decision.completed_on == date(2026, 12, 5)
    assert decision.met_in_time is True
    assert not decision.overdue and decision.days_left is None
    assert payment.due == date(2026, 12, 15)
    assert payment.days_left == 3
    assert status.soon_due == ("payment",)
    assert status.overdue == ()
    assert status.get("rejection_notice") is None


@pytest.mark.parametrize(
    ("today", "overdue"),
    [(date(2026, 12, 15), False), (date(2026, 12, 16), True)],
)
def test_payment_overdue_one_day_after_the_tenth_day(today: date, overdue: bool) -> None:
    status = deadline_status(
        today=today, documents_complete_on=COMPLETE, approved_on=date(2026, 12, 5)
    )
    assert status.overdue == (("payment",) if overdue else ())


def test_paid_claim_has_nothing_open() -> None:
    status = deadline_status(
        today=date(2027, 6, 1),
        documents_complete_on=COMPLETE,
        approved_on=date(2026, 12, 5),
        paid_on=date(2026, 12, 16),
    )
    payment = status.get("payment")
    assert payment is not None
    assert payment.met_in_time is False  # paid one day late: counts against the figures
    assert status.overdue == () and status.soon_due == ()
    assert not status.needs_attention


def test_decision_made_late_is_recorded_as_late() -> None:
    status = deadline_status(
        today=date(2027, 1, 5), documents_complete_on=COMPLETE, approved_on=date(2026, 12, 26)
    )
    decision = status.get("decision")
    assert decision is not None
    assert decision.met_in_time is False
    assert not decision.overdue  # no longer open, so not listed as overdue


@pytest.mark.parametrize(
    ("today", "notified_on", "overdue", "soon_due"),
    [
        (date(2026, 12, 10), None, False, True),  # rejected today, notice due in 3 days
        (date(2026, 12, 13), None, False, True),  # last day
        (date(2026, 12, 14), None, True, False),  # one day late
        (date(2026, 12, 14), date(2026, 12, 12), False, False),
    ],
)
def test_rejection_notice_within_3_days(
    today: date, notified_on: date | None, overdue: bool, soon_due: bool
) -> None:
    status = deadline_status(
        today=today,
        documents_complete_on=COMPLETE,
        rejected_on=date(2026, 12, 10),
        rejection_notified_on=notified_on,
    )
    notice = status.get("rejection_notice")
    assert notice is not None
    assert notice.due == date(2026, 12, 13)
    assert (notice.overdue, notice.soon_due) == (overdue, soon_due)
    assert status.get("payment") is None
    assert status.overdue == (("rejection_notice",) if overdue else ())


def test_withdrawn_claim_has_no_decision_due() -> None:
    status = deadline_status(
        today=date(2027, 3, 1), documents_complete_on=COMPLETE, withdrawn_on=date(2026, 12, 1)
    )
    assert status.deadlines == ()
    assert not status.advance_payment_flag
    assert not status.needs_attention


def test_custom_day_settings_are_used_in_the_status() -> None:
    status = deadline_status(
        today=date(2026, 12, 11),
        documents_complete_on=COMPLETE,
        decision_days=15,
        advance_payment_days=16,
    )
    assert status.due_date("decision") == date(2026, 12, 10)
    assert status.overdue == ("decision",)
    assert status.advance_payment_flag


def test_datetimes_are_refused() -> None:
    with pytest.raises(TypeError, match="documents_complete_on must be a date"):
        deadline_status(today=COMPLETE, documents_complete_on=datetime(2026, 11, 25, 9, 0))
    with pytest.raises(TypeError, match="today must be a date"):
        deadline_status(today=datetime(2026, 11, 25, 9, 0))


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="soon_days must not be negative"):
        deadline_status(today=COMPLETE, soon_days=-1)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 6, 15), -12, date(2025, 6, 15)),
        (date(2028, 2, 29), -12, date(2027, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 2, 29), date(2026, 2, 28)),  # no 29 Feb in 2026: last day of February
        (date(2026, 2, 28), date(2028, 2, 28)),
        (date(2026, 3, 1), date(2028, 3, 1)),
        (date(2026, 11, 24), date(2028, 11, 24)),
    ],
)
def test_add_two_years(day: date, expected: date) -> None:
    assert add_years(day, 2) == expected
