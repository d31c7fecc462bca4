"""Claim numbers: 'CL' + reporting date YYYYMMDD + a 4-digit daily sequence."""

from __future__ import annotations

import re
from datetime import date

CLAIM_NUMBER_RE = re.compile(r"^CL(\d{8})(\d{4})$")
MAX_DAILY_SEQUENCE = 9999


def format_claim_number(day: date, sequence: int) -> str:
    if not 1 <= sequence <= MAX_DAILY_SEQUENCE:
        raise ValueError(
            f"claim sequence {sequence} out of range 1..{MAX_DAILY_SEQUENCE} for {day:%Y-%m-%d}"
        )
    return f"CL{day:%Y%m%d}{sequence:04d}"


def parse_claim_number(claim_number: str) -> tuple[date, int]:
    match = CLAIM_NUMBER_RE.match(claim_number)
    if not match:
        raise ValueError(
            f"not a claim number: {claim_number!r} (expected CL + YYYYMMDD + 4 digits)"
        )
    digits, sequence = match.groups()
    day = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    return day, int(sequence)
