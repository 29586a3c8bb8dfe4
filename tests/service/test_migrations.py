"""Alembic: upgrading an empty database gives exactly the models' schema (both databases)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from service import models  # noqa: F401
from service.db import make_engine
from service.events import models as event_models  # noqa: F401
from service.meetings import models as meeting_models  # noqa: F401
from service.migrate import downgrade, upgrade
from service.registrations import models as registration_models  # noqa: F401


def test_upgrade_from_empty_matches_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == []
        tables = set(inspect(engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables and "alembic_version" in tables
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(empty_database: str) -> None:
    upgrade(empty_database)
    downgrade(empty_database, "base")
    engine = make_engine(empty_database)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_database)  # and back: the migration chain is repeatable
