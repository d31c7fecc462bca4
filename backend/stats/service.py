"""The figures, as SQL aggregates: nothing is loaded into Python to be counted.

Every query groups and counts in the database and returns a handful of rows (one per
week, status, route ...); only the low-rating comments are rows themselves.

Periods are local days in the app's TIMEZONE, both ends inclusive. Timestamps are
stored in UTC, so a period becomes the half-open UTC range [start 00:00, end+1 00:00)
in that zone, and a timestamp's local day is computed in SQL: `timezone(zone, ts)` on
PostgreSQL; on SQLite (no zone database) the UTC offset in force, which is one
constant for zones without daylight saving time and a CASE over the transitions that
fall in the period otherwise.

Percentiles are nearest-rank: the value at rank ceil(p * n) of the n ordered values,
the smallest value with at least p of them at or below it. PostgreSQL computes it with
`percentile_disc(p) WITHIN GROUP (ORDER BY x)`, SQLite with ROW_NUMBER() and COUNT()
over the group, picking rank ceil(p * n) in integer arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    FromClause,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.domain.types import ClaimStatus, ClaimType
from backend.models import Claim, Handoff, OutboxMessage, Survey, TranscriptMessage
from backend.models.base import UTCDateTime
from backend.stats.schemas import (
    CycleTimeRow,
    DayCountRow,
    FastTrackRow,
    HandoffReasonRow,
    HandoffStats,
    LegalClockRow,
    LowRatingRow,
    NoticeRouteRow,
    NoticeStats,
    PeriodOut,
    RatingRow,
    StatsOut,
    SurveyStats,
    TranscriptStatusRow,
    WeekTypeRow,
)

DEFAULT_WEEKS = 12
MAX_PERIOD_DAYS = 731  # two years: the by-day and by-week tables stay readable
LOW_RATING = 2
LOW_RATINGS_SHOWN = 500
_ROUTE_CHANNEL = {
    "wechat_customer_service": "wechat",
    "wechat_template": "wechat",
    "wechat_passive": "wechat",
    "sms": "sms",
    "web": "web",
}
_FINISHED = (ClaimStatus.CLOSED, ClaimStatus.WITHDRAWN)


class PeriodError(ValueError):
    """A period that cannot be shown (end before start, too long)."""


def default_period(today: date) -> tuple[date, date]:
    """The last 12 weeks up to and including today."""
    return today - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1), today


def check_period(start: date, end: date) -> None:
    if start > end:
        raise PeriodError(f"from ({start}) is after to ({end})")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError(f"a period is at most {MAX_PERIOD_DAYS} days long")


# ------------------------------------------------------------------ SQL building blocks


@dataclass(frozen=True)
class _Sql:
    """The dialect-specific expressions, for one period in one zone."""

    dialect: str
    zone: ZoneInfo
    start_at: datetime  # UTC, inclusive
    end_at: datetime  # UTC, exclusive

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    def in_period(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start_at, column < self.end_at)

    def local_day(self, column: Any) -> ColumnElement[Any]:
        """The local calendar day of a UTC timestamp column."""
        if self.postgres:
            # The zone and the 1 below are SQL literals, not parameters: PostgreSQL
            # matches a GROUP BY expression to the selected one only if they are the
            # same text, and two parameters are two different texts.
            return cast(func.timezone(literal_column(_quoted(self.zone.key)), column), Date)
        segments = _offset_segments(self.zone, self.start_at, self.end_at)
        if len(segments) == 1:
            return func.date(column, _minutes(segments[0][1]))
        whens = [
            (column < literal(until, UTCDateTime()), func.date(column, _minutes(offset)))
            for until, offset in segments[:-1]
            if until is not None
        ]
        return case(*whens, else_=func.date(column, _minutes(segments[-1][1])))

    def week_of(self, day: Any) -> ColumnElement[Any]:
        """The Monday that starts the ISO week of a DATE expression."""
        if self.postgres:
            return day - cast(func.extract("isodow", day), Integer) + literal_column("1")
        weekday = (cast(func.strftime("%w", day), Integer) + 6) % 7  # Monday = 0
        return func.date(day, func.printf("-%d days", weekday))

    def seconds_between(self, earlier: Any, later: Any) -> ColumnElement[Any]:
        if self.postgres:
            return cast(func.extract("epoch", later - earlier), Float)
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _quoted(zone_key: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", zone_key):
        raise ValueError(f"not a time zone name: {zone_key!r}")
    return f"'{zone_key}'"


def _minutes(offset_minutes: int) -> str:
    return f"{offset_minutes:+d} minutes"


def _offset_minutes(zone: ZoneInfo, moment: datetime) -> int:
    offset = moment.astimezone(zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


def _offset_segments(
    zone: ZoneInfo, start_at: datetime, end_at: datetime
) -> list[tuple[datetime | None, int]]:
    """The UTC offsets in force from start_at to end_at: (until, minutes) pairs, the
    last with until None. Transitions are found day by day, then to the second."""
    segments: list[tuple[datetime | None, int]] = []
    moment = start_at - timedelta(days=1)
    stop = end_at + timedelta(days=1)
    current = _offset_minutes(zone, moment)
    while moment < stop:
        following = moment + timedelta(days=1)
        if _offset_minutes(zone, following) != current:
            low, high = int(moment.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_minutes(zone, datetime.fromtimestamp(middle, UTC)) == current:
                    low = middle
                else:
                    high = middle
            segments.append((datetime.fromtimestamp(high, UTC), current))
            current = _offset_minutes(zone, following)
        moment = following
    segments.append((None, current))
    return segments


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _rounded(value: Any, digits: int, scale: float = 1.0) -> float | None:
    return None if value is None else round(float(value) / scale, digits)


@dataclass(frozen=True)
class _Percentiles:
    count: int
    p50: Any
    p90: Any


def _percentiles(
    sql: _Sql,
    session: Session,
    value: ColumnElement[Any],
    *,
    groups: Sequence[Any] = (),
    source: FromClause,
    where: Iterable[Any],
    total: bool = False,
) -> dict[tuple[Any, ...], _Percentiles]:
    """Nearest-rank p50 and p90 of `value` per group (the key () without groups), and
    with `total` over all groups as well, under the key ()."""
    conditions = list(where)
    if total and groups and not sql.postgres:
        both = _percentiles(sql, session, value, groups=groups, source=source, where=conditions)
        both.update(_percentiles(sql, session, value, source=source, where=conditions))
        return both
    rollup = total and len(groups) == 1 and sql.postgres
    labelled = [group.label(f"g{i}") for i, group in enumerate(groups)]
    statement: Any
    if sql.postgres:
        statement = (
            select(
                *labelled,
                func.count().label("n"),
                func.percentile_disc(0.5).within_group(value.asc()).label("p50"),
                func.percentile_disc(0.9).within_group(value.asc()).label("p90"),
                (func.grouping(*groups) if rollup else literal_column("0")).label("is_total"),
            )
            .select_from(source)
            .where(*conditions)
        )
        if rollup:
            # ROLLUP (g) = the groups and the grand total, in one sort.
            statement = statement.group_by(func.rollup(*groups))
        elif labelled:
            statement = statement.group_by(*groups)
    else:
        partition = list(groups) or None
        ranked = (
            select(
                *labelled,
                value.label("v"),
                func.row_number().over(partition_by=partition, order_by=value.asc()).label("rn"),
                func.count().over(partition_by=partition).label("n"),
            )
            .select_from(source)
            .where(*conditions)
            .subquery()
        )
        keys = [ranked.c[f"g{i}"] for i in range(len(groups))]
        # ceil(p * n) in integers: ceil(n / 2) = (n + 1) // 2, ceil(9n / 10) = (9n + 9) // 10
        statement = select(
            *keys,
            func.coalesce(func.max(ranked.c.n), 0).label("n"),
            func.max(case((ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.v))).label("p50"),
            func.max(case((ranked.c.rn == (9 * ranked.c.n + 9) // 10, ranked.c.v))).label("p90"),
            literal_column("0").label("is_total"),
        )
        if keys:
            statement = statement.group_by(*keys)
    result: dict[tuple[Any, ...], _Percentiles] = {}
    for row in session.execute(statement):
        key = () if row.is_total else tuple(row[: len(groups)])
        if row.n:
            result[key] = _Percentiles(int(row.n), row.p50, row.p90)
    return result


# ------------------------------------------------------------------ the figures


def figures(
    session: Session,
    settings: Settings,
    *,
    start: date,
    end: date,
    claim_type: ClaimType | None,
    today: date,
) -> StatsOut:
    """All figures for the local days start..end (inclusive) and, if given, one claim
    type (handoffs and transcript messages belong to no claim: the type does not
    filter them). Open-overdue and waiting figures are as of `today` / now."""
    check_period(start, end)
    zone = ZoneInfo(settings.timezone)
    bind = session.get_bind()
    sql = _Sql(
        dialect=bind.dialect.name,
        zone=zone,
        start_at=datetime.combine(start, time(), zone).astimezone(UTC),
        end_at=datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC),
    )
    of_type: list[ColumnElement[bool]] = (
        [] if claim_type is None else [Claim.claim_type == claim_type]
    )
    reported = [Claim.reported_on >= start, Claim.reported_on <= end, *of_type]

    if sql.postgres:
        # For this transaction only: no JIT (compiling each short aggregate, chosen
        # for its high estimated cost, takes longer than running it), and memory
        # enough for the by-week percentiles to sort a year of claims without disk.
        session.execute(
            text("SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)")
        )

    # One pass over the claims reported in the period, by week, type and status.
    by_status: dict[str, int] = {}
    by_type: dict[str, int] = {}
    by_week: dict[tuple[date, str], int] = {}
    for week, kind, status, count in _reported(sql, session, reported):
        by_status[str(status)] = by_status.get(str(status), 0) + count
        by_type[str(kind)] = by_type.get(str(kind), 0) + count
        key = (_as_date(week), str(kind))
        by_week[key] = by_week.get(key, 0) + count
    cycle_by_week, cycle = _cycle_time_by_week(sql, session, start, end, of_type)
    fast_by_week, fast_overall, approved = _fast_track_by_week(sql, session, start, end, of_type)
    clocks, open_overdue = _legal_clocks(
        session, start=start, end=end, today=today, of_type=of_type
    )
    decision_clock = next(row for row in clocks if row.clock == "decision")

    return StatsOut(
        period=PeriodOut(
            start=start, end=end, claim_type=claim_type, today=today, timezone=settings.timezone
        ),
        total_claims=sum(by_status.values()),
        by_status=by_status,
        by_type=by_type,
        cycle_time_days_median=None if cycle is None else _rounded(cycle.p50, 2, 86400),
        cycle_time_days_p90=None if cycle is None else _rounded(cycle.p90, 2, 86400),
        fast_track_share=_share(approved[1], approved[0]),
        decided_within_limit_share=decision_clock.share_in_time,
        open_overdue=open_overdue,
        claims_by_week=[
            WeekTypeRow(week=week, claim_type=kind, claims=count)
            for (week, kind), count in sorted(by_week.items())
        ],
        cycle_time_by_week=cycle_by_week,
        fast_track_by_week=fast_by_week,
        fast_track_decision_hours_p50=None
        if fast_overall is None
        else _rounded(fast_overall.p50, 2, 3600),
        fast_track_decision_hours_p90=None
        if fast_overall is None
        else _rounded(fast_overall.p90, 2, 3600),
        legal_clocks=clocks,
        notices=_notices(sql, session, of_type),
        surveys=_surveys(sql, session, of_type),
        handoffs=_handoffs(sql, session, settings, start=start, end=end),
        transcript_deliveries=_transcript_deliveries(sql, session),
    )


def _reported(sql: _Sql, session: Session, reported: list[ColumnElement[bool]]) -> list[Any]:
    week = sql.week_of(Claim.reported_on)
    return list(
        session.execute(
            select(week.label("week"), Claim.claim_type, Claim.status, func.count())
            .where(*reported)
            .group_by(week, Claim.claim_type, Claim.status)
        ).all()
    )


def _cycle_time_by_week(
    sql: _Sql, session: Session, start: date, end: date, of_type: list[ColumnElement[bool]]
) -> tuple[list[CycleTimeRow], _Percentiles | None]:
    """Reported -> paid of the claims paid in the period, by the week of the local day
    paid (the stored `paid_on` of the current round), and over the whole period."""
    week = sql.week_of(Claim.paid_on)
    cycle_seconds = sql.seconds_between(Claim.created_at, Claim.paid_at)
    paid = [Claim.paid_on >= start, Claim.paid_on <= end, Claim.paid_at.is_not(None), *of_type]
    by_week = _percentiles(
        sql,
        session,
        cycle_seconds,
        groups=[week],
        source=Claim.__table__,
        where=paid,
        total=True,
    )
    overall = by_week.pop((), None)
    rows = [
        CycleTimeRow(
            week=_as_date(key[0]),
            paid=value.count,
            median_days=round(float(value.p50) / 86400, 2),
            p90_days=round(float(value.p90) / 86400, 2),
        )
        for key, value in by_week.items()
    ]
    return sorted(rows, key=lambda row: row.week), overall


def _fast_track_by_week(
    sql: _Sql, session: Session, start: date, end: date, of_type: list[ColumnElement[bool]]
) -> tuple[list[FastTrackRow], _Percentiles | None, tuple[int, int]]:
    """Claims decided in the period by the week of the local day decided (`decided_on`),
    with report -> decision of the fast-tracked ones, by week and overall, and of the
    approvals among them (approved, fast-tracked) for the fast-track share."""
    week = sql.week_of(Claim.decided_on)
    decided = [
        Claim.decided_on >= start,
        Claim.decided_on <= end,
        Claim.decided_at.is_not(None),
        *of_type,
    ]
    counts = session.execute(
        select(
            week.label("week"),
            func.count().label("decided"),
            func.count().filter(Claim.fast_track).label("fast_track"),
            func.count().filter(Claim.approved_at.is_not(None)).label("approved"),
            func.count()
            .filter(Claim.approved_at.is_not(None), Claim.fast_track)
            .label("approved_fast"),
        )
        .where(*decided)
        .group_by(week)
    ).all()
    times = _percentiles(
        sql,
        session,
        sql.seconds_between(Claim.created_at, Claim.decided_at),
        groups=[week],
        source=Claim.__table__,
        where=[*decided, Claim.fast_track],
        total=True,
    )
    rows = []
    for r in counts:
        timing = times.get((r.week,))
        rows.append(
            FastTrackRow(
                week=_as_date(r.week),
                decided=r.decided,
                fast_track=r.fast_track,
                share=_share(r.fast_track, r.decided),
                decision_hours_p50=None if timing is None else _rounded(timing.p50, 2, 3600),
                decision_hours_p90=None if timing is None else _rounded(timing.p90, 2, 3600),
            )
        )
    approved = (sum(r.approved for r in counts), sum(r.approved_fast for r in counts))
    return sorted(rows, key=lambda row: row.week), times.get(()), approved


def _legal_clocks(
    session: Session,
    *,
    start: date,
    end: date,
    today: date,
    of_type: list[ColumnElement[bool]],
) -> tuple[list[LegalClockRow], int]:
    """One row per clock from the stored clock columns (backend.core.clock keeps them
    equal to deadline_status() of the claim's current round), and the number of open
    claims with a clock past its due day or due for an advance payment."""
    unfinished = Claim.status.not_in(_FINISHED)
    clocks: list[tuple[str, Any, Any, ColumnElement[bool], ColumnElement[bool]]] = [
        # name, the due day, the day the clock stopped, in time, open and overdue today
        (
            "decision",
            Claim.decision_due_on,
            Claim.decided_on,
            Claim.decided_on <= Claim.decision_due_on,
            and_(Claim.decided_on.is_(None), Claim.decision_due_on < today),
        ),
        (
            "payment",
            Claim.payment_due_on,
            Claim.paid_on,
            Claim.paid_on <= Claim.payment_due_on,
            and_(Claim.paid_on.is_(None), Claim.payment_due_on < today),
        ),
        (
            "rejection_notice",
            Claim.rejection_notice_due_on,
            Claim.rejection_notified_on,
            Claim.rejection_notified_on <= Claim.rejection_notice_due_on,
            and_(Claim.rejection_notified_on.is_(None), Claim.rejection_notice_due_on < today),
        ),
        (
            "advance_payment",
            Claim.advance_payment_from_on,
            Claim.decided_on,
            Claim.decided_on < Claim.advance_payment_from_on,
            and_(Claim.decided_on.is_(None), Claim.advance_payment_from_on <= today),
        ),
    ]
    columns: list[Any] = []
    for name, due, done, in_time, overdue in clocks:
        completed = and_(due.is_not(None), done >= start, done <= end)
        columns += [
            func.count().filter(completed).label(f"{name}_completed"),
            func.count().filter(and_(completed, in_time)).label(f"{name}_in_time"),
            func.count().filter(and_(unfinished, overdue)).label(f"{name}_overdue"),
        ]
    any_overdue = or_(
        Claim.next_due_on < today,
        and_(Claim.decided_on.is_(None), Claim.advance_payment_from_on <= today),
    )
    columns.append(func.count().filter(and_(unfinished, any_overdue)).label("open_overdue"))
    # One pass over the claims that have a clock at all (the others count nowhere).
    row = session.execute(
        select(*columns).where(
            or_(
                Claim.decision_due_on.is_not(None),
                Claim.payment_due_on.is_not(None),
                Claim.rejection_notice_due_on.is_not(None),
            ),
            *of_type,
        )
    ).one()
    rows = []
    for name, *_ in clocks:
        completed_count = getattr(row, f"{name}_completed")
        in_time_count = getattr(row, f"{name}_in_time")
        rows.append(
            LegalClockRow(
                clock=name,
                completed=completed_count,
                in_time=in_time_count,
                late=completed_count - in_time_count,
                share_in_time=_share(in_time_count, completed_count),
                open_overdue=getattr(row, f"{name}_overdue"),
            )
        )
    return rows, row.open_overdue


def _notices(sql: _Sql, session: Session, of_type: list[ColumnElement[bool]]) -> NoticeStats:
    source: FromClause = OutboxMessage.__table__
    where: list[ColumnElement[bool]] = [sql.in_period(OutboxMessage.created_at)]
    if of_type:
        source = OutboxMessage.__table__.join(Claim.__table__, OutboxMessage.claim_id == Claim.id)
        where.extend(of_type)
    # One pass: by route, status and kind (a few dozen rows), summed up below.
    grouped = session.execute(
        select(OutboxMessage.route, OutboxMessage.status, OutboxMessage.kind, func.count())
        .select_from(source)
        .where(*where)
        .group_by(OutboxMessage.route, OutboxMessage.status, OutboxMessage.kind)
    ).all()
    now = datetime.now(UTC)
    oldest = session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.next_attempt_at <= now
        )
    )
    by_status: dict[str, int] = {}
    by_route: dict[str, int] = {}
    failed: dict[str, int] = {}
    table: dict[str, dict[str, int]] = {}
    for route, status, kind, count in grouped:
        by_status[status] = by_status.get(status, 0) + count
        if status == "failed":
            failed[kind] = failed.get(kind, 0) + count
        if route is not None and status in ("sent", "delivered"):
            by_route[route] = by_route.get(route, 0) + count
        column = "pending" if status == "sending" else status
        cells = table.setdefault(route or "none", {})
        cells[column] = cells.get(column, 0) + count
    rows = [
        NoticeRouteRow(
            channel=_ROUTE_CHANNEL.get(route, "none"),
            route=route,
            pending=cells.get("pending", 0),
            sent=cells.get("sent", 0),
            delivered=cells.get("delivered", 0),
            failed=cells.get("failed", 0),
            suppressed=cells.get("suppressed", 0),
            total=sum(cells.values()),
        )
        for route, cells in table.items()
    ]
    return NoticeStats(
        by_status=by_status,
        by_route=by_route,
        failed_by_kind=failed,
        oldest_due_seconds=None if oldest is None else round((now - oldest).total_seconds(), 1),
        by_channel_route=sorted(rows, key=lambda row: (row.channel, row.route)),
    )


def _surveys(sql: _Sql, session: Session, of_type: list[ColumnElement[bool]]) -> SurveyStats:
    source: FromClause = Survey.__table__
    where: list[ColumnElement[bool]] = [sql.in_period(Survey.created_at)]
    if of_type:
        source = Survey.__table__.join(Claim.__table__, Survey.claim_number == Claim.claim_number)
        where.extend(of_type)
    counts = dict(
        session.execute(
            select(Survey.rating, func.count())
            .select_from(source)
            .where(*where)
            .group_by(Survey.rating)
        ).all()
    )
    answered = sum(counts.values())
    average = sum(r * n for r, n in counts.items()) / answered if answered else None
    closed = [Claim.closed_at.is_not(None), sql.in_period(Claim.closed_at), *of_type]
    # At most one rating per claim (unique claim_number): the outer join adds no rows.
    closed_count, closed_rated = session.execute(
        select(func.count(Claim.id), func.count(Survey.id))
        .select_from(
            Claim.__table__.outerjoin(Survey.__table__, Survey.claim_number == Claim.claim_number)
        )
        .where(*closed)
    ).one()
    low = session.execute(
        select(Survey.claim_number, Survey.rating, Survey.comment, Survey.created_at)
        .select_from(source)
        .where(*where, Survey.rating <= LOW_RATING)
        .order_by(Survey.created_at.desc(), Survey.id.desc())
        .limit(LOW_RATINGS_SHOWN)
    ).all()
    return SurveyStats(
        answered=answered,
        average_rating=_rounded(average, 2),
        by_rating={str(rating): counts[rating] for rating in sorted(counts)},
        claims_closed=closed_count,
        response_rate=_share(int(closed_rated), closed_count),
        distribution=[RatingRow(rating=r, answers=counts.get(r, 0)) for r in range(1, 6)],
        low_ratings=[
            LowRatingRow(claim_number=n, rating=rating, comment=comment, rated_at=at)
            for n, rating, comment, at in low
        ],
    )


def _handoffs(
    sql: _Sql, session: Session, settings: Settings, *, start: date, end: date
) -> HandoffStats:
    opened = [sql.in_period(Handoff.opened_at)]
    day = sql.local_day(Handoff.opened_at)
    per_day = {
        _as_date(d): n
        for d, n in session.execute(
            select(day.label("day"), func.count()).where(*opened).group_by(day)
        )
    }
    wait = sql.seconds_between(Handoff.opened_at, Handoff.accepted_at)
    accepted = [*opened, Handoff.accepted_at.is_not(None)]
    limit = settings.handoff_wait_minutes * 60
    in_period = and_(*opened)
    waiting_now = Handoff.status == "open"
    # One pass: the period's handoffs by reason, and those open now (any period).
    grouped = session.execute(
        select(
            Handoff.reason,
            func.count().filter(in_period).label("opened"),
            func.count().filter(*accepted).label("accepted"),
            func.count().filter(*accepted, wait <= limit).label("within"),
            func.count().filter(waiting_now, Handoff.callback.is_(True)).label("callbacks"),
            func.count().filter(waiting_now, Handoff.callback.is_(False)).label("waiting"),
        )
        .where(or_(in_period, waiting_now))
        .group_by(Handoff.reason)
    ).all()
    reasons = [r for r in grouped if r.opened]
    by_reason = _percentiles(
        sql,
        session,
        wait,
        groups=[Handoff.reason],
        source=Handoff.__table__,
        where=accepted,
        total=True,
    )
    overall = by_reason.get(())
    within = sum(r.within for r in grouped)
    callbacks = sum(r.callbacks for r in grouped)
    waiting = sum(r.waiting for r in grouped)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return HandoffStats(
        opened_by_day={d.isoformat(): n for d, n in sorted(per_day.items())},
        by_reason={r.reason: r.opened for r in reasons},
        accept_seconds_p50=None if overall is None else _rounded(overall.p50, 1),
        accept_seconds_p90=None if overall is None else _rounded(overall.p90, 1),
        accepted_within_wait_share=None if overall is None else _share(within, overall.count),
        callbacks_pending=callbacks or 0,
        waiting_now=waiting or 0,
        by_day=[DayCountRow(day=d, opened=per_day.get(d, 0)) for d in days],
        reasons=sorted(
            (
                HandoffReasonRow(
                    reason=r.reason,
                    opened=r.opened,
                    accepted=r.accepted,
                    accept_seconds_p50=_p(by_reason.get((r.reason,)), "p50", 1),
                    accept_seconds_p90=_p(by_reason.get((r.reason,)), "p90", 1),
                )
                for r in reasons
            ),
            key=lambda row: (-row.opened, row.reason),
        ),
    )


def _p(value: _Percentiles | None, which: str, digits: int) -> float | None:
    return None if value is None else _rounded(getattr(value, which), digits)


def _transcript_deliveries(sql: _Sql, session: Session) -> list[TranscriptStatusRow]:
    status = func.coalesce(TranscriptMessage.delivery_status, "none")
    rows = session.execute(
        select(TranscriptMessage.channel, status.label("status"), func.count().label("n"))
        .where(
            TranscriptMessage.direction == "outbound", sql.in_period(TranscriptMessage.created_at)
        )
        .group_by(TranscriptMessage.channel, status)
    ).all()
    return sorted(
        (
            TranscriptStatusRow(channel=r.channel, delivery_status=r.status, messages=r.n)
            for r in rows
        ),
        key=lambda row: (row.channel, row.delivery_status),
    )


# ------------------------------------------------------------------ CSV export


@dataclass(frozen=True)
class Figure:
    """One figure as a table: its title, its row model (the CSV header is the model's
    field names, in order) and how to take its rows from the response."""

    title: str
    row: type[BaseModel]
    rows: Callable[[StatsOut], Sequence[BaseModel]]


FIGURES: dict[str, Figure] = {
    "claims_by_week": Figure(
        "Claims reported per week by type", WeekTypeRow, lambda s: s.claims_by_week
    ),
    "cycle_time_by_week": Figure(
        "Reported → paid (days) by week paid", CycleTimeRow, lambda s: s.cycle_time_by_week
    ),
    "fast_track_by_week": Figure(
        "Fast track by week decided", FastTrackRow, lambda s: s.fast_track_by_week
    ),
    "legal_clocks": Figure(
        "Decided within the legal limits and open overdue", LegalClockRow, lambda s: s.legal_clocks
    ),
    "handoffs_by_day": Figure("Handoffs opened per day", DayCountRow, lambda s: s.handoffs.by_day),
    "handoff_reasons": Figure(
        "Handoffs by reason and time to accept", HandoffReasonRow, lambda s: s.handoffs.reasons
    ),
    "notices": Figure(
        "Notices by channel and route", NoticeRouteRow, lambda s: s.notices.by_channel_route
    ),
    "ratings": Figure("Ratings 1–5", RatingRow, lambda s: s.surveys.distribution),
    "low_ratings": Figure(
        "Low ratings (≤ 2) with comments", LowRatingRow, lambda s: s.surveys.low_ratings
    ),
    "transcript_deliveries": Figure(
        "Outbound messages by delivery status",
        TranscriptStatusRow,
        lambda s: s.transcript_deliveries,
    ),
}
