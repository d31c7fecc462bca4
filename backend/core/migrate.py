"""Apply Alembic migrations from code (make run, tests, the CLI)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "backend" / "migrations"))
    config.attributes["configure_logger"] = False
    if database_url:
        config.attributes["database_url"] = database_url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str | None = None, connection: Connection | None = None) -> None:
    command.upgrade(alembic_config(database_url, connection), "head")


def downgrade_to_base(database_url: str | None = None) -> None:
    command.downgrade(alembic_config(database_url), "base")
