"""figures: indexes on the columns a period filters on

The figures (`GET /api/v1/stats`) read a period (12 weeks by default) of claims
reported, decided, paid and closed, of notices, transcript lines and handoffs. Without
these indexes every figure read scans the whole of each table; with them the default
period reads its share only (bench/stats_bench.py --try-indexes: 426 -> 311 ms for the
12 weeks on 100,000 claims). Indexes only: every row is carried as it is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ('claims', 'reported_on'),
    ('claims', 'decided_on'),
    ('claims', 'paid_on'),
    ('claims', 'closed_at'),
    ('outbox', 'created_at'),
    ('transcript_messages', 'created_at'),
    ('handoffs', 'opened_at'),
)


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
