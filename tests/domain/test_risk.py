from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import pytest

from backend.domain.risk import RISK_CODES, RiskFlag, evaluate_risk

D = Decimal
POLICY_START = date(2026, 1, 1)
HASH_A = "a" * 64
HASH_B = "b" * 64
HASH_C = "c" * 64


def flags(**overrides: object) -> list[RiskFlag]:
    """A claim with no risk at all, changed by `overrides`."""
    args: dict[str, object] = {
        "policy_start": POLICY_START,
        "incident_date": date(2026, 6, 1),
        "reported_on": date(2026, 6, 2),
        "claimed_amount": D("2000.00"),
        "limit_remaining": D("50000.00"),
        "document_hashes": {HASH_A},
        "hashes_in_other_claims": {HASH_B},
        "other_claims_reported_on": [],
    }
    args.update(overrides)
    return evaluate_risk(**args)  # type: ignore[arg-type]


def codes(result: Iterable[RiskFlag]) -> list[str]:
    return [flag.code for flag in result]


def only(result: list[RiskFlag], code: str) -> RiskFlag:
    assert codes(result) == [code]
    return result[0]


def test_an_ordinary_claim_has_no_flags() -> None:
    assert flags() == []


# early_claim ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("incident", "flagged"),
    [
        (date(2026, 1, 1), True),  # the day the policy starts
        (date(2026, 1, 20), True),
        (date(2026, 1, 31), True),  # day 30
        (date(2026, 2, 1), False),  # day 31
    ],
)
def test_early_claim(incident: date, flagged: bool) -> None:
    result = flags(incident_date=incident, reported_on=incident)
    assert codes(result) == (["early_claim"] if flagged else [])


def test_early_claim_reason() -> None:
    flag = only(
        flags(incident_date=date(2026, 1, 20), reported_on=date(2026, 1, 21)), "early_claim"
    )
    assert flag.reason == (
        "保单生效后第19天即出险（出险日期 2026-01-20，保单生效日 2026-01-01），在生效后30天内。"
    )
    flag = only(flags(incident_date=POLICY_START, reported_on=POLICY_START), "early_claim")
    assert flag.reason.startswith("保单生效当天即出险")


def test_early_claim_days_is_a_parameter() -> None:
    result = flags(incident_date=date(2026, 2, 20), reported_on=date(2026, 2, 20))
    assert result == []
    result = evaluate_risk(
        policy_start=POLICY_START,
        incident_date=date(2026, 2, 20),
        reported_on=date(2026, 2, 20),
        claimed_amount=None,
        limit_remaining=D("1000"),
        early_claim_days=60,
    )
    assert codes(result) == ["early_claim"]
    assert "在生效后60天内" in result[0].reason


# near_limit ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("claimed", "remaining", "flagged"),
    [
        ("8999.99", "10000.00", False),  # one fen under 90%
        ("9000.00", "10000.00", True),  # exactly 90%
        ("9500.00", "10000.00", True),
        ("12000.00", "10000.00", True),  # more than what is left
        ("899.99", "999.99", False),  # 90% is 899.991: not reached
        ("900.00", "999.99", True),
    ],
)
def test_near_limit(claimed: str, remaining: str, flagged: bool) -> None:
    result = flags(claimed_amount=D(claimed), limit_remaining=D(remaining))
    assert codes(result) == (["near_limit"] if flagged else [])


def test_near_limit_reason() -> None:
    flag = only(flags(claimed_amount=D("9000"), limit_remaining=D("10000")), "near_limit")
    assert flag.reason == "报案金额 9,000.00元 已达保单剩余保额 10,000.00元 的90%。"


def test_exhausted_limit() -> None:
    flag = only(flags(claimed_amount=D("100.00"), limit_remaining=D("0")), "near_limit")
    assert flag.reason == "该保单的保额已经用完（剩余保额 0.00元）。"


def test_no_near_limit_flag_without_a_claimed_amount() -> None:
    assert flags(claimed_amount=None, limit_remaining=D("0")) == []


def test_near_limit_share_is_a_parameter() -> None:
    result = flags(claimed_amount=D("7500"), limit_remaining=D("10000"), near_limit_share=D("0.75"))
    assert only(result, "near_limit").reason.endswith("的75%。")


# duplicate_document --------------------------------------------------------


def test_duplicate_document() -> None:
    flag = only(
        flags(document_hashes={HASH_A, HASH_B, HASH_C}, hashes_in_other_claims={HASH_B, HASH_C}),
        "duplicate_document",
    )
    assert flag.reason == "本案有2份材料与其他理赔案件中已提交的材料完全相同（SHA-256 一致）。"


def test_duplicate_document_ignores_hex_case() -> None:
    result = flags(document_hashes={HASH_A.upper()}, hashes_in_other_claims={HASH_A})
    assert codes(result) == ["duplicate_document"]


