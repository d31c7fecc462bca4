"""The figures a claims manager steers by, against numbers worked out by hand.

Each test inserts the rows it needs with chosen timestamps (claims, notices, handoffs,
ratings, transcript lines) and reads the figures of a period, on SQLite and on
PostgreSQL. Times are written as local times in Asia/Shanghai (UTC+8), the app's
TIMEZONE, so the local-day boundaries are visible in the test.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.clock import refresh_clocks
from backend.core.settings import Settings
from backend.domain.types import ClaimStatus, ClaimType
from backend.models import (
    Claim,
    Conversation,
    Handoff,
    OutboxMessage,
    Policy,
    Survey,
    TranscriptMessage,
)
from backend.staff.service import upsert_staff
from backend.stats import service
from backend.stats.schemas import (
    CycleTimeRow,
    DayCountRow,
    FastTrackRow,
    HandoffReasonRow,
    LegalClockRow,
    NoticeRouteRow,
    StatsOut,
    TranscriptStatusRow,
    WeekTypeRow,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_numbers = count(1)


def at(month: int, day: int, hour: int = 12, minute: int = 0, *, year: int = 2026) -> datetime:
    """A local time in Shanghai, as the UTC instant the database stores."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def d(month: int, day: int, *, year: int = 2026) -> date:
    return date(year, month, day)


def figures(
    session: Session,
    settings: Settings,
    start: date,
    end: date,
    *,
    today: date | None = None,
    claim_type: ClaimType | None = None,
) -> StatsOut:
    session.flush()
    return service.figures(
        session,
        settings,
        start=start,
        end=end,
        claim_type=claim_type,
        today=today or end,
    )


def add_claim(
    session: Session,
    settings: Settings,
    *,
    reported: datetime,
    status: ClaimStatus = ClaimStatus.UNDER_REVIEW,
    claim_type: ClaimType = ClaimType.MEDICAL,
    fast_track: bool = False,
    **milestones: Any,
) -> Claim:
    policy = session.scalars(select(Policy).order_by(Policy.id)).first()
    assert policy is not None
    local_day = reported.astimezone(SHANGHAI).date()
    claim = Claim(
        claim_number=f"CL{local_day:%Y%m%d}{next(_numbers):04d}",
        policy_id=policy.id,
        claim_type=claim_type,
        status=status,
        incident_date=local_day - timedelta(days=1),
        location="北京",
        description="门诊",
        reported_by="web:test",
        reported_on=local_day,
        created_at=reported,
        fast_track=fast_track,
        **milestones,
    )
    if "decided_at" not in milestones:
        decisions = [milestones.get("approved_at"), milestones.get("rejected_at")]
        claim.decided_at = min((m for m in decisions if m is not None), default=None)
    refresh_clocks(settings, claim)
    session.add(claim)
    session.flush()
    return claim


# ------------------------------------------------------------------ claims


def test_claims_reported_per_week_by_type_in_the_period_only(
    demo: Session, settings: Settings
) -> None:
    # Mondays: 2 Nov, 9 Nov, 16 Nov; the period is 2..22 Nov (three whole weeks).
    add_claim(demo, settings, reported=at(11, 2, 0, 30), status=ClaimStatus.REPORTED)
    add_claim(demo, settings, reported=at(11, 1, 23, 30), claim_type=ClaimType.AUTO)  # before
    add_claim(demo, settings, reported=at(11, 10), status=ClaimStatus.DOCUMENTS_PENDING)
    add_claim(demo, settings, reported=at(11, 15, 23, 0))  # a Sunday: still the week of 9 Nov
    add_claim(
        demo,
        settings,
        reported=at(11, 16, 8),
        claim_type=ClaimType.PROPERTY,
        status=ClaimStatus.APPROVED,
        approved_at=at(11, 17),
    )
    add_claim(
        demo,
        settings,
        reported=at(11, 22, 23, 59),
        claim_type=ClaimType.AUTO,
        status=ClaimStatus.REJECTED,
        rejected_at=at(11, 23),
    )
    add_claim(demo, settings, reported=at(11, 23, 0, 1), claim_type=ClaimType.ACCIDENT)  # after

    result = figures(demo, settings, d(11, 2), d(11, 22))
    assert result.total_claims == 5
    assert result.by_type == {"medical": 3, "property": 1, "auto": 1}
    assert result.by_status == {
        "reported": 1,
        "documents_pending": 1,
        "under_review": 1,
        "approved": 1,
        "rejected": 1,
    }
    assert result.claims_by_week == [
        WeekTypeRow(week=d(11, 2), claim_type="medical", claims=1),
        WeekTypeRow(week=d(11, 9), claim_type="medical", claims=2),
        WeekTypeRow(week=d(11, 16), claim_type="auto", claims=1),
        WeekTypeRow(week=d(11, 16), claim_type="property", claims=1),
    ]

    medical = figures(demo, settings, d(11, 2), d(11, 22), claim_type=ClaimType.MEDICAL)
    assert medical.total_claims == 3 and medical.by_type == {"medical": 3}
    assert [(r.week, r.claims) for r in medical.claims_by_week] == [(d(11, 2), 1), (d(11, 9), 2)]
    assert medical.period.claim_type is ClaimType.MEDICAL


