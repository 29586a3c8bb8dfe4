"""events: the 分野別発表会 planner (an event, the needs it presents, the groups it invites)

Revision ID: 0010_events
Revises: 0009_meetings
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010_events"
down_revision = "0009_meetings"
branch_labels = None
depends_on = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "matching_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", _string(200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("fields", _string(100), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("form_key", _string(20), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("form_key"),
    )
    with op.batch_alter_table("matching_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matching_event_held_on"), ["held_on"], unique=False)
    for table, column, target in (
        ("matching_event_need", "need_id", "need.id"),
        ("matching_event_group", "organization_id", "organization.id"),
    ):
        op.create_table(
            table,
            sa.Column("event_id", sa.Integer(), nullable=False),
            sa.Column(column, sa.Integer(), nullable=False),
            sa.Column("source", _string(20), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["event_id"], ["matching_event.id"]),
            sa.ForeignKeyConstraint([column], [target]),
            sa.PrimaryKeyConstraint("event_id", column),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table, column in (
        ("matching_event_group", "organization_id"),
        ("matching_event_need", "need_id"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
    with op.batch_alter_table("matching_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matching_event_held_on"))
    op.drop_table("matching_event")
