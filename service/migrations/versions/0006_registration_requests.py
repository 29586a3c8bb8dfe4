"""registration requests: 「この課題に取り組みたい」 from a published need's public page

Revision ID: 0006_registration_requests
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006_registration_requests"
down_revision = "0005"
branch_labels = None
depends_on = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "registration_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("group_name", _string(200), nullable=False),
        sa.Column("contact_name", _string(100), nullable=False),
        sa.Column("email", _string(254), nullable=False),
        sa.Column("phone", _string(40), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("area", _string(100), nullable=False),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("address_hash", _string(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["need_id"], ["need.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["invitation_id"], ["invitation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("registration_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_request_address", ["address_hash", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registration_request_need_id"), ["need_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registration_request_status"), ["status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registration_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_request_status"))
        batch_op.drop_index(batch_op.f("ix_registration_request_need_id"))
        batch_op.drop_index("ix_registration_request_address")
    op.drop_table("registration_request")
