"""Demo policyholders and policies, loaded into an empty database by `make run`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.domain.types import ClaimType
from backend.models import Coverage, Policy, Policyholder


@dataclass(frozen=True)
class DemoPolicy:
    holder: str
    id_last4: str
    phone: str
    policy_number: str
    claim_type: ClaimType
    limit: Decimal
    deductible: Decimal
    ratio: Decimal
    start: date
    end: date


def demo_policies(load_day: date) -> list[DemoPolicy]:
    recent_start = load_day - timedelta(days=10)
    try:
        recent_end = recent_start.replace(year=recent_start.year + 1) - timedelta(days=1)
    except ValueError:  # started on 29 February
        recent_end = date(recent_start.year + 1, 2, 28)
    return [
        DemoPolicy(
            "张伟",
            "1234",
            "+8613800000001",
            "P2025000001",
            ClaimType.MEDICAL,
            Decimal("50000"),
            Decimal("0"),
            Decimal("1.00"),
            date(2025, 1, 1),
            date(2027, 12, 31),
        ),
        DemoPolicy(
            "李娜",
            "5678",
            "+8613800000002",
            "P2025000002",
            ClaimType.AUTO,
            Decimal("200000"),
            Decimal("500"),
            Decimal("1.00"),
            date(2025, 6, 1),
            date(2027, 5, 31),
        ),
        DemoPolicy(
            "王芳",
            "9012",
            "+8613800000003",
            "P2025000003",
            ClaimType.PROPERTY,
            Decimal("100000"),
            Decimal("200"),
            Decimal("1.00"),
            date(2025, 3, 1),
            date(2027, 2, 28),
        ),
        DemoPolicy(
            "王芳",
            "9012",
            "+8613800000003",
            "P2025000004",
            ClaimType.ACCIDENT,
            Decimal("10000"),
            Decimal("0"),
            Decimal("0.90"),
            date(2025, 3, 1),
            date(2027, 2, 28),
        ),
        DemoPolicy(
            "刘洋",
            "3456",
            "+8613800000004",
            "P2026000005",
            ClaimType.MEDICAL,
            Decimal("30000"),
            Decimal("100"),
            Decimal("1.00"),
            recent_start,
            recent_end,
        ),
    ]


def load_demo_data(session: Session, load_day: date) -> bool:
    """Insert the demo data when there are no policyholders yet. Returns whether it did."""
    if session.scalar(select(func.count()).select_from(Policyholder)):
        return False
    holders: dict[tuple[str, str], Policyholder] = {}
    for item in demo_policies(load_day):
        key = (item.holder, item.phone)
        if key not in holders:
            holders[key] = Policyholder(name=item.holder, id_last4=item.id_last4, phone=item.phone)
            session.add(holders[key])
            session.flush()
        policy = Policy(
            policy_number=item.policy_number,
            policyholder_id=holders[key].id,
            start_date=item.start,
            end_date=item.end,
        )
        session.add(policy)
        session.flush()
        session.add(
            Coverage(
                policy_id=policy.id,
                claim_type=item.claim_type,
                limit=item.limit,
                deductible=item.deductible,
                ratio=item.ratio,
            )
        )
    session.flush()
    return True
