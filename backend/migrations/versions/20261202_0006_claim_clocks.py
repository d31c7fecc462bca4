"""claims: the legal clocks as stored local dates, so queues and figures filter and
order by the nearest deadline in SQL

Nine nullable columns (the due dates of the current round, the days the awaited
things happened, and the earliest open clock) and two indexes. Existing claims are
backfilled from their milestone timestamps with the same functions the service uses
(backend.core.clock, backend.domain.deadlines), in the time zone and with the day
counts of the settings the app reads from its environment (TIMEZONE, DECISION_DAYS,
...; the defaults otherwise). The timestamps themselves are left as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATE_COLUMNS = (
    'decision_due_on',
    'payment_due_on',
    'rejection_notice_due_on',
    'advance_payment_from_on',
    'decided_on',
    'paid_on',
    'rejection_notified_on',
    'next_due_on',
)
MILESTONES = (
    'documents_completed_at',
    'approved_at',
    'rejected_at',
    'rejection_notified_at',
    'paid_at',
    'withdrawn_at',
    'reopened_at',
)
BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        for name in DATE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('next_due_clock', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_claims_next_due_on_id', ['next_due_on', 'id'], unique=False)
        batch_op.create_index(
            'ix_claims_queue', ['status', 'next_due_on', 'reported_on', 'id'], unique=False
        )
    _backfill()


def _backfill() -> None:
    from backend.core.clock import CLOCK_COLUMNS, Milestones, clock_values
    from backend.core.settings import get_settings

    settings = get_settings()
    claims = sa.table(
        'claims',
        sa.column('id', sa.Integer()),
        *(sa.column(name, backend.models.base.UTCDateTime()) for name in MILESTONES),
        *(sa.column(name, sa.Date()) for name in DATE_COLUMNS),
        sa.column('next_due_clock', sa.String()),
    )
    connection = op.get_bind()
    update = (
        claims.update()
        .where(claims.c.id == sa.bindparam('claim_id'))
        .values({name: sa.bindparam(name) for name in CLOCK_COLUMNS})
    )
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(claims.c.id, *(claims.c[name] for name in MILESTONES))
            .where(claims.c.id > last_id)
            .order_by(claims.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [
            {
                'claim_id': row.id,
                **clock_values(
                    settings, Milestones(**{name: getattr(row, name) for name in MILESTONES})
                ),
            }
            for row in rows
        ]
        connection.execute(update, values)
        last_id = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_queue')
        batch_op.drop_index('ix_claims_next_due_on_id')
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 too): a batch copy of `claims` would
    # drop the table, which SQLite refuses while other tables' rows point at it.
    for name in ('next_due_clock', *reversed(DATE_COLUMNS)):
        op.drop_column('claims', name)