def test_cycle_time_median_and_p90_are_nearest_rank_by_week_paid(
    demo: Session, settings: Settings
) -> None:
    def paid(paid_at: datetime, days: int) -> None:
        add_claim(
            demo,
            settings,
            reported=paid_at - timedelta(days=days),
            status=ClaimStatus.PAID,
            approved_at=paid_at - timedelta(hours=1),
            paid_at=paid_at,
        )

    # Week of 9 Nov: 2 and 4 days. Nearest rank: the median is the 1st of 2 (2 days,
    # not the mean 3), the p90 the 2nd (4 days).
    paid(at(11, 10), 2)
    paid(at(11, 11), 4)
    # Week of 16 Nov: eleven claims, 1..10 and 30 days. Median: rank ceil(5.5) = 6;
    # p90: rank ceil(9.9) = 10, i.e. 10 days (not 9, the 9th, nor 30, the 11th).
    for days in range(1, 11):
        paid(at(11, 16 + days % 5, 9), days)
    paid(at(11, 16, 1, 0), 30)  # 15 Nov 17:00 UTC is already Monday 16 Nov in Shanghai
    paid(at(11, 1, 23, 0), 3)  # paid the day before the period
    add_claim(demo, settings, reported=at(11, 3))  # not paid

    result = figures(demo, settings, d(11, 2), d(11, 29))
    assert result.cycle_time_by_week == [
        CycleTimeRow(week=d(11, 9), paid=2, median_days=2.0, p90_days=4.0),
        CycleTimeRow(week=d(11, 16), paid=11, median_days=6.0, p90_days=10.0),
    ]
    # All 13: 1 2 2 3 4 4 5 6 7 8 9 10 30 -> rank 7 is 5 days, rank ceil(11.7) = 12 is 10.
    assert result.cycle_time_days_median == 5.0
    assert result.cycle_time_days_p90 == 10.0


def test_fast_track_share_and_time_to_decision(demo: Session, settings: Settings) -> None:
    def decided(when: datetime, hours: float, *, fast: bool, rejected: bool = False) -> None:
        milestone: dict[str, Any] = {"rejected_at" if rejected else "approved_at": when}
        add_claim(
            demo,
            settings,
            reported=when - timedelta(hours=hours),
            status=ClaimStatus.REJECTED if rejected else ClaimStatus.APPROVED,
            fast_track=fast,
            **milestone,
        )

    decided(at(11, 24), 1, fast=True)
    decided(at(11, 25), 5, fast=True)
    decided(at(11, 26), 2, fast=True)
    decided(at(11, 27), 48, fast=False)
    decided(at(11, 18), 72, fast=False, rejected=True)
    decided(at(11, 1, 22), 0.5, fast=True)  # before the period

    result = figures(demo, settings, d(11, 2), d(11, 29))
    assert result.fast_track_by_week == [
        FastTrackRow(
            week=d(11, 16),
            decided=1,
            fast_track=0,
            share=0.0,
            decision_hours_p50=None,
            decision_hours_p90=None,
        ),
        FastTrackRow(
            week=d(11, 23),
            decided=4,
            fast_track=3,
            share=0.75,
            decision_hours_p50=2.0,
            decision_hours_p90=5.0,
        ),
    ]
    # Approved in the period: three fast-tracked of four (the rejection is no approval).
    assert result.fast_track_share == 0.75
    assert result.fast_track_decision_hours_p50 == 2.0
    assert result.fast_track_decision_hours_p90 == 5.0


