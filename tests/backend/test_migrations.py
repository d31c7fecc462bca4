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
