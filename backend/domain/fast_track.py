"""Automatic review: fast track (小额快赔) or the manual queue. Never a rejection.

A claim is approved with no person involved only when all of these hold: its type
has a fast-track limit, its documents are complete, no risk flag is raised, and a
claimed amount is given, above zero and at most the limit. Anything else goes to an
adjuster with every reason that kept it off the fast track, so they see at once what
to look at. The limits are settings; the defaults follow the regulator's small-claims
service guideline (medical and accident ¥3,000, auto ¥5,000; property never).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from backend.domain.payout import as_money, format_yuan
from backend.domain.risk import RiskFlag
from backend.domain.types import ClaimType

FAST_TRACK_APPROVE: Final = "fast_track_approve"
MANUAL_REVIEW: Final = "manual_review"
ReviewKind = Literal["fast_track_approve", "manual_review"]

_TYPE_NAMES = {
    ClaimType.MEDICAL: "医疗险",
    ClaimType.AUTO: "车险",
    ClaimType.PROPERTY: "财产险",
    ClaimType.ACCIDENT: "意外险",
}


@dataclass(frozen=True)
class FastTrackLimits:
    """Highest claimed amount per type that may be fast-tracked; None: never."""

    medical: Decimal | None = Decimal("3000.00")
    accident: Decimal | None = Decimal("3000.00")
    auto: Decimal | None = Decimal("5000.00")
    property: Decimal | None = None

    def __post_init__(self) -> None:
        for kind in ClaimType:
            limit = getattr(self, kind.value)
            if limit is not None:
                as_money(f"fast-track limit for {kind}", limit)

    @classmethod
    def from_mapping(cls, limits: Mapping[str, Decimal | None]) -> FastTrackLimits:
        """From settings such as {"medical": 3000, ...}; a type not named is never fast-tracked."""
        unknown = set(limits) - {kind.value for kind in ClaimType}
        if unknown:
            raise ValueError(f"fast-track limits for unknown claim types: {sorted(unknown)}")
        return cls(**{kind.value: limits.get(kind.value) for kind in ClaimType})

    def limit_for(self, claim_type: ClaimType | str) -> Decimal | None:
        limit: Decimal | None = getattr(self, ClaimType(claim_type).value)
        return limit


DEFAULT_LIMITS = FastTrackLimits()


@dataclass(frozen=True)
class ReviewDecision:
    kind: ReviewKind
    reasons: list[str]

    @property
    def fast_track(self) -> bool:
        return self.kind == FAST_TRACK_APPROVE


def decide_review(
    claim_type: ClaimType | str,
    claimed_amount: Decimal | None,
    documents_complete: bool,
    risk_flags: Sequence[RiskFlag],
    limits: FastTrackLimits = DEFAULT_LIMITS,
) -> ReviewDecision:
    """Fast-track approval or manual review, with the reasons in plain Chinese.

    The claimed amount is what the limit is compared with; the approved amount of a
    fast-tracked claim is the claimed amount, and its payout comes from payout.py.
    """
    kind = ClaimType(claim_type)
    type_name = _TYPE_NAMES[kind]
    claimed = None if claimed_amount is None else as_money("claimed_amount", claimed_amount)
    limit = limits.limit_for(kind)

    reasons: list[str] = []
    if limit is None:
        reasons.append(f"{type_name}理赔不适用小额快赔。")
    if not documents_complete:
        reasons.append("理赔材料尚未齐全。")
    reasons.extend(f"风险提示：{flag.reason}" for flag in risk_flags)
    if claimed is None:
        reasons.append("尚未填写报案金额。")
    elif claimed == 0:
        reasons.append("报案金额为 0.00元，需人工核实。")
    elif limit is not None and claimed > limit:
        reasons.append(
            f"报案金额 {format_yuan(claimed)} 超过{type_name}小额快赔上限 {format_yuan(limit)}。"
        )

    # A missing amount or limit always added a reason; named again for the type checker.
    if reasons or claimed is None or limit is None:
        return ReviewDecision(MANUAL_REVIEW, reasons)
    return ReviewDecision(
        FAST_TRACK_APPROVE,
        [
            f"材料齐全，无风险提示，报案金额 {format_yuan(claimed)} 未超过"
            f"{type_name}小额快赔上限 {format_yuan(limit)}，自动核赔通过。"
        ],
    )