def test_no_duplicate_without_documents() -> None:
    assert flags(document_hashes=set(), hashes_in_other_claims={HASH_A}) == []
    assert flags(document_hashes={HASH_A}, hashes_in_other_claims=frozenset()) == []


# frequent_claims -----------------------------------------------------------

REPORTED = date(2026, 6, 2)


@pytest.mark.parametrize(
    ("others", "flagged"),
    [
        ([], False),
        ([date(2026, 3, 1)], False),  # two claims in 12 months
        ([date(2026, 3, 1), date(2025, 9, 1)], True),  # three, this one included
        ([date(2026, 3, 1), date(2025, 6, 2)], True),  # first day of the window
        ([date(2026, 3, 1), date(2025, 6, 1)], False),  # one day before the window
        ([REPORTED, REPORTED], True),  # three on the same day
        # Claims reported after this one are not counted: re-evaluation is stable.
        ([date(2026, 3, 1), date(2026, 6, 3)], False),
    ],
)
def test_frequent_claims(others: list[date], flagged: bool) -> None:
    result = flags(reported_on=REPORTED, other_claims_reported_on=others)
    assert codes(result) == (["frequent_claims"] if flagged else [])


def test_frequent_claims_reason_counts_this_claim() -> None:
    result = flags(
        reported_on=REPORTED,
        other_claims_reported_on=[date(2025, 7, 1), date(2025, 12, 1), date(2026, 5, 1)],
    )
    assert only(result, "frequent_claims").reason == (
        "该保单在 2025-06-02 至 2026-06-02 的12个月内已报案4次（含本案）。"
    )


def test_frequent_claims_window_from_29_february() -> None:
    # 12 months before 29 Feb 2028 is 28 Feb 2027 (no 29 Feb in 2027).
    others = [date(2027, 2, 28), date(2027, 12, 1)]
    result = flags(
        policy_start=date(2027, 1, 1),
        incident_date=date(2028, 2, 28),
        reported_on=date(2028, 2, 29),
        other_claims_reported_on=others,
    )
    assert codes(result) == ["frequent_claims"]
    assert "2027-02-28 至 2028-02-29" in result[0].reason


def test_frequent_claims_thresholds_are_parameters() -> None:
    others = [date(2026, 3, 1)]
    result = flags(reported_on=REPORTED, other_claims_reported_on=others, frequent_claims_count=2)
    assert codes(result) == ["frequent_claims"]
    result = flags(
        reported_on=REPORTED,
        other_claims_reported_on=[date(2025, 3, 1), date(2025, 4, 1)],
        frequent_claims_months=24,
    )
    assert "24个月内已报案3次" in only(result, "frequent_claims").reason


# late_report ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "flagged"),
    [
        (date(2026, 6, 1), False),  # same day
        (date(2026, 7, 1), False),  # day 30: in time
        (date(2026, 7, 2), True),  # day 31
    ],
)
def test_late_report(reported: date, flagged: bool) -> None:
    result = flags(incident_date=date(2026, 6, 1), reported_on=reported)
    assert codes(result) == (["late_report"] if flagged else [])


def test_late_report_reason() -> None:
    flag = only(flags(incident_date=date(2026, 6, 1), reported_on=date(2026, 7, 16)), "late_report")
    assert flag.reason == (
        "出险 45 天后才报案（出险日期 2026-06-01，报案日期 2026-07-16），超过30天。"
    )


# together ------------------------------------------------------------------


def test_all_flags_at_once_in_a_fixed_order() -> None:
    result = evaluate_risk(
        policy_start=date(2026, 1, 1),
        incident_date=date(2026, 1, 10),
        reported_on=date(2026, 3, 1),
        claimed_amount=D("4800.00"),
        limit_remaining=D("5000.00"),
        document_hashes={HASH_A},
        hashes_in_other_claims={HASH_A},
        other_claims_reported_on=[date(2026, 1, 15), date(2026, 2, 1)],
    )
    assert codes(result) == list(RISK_CODES)
    assert all(flag.reason for flag in result)


def test_flags_are_plain_values() -> None:
    assert RiskFlag("late_report", "x") == RiskFlag("late_report", "x")


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"claimed_amount": D("-1")}, ValueError, "claimed_amount must not be negative"),
        ({"limit_remaining": D("-0.01")}, ValueError, "limit_remaining must not be negative"),
        ({"claimed_amount": 100.0}, TypeError, "claimed_amount must be a Decimal"),
        ({"near_limit_share": D("0")}, ValueError, "near_limit_share"),
        ({"near_limit_share": D("1.5")}, ValueError, "near_limit_share"),
        ({"frequent_claims_count": 0}, ValueError, "frequent_claims_count"),
        ({"late_report_days": -1}, ValueError, "late_report_days"),
    ],
)
def test_bad_inputs_are_refused(
    overrides: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        flags(**overrides)