def test_legal_clocks_in_time_and_open_overdue_by_clock(demo: Session, settings: Settings) -> None:
    # Default limits: decision 30 days after the documents are complete, payment 10
    # days after the approval, rejection notice 3 days after the rejection, advance
    # payment from 60 days after the documents are complete. Today: 25 Nov.
    def claim(status: ClaimStatus, claim_type: ClaimType = ClaimType.MEDICAL, **days: date) -> None:
        stamps: dict[str, Any] = {
            f"{name}_at": at(day.month, day.day) for name, day in days.items()
        }
        first = min(days.values())
        add_claim(
            demo,
            settings,
            reported=at(first.month, first.day, 9),
            status=status,
            claim_type=claim_type,
            **stamps,
        )

    # decided in time (due 19 Nov), paid in time (due 20 Nov)
    claim(ClaimStatus.PAID, documents_completed=d(10, 20), approved=d(11, 10), paid=d(11, 18))
    # decided late (due 1 Oct; after the advance-payment day 31 Oct), not paid (due 15 Nov)
    claim(ClaimStatus.APPROVED, documents_completed=d(9, 1), approved=d(11, 5))
    # rejected in time (due 9 Nov), notice sent late (due 6 Nov, sent 8 Nov)
    claim(
        ClaimStatus.REJECTED,
        documents_completed=d(10, 10),
        rejected=d(11, 3),
        rejection_notified=d(11, 8),
    )
    # rejected late (due 14 Nov), no notice yet (due 23 Nov)
    claim(ClaimStatus.REJECTED, documents_completed=d(10, 15), rejected=d(11, 20))
    # undecided since 20 Sep: decision overdue since 21 Oct, advance payment from 19 Nov
    claim(ClaimStatus.UNDER_REVIEW, ClaimType.AUTO, documents_completed=d(9, 20))
    # undecided, due 20 Dec: nothing overdue
    claim(ClaimStatus.UNDER_REVIEW, documents_completed=d(11, 20))
    # closed undecided: no longer open, so not overdue
    claim(ClaimStatus.CLOSED, documents_completed=d(9, 1), closed=d(10, 30))
    # decided and paid in October: outside the period
    claim(ClaimStatus.PAID, documents_completed=d(9, 1), approved=d(10, 15), paid=d(10, 20))

    result = figures(demo, settings, d(11, 1), d(11, 25), today=d(11, 25))
    assert result.legal_clocks == [
        LegalClockRow(
            clock="decision", completed=4, in_time=2, late=2, share_in_time=0.5, open_overdue=1
        ),
        LegalClockRow(
            clock="payment", completed=1, in_time=1, late=0, share_in_time=1.0, open_overdue=1
        ),
        LegalClockRow(
            clock="rejection_notice",
            completed=1,
            in_time=0,
            late=1,
            share_in_time=0.0,
            open_overdue=1,
        ),
        LegalClockRow(
            clock="advance_payment",
            completed=4,
            in_time=3,
            late=1,
            share_in_time=0.75,
            open_overdue=1,
        ),
    ]
    assert result.decided_within_limit_share == 0.5
    # Open with something overdue: the unpaid approval, the missing rejection notice,
    # the undecided claim of September.
    assert result.open_overdue == 3

    # A day earlier the rejection notice (due 23 Nov) was not overdue yet.
    assert figures(demo, settings, d(11, 1), d(11, 23)).legal_clocks[2].open_overdue == 0

    medical = figures(demo, settings, d(11, 1), d(11, 25), claim_type=ClaimType.MEDICAL)
    assert [row.open_overdue for row in medical.legal_clocks] == [0, 1, 1, 0]
    assert medical.open_overdue == 2


# ------------------------------------------------------------------ handoffs


def _conversation(session: Session, channel: str = "web") -> str:
    conversation_id = f"{channel}:stats{next(_numbers)}"
    session.add(Conversation(id=conversation_id, channel=channel))
    session.flush()
    return conversation_id


