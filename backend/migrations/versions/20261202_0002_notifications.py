"""notifications: delivery of the outbox, notice preferences, reminders, one survey per claim

Existing rows are carried over: outbox rows keep their event as `kind` (the old
`under_review` row announced what is now `documents_complete`); a conversation's
customer-service window starts from its last inbound message; claims waiting for
documents count as asked at their last change; a claim rated twice keeps its first
rating as the claim's and the later ones as general feedback.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:46:08.403013
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scheduled_jobs',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('next_run_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_run_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduled_jobs'))
    )
    op.create_table('worker_heartbeats',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('beat_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats'))
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('documents_requested_at', backend.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('document_reminders_sent', sa.Integer(), nullable=False, server_default='0'))
    op.execute(
        "UPDATE claims SET documents_requested_at = updated_at "
        "WHERE status IN ('documents_pending', 'reopened')"
    )

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_customer_message_at', backend.models.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE conversations SET last_customer_message_at = last_inbound_at")

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('lease_until', backend.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('conversation_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('route', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('platform_message_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('sent_at', backend.models.base.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE outbox SET kind = CASE event WHEN 'under_review' THEN 'documents_complete' "
        "ELSE event END"
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_platform_message_id'), ['platform_message_id'], unique=False)
        batch_op.drop_column('event')

    with op.batch_alter_table('policyholders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_channel', sa.String(length=10), nullable=False, server_default='auto'))
        batch_op.add_column(sa.Column('notices_paused', sa.Boolean(), nullable=False, server_default=sa.false()))

    # Later ratings of a claim already rated stay as general feedback.
    op.execute(
        "UPDATE surveys SET claim_number = NULL WHERE claim_number IS NOT NULL AND id > "
        "(SELECT MIN(s2.id) FROM surveys s2 WHERE s2.claim_number = surveys.claim_number)"
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_surveys_claim_number'), ['claim_number'])


def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_surveys_claim_number'), type_='unique')

    with op.batch_alter_table('policyholders', schema=None) as batch_op:
        batch_op.drop_column('notices_paused')
        batch_op.drop_column('notice_channel')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.VARCHAR(length=40), nullable=False, server_default=''))
    op.execute("UPDATE outbox SET event = kind")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('event', server_default=None)
        batch_op.drop_index(batch_op.f('ix_outbox_platform_message_id'))
        batch_op.drop_index('ix_outbox_due')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('platform_message_id')
        batch_op.drop_column('route')
        batch_op.drop_column('conversation_id')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
        batch_op.drop_column('kind')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('last_customer_message_at')

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('document_reminders_sent')
        batch_op.drop_column('documents_requested_at')

    op.drop_table('worker_heartbeats')
    op.drop_table('scheduled_jobs')
