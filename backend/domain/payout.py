"""Payout arithmetic in exact decimal money.

payout = min(limit_remaining, max(0, approved_amount − deductible)) × ratio,
rounded once, at the end, to the fen (0.01 yuan) with ROUND_HALF_UP: the way a
customer checks a figure by hand, and never a float anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(amount: Decimal) -> Decimal:
    """Round to the fen, half up: 0.005 → 0.01, 0.004 → 0.00."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def format_yuan(amount: Decimal) -> str:
    """'3,000.00元', for reasons shown to adjusters and customers."""
    return f"{to_fen(amount):,.2f}元"


def as_money(name: str, value: Decimal, *, allow_negative: bool = False) -> Decimal:
    """Check an input amount: Decimal (or int), finite, not negative unless allowed."""
    # bool is an int, and float would bring binary rounding in: refuse both.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal (not {type(value).__name__}): {value!r}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{name} must be a finite amount, got {value}")
    if amount < 0 and not allow_negative:
        raise ValueError(f"{name} must not be negative, got {value}")
    return amount


def _ratio(value: Decimal) -> Decimal:
    ratio = as_money("ratio", value, allow_negative=True)
    if not Decimal(0) < ratio <= Decimal(1):
        raise ValueError(f"ratio must be above 0 and at most 1 (e.g. 0.9 for 90%), got {value}")
    return ratio


@dataclass(frozen=True)
class PayoutBreakdown:
    """Every step of the sum, so an adjuster can see why the figure is what it is."""

    approved_amount: Decimal
    deductible: Decimal
    after_deductible: Decimal  # max(0, approved − deductible)
    limit_remaining: Decimal
    capped: Decimal  # min(limit_remaining, after_deductible)
    ratio: Decimal
    payout: Decimal  # capped × ratio, to the fen

    @property
    def deductible_absorbs_all(self) -> bool:
        return self.approved_amount <= self.deductible

    @property
    def limit_applied(self) -> bool:
        return self.after_deductible > self.limit_remaining


def payout_breakdown(
    approved_amount: Decimal, deductible: Decimal, ratio: Decimal, limit_remaining: Decimal
) -> PayoutBreakdown:
    """The payout with its intermediate steps; raises ValueError/TypeError on bad input."""
    approved = as_money("approved_amount", approved_amount)
    deduct = as_money("deductible", deductible)
    share = _ratio(ratio)
    remaining = as_money("limit_remaining", limit_remaining)
    after_deductible = max(Decimal(0), approved - deduct)
    capped = min(remaining, after_deductible)
    return PayoutBreakdown(
        approved_amount=to_fen(approved),
        deductible=to_fen(deduct),
        after_deductible=to_fen(after_deductible),
        limit_remaining=to_fen(remaining),
        capped=to_fen(capped),
        ratio=share,
        # Exact until here; a single rounding, so no fen is lost or made up on the way.
        payout=to_fen(capped * share),
    )


def payout(
    approved_amount: Decimal, deductible: Decimal, ratio: Decimal, limit_remaining: Decimal
) -> Decimal:
    """min(limit_remaining, max(0, approved_amount − deductible)) × ratio, to the fen.

    Raises ValueError for a negative amount or a ratio outside (0, 1], TypeError for
    a float (money is Decimal only).
    """
    return payout_breakdown(approved_amount, deductible, ratio, limit_remaining).payout


def limit_remaining(limit: Decimal, paid_or_approved_amounts: Iterable[Decimal]) -> Decimal:
    """What is left of a policy limit shared by its claims; never below zero.

    Pass the payouts of the policy's other claims that are approved (not yet paid)
    or paid, so two approvals in flight cannot both spend the same money.
    """
    total = as_money("limit", limit)
    used = sum(
        (as_money("paid or approved amount", amount) for amount in paid_or_approved_amounts),
        Decimal(0),
    )
    return to_fen(max(Decimal(0), total - used))
