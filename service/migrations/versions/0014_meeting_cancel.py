"""meeting_cancel: a 事前打ち合わせ cancelled (中止) keeps its row, with the reason and when

Revision ID: 0014_meeting_cancel
Revises: 0013_event_followup
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_meeting_cancel"
down_revision = "0013_event_followup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # (the status column takes the new value "cancelled" as it is: a string of 20)
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("cancel_reason")