def _handoff(
    session: Session,
    opened: datetime,
    *,
    reason: str = "request_human",
    accepted_after: float | None = None,
    status: str = "closed",
    callback: bool = False,
) -> None:
    session.add(
        Handoff(
            conversation_id=_conversation(session),
            reason=reason,
            status=status,
            opened_at=opened,
            accepted_at=None
            if accepted_after is None
            else opened + timedelta(seconds=accepted_after),
            callback=callback,
        )
    )


def test_handoffs_per_local_day_by_reason_and_time_to_accept(
    demo: Session, settings: Settings
) -> None:
    _handoff(demo, at(11, 8, 23, 59), accepted_after=30)
    _handoff(demo, at(11, 9, 0, 1), accepted_after=90)  # 8 Nov 16:01 UTC: 9 Nov in Shanghai
    _handoff(demo, at(11, 9, 10), reason="complaint", accepted_after=700)  # > 10 min wait
    _handoff(demo, at(11, 10, 10), status="open", callback=True)
    _handoff(demo, at(11, 7, 23), accepted_after=5)  # before the period
    _handoff(demo, at(11, 11, 0, 0), status="open")  # after it (the end day is over)

    result = figures(demo, settings, d(11, 8), d(11, 10)).handoffs
    assert result.by_day == [
        DayCountRow(day=d(11, 8), opened=1),
        DayCountRow(day=d(11, 9), opened=2),
        DayCountRow(day=d(11, 10), opened=1),
    ]
    assert result.opened_by_day == {"2026-11-08": 1, "2026-11-09": 2, "2026-11-10": 1}
    assert result.by_reason == {"request_human": 3, "complaint": 1}
    # Accepted: 30, 90, 700 s -> p50 rank 2 = 90 s, p90 rank ceil(2.7) = 3 = 700 s.
    assert (result.accept_seconds_p50, result.accept_seconds_p90) == (90.0, 700.0)
    assert result.accepted_within_wait_share == round(2 / 3, 4)
    assert result.reasons == [
        HandoffReasonRow(
            reason="request_human",
            opened=3,
            accepted=2,
            accept_seconds_p50=30.0,
            accept_seconds_p90=90.0,
        ),
        HandoffReasonRow(
            reason="complaint",
            opened=1,
            accepted=1,
            accept_seconds_p50=700.0,
            accept_seconds_p90=700.0,
        ),
    ]
    # Now, whatever the period: one call-back owed, one customer waiting.
    assert (result.callbacks_pending, result.waiting_now) == (1, 1)


def test_local_days_follow_daylight_saving_time(demo: Session, settings: Settings) -> None:
    # Berlin leaves summer time on 25 Oct 2026 at 01:00 UTC (UTC+2 -> UTC+1).
    berlin = settings.model_copy(update={"timezone": "Europe/Berlin"})
    utc = UTC
    _handoff(demo, datetime(2026, 10, 24, 22, 30, tzinfo=utc))  # 25 Oct 00:30 CEST
    _handoff(demo, datetime(2026, 10, 25, 22, 30, tzinfo=utc))  # 25 Oct 23:30 CET
    _handoff(demo, datetime(2026, 10, 25, 23, 30, tzinfo=utc))  # 26 Oct 00:30 CET
    _handoff(demo, datetime(2026, 10, 23, 21, 59, tzinfo=utc))  # 23 Oct 23:59 CEST: before

    result = figures(demo, berlin, d(10, 24), d(10, 26)).handoffs
    assert [(row.day, row.opened) for row in result.by_day] == [
        (d(10, 24), 0),
        (d(10, 25), 2),
        (d(10, 26), 1),
    ]


# ------------------------------------------------------------------ notices


def _notice(
    session: Session,
    created: datetime,
    status: str,
    route: str | None,
    *,
    kind: str = "claim_filed",
    claim: Claim | None = None,
) -> None:
    policy = session.scalars(select(Policy).order_by(Policy.id)).first()
    assert policy is not None
    session.add(
        OutboxMessage(
            claim_id=None if claim is None else claim.id,
            claim_number=None if claim is None else claim.claim_number,
            policyholder_id=policy.policyholder_id,
            kind=kind,
            status=status,
            route=route,
            created_at=created,
            next_attempt_at=created,
        )
    )


