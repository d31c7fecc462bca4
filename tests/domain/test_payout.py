from decimal import Decimal

import pytest

from backend.domain.payout import (
    format_yuan,
    limit_remaining,
    payout,
    payout_breakdown,
    to_fen,
)

D = Decimal


@pytest.mark.parametrize(
    ("approved", "deductible", "ratio", "remaining", "expected"),
    [
        # Plain case: 3,500 approved, 500 deductible, 100%, plenty of limit.
        ("3500.00", "500.00", "1", "100000.00", "3000.00"),
        # 90% co-payment ratio.
        ("3500.00", "500.00", "0.9", "100000.00", "2700.00"),
        ("1234.56", "0", "0.9", "100000.00", "1111.10"),  # 1111.104 → 1111.10
        ("1234.57", "0", "0.9", "100000.00", "1111.11"),  # 1111.113 → 1111.11
        # Deductible larger than, or equal to, the approved amount: nothing to pay.
        ("300.00", "500.00", "1", "100000.00", "0.00"),
        ("500.00", "500.00", "0.8", "100000.00", "0.00"),
        # One fen above the deductible.
        ("500.01", "500.00", "1", "100000.00", "0.01"),
        # The remaining limit caps the amount before the ratio is applied.
        ("20000.00", "1000.00", "0.9", "10000.00", "9000.00"),
        # Exactly at the limit: no cap needed, same figure.
        ("11000.00", "1000.00", "1", "10000.00", "10000.00"),
        # Exhausted limit.
        ("5000.00", "0", "1", "0", "0.00"),
        ("5000.00", "0", "0.9", "0.00", "0.00"),
        # No deductible, full ratio.
        ("0.01", "0", "1", "100.00", "0.01"),
        ("0", "0", "1", "100.00", "0.00"),
    ],
)
def test_payout(approved: str, deductible: str, ratio: str, remaining: str, expected: str) -> None:
    result = payout(D(approved), D(deductible), D(ratio), D(remaining))
    assert result == D(expected)
    assert str(result) == expected  # always two places, as shown on the API


@pytest.mark.parametrize(
    ("approved", "ratio", "expected"),
    [
        # Half up, not banker's rounding: 0.005 → 0.01.
        ("0.01", "0.5", "0.01"),  # 0.005
        ("0.03", "0.5", "0.02"),  # 0.015 → 0.02 (banker's would also give 0.02)
        ("0.05", "0.5", "0.03"),  # 0.025 → 0.03 (banker's would give 0.02)
        ("1000.05", "0.9", "900.05"),  # 900.045 → 900.05 (banker's: 900.04)
        ("1000.15", "0.7", "700.11"),  # 700.105 → 700.11
        ("1000.13", "0.7", "700.09"),  # 700.091 → 700.09
        ("2.50", "0.75", "1.88"),  # 1.875 → 1.88
        ("2.30", "0.75", "1.73"),  # 1.725 → 1.73
    ],
)
def test_rounding_is_half_up_to_the_fen(approved: str, ratio: str, expected: str) -> None:
    assert payout(D(approved), D(0), D(ratio), D("100000")) == D(expected)


def test_rounding_happens_once_at_the_end() -> None:
    # approved 100.005 (e.g. a sum of invoice lines) less 0.004 = 100.001; × 0.5 = 50.0005.
    # Rounding each step would give to_fen(100.005)=100.01 → 100.01×0.5 = 50.005 → 50.01.
    assert payout(D("100.005"), D("0.004"), D("0.5"), D("1000")) == D("50.00")


def test_integers_are_accepted_as_whole_yuan() -> None:
    assert payout(3500, 500, D("0.9"), 100000) == D("2700.00")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("approved_amount", (D("-0.01"), D(0), D(1), D(100))),
        ("deductible", (D(100), D("-1"), D(1), D(100))),
        ("limit_remaining", (D(100), D(0), D(1), D("-5"))),
    ],
)
def test_negative_amounts_are_refused(field: str, args: tuple[Decimal, ...]) -> None:
    with pytest.raises(ValueError, match=f"{field} must not be negative"):
        payout(*args)


@pytest.mark.parametrize("ratio", ["0", "-0.1", "1.01", "90"])
def test_ratio_outside_zero_to_one_is_refused(ratio: str) -> None:
    with pytest.raises(ValueError, match="ratio must be above 0 and at most 1"):
        payout(D(100), D(0), D(ratio), D(100))


@pytest.mark.parametrize("ratio", ["0.01", "1", "1.00"])
def test_ratio_bounds_that_are_allowed(ratio: str) -> None:
    assert payout(D(100), D(0), D(ratio), D(1000)) == to_fen(D(100) * D(ratio))


def test_float_money_is_refused() -> None:
    with pytest.raises(TypeError, match="approved_amount must be a Decimal"):
        payout(0.1, D(0), D(1), D(100))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [D("NaN"), D("Infinity")])
def test_non_finite_amounts_are_refused(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        payout(bad, D(0), D(1), D(100))


def test_breakdown_shows_each_step() -> None:
    steps = payout_breakdown(D("20000"), D("1000"), D("0.9"), D("10000"))
    assert steps.after_deductible == D("19000.00")
    assert steps.capped == D("10000.00")
    assert steps.payout == D("9000.00")
    assert steps.limit_applied
    assert not steps.deductible_absorbs_all


def test_breakdown_when_the_deductible_takes_everything() -> None:
    steps = payout_breakdown(D("300"), D("500"), D("1"), D("10000"))
    assert steps.after_deductible == D("0.00")
    assert steps.payout == D("0.00")
    assert steps.deductible_absorbs_all
    assert not steps.limit_applied


@pytest.mark.parametrize(
    ("limit", "used", "expected"),
    [
        ("50000.00", [], "50000.00"),
        ("50000.00", ["2700.00", "9000.00"], "38300.00"),
        ("10000.00", ["4000.00", "6000.00"], "0.00"),  # exactly used up
        ("10000.00", ["4000.00", "6000.01"], "0.00"),  # never negative
        ("10000.00", ["0.01"], "9999.99"),
    ],
)
def test_limit_is_shared_by_the_policys_claims(limit: str, used: list[str], expected: str) -> None:
    assert limit_remaining(D(limit), [D(u) for u in used]) == D(expected)


def test_two_claims_on_one_limit() -> None:
    # The first claim spends most of the limit; the second only gets what is left.
    limit = D("10000.00")
    first = payout(D("9000.00"), D("0"), D("1"), limit_remaining(limit, []))
    second = payout(D("5000.00"), D("0"), D("1"), limit_remaining(limit, [first]))
    assert (first, second) == (D("9000.00"), D("1000.00"))
    assert limit_remaining(limit, [first, second]) == D("0.00")


def test_limit_remaining_refuses_negative_inputs() -> None:
    with pytest.raises(ValueError, match="limit must not be negative"):
        limit_remaining(D("-1"), [])
    with pytest.raises(ValueError, match="paid or approved amount must not be negative"):
        limit_remaining(D("100"), [D("-5")])


@pytest.mark.parametrize(
    ("amount", "text"),
    [("3000", "3,000.00元"), ("0.005", "0.01元"), ("1234567.891", "1,234,567.89元")],
)
def test_format_yuan(amount: str, text: str) -> None:
    assert format_yuan(D(amount)) == text
