"""The start's warm-up: the index fitted (or loaded) and every need's suggestions stored
in a background thread, so that no request does that work (``served``)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine
from sqlmodel import Session

from .index import MatchingIndex
from .refresh import ensure_fresh
from .refresh_run import announce

__all__ = ["warm_up"]

log = logging.getLogger(__name__)


def warm_up(engine: Engine, index: MatchingIndex, *, top: int) -> threading.Thread:
    """Fit the index and store every need's suggestions in a background thread, started
    with the server; ``index.progress`` shows how far it is. Until it is done
    (``index.warming``), a request is answered from the store, saying so, instead of
    waiting for this work or doing it again (``served``)."""
    announce(index, warming=True)  # before the first request can arrive

    def run() -> None:
        try:
            with Session(engine) as session:
                ensure_fresh(session, index, top=top)
        except Exception:  # the database may be down at start; requests will try again
            log.exception("warm-up of the matching index failed")
        finally:
            announce(index, warming=False)

    thread = threading.Thread(target=run, name="kyodo-warm-up", daemon=True)
    thread.start()
    return thread
