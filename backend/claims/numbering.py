"""Hand out claim numbers from a per-day counter row.

The upsert takes a row lock (PostgreSQL) or the write lock (SQLite), so two
concurrent reports never get the same number, and a rolled-back report gives its
number back with the transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.domain.numbering import MAX_DAILY_SEQUENCE, format_claim_number
from backend.models import ClaimNumberSequence


class DailyClaimLimitReached(RuntimeError):
    pass


def next_claim_number(session: Session, day: date) -> str:
    table = ClaimNumberSequence.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    stmt: Insert
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(day=day, last_value=1)
        stmt = pg.on_conflict_do_update(
            index_elements=["day"], set_={"last_value": table.c.last_value + 1}
        )
    elif dialect == "sqlite":
        lite = sqlite.insert(table).values(day=day, last_value=1)
        stmt = lite.on_conflict_do_update(
            index_elements=["day"], set_={"last_value": table.c.last_value + 1}
        )
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database {dialect}")
    value = session.execute(stmt.returning(table.c.last_value)).scalar_one()
    if value > MAX_DAILY_SEQUENCE:
        raise DailyClaimLimitReached(f"more than {MAX_DAILY_SEQUENCE} claims reported on {day}")
    return format_claim_number(day, value)
