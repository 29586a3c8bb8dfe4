"""search: a normalised search text (NFKC, lemmas) on needs and profiles

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_FIELDS = {
    "need": ("key", "title", "description", "goal"),
    "organization": ("key", "name", "activities", "offerings", "wishes"),
}


def upgrade() -> None:
    from service.search import search_text  # the same function every later save uses

    for table in _FIELDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("search_text", sa.Text(), nullable=False, server_default="")
            )
    bind = op.get_bind()
    for name, fields in _FIELDS.items():
        table = sa.table(name, sa.column("id"), sa.column("search_text"), *map(sa.column, fields))
        rows = bind.execute(sa.select(table.c.id, *(table.c[f] for f in fields))).all()
        for row in rows:
            bind.execute(
                table.update().where(table.c.id == row[0]).values(search_text=search_text(*row[1:]))
            )


def downgrade() -> None:
    for table in _FIELDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("search_text")
