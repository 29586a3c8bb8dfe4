"""Database engine and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine, select

from . import search as _search  # noqa: F401  (its ORM events keep search_text written)


def make_engine(url: str) -> Engine:
    """An engine for SQLite (a file, WAL, waits for locks) or PostgreSQL (pre-ping)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    # pool_pre_ping: a restarted database costs no failed request
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def page_of(
    session: Session, query: Any, *order: Any, limit: int, offset: int
) -> tuple[int, list[Any]]:
    """``(total, rows)``: how many rows ``query`` has, and one ordered page of them."""
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(*order).offset(offset).limit(limit)).all()
    return int(total), list(rows)


def analyze(session: Session, *tables: str) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk change.

    Until autovacuum gets round to it, a table that has just gone from empty to thousands
    of rows is planned as if still empty: the review queue's joins took 300 ms instead of
    20 ms on the corpus. SQLite plans without such statistics; nothing to do there.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        session.execute(text(f'ANALYZE "{table}"'))
    session.commit()
