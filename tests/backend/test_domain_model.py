from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.claims.numbering import next_claim_number
from backend.demo import load_demo_data
from backend.domain.types import Actor, ClaimStatus, ClaimType
from backend.models import AppendOnlyViolation, Claim, ClaimEvent, Policy, Policyholder
from tests.conftest import TODAY


def test_demo_data_matches_the_published_table(demo: Session) -> None:
    policies = demo.scalars(
        select(Policy)
        .options(selectinload(Policy.coverages), selectinload(Policy.policyholder))
        .order_by(Policy.policy_number)
    ).all()
    rows = [
        (
            p.policyholder.name,
            p.policyholder.id_last4,
            p.policyholder.phone,
            p.policy_number,
            p.coverages[0].claim_type,
            p.coverages[0].limit,
            p.coverages[0].deductible,
            p.coverages[0].ratio,
            p.start_date,
            p.end_date,
        )
        for p in policies
    ]
    assert rows == [
        (
            "张伟",
            "1234",
            "+8613800000001",
            "P2025000001",
            ClaimType.MEDICAL,
            Decimal("50000.00"),
            Decimal("0.00"),
            Decimal("1.00"),
            date(2025, 1, 1),
            date(2027, 12, 31),
        ),
        (
            "李娜",
            "5678",
            "+8613800000002",
            "P2025000002",
            ClaimType.AUTO,
            Decimal("200000.00"),
            Decimal("500.00"),
            Decimal("1.00"),
            date(2025, 6, 1),
            date(2027, 5, 31),
        ),
        (
            "王芳",
            "9012",
            "+8613800000003",
            "P2025000003",
            ClaimType.PROPERTY,
            Decimal("100000.00"),
            Decimal("200.00"),
            Decimal("1.00"),
            date(2025, 3, 1),
            date(2027, 2, 28),
        ),
        (
            "王芳",
            "9012",
            "+8613800000003",
            "P2025000004",
            ClaimType.ACCIDENT,
            Decimal("10000.00"),
            Decimal("0.00"),
            Decimal("0.90"),
            date(2025, 3, 1),
            date(2027, 2, 28),
        ),
        (
            "刘洋",
            "3456",
            "+8613800000004",
            "P2026000005",
            ClaimType.MEDICAL,
            Decimal("30000.00"),
            Decimal("100.00"),
            Decimal("1.00"),
            TODAY - timedelta(days=10),
            date(2027, 11, 14),
        ),
    ]
    # 王芳 is one person with two policies, not two people.
    assert (
        demo.scalar(
            select(Policyholder)
            .where(Policyholder.name == "王芳")
            .with_only_columns(Policyholder.id)
            .limit(2)
            .add_columns()
        )
        is not None
    )
    assert len(demo.scalars(select(Policyholder).where(Policyholder.name == "王芳")).all()) == 1


def test_demo_data_is_loaded_only_into_an_empty_database(demo: Session) -> None:
    assert load_demo_data(demo, TODAY) is False
    assert len(demo.scalars(select(Policy)).all()) == 5


def test_claim_numbers_count_per_day(session: Session) -> None:
    day = date(2026, 11, 25)
    numbers = [next_claim_number(session, day) for _ in range(3)]
    assert numbers == ["CL202611250001", "CL202611250002", "CL202611250003"]
    assert next_claim_number(session, day + timedelta(days=1)) == "CL202611260001"
    assert next_claim_number(session, day) == "CL202611250004"


def _claim(session: Session) -> Claim:
    policy = session.scalars(select(Policy).where(Policy.policy_number == "P2025000001")).one()
    claim = Claim(
        claim_number=next_claim_number(session, TODAY),
        policy_id=policy.id,
        claim_type=ClaimType.MEDICAL,
        status=ClaimStatus.REPORTED,
        incident_date=TODAY,
        location="北京",
        description="急诊",
        reported_by="web:test",
        reported_on=TODAY,
    )
    session.add(claim)
    session.flush()
    return claim


def test_claim_events_are_append_only_in_the_orm(demo: Session) -> None:
    claim = _claim(demo)
    ev = ClaimEvent(
        claim_id=claim.id,
        actor=Actor.CUSTOMER,
        actor_id="web:test",
        kind="reported",
        to_status=ClaimStatus.REPORTED,
    )
    demo.add(ev)
    demo.flush()
    ev.reason = "tampered"
    with pytest.raises(AppendOnlyViolation):
        demo.flush()
    demo.rollback()


def test_claim_events_are_append_only_in_the_database(demo: Session) -> None:
    claim = _claim(demo)
    demo.add(
        ClaimEvent(
            claim_id=claim.id,
            actor=Actor.CUSTOMER,
            actor_id="web:test",
            kind="reported",
            to_status=ClaimStatus.REPORTED,
        )
    )
    demo.flush()
    nested = demo.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        demo.execute(update(ClaimEvent).values(reason="tampered"))
    nested.rollback()


def test_a_claim_number_is_unique(demo: Session) -> None:
    claim = _claim(demo)
    nested = demo.begin_nested()
    duplicate = Claim(
        claim_number=claim.claim_number,
        policy_id=claim.policy_id,
        claim_type=ClaimType.MEDICAL,
        status=ClaimStatus.REPORTED,
        incident_date=TODAY,
        location="x",
        description="x",
        reported_by="web:x",
        reported_on=TODAY,
    )
    demo.add(duplicate)
    with pytest.raises(IntegrityError):
        demo.flush()
    nested.rollback()
