"""What a request for stored suggestions is answered from, and for which index version.

Normally a request first brings the stored suggestions up to its process's index
(``refresh.ensure_fresh``, cheap when nothing changed) and is answered from them: the
lists as that index version ranks them. While the process warms up at start (fitting,
then ranking every need: minutes at 50,000 profiles) or a refresh of every need runs in
another thread (after a refit), a request does not wait for that work: it is answered
from what is stored, and says so (``Served.version`` is ``None``: the lists as an
earlier index stored them, the previous run's for instance; each row keeps the index
version that ranked it). A need with nothing stored yet (published since, or a new
database) is ranked on demand once the warm-up has fitted, with the snapshot the
refresh ranks with, and stored; the refresh leaves it out (``refresh_run.Run.claim``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from .index import MatchingIndex, item_key
from .models import BY_DEPARTMENT, BY_HAND, Suggestion
from .refresh import ensure_fresh, store
from .refresh_run import Run, changed

__all__ = ["SUGGESTION_HEADERS", "Served", "first_fit", "prepare"]

# the answer's headers, as OpenAPI describes them (``responses={200: {"headers": …}}``)
SUGGESTION_HEADERS = {
    "X-Suggestions-Source": {
        "description": "index: このサーバーの索引で順位付けした一覧（版は X-Index-Version）。"
        "stored: 索引の準備中（起動直後や作り直しの最中）のため、以前に保存した一覧"
        "（各提案の index_version がそれを順位付けした版）",
        "schema": {"type": "string", "enum": ["index", "stored"]},
    },
    "X-Index-Version": {
        "description": "一覧を順位付けした索引の版（X-Suggestions-Source が index のとき）",
        "schema": {"type": "string"},
    },
}


@dataclass(frozen=True)
class Served:
    """``version``: the index version the lists were ranked with in this process; ``None``
    when they are as stored before (the process's index is still being prepared)."""

    version: str | None

    @property
    def headers(self) -> dict[str, str]:
        """Said with the API's answer: ``X-Suggestions-Source`` ``index`` (with
        ``X-Index-Version``) or ``stored``."""
        if self.version is None:
            return {"X-Suggestions-Source": "stored"}
        return {"X-Suggestions-Source": "index", "X-Index-Version": self.version}


STORED = Served(None)


def prepare(
    session: Session, index: MatchingIndex, *, top: int, need_id: int | None = None
) -> Served:
    """Make the stored suggestions (of ``need_id``, or every need's) ready to read, and
    say what they are: brought up to the index, or as stored while a refresh of every
    need is under way in another thread (see the module)."""
    run = index.running
    if not index.warming and (run is None or not run.full):
        return Served(ensure_fresh(session, index, top=top))
    if need_id is None:
        return STORED
    key = item_key(need_id)
    if _ranked_before(session, need_id):
        return Served(run.snap.version) if run is not None and run.stored(key) else STORED
    run = _started(index)
    ranker = run.snap.ranker if run is not None else None
    if run is None or ranker is None or key not in ranker.need_index_:
        # not in the index being stored (a draft, or published since): wait, as before
        return Served(ensure_fresh(session, index, top=top))
    if run.claim(key):
        try:
            lists, _ = store(session, run.snap, index, [key], [], top=top)
        except BaseException:
            session.rollback()
            run.give_back(key)
            raise
        run.give(key, lists.get(key, []))
        return Served(run.snap.version)
    if run.stored(key):
        return Served(run.snap.version)
    return Served(ensure_fresh(session, index, top=top))  # the refresh failed


def first_fit(index: MatchingIndex) -> bool:
    """The warm-up is fitting the process's first index: a request that only reads the
    index (``sync``) would wait for that fit, which takes minutes at 50,000 profiles."""
    return index.warming and index.ranker is None


def _ranked_before(session: Session, need_id: int) -> bool:
    """Whether a ranking ever stored a suggestion for the need (a pair a person made, by
    hand or a department's proposal, is not one)."""
    query = (
        select(Suggestion.id)
        .where(Suggestion.need_id == need_id)
        .where(col(Suggestion.model_version).not_in((BY_HAND, BY_DEPARTMENT)))
        .limit(1)
    )
    return session.exec(query).first() is not None


def _started(index: MatchingIndex) -> Run | None:
    """The refresh under way, once the warm-up has fitted and started it (``None`` if the
    warm-up ended without one)."""
    with changed:
        while index.warming and index.running is None:
            changed.wait(1.0)
        return index.running