def test_notices_by_channel_route_and_outcome(demo: Session, settings: Settings) -> None:
    auto = add_claim(demo, settings, reported=at(11, 2), claim_type=ClaimType.AUTO)
    medical = add_claim(demo, settings, reported=at(11, 2))
    for status in ("delivered", "delivered", "sent"):
        _notice(demo, at(11, 3), status, "wechat_customer_service", claim=medical)
    _notice(demo, at(11, 3), "failed", "wechat_template", claim=medical)
    _notice(demo, at(11, 4), "delivered", "sms", claim=auto, kind="approved")
    _notice(demo, at(11, 4), "failed", "sms", claim=auto, kind="approved")
    _notice(demo, at(11, 5), "sent", "web")
    for status in ("pending", "pending", "sending", "suppressed"):
        _notice(demo, at(11, 8, 23, 59), status, None)
    _notice(demo, at(11, 9, 0, 0), "delivered", "sms")  # after the period

    notices = figures(demo, settings, d(11, 2), d(11, 8), today=d(11, 25)).notices
    assert notices.by_status == {
        "delivered": 3,
        "sent": 2,
        "failed": 2,
        "pending": 2,
        "sending": 1,
        "suppressed": 1,
    }
    assert notices.by_route == {"wechat_customer_service": 3, "sms": 1, "web": 1}
    assert notices.failed_by_kind == {"claim_filed": 1, "approved": 1}
    assert notices.oldest_due_seconds is not None and notices.oldest_due_seconds > 0
    zero = {"pending": 0, "sent": 0, "delivered": 0, "failed": 0, "suppressed": 0}
    assert notices.by_channel_route == [
        NoticeRouteRow(
            channel="none", route="none", **{**zero, "pending": 3, "suppressed": 1}, total=4
        ),
        NoticeRouteRow(
            channel="sms", route="sms", **{**zero, "delivered": 1, "failed": 1}, total=2
        ),
        NoticeRouteRow(channel="web", route="web", **{**zero, "sent": 1}, total=1),
        NoticeRouteRow(
            channel="wechat",
            route="wechat_customer_service",
            **{**zero, "sent": 1, "delivered": 2},
            total=3,
        ),
        NoticeRouteRow(channel="wechat", route="wechat_template", **{**zero, "failed": 1}, total=1),
    ]

    only_auto = figures(demo, settings, d(11, 2), d(11, 8), claim_type=ClaimType.AUTO).notices
    assert only_auto.by_status == {"delivered": 1, "failed": 1}
    assert [(r.route, r.total) for r in only_auto.by_channel_route] == [("sms", 2)]


def test_transcript_delivery_statuses_of_outbound_messages(
    demo: Session, settings: Settings
) -> None:
    sms = _conversation(demo, "sms")
    wechat = _conversation(demo, "wechat")

    def line(
        conversation: str,
        channel: str,
        status: str | None,
        when: datetime,
        direction: str = "outbound",
    ) -> None:
        demo.add(
            TranscriptMessage(
                conversation_id=conversation,
                direction=direction,
                sender="bot" if direction == "outbound" else "customer",
                channel=channel,
                text="您好",
                delivery_status=status,
                created_at=when,
            )
        )

    for status in ("delivered", "delivered", "failed", "sent"):
        line(sms, "sms", status, at(11, 3))
    line(wechat, "wechat", None, at(11, 3))
    line(wechat, "wechat", None, at(11, 4))
    line(wechat, "wechat", "read", at(11, 4))
    line(sms, "sms", None, at(11, 4), direction="inbound")  # the customer's own message
    line(sms, "sms", "failed", at(11, 9, 0, 0))  # after the period

    result = figures(demo, settings, d(11, 2), d(11, 8)).transcript_deliveries
    assert result == [
        TranscriptStatusRow(channel="sms", delivery_status="delivered", messages=2),
        TranscriptStatusRow(channel="sms", delivery_status="failed", messages=1),
        TranscriptStatusRow(channel="sms", delivery_status="sent", messages=1),
        TranscriptStatusRow(channel="wechat", delivery_status="none", messages=2),
        TranscriptStatusRow(channel="wechat", delivery_status="read", messages=1),
    ]


# ------------------------------------------------------------------ satisfaction


