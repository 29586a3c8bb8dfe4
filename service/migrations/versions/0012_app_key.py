"""app_key: keys the service makes for itself (service.keys), e.g. for the keyed hash of a
registration's sender address

Revision ID: 0012_app_key
Revises: 0011_invitation_email
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012_app_key"
down_revision = "0011_invitation_email"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_key",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # the requests kept so far were hashed without a key: they only counted towards the
    # last hour's limit, so they are cleared of it rather than kept reversible
    op.execute("UPDATE registration_request SET address_hash = ''")


def downgrade() -> None:
    op.drop_table("app_key")
