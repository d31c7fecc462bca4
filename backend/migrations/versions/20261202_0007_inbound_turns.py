"""inbound turns: an accepted SMS is kept until it is answered

A new table only. Every message already in the transcript was answered (or dropped)
by the process that received it, so none is carried into it; every other table is
left as it is.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inbound_turns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transcript_message_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('message', sa.JSON(), nullable=False),
    sa.Column('rejoined', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('accepted_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='1', nullable=False),
    sa.Column('answered_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['transcript_message_id'], ['transcript_messages.id'], name=op.f('fk_inbound_turns_transcript_message_id_transcript_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_turns')),
    sa.UniqueConstraint('transcript_message_id', name=op.f('uq_inbound_turns_transcript_message_id'))
    )
    with op.batch_alter_table('inbound_turns', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_turns_unanswered', ['answered_at', 'claimed_until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_turns', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_turns_unanswered')
    op.drop_table('inbound_turns')