def test_satisfaction_average_distribution_response_rate_and_low_comments(
    demo: Session, settings: Settings
) -> None:
    policy = demo.scalars(select(Policy).order_by(Policy.id)).first()
    assert policy is not None

    def closed(claim_type: ClaimType = ClaimType.MEDICAL, on: datetime = at(11, 3)) -> Claim:
        return add_claim(
            demo,
            settings,
            reported=at(10, 1),
            status=ClaimStatus.CLOSED,
            claim_type=claim_type,
            closed_at=on,
        )

    def rate(claim: Claim | None, rating: int, when: datetime, comment: str | None = None) -> None:
        demo.add(
            Survey(
                conversation_id="web:rater",
                policyholder_id=policy.policyholder_id,
                claim_number=None if claim is None else claim.claim_number,
                rating=rating,
                comment=comment,
                created_at=when,
            )
        )

    first, second, third, fourth = closed(), closed(ClaimType.AUTO), closed(), closed()
    late = closed(on=at(11, 12))  # closed after the period
    rate(first, 5, at(11, 4))
    rate(second, 1, at(11, 5), "太慢了")
    rate(fourth, 2, at(11, 6), "没人回电话")
    rate(None, 4, at(11, 7))  # a rating about no particular claim
    rate(late, 1, at(11, 12), "outside")  # outside the period
    del third  # closed, never rated

    surveys = figures(demo, settings, d(11, 2), d(11, 8)).surveys
    assert surveys.answered == 4
    assert surveys.average_rating == 3.0
    assert surveys.by_rating == {"1": 1, "2": 1, "4": 1, "5": 1}
    assert [(r.rating, r.answers) for r in surveys.distribution] == [
        (1, 1),
        (2, 1),
        (3, 0),
        (4, 1),
        (5, 1),
    ]
    assert (surveys.claims_closed, surveys.response_rate) == (4, 0.75)
    assert [(r.claim_number, r.rating, r.comment) for r in surveys.low_ratings] == [
        (fourth.claim_number, 2, "没人回电话"),
        (second.claim_number, 1, "太慢了"),
    ]

    auto = figures(demo, settings, d(11, 2), d(11, 8), claim_type=ClaimType.AUTO).surveys
    assert (auto.answered, auto.average_rating, auto.claims_closed, auto.response_rate) == (
        1,
        1.0,
        1,
        1.0,
    )


# ------------------------------------------------------------------ empty and bad periods


def test_an_empty_period_counts_nothing_and_fails_nothing(
    demo: Session, settings: Settings
) -> None:
    add_claim(
        demo,
        settings,
        reported=at(11, 2),
        status=ClaimStatus.PAID,
        documents_completed_at=at(11, 2),
        approved_at=at(11, 3),
        paid_at=at(11, 4),
        fast_track=True,
    )
    _handoff(demo, at(11, 3), accepted_after=10)
    _notice(demo, at(11, 3), "delivered", "sms")

    result = figures(demo, settings, d(1, 1, year=2025), d(1, 31, year=2025), today=d(11, 25))
    assert result.total_claims == 0 and result.by_status == {} and result.by_type == {}
    assert result.cycle_time_days_median is None and result.cycle_time_days_p90 is None
    assert result.fast_track_share is None and result.decided_within_limit_share is None
    assert result.fast_track_decision_hours_p50 is None
    assert result.claims_by_week == [] and result.cycle_time_by_week == []
    assert result.fast_track_by_week == []
    assert [(r.clock, r.completed, r.share_in_time) for r in result.legal_clocks] == [
        ("decision", 0, None),
        ("payment", 0, None),
        ("rejection_notice", 0, None),
        ("advance_payment", 0, None),
    ]
    assert result.notices.by_status == {} and result.notices.by_channel_route == []
    assert result.surveys.answered == 0 and result.surveys.average_rating is None
    assert result.surveys.response_rate is None and result.surveys.low_ratings == []
    assert [r.answers for r in result.surveys.distribution] == [0, 0, 0, 0, 0]
    handoffs = result.handoffs
    assert handoffs.accept_seconds_p50 is None and handoffs.accepted_within_wait_share is None
    assert len(handoffs.by_day) == 31 and {r.opened for r in handoffs.by_day} == {0}
    assert result.transcript_deliveries == []


def test_a_period_ending_before_it_starts_is_refused(demo: Session, settings: Settings) -> None:
    with pytest.raises(service.PeriodError):
        figures(demo, settings, d(11, 8), d(11, 2))


