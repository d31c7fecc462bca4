"""The models and the migrations must agree, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from backend.core import migrate
from backend.core.db import make_engine
from backend.models import Base


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
        assert version == "0003"
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
