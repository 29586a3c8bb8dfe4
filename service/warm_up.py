"""The start's warm-up: the index fitted (or loaded) and every need's suggestions stored
in a background thread, so that no request does that work (``served``); at a
prefecture's or the nation's size the ranker's compiled loops loaded first, before the
server accepts connections."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from matching import KERNEL_FROM, warm_kernels

from .index import MatchingIndex
from .models import Organization
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
    _load_kernels(engine)

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


def _load_kernels(engine: Engine) -> None:
    """With ``KERNEL_FROM`` profiles or more, the ranker's compiled loops are loaded now
    (about 1.5 s), before the server accepts connections: not inside the first request
    that waits for a ranking. A city's few hundred profiles never need them."""
    try:
        with Session(engine) as session:
            profiles = session.exec(select(func.count()).select_from(Organization)).one()
    except Exception:  # the database may be down at start; the first ranking loads them
        log.warning("could not count the profiles: the ranker's loops load when first used")
        return
    if profiles >= KERNEL_FROM:
        warm_kernels()
        log.info("%s 団体: 順位づけの計算処理を読み込みました", profiles)
