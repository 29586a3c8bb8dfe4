"""Adding the lemma line to the search text of rows a bulk import wrote without it.

A big import leaves the tokenising of its rows' search text (``search``: most of an
import's time) for later, so the import itself runs at the speed of its writes. ``fill``
gives every pending row its lemma line, ``BATCH`` rows per transaction; the server runs it
in a background thread (``SearchFill``: after an import, and once at start for rows a
stopped process left), ``service load`` at its end.

The lemma line is a function of the row's normalised text alone, so the fill reads the
column, not the fields, and writes a row only if its value is still the one it read: an
edit, or another import, that wrote the row meanwhile wins (an edit writes the whole
search text; an import's new text is pending again and filled by a later batch). The fill
changes no field, so ``updated_at`` (an edit's version, ``stale``) stays as it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import ColumnElement, Table, bindparam, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from .models import Need, Organization
from .search import PENDING, filled

__all__ = ["BATCH", "SearchFill", "fill", "pending_rows"]

log = logging.getLogger(__name__)

BATCH = 500  # rows per transaction: a short lock, and progress a person can follow
_MODELS: tuple[type[Need] | type[Organization], ...] = (Organization, Need)


def _pending(model: type[Need] | type[Organization]) -> ColumnElement[bool]:
    return col(model.search_text).startswith(PENDING)


def pending_rows(session: Session) -> int:
    """How many needs and profiles still wait for their lemma line."""
    return sum(
        int(session.exec(select(func.count()).where(_pending(model))).one()) for model in _MODELS
    )


def fill(
    session: Session,
    *,
    batch: int = BATCH,
    on_batch: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Give every pending row its lemma line; the number of pending rows it went through
    (a row written meanwhile keeps what it has). ``on_batch`` hears the running count
    after each committed batch; ``stop`` ends it between two."""
    done = 0
    for model in _MODELS:
        table = getattr(model, "__table__", None)
        assert isinstance(table, Table)
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.search_text == bindparam("b_old"))
            .values(search_text=bindparam("b_new"))
        )
        last = 0
        while stop is None or not stop.is_set():
            rows = session.exec(
                select(model.id, model.search_text)
                .where(col(model.id) > last, _pending(model))
                .order_by(col(model.id))
                .limit(batch)
            ).all()
            if not rows:
                break
            last = int(rows[-1][0] or 0)
            params = [{"b_id": i, "b_old": text, "b_new": filled(text)} for i, text in rows]
            session.connection().execute(statement, params)
            session.commit()
            done += len(rows)
            if on_batch is not None:
                on_batch(done)
    return done


class SearchFill:
    """The server's background fill: one thread at a time; ``start`` during a run makes
    it go round once more (rows an import wrote behind where the run had reached)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._stop = threading.Event()

    def start(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is not None:  # running: it goes round once more
                self._again = True
                return
            self._again = False
            self._thread = threading.Thread(target=self._run, name="kyodo-search-fill", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """End the run in progress after its batch (the server stops): the rest waits
        for the next start."""
        self._stop.set()
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run in progress (if any); ``True`` when none is left running."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _run(self) -> None:
        finished = False
        try:
            while True:
                self._once()
                with self._lock:
                    if not self._again or self._stop.is_set():
                        self._thread, finished = None, True
                        return
                    self._again = False
        finally:
            if not finished:  # an unexpected error: the next ``start`` runs again
                with self._lock:
                    self._thread = None

    def _once(self) -> None:
        try:
            with Session(self.engine) as session:
                filled = fill(session, stop=self._stop)
            if filled:
                log.info("search text: %d rows given their lemma line", filled)
        except SQLAlchemyError:  # the database is down: the rows wait for the next run
            log.exception("the search text fill failed")
