"""Alembic environment: the URL comes from the app settings (DATABASE_URL), or from
a connection handed in by code (tests, `backend.core.migrate`)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from backend.core.db import make_engine
from backend.core.settings import get_settings
from backend.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("database_url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if hasattr(connection, "commit"):
        connection.commit()


run_migrations()
