from datetime import date, datetime

import pytest

from backend.domain.coverage import ReportRefused, check_reportable, limitation_last_day
from backend.domain.types import ClaimType

START = date(2026, 1, 1)
END = date(2026, 12, 31)
ALL = set(ClaimType)
TODAY = date(2026, 11, 25)


def refusal(**overrides: object) -> ReportRefused:
    args: dict[str, object] = {
        "policy_start": START,
        "policy_end": END,
        "covered_types": ALL,
        "claim_type": ClaimType.MEDICAL,
        "incident_date": date(2026, 11, 24),
        "today": TODAY,
    }
    args.update(overrides)
    with pytest.raises(ReportRefused) as raised:
        check_reportable(**args)  # type: ignore[arg-type]
    return raised.value


@pytest.mark.parametrize(
    "incident",
    [
        START,  # first day of the policy
        END,  # last day of the policy (reported later, in time)
        TODAY,  # today
        date(2026, 6, 15),
    ],
)
def test_claims_inside_the_policy_period_may_be_reported(incident: date) -> None:
    today = max(TODAY, incident)
    check_reportable(START, END, ALL, ClaimType.MEDICAL, incident, today)  # does not raise


def test_a_string_claim_type_is_accepted() -> None:
    check_reportable(START, END, ["medical", "auto"], "auto", date(2026, 3, 1), TODAY)


def test_not_covered() -> None:
    error = refusal(covered_types={ClaimType.MEDICAL, ClaimType.ACCIDENT}, claim_type="auto")
    assert error.code == "not_covered"
    assert "不保障车险理赔" in error.message
    assert "医疗、意外" in error.message


def test_not_covered_wins_over_any_date_problem() -> None:
    error = refusal(
        covered_types={ClaimType.AUTO}, incident_date=date(2030, 1, 1), claim_type="property"
    )
    assert error.code == "not_covered"


def test_incident_in_future_one_day_ahead() -> None:
    error = refusal(incident_date=date(2026, 11, 26))
    assert error.code == "incident_in_future"
    assert "2026-11-26" in error.message
    assert "晚于今天" in error.message


def test_incident_in_future_wins_over_after_policy_end() -> None:
    # A future date after the policy end is a typo, not a claim outside the period.
    error = refusal(policy_end=date(2026, 6, 30), incident_date=date(2027, 1, 5))
    assert error.code == "incident_in_future"


def test_before_policy_start_one_day_early() -> None:
    error = refusal(incident_date=date(2025, 12, 31))
    assert error.code == "before_policy_start"
    assert "早于保单生效日 2026-01-01" in error.message


def test_after_policy_end_one_day_late() -> None:
    error = refusal(policy_end=date(2026, 6, 30), incident_date=date(2026, 7, 1))
    assert error.code == "after_policy_end"
    assert "晚于保单到期日 2026-06-30" in error.message


def test_outside_the_period_wins_over_limitation() -> None:
    # Incident before the policy and also long ago: the policy never covered it.
    error = refusal(incident_date=date(2020, 5, 1))
    assert error.code == "before_policy_start"


@pytest.mark.parametrize(
    ("incident", "today", "expired"),
    [
        (date(2024, 11, 25), date(2026, 11, 25), False),  # last day of the 2 years
        (date(2024, 11, 25), date(2026, 11, 26), True),  # one day late
        (date(2024, 11, 24), date(2026, 11, 25), True),
        # 29 Feb: 2026 has none, so the period ends on 28 Feb 2026 (Civil Code Art. 202).
        (date(2024, 2, 29), date(2026, 2, 28), False),
        (date(2024, 2, 29), date(2026, 3, 1), True),
        # Into a leap year: 28 Feb 2026 + 2 years is 28 Feb 2028, not 29 Feb.
        (date(2026, 2, 28), date(2028, 2, 28), False),
        (date(2026, 2, 28), date(2028, 2, 29), True),
    ],
)
def test_two_year_limitation(incident: date, today: date, expired: bool) -> None:
    args = (date(2024, 1, 1), date(2027, 12, 31), ALL, "property", incident, today)
    if not expired:
        check_reportable(*args)
        return
    with pytest.raises(ReportRefused) as raised:
        check_reportable(*args)
    assert raised.value.code == "limitation_expired"
    assert "第二十六条" in raised.value.message
    assert "2年" in raised.value.message


def test_limitation_message_names_the_last_day() -> None:
    error = refusal(
        policy_start=date(2024, 1, 1),
        incident_date=date(2024, 2, 29),
        today=date(2026, 3, 1),
    )
    assert "最后期限 2026-02-28" in error.message


def test_limitation_years_is_a_setting() -> None:
    args = (date(2020, 1, 1), date(2030, 12, 31), ALL, "medical", date(2021, 6, 1))
    check_reportable(*args, date(2026, 6, 1), limitation_years=5)
    with pytest.raises(ReportRefused) as raised:
        check_reportable(*args, date(2026, 6, 2), limitation_years=5)
    assert raised.value.code == "limitation_expired"
    assert "5年" in raised.value.message


def test_limitation_counts_from_when_the_insured_learned_of_the_incident() -> None:
    args = (date(2024, 1, 1), date(2027, 12, 31), ALL, "property", date(2024, 3, 1))
    check_reportable(*args, date(2026, 5, 1), known_on=date(2024, 5, 1))
    with pytest.raises(ReportRefused):
        check_reportable(*args, date(2026, 5, 2), known_on=date(2024, 5, 1))


def test_last_day_on_a_rest_day_moves_to_the_next_working_day() -> None:
    # 1 Oct 2028 (National Day holiday, 1–7 Oct) is the bare last day.
    holiday = {date(2028, 10, d) for d in range(1, 8)}
    assert limitation_last_day(date(2026, 10, 1)) == date(2028, 10, 1)
    assert limitation_last_day(date(2026, 10, 1), rest_days=holiday) == date(2028, 10, 8)
    args = (date(2026, 1, 1), date(2026, 12, 31), ALL, "auto", date(2026, 10, 1))
    check_reportable(*args, date(2028, 10, 8), rest_days=holiday)
    with pytest.raises(ReportRefused):
        check_reportable(*args, date(2028, 10, 8))


def test_inverted_policy_period_is_a_data_error() -> None:
    with pytest.raises(ValueError, match="policy ends"):
        check_reportable(END, START, ALL, "medical", date(2026, 5, 1), TODAY)


def test_unknown_claim_type_is_a_data_error() -> None:
    with pytest.raises(ValueError, match="unknown claim type 'travel'"):
        check_reportable(START, END, ALL, "travel", date(2026, 5, 1), TODAY)


def test_datetime_is_refused_where_a_date_is_meant() -> None:
    with pytest.raises(TypeError, match="today must be a date"):
        check_reportable(START, END, ALL, "medical", date(2026, 5, 1), datetime(2026, 11, 25))


def test_report_refused_is_a_value_error_with_code_and_message() -> None:
    error = refusal(incident_date=date(2027, 1, 1))
    assert isinstance(error, ValueError)
    assert str(error) == error.message
    assert "/" in error.message  # Chinese for people, English for logs
