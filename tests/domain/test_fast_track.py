from decimal import Decimal

import pytest

from backend.domain.fast_track import (
    FAST_TRACK_APPROVE,
    MANUAL_REVIEW,
    FastTrackLimits,
    decide_review,
)
from backend.domain.risk import RiskFlag
from backend.domain.types import ClaimType

D = Decimal
EARLY = RiskFlag(
    "early_claim",
    "保单生效后第5天即出险（出险日期 2026-01-06，保单生效日 2026-01-01），在生效后30天内。",
)
LATE = RiskFlag(
    "late_report", "出险 45 天后才报案（出险日期 2026-06-01，报案日期 2026-07-16），超过30天。"
)


@pytest.mark.parametrize(
    ("claim_type", "amount", "kind"),
    [
        (ClaimType.MEDICAL, "2999.99", FAST_TRACK_APPROVE),
        (ClaimType.MEDICAL, "3000.00", FAST_TRACK_APPROVE),  # exactly the limit
        (ClaimType.MEDICAL, "3000.01", MANUAL_REVIEW),  # one fen over
        (ClaimType.ACCIDENT, "3000.00", FAST_TRACK_APPROVE),
        (ClaimType.ACCIDENT, "3000.01", MANUAL_REVIEW),
        (ClaimType.AUTO, "5000.00", FAST_TRACK_APPROVE),
        (ClaimType.AUTO, "5000.01", MANUAL_REVIEW),
        (ClaimType.AUTO, "0.01", FAST_TRACK_APPROVE),
        (ClaimType.PROPERTY, "100.00", MANUAL_REVIEW),  # property never
    ],
)
def test_fast_track_limits_per_type(claim_type: ClaimType, amount: str, kind: str) -> None:
    decision = decide_review(claim_type, D(amount), True, [])
    assert decision.kind == kind
    assert decision.fast_track is (kind == FAST_TRACK_APPROVE)


def test_fast_track_reason() -> None:
    decision = decide_review("medical", D("2800"), True, [])
    assert decision.reasons == [
        "材料齐全，无风险提示，报案金额 2,800.00元 未超过"
        "医疗险小额快赔上限 3,000.00元，自动核赔通过。"
    ]


def test_over_the_limit_reason() -> None:
    decision = decide_review("auto", D("5000.01"), True, [])
    assert decision.reasons == ["报案金额 5,000.01元 超过车险小额快赔上限 5,000.00元。"]


def test_property_claims_go_to_a_person() -> None:
    decision = decide_review("property", D("100.00"), True, [])
    assert decision.kind == MANUAL_REVIEW
    assert decision.reasons == ["财产险理赔不适用小额快赔。"]


def test_incomplete_documents_go_to_a_person() -> None:
    decision = decide_review("medical", D("500"), False, [])
    assert decision.kind == MANUAL_REVIEW
    assert decision.reasons == ["理赔材料尚未齐全。"]


def test_any_risk_flag_goes_to_a_person_with_its_reason() -> None:
    decision = decide_review("accident", D("500"), True, [EARLY])
    assert decision.kind == MANUAL_REVIEW
    assert decision.reasons == [f"风险提示：{EARLY.reason}"]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(None, "尚未填写报案金额。"), (D("0"), "报案金额为 0.00元，需人工核实。")],
)
def test_without_a_positive_claimed_amount_a_person_decides(
    amount: Decimal | None, reason: str
) -> None:
    decision = decide_review("medical", amount, True, [])
    assert decision.kind == MANUAL_REVIEW
    assert decision.reasons == [reason]


def test_every_reason_is_listed_for_the_adjuster() -> None:
    decision = decide_review("medical", D("8000"), False, [EARLY, LATE])
    assert decision.reasons == [
        "理赔材料尚未齐全。",
        f"风险提示：{EARLY.reason}",
        f"风险提示：{LATE.reason}",
        "报案金额 8,000.00元 超过医疗险小额快赔上限 3,000.00元。",
    ]


def test_a_rule_never_rejects() -> None:
    for claim_type in ClaimType:
        for complete in (True, False):
            for flags in ([], [EARLY]):
                for amount in (None, D("0"), D("1"), D("999999")):
                    decision = decide_review(claim_type, amount, complete, flags)
                    assert decision.kind in {FAST_TRACK_APPROVE, MANUAL_REVIEW}


def test_limits_come_from_settings() -> None:
    limits = FastTrackLimits.from_mapping(
        {"medical": D("1000.00"), "accident": D("3000.00"), "auto": D("5000.00")}
    )
    assert decide_review("medical", D("1000.00"), True, [], limits).fast_track
    assert not decide_review("medical", D("1000.01"), True, [], limits).fast_track
    assert limits.limit_for("property") is None


def test_a_type_left_out_of_the_settings_is_never_fast_tracked() -> None:
    limits = FastTrackLimits.from_mapping({"auto": D("5000")})
    decision = decide_review("medical", D("10"), True, [], limits)
    assert decision.reasons == ["医疗险理赔不适用小额快赔。"]


def test_property_may_be_given_a_limit_by_setting() -> None:
    limits = FastTrackLimits(property=D("1000.00"))
    assert decide_review("property", D("800"), True, [], limits).fast_track


def test_default_limits() -> None:
    limits = FastTrackLimits()
    assert [limits.limit_for(t) for t in ("medical", "accident", "auto", "property")] == [
        D("3000.00"),
        D("3000.00"),
        D("5000.00"),
        None,
    ]


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown claim types"):
        FastTrackLimits.from_mapping({"travel": D("100")})
    with pytest.raises(ValueError, match="must not be negative"):
        FastTrackLimits(medical=D("-1"))


def test_negative_claimed_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="claimed_amount must not be negative"):
        decide_review("medical", D("-5"), True, [])
