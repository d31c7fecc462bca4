"""The models and the migrations must agree, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from backend.core import migrate
from backend.core.db import make_engine
from backend.models import Base
from tests.conftest import scratch_postgres


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations; run alembic revision --autogenerate: {diff}"


def test_migrations_run_on_an_empty_sqlite_file_and_are_repeatable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(url)
    migrate.upgrade(url)  # a second run changes nothing and does not fail
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"claims", "claim_events", "policies", "policyholders", "outbox"} <= tables
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        # The newest migration, whichever it is: one head, and the database is at it.
        [head] = ScriptDirectory.from_config(migrate.alembic_config(url)).get_heads()
        assert version == head
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'round.db'}"
    migrate.upgrade(url)
    migrate.downgrade_to_base(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    migrate.upgrade(url)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_0003_enters_payments_already_made_so_their_replay_changes_nothing(
    tmp_path, database: str
) -> None:  # type: ignore[no-untyped-def]
    if database == "postgres":
        with scratch_postgres("claims_mig3") as url:
            _carry_paid_references(url)
    else:
        _carry_paid_references(f"sqlite:///{tmp_path / 'carry.db'}")


def _carry_paid_references(url: str) -> None:
    from datetime import date

    from alembic import command
    from sqlalchemy.orm import Session

    from backend.demo import load_demo_data
    from backend.domain.types import Actor, ClaimStatus, ClaimType
    from backend.models import Claim, ClaimEvent, Policy

    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            load_demo_data(session, date(2026, 11, 25))
            policy = session.query(Policy).order_by(Policy.policy_number).first()
            assert policy is not None
            claim = Claim(
                claim_number="CL202611250001",
                policy_id=policy.id,
                claim_type=ClaimType.MEDICAL,
                status=ClaimStatus.PAID,
                incident_date=date(2026, 11, 20),
                location="北京",
                description="急诊",
                reported_by="web:x",
                reported_on=date(2026, 11, 25),
            )
            session.add(claim)
            session.flush()
            session.add(
                ClaimEvent(
                    claim_id=claim.id,
                    actor=Actor.PAYMENT_SYSTEM,
                    actor_id="payment_system",
                    kind="status_changed",
                    from_status=ClaimStatus.APPROVED,
                    to_status=ClaimStatus.PAID,
                    data={"reference": "TX-OLD-1"},
                )
            )
            session.commit()
        command.downgrade(migrate.alembic_config(url), "0002")
        migrate.upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT reference, status, claim_number FROM payment_callbacks")
            ).all()
        assert [tuple(r) for r in rows] == [("TX-OLD-1", "succeeded", "CL202611250001")]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_0006_backfills_the_clocks_of_existing_claims(tmp_path, database: str) -> None:  # type: ignore[no-untyped-def]
    if database == "postgres":
        with scratch_postgres("claims_mig6") as url:
            _carry_claim_clocks(url)
    else:
        _carry_claim_clocks(f"sqlite:///{tmp_path / 'clocks.db'}")


def _carry_claim_clocks(url: str) -> None:
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy.orm import Session

    from backend.demo import load_demo_data
    from backend.domain.types import ClaimStatus, ClaimType
    from backend.models import Claim, Policy

    migrate.upgrade(url)
    engine = make_engine(url)

    def claim(number: str, status: ClaimStatus, policy_id: int, **stamps: datetime) -> Claim:
        return Claim(
            claim_number=number,
            policy_id=policy_id,
            claim_type=ClaimType.MEDICAL,
            status=status,
            incident_date=date(2026, 10, 20),
            location="北京",
            description="急诊",
            reported_by="web:x",
            reported_on=date(2026, 10, 21),
            **stamps,
        )

    try:
        with Session(engine) as session:
            load_demo_data(session, date(2026, 11, 25))
            policy = session.query(Policy).order_by(Policy.policy_number).first()
            assert policy is not None
            session.add_all(
                [
                    # Documents complete 24 Nov 00:30 in Shanghai (23 Nov 16:30 UTC).
                    claim(
                        "CL202610210001",
                        ClaimStatus.UNDER_REVIEW,
                        policy.id,
                        documents_completed_at=datetime(2026, 11, 23, 16, 30, tzinfo=UTC),
                    ),
                    # Approved 1 Nov, not paid: the payment clock is the one open.
                    claim(
                        "CL202610210002",
                        ClaimStatus.APPROVED,
                        policy.id,
                        documents_completed_at=datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
                        approved_at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC),
                    ),
                    # Documents pending: no clock.
                    claim("CL202610210003", ClaimStatus.DOCUMENTS_PENDING, policy.id),
                ]
            )
            session.commit()
        command.downgrade(migrate.alembic_config(url), "0005")
        migrate.upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT claim_number, decision_due_on, payment_due_on, decided_on, "
                    "advance_payment_from_on, next_due_on, next_due_clock "
                    "FROM claims ORDER BY claim_number"
                )
            ).all()
        as_text = [tuple(None if v is None else str(v) for v in row) for row in rows]
        assert as_text == [
            (
                "CL202610210001",
                "2026-12-24",
                None,
                None,
                "2027-01-23",
                "2026-12-24",
                "decision",
            ),
            (
                "CL202610210002",
                "2026-11-24",
                "2026-11-11",
                "2026-11-01",
                "2026-12-24",
                "2026-11-11",
                "payment",
            ),
            ("CL202610210003", None, None, None, None, None, None),
        ]
    finally:
        engine.dispose()
