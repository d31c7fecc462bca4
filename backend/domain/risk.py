"""Risk flags: reasons for a person to look at a claim, never reasons to reject it.

Each flag carries a plain Chinese sentence an adjuster can read out as it is. A flag
only takes the claim off the fast track (see fast_track.py); the decision stays
with the adjuster.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backend.domain.deadlines import add_months, as_date
from backend.domain.payout import as_money, format_yuan

EARLY_CLAIM = "early_claim"
NEAR_LIMIT = "near_limit"
DUPLICATE_DOCUMENT = "duplicate_document"
FREQUENT_CLAIMS = "frequent_claims"
LATE_REPORT = "late_report"
RISK_CODES = (EARLY_CLAIM, NEAR_LIMIT, DUPLICATE_DOCUMENT, FREQUENT_CLAIMS, LATE_REPORT)


@dataclass(frozen=True)
class RiskFlag:
    code: str
    reason: str


def evaluate_risk(
    *,
    policy_start: date,
    incident_date: date,
    reported_on: date,
    claimed_amount: Decimal | None,
    limit_remaining: Decimal,
    document_hashes: Set[str] = frozenset(),
    hashes_in_other_claims: Set[str] = frozenset(),
    other_claims_reported_on: Iterable[date] = (),
    early_claim_days: int = 30,
    near_limit_share: Decimal = Decimal("0.90"),
    frequent_claims_count: int = 3,
    frequent_claims_months: int = 12,
    late_report_days: int = 30,
) -> list[RiskFlag]:
    """All flags that apply to a claim, in the order of RISK_CODES; [] when none do.

    - early_claim: the incident is at most `early_claim_days` days after the policy
      start (day 30 is flagged, day 31 is not).
    - near_limit: the claimed amount is at or above `near_limit_share` of the
      remaining limit (before this claim). No claimed amount yet: no flag.
    - duplicate_document: one of this claim's document SHA-256 hashes is among the
      hashes of documents attached to the policyholder's other claims (hex, any case).
    - frequent_claims: counting by *reporting date*, this claim and the policy's other
      claims reported in the `frequent_claims_months` months up to and including this
      claim's reporting day (from the same calendar day 12 months earlier) reach
      `frequent_claims_count`. Pass the reporting dates of every other claim on the
      policy, whatever their status: a withdrawn or rejected attempt is part of the
      pattern, and a flag only costs a look. Reporting dates, not incident dates,
      because they are our own record — the customer states the incident date, and
      spreading stated dates out must not hide a burst of claims — and because claims
      reported after this one are left out, re-evaluating later gives the same answer.
    - late_report: reported more than `late_report_days` days after the incident
      (day 30 is in time, day 31 is flagged).
    """
    policy_start = as_date("policy_start", policy_start)
    incident_date = as_date("incident_date", incident_date)
    reported_on = as_date("reported_on", reported_on)
    _check_thresholds(
        early_claim_days,
        near_limit_share,
        frequent_claims_count,
        frequent_claims_months,
        late_report_days,
    )
    remaining = as_money("limit_remaining", limit_remaining)
    claimed = None if claimed_amount is None else as_money("claimed_amount", claimed_amount)

    flags: list[RiskFlag] = []

    days_in_force = (incident_date - policy_start).days
    if 0 <= days_in_force <= early_claim_days:
        when = "保单生效当天" if days_in_force == 0 else f"保单生效后第{days_in_force}天"
        flags.append(
            RiskFlag(
                EARLY_CLAIM,
                f"{when}即出险（出险日期 {incident_date}，保单生效日 {policy_start}），"
                f"在生效后{early_claim_days}天内。",
            )
        )

    if claimed is not None and claimed >= remaining * near_limit_share:
        if remaining == 0:
            reason = "该保单的保额已经用完（剩余保额 0.00元）。"
        else:
            reason = (
                f"报案金额 {format_yuan(claimed)} 已达保单剩余保额 {format_yuan(remaining)} "
                f"的{_percent(near_limit_share)}。"
            )
        flags.append(RiskFlag(NEAR_LIMIT, reason))

    ours = {h.lower() for h in document_hashes}
    theirs = {h.lower() for h in hashes_in_other_claims}
    reused = ours & theirs
    if reused:
        flags.append(
            RiskFlag(
                DUPLICATE_DOCUMENT,
                f"本案有{len(reused)}份材料与其他理赔案件中已提交的材料完全相同（SHA-256 一致）。",
            )
        )

    window_start = add_months(reported_on, -frequent_claims_months)
    recent = 1 + sum(
        1
        for day in other_claims_reported_on
        if window_start <= as_date("other_claims_reported_on", day) <= reported_on
    )
    if recent >= frequent_claims_count:
        flags.append(
            RiskFlag(
                FREQUENT_CLAIMS,
                f"该保单在 {window_start} 至 {reported_on} 的{frequent_claims_months}个月内"
                f"已报案{recent}次（含本案）。",
            )
        )

    days_to_report = (reported_on - incident_date).days
    if days_to_report > late_report_days:
        flags.append(
            RiskFlag(
                LATE_REPORT,
                f"出险 {days_to_report} 天后才报案（出险日期 {incident_date}，"
                f"报案日期 {reported_on}），超过{late_report_days}天。",
            )
        )
    return flags


def _check_thresholds(
    early_claim_days: int,
    near_limit_share: Decimal,
    frequent_claims_count: int,
    frequent_claims_months: int,
    late_report_days: int,
) -> None:
    if early_claim_days < 0 or late_report_days < 0:
        raise ValueError("early_claim_days and late_report_days must not be negative")
    if not Decimal(0) < near_limit_share <= Decimal(1):
        raise ValueError(f"near_limit_share must be above 0 and at most 1, got {near_limit_share}")
    if frequent_claims_count < 1 or frequent_claims_months < 1:
        raise ValueError("frequent_claims_count and frequent_claims_months must be at least 1")


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"