# ------------------------------------------------------------------ the API


@pytest.fixture
def manager(client: TestClient, demo: Session) -> dict[str, str]:
    upsert_staff(demo, "mgr1", "a long manager pass", "adjuster", "主管")
    demo.commit()
    r = client.post(
        "/api/v1/staff/login", json={"username": "mgr1", "password": "a long manager pass"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_api_filters_by_period_and_type_and_refuses_bad_periods(
    client: TestClient, demo: Session, settings: Settings, manager: dict[str, str]
) -> None:
    add_claim(demo, settings, reported=at(11, 3), claim_type=ClaimType.AUTO)
    add_claim(demo, settings, reported=at(11, 4))
    add_claim(demo, settings, reported=at(11, 20))
    demo.commit()

    body = client.get(
        "/api/v1/stats", params={"from": "2026-11-02", "to": "2026-11-08"}, headers=manager
    ).json()
    assert body["period"]["start"] == "2026-11-02" and body["period"]["end"] == "2026-11-08"
    assert body["total_claims"] == 2 and body["by_type"] == {"auto": 1, "medical": 1}
    body = client.get(
        "/api/v1/stats",
        params={"from": "2026-11-02", "to": "2026-11-30", "claim_type": "medical"},
        headers=manager,
    ).json()
    assert body["total_claims"] == 2 and body["by_type"] == {"medical": 2}

    # Without a period: the 12 weeks up to today.
    body = client.get("/api/v1/stats", headers=manager).json()
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    assert body["period"]["end"] == today.isoformat()
    assert body["period"]["start"] == (today - timedelta(days=83)).isoformat()

    for params, word in (
        ({"from": "2026-11-08", "to": "2026-11-02"}, "after"),
        ({"from": "2026-13-01"}, "YYYY-MM-DD"),
        ({"to": "20261102"}, "YYYY-MM-DD"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most"),
    ):
        refused = client.get("/api/v1/stats", params=params, headers=manager)
        assert refused.status_code == 422, params
        assert refused.json()["error"]["code"] == "invalid_period"
        assert word in refused.json()["error"]["message"]
    bad_type = client.get("/api/v1/stats", params={"claim_type": "boat"}, headers=manager)
    assert bad_type.status_code == 422
    assert client.get("/api/v1/stats", params={"from": "2026-11-02"}).status_code == 401


def test_each_figure_downloads_as_csv(
    client: TestClient, demo: Session, settings: Settings, manager: dict[str, str]
) -> None:
    add_claim(demo, settings, reported=at(11, 3), claim_type=ClaimType.AUTO)
    add_claim(demo, settings, reported=at(11, 10))
    add_claim(demo, settings, reported=at(11, 11))
    demo.commit()
    period = {"from": "2026-11-02", "to": "2026-11-15"}

    r = client.get("/api/v1/stats/claims_by_week.csv", params=period, headers=manager)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "claims_by_week_2026-11-02_2026-11-15.csv" in r.headers["content-disposition"]
    assert list(csv.reader(io.StringIO(r.content.decode("utf-8")))) == [
        ["week", "claim_type", "claims"],
        ["2026-11-02", "auto", "1"],
        ["2026-11-09", "medical", "2"],
    ]

    r = client.get(
        "/api/v1/stats/legal_clocks.csv", params={**period, "claim_type": "auto"}, headers=manager
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["clock"] for row in rows] == [
        "decision",
        "payment",
        "rejection_notice",
        "advance_payment",
    ]
    assert rows[0]["share_in_time"] == ""  # nothing decided: no share, not 0

    for name in service.FIGURES:
        r = client.get(f"/api/v1/stats/{name}.csv", params=period, headers=manager)
        assert r.status_code == 200, name
        header = next(csv.reader(io.StringIO(r.text)))
        assert header == list(service.FIGURES[name].row.model_fields), name

    missing = client.get("/api/v1/stats/nonsense.csv", headers=manager)
    assert missing.status_code == 404 and "claims_by_week" in missing.json()["error"]["message"]
    late = client.get(
        "/api/v1/stats/claims_by_week.csv",
        params={"from": "2026-11-09", "to": "2026-11-01"},
        headers=manager,
    )
    assert late.status_code == 422
    assert client.get("/api/v1/stats/claims_by_week.csv").status_code == 401
