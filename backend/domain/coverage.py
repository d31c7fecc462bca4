"""May this claim be reported at all? (报案校验)

The checks run from the most specific reason to the least, so the customer hears
the one that actually explains the refusal:

1. not_covered — the policy does not cover this claim type; no date can change that.
2. incident_in_future — an incident after today is a mistake in the date, whatever
   the policy period says.
3. before_policy_start / after_policy_end — the incident is outside the period in
   which the policy covers anything.
4. limitation_expired — a covered incident, but reported after the limitation period
   (Insurance Law Art. 26: 2 years for non-life insurance, counted from the day the
   insured knew or should have known of the incident).

Both policy dates are inclusive: an incident on the last day of the policy is covered.
"""

from __future__ import annotations

from collections.abc import Collection, Set
from datetime import date, timedelta

from backend.domain.deadlines import add_years, as_date
from backend.domain.types import ClaimType

LIMITATION_YEARS = 2

_TYPE_NAMES = {
    ClaimType.MEDICAL: "医疗",
    ClaimType.AUTO: "车险",
    ClaimType.PROPERTY: "财产",
    ClaimType.ACCIDENT: "意外",
}


class ReportRefused(ValueError):
    """The claim cannot be reported; `code` is the API error code, `message` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def limitation_last_day(
    known_on: date, *, years: int = LIMITATION_YEARS, rest_days: Set[date] = frozenset()
) -> date:
    """The last day on which a claim may still be made.

    Civil Code Art. 201–203: the first day is not counted, the period ends on the
    corresponding day `years` later (28 Feb when that year has no 29 Feb), and a last
    day that falls on a statutory rest day moves to the next working day. `rest_days`
    are those days (holidays, and weekends not made working days); without them the
    bare calendar date is used.
    """
    last = add_years(as_date("known_on", known_on), years)
    while last in rest_days:
        last += timedelta(days=1)
    return last


def check_reportable(
    policy_start: date,
    policy_end: date,
    covered_types: Collection[ClaimType | str],
    claim_type: ClaimType | str,
    incident_date: date,
    today: date,
    limitation_years: int = LIMITATION_YEARS,
    *,
    known_on: date | None = None,
    rest_days: Set[date] = frozenset(),
) -> None:
    """Raise ReportRefused with the most specific reason, or return if the claim may be made.

    `known_on` is the day the insured learned of the incident when that is later than
    the incident (Art. 26 counts from then); it defaults to the incident date.
    """
    policy_start = as_date("policy_start", policy_start)
    policy_end = as_date("policy_end", policy_end)
    incident_date = as_date("incident_date", incident_date)
    today = as_date("today", today)
    if policy_end < policy_start:
        raise ValueError(f"policy ends ({policy_end}) before it starts ({policy_start})")
    if limitation_years < 1:
        raise ValueError(f"limitation_years must be at least 1, got {limitation_years}")

    covered = {_claim_type(t) for t in covered_types}
    kind = _claim_type(claim_type)
    if kind not in covered:
        names = "、".join(_TYPE_NAMES[t] for t in ClaimType if t in covered) or "无"
        raise ReportRefused(
            "not_covered",
            f"该保单不保障{_TYPE_NAMES[kind]}理赔（保障范围：{names}） / "
            f"the policy does not cover {kind} claims",
        )
    if incident_date > today:
        raise ReportRefused(
            "incident_in_future",
            f"出险日期 {incident_date} 晚于今天（{today}），请核对日期 / "
            f"the incident date {incident_date} is after today ({today})",
        )
    if incident_date < policy_start:
        raise ReportRefused(
            "before_policy_start",
            f"出险日期 {incident_date} 早于保单生效日 {policy_start}，不在保障期内 / "
            f"the incident on {incident_date} is before the policy started on {policy_start}",
        )
    if incident_date > policy_end:
        raise ReportRefused(
            "after_policy_end",
            f"出险日期 {incident_date} 晚于保单到期日 {policy_end}，不在保障期内 / "
            f"the incident on {incident_date} is after the policy ended on {policy_end}",
        )
    start = incident_date if known_on is None else max(incident_date, as_date("known_on", known_on))
    last_day = limitation_last_day(start, years=limitation_years, rest_days=rest_days)
    if today > last_day:
        raise ReportRefused(
            "limitation_expired",
            f"自 {start} 起已超过{limitation_years}年索赔时效"
            f"（最后期限 {last_day}，《保险法》第二十六条），如另有情况请联系人工客服 / "
            f"the {limitation_years}-year limitation period (Insurance Law Art. 26) "
            f"ended on {last_day}",
        )


def _claim_type(value: ClaimType | str) -> ClaimType:
    try:
        return ClaimType(value)
    except ValueError:
        raise ValueError(f"unknown claim type {value!r}") from None
