"""event_followup: a 分野別発表会's invitations sent through the outbox and what was
recorded at it (attendance; the needs each group showed interest in)

Revision ID: 0013_event_followup
Revises: 0012_app_key
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_event_followup"
down_revision = "0012_app_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("matching_event_group", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attended", sa.Boolean(), nullable=True))
    op.create_table(
        "matching_event_interest",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("made_interest", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["matching_event.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["need_id"], ["need.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("event_id", "organization_id", "need_id"),
    )
    with op.batch_alter_table("matching_event_interest", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matching_event_interest_need_id"), ["need_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("matching_event_interest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matching_event_interest_need_id"))
    op.drop_table("matching_event_interest")
    with op.batch_alter_table("matching_event_group", schema=None) as batch_op:
        batch_op.drop_column("attended")
        batch_op.drop_column("invited_at")
