"""The figures' response: `GET /api/v1/stats`.

The top-level fields before the period filter (total_claims ... handoffs) keep their
names and meaning, now for the chosen period. Every figure a chart shows is also a
list of flat rows (`FIGURES` in service.py names them) so it can be a table, a chart
and a CSV file alike.

Periods are local dates in the app's TIMEZONE, both ends inclusive. Percentiles are
nearest-rank (the smallest value with at least p% of the values at or below it), the
same on SQLite and PostgreSQL, so a median is always one of the values.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from backend.domain.types import ClaimType


class PeriodOut(BaseModel):
    start: date  # first local day, inclusive
    end: date  # last local day, inclusive
    claim_type: ClaimType | None
    today: date  # the "as of" day of the open-overdue figures
    timezone: str


# ------------------------------------------------------------------ claims


class WeekTypeRow(BaseModel):
    """Claims reported in one week (the Monday starting it) of one type."""

    week: date
    claim_type: str
    claims: int


class CycleTimeRow(BaseModel):
    """Claims paid in one week (by the local day paid): reported → paid, in days."""

    week: date
    paid: int
    median_days: float
    p90_days: float


class FastTrackRow(BaseModel):
    """Claims decided (approved or rejected) in one week (by the local day decided):
    how many went through the fast track, and how long those took from the report to
    the decision, in hours."""

    week: date
    decided: int
    fast_track: int
    share: float | None
    decision_hours_p50: float | None
    decision_hours_p90: float | None


class LegalClockRow(BaseModel):
    """One statutory clock.

    decision (Art. 23), payment (Art. 23), rejection_notice (Art. 24): `completed` are
    the claims whose clock stopped in the period (decided, paid, notified), `in_time`
    of them by the due day, `share_in_time` = in_time / completed; `open_overdue` the
    open claims past the due day as of `today` (not limited to the period).
    advance_payment (Art. 25): `completed` = claims decided in the period, `late` =
    those decided on or after the advance-payment day; `open_overdue` = open claims
    undecided on or after that day as of `today` (flagged for an advance payment).
    """

    clock: str
    completed: int
    in_time: int
    late: int
    share_in_time: float | None
    open_overdue: int


# ------------------------------------------------------------------ handoffs


class DayCountRow(BaseModel):
    day: date
    opened: int


class HandoffReasonRow(BaseModel):
    reason: str
    opened: int
    accepted: int
    accept_seconds_p50: float | None
    accept_seconds_p90: float | None


# ------------------------------------------------------------------ notices


class NoticeRouteRow(BaseModel):
    """Notices (outbox rows) written in the period, by the channel and route they took;
    channel and route are "none" while a notice has not been routed yet."""

    channel: str  # wechat, sms, web, none
    route: str  # wechat_customer_service, wechat_template, sms, web, none
    pending: int  # pending or sending (waiting to go out)
    sent: int  # accepted by the platform, no delivery receipt (yet)
    delivered: int
    failed: int
    suppressed: int  # the customer stopped proactive notices
    total: int


class TranscriptStatusRow(BaseModel):
    """Outbound transcript messages in the period by channel and delivery status
    ("none": the platform reports none, e.g. a passive WeChat reply)."""

    channel: str
    delivery_status: str
    messages: int


# ------------------------------------------------------------------ satisfaction


class RatingRow(BaseModel):
    rating: int  # 1..5, every one listed
    answers: int


class LowRatingRow(BaseModel):
    """A rating of 2 or less, with what the customer wrote."""

    claim_number: str | None
    rating: int
    comment: str | None
    rated_at: datetime


# ------------------------------------------------------------------ sections kept from
# the figures before periods (the console and other tools read these names)


class NoticeStats(BaseModel):
    """Proactive notices (the outbox): what reached customers and what did not."""

    by_status: dict[str, int]  # pending, sending, sent, delivered, failed, suppressed
    by_route: dict[str, int]  # sent or delivered, by route
    failed_by_kind: dict[str, int]
    oldest_due_seconds: float | None  # age of the oldest notice waiting now (not periodic)
    by_channel_route: list[NoticeRouteRow]


class SurveyStats(BaseModel):
    """The rating question after a claim is closed (回访)."""

    answered: int  # ratings given in the period
    average_rating: float | None
    by_rating: dict[str, int]  # "1".."5", only ratings given
    claims_closed: int  # claims closed in the period
    response_rate: float | None  # of the claims closed in the period, share rated
    distribution: list[RatingRow]  # 1..5, zeros included
    low_ratings: list[LowRatingRow]  # rating <= 2 in the period, newest first


class HandoffStats(BaseModel):
    """Conversations handed to a person."""

    opened_by_day: dict[str, int]  # "2026-12-02" (local day) -> handoffs opened
    by_reason: dict[str, int]
    accept_seconds_p50: float | None
    accept_seconds_p90: float | None
    accepted_within_wait_share: float | None  # of those accepted, within HANDOFF_WAIT_MINUTES
    callbacks_pending: int  # now, not limited to the period
    waiting_now: int  # now, not limited to the period
    by_day: list[DayCountRow]  # every day of the period, zeros included
    reasons: list[HandoffReasonRow]


class StatsOut(BaseModel):
    period: PeriodOut
    # Claims reported in the period (by their local reporting day).
    total_claims: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    # Claims paid in the period: reported -> paid, days (nearest-rank median and p90).
    cycle_time_days_median: float | None
    cycle_time_days_p90: float | None
    # Approved claims decided in the period: share that went through the fast track.
    fast_track_share: float | None
    # Claims decided in the period: share decided by the Art. 23 decision due day.
    decided_within_limit_share: float | None
    # Open claims with a clock overdue or flagged for advance payment, as of `today`.
    open_overdue: int
    claims_by_week: list[WeekTypeRow]
    cycle_time_by_week: list[CycleTimeRow]
    fast_track_by_week: list[FastTrackRow]
    fast_track_decision_hours_p50: float | None
    fast_track_decision_hours_p90: float | None
    legal_clocks: list[LegalClockRow]
    notices: NoticeStats
    surveys: SurveyStats
    handoffs: HandoffStats
    transcript_deliveries: list[TranscriptStatusRow]
