"""transcript: what notices and agents said that the bot has not heard yet

Notices are no longer appended to the Rasa tracker when they are sent (one Rasa call
per notice); they are marked here and appended just before the customer's next turn.
Existing rows were all told to the bot already (or never will be): false.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('transcript_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bot_pending', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_transcript_bot_pending', ['conversation_id', 'bot_pending'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('transcript_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_transcript_bot_pending')
        batch_op.drop_column('bot_pending')
