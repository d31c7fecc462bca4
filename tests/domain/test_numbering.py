from __future__ import annotations

from datetime import date

import pytest

from backend.domain.numbering import format_claim_number, parse_claim_number


def test_format_matches_the_published_shape() -> None:
    assert format_claim_number(date(2026, 11, 25), 7) == "CL202611250007"
    assert format_claim_number(date(2026, 1, 2), 9999) == "CL202601029999"


@pytest.mark.parametrize("sequence", [0, -1, 10000])
def test_sequence_out_of_range_is_refused(sequence: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        format_claim_number(date(2026, 11, 25), sequence)


def test_parse_round_trips() -> None:
    assert parse_claim_number("CL202611250007") == (date(2026, 11, 25), 7)


@pytest.mark.parametrize(
    "bad", ["CL20261125007", "cl202611250007", "CL2026112500070", "P2025000001"]
)
def test_parse_rejects_other_shapes(bad: str) -> None:
    with pytest.raises(ValueError, match="not a claim number"):
        parse_claim_number(bad)
