"""need.deadline: a need's optional 募集期限 (open through that day, Japan time)

Revision ID: 0008_need_deadline
Revises: 0007_mail_outbox
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_need_deadline"
down_revision = "0007_mail_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_need_deadline"), ["deadline"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_deadline"))
        batch_op.drop_column("deadline")
