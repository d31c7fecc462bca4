"""transcript: what notices and agents said that the bot has not heard yet; the
handoff lifecycle (accepted, call-back mark, idle clock, who closed it, its steps)

Notices are no longer appended to the Rasa tracker when they are sent (one Rasa call
per notice); they are marked here and appended just before the customer's next turn.
Existing rows were all told to the bot already (or never will be): false.
Existing handoffs keep their status; an active one counts as accepted when it opened
(the best known time), and each gets an `opened` step.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('transcript_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bot_pending', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_transcript_bot_pending', ['conversation_id', 'bot_pending'], unique=False)

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', backend.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('callback', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('last_agent_message_at', backend.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_by', sa.String(length=60), nullable=True))
        batch_op.create_index(batch_op.f('ix_handoffs_status'), ['status'], unique=False)
    op.execute("UPDATE handoffs SET accepted_at = opened_at WHERE status = 'active'")

    op.create_table(
        'handoff_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name=op.f('fk_handoff_steps_handoff_id_handoffs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_steps')),
    )
    with op.batch_alter_table('handoff_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_steps_handoff_id'), ['handoff_id'], unique=False)
    op.execute(
        "INSERT INTO handoff_steps (handoff_id, kind, actor, text, at) "
        "SELECT id, 'opened', 'bot', reason, opened_at FROM handoffs"
    )


def downgrade() -> None:
    with op.batch_alter_table('handoff_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_steps_handoff_id'))
    op.drop_table('handoff_steps')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_status'))
        batch_op.drop_column('closed_by')
        batch_op.drop_column('last_agent_message_at')
        batch_op.drop_column('callback')
        batch_op.drop_column('accepted_at')

    with op.batch_alter_table('transcript_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_transcript_bot_pending')
        batch_op.drop_column('bot_pending')
