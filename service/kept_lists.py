"""The lists a refresh of every need stored, kept beside the saved fit they came from.

A restart (or another worker) that loads a saved fit used to rank, compare and explain
every need again before its warm-up ended, only to find the stored rows as they were:
at 50,000 profiles, minutes of both cores. Now a refresh of every need made with a saved
fit, no edit applied to it yet (or, after a start resumed it, only the one batch of rows
written since: ``MatchingIndex.saved_key``), keeps its lists beside the fit (``SavedIndexes.
save_lists``); a process about to rank every need with the same fit (a restart, or a
second worker: it waits for the first, ``SavedIndexes.refreshing``) takes them as its last
refresh (``Refreshed``) and stores nothing: the rows are what those lists wrote.

The fit's key names the data (``saved_index.fit_key``): an edit to a need or a profile
is another fit. Decisions do not change a list (a refresh never rewrites a decided row).
What could change the rows without changing the data is checked by ``mark``: the
number of ranked rows and the newest one's id, read when the lists were kept and again
before they are taken (rows deleted or written by other means: then every need is
ranked again, as before). A pair made by hand is confirmed, with no rank: no refresh
reads or writes it.

Under a learned model the lists come with each need's best scores the ranking kept
(``LearnedRanker.kept_bests``): a process that takes the lists gives them to its model
(``take_bests``), so that its first edit ranks only the needs the edit can move, as the
process that ranked every need would, instead of every need.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from .index import MatchingIndex, Refreshed
from .models import Suggestion

if TYPE_CHECKING:
    from .refresh import Snapshot

__all__ = ["keep", "kept", "mark"]

log = logging.getLogger(__name__)


def mark(session: Session) -> list[int]:
    """The stored suggestions' ranked rows counted, and the newest of them (a pair made
    by hand has no rank: it is not one)."""
    count, newest = session.exec(
        select(func.count(col(Suggestion.id)), func.max(Suggestion.id)).where(
            col(Suggestion.rank).is_not(None)
        )
    ).one()
    return [int(count or 0), int(newest or 0)]


def keep(
    session: Session, index: MatchingIndex, snap: Snapshot, done: Refreshed | None, *, top: int
) -> None:
    """After a refresh of every need: keep its lists beside the saved fit it ranked with
    (none when the fit is not saved, or an edit was applied to it)."""
    if index.saved is None or snap.fit_key is None or done is None:
        return
    state = {
        "model": snap.model,
        "top": top,
        "mark": mark(session),
        "lists": done.lists,
        "floors": done.floors,
        # a learned model's best scores of each need, which scope the next edit
        "bests": done.learned.kept_bests() if done.learned is not None else {},
    }
    index.saved.save_lists(snap.fit_key, state)


def kept(session: Session, index: MatchingIndex, snap: Snapshot, *, top: int) -> Refreshed | None:
    """The kept lists of the snapshot's fit, as this process's last refresh (the rows are
    what they wrote); ``None`` when there are none or the rows may have changed since."""
    if index.saved is None or snap.fit_key is None or snap.ranker is None:
        return None
    state = index.saved.load_lists(snap.fit_key)
    if state is None or (state.get("model"), state.get("top")) != (snap.model, top):
        return None
    if state.get("mark") != mark(session):
        log.info("保存済みの提案一覧の後に提案が変わっています。すべての課題を順位付けし直します")
        return None
    log.info(
        "保存済みの提案一覧を使います（課題 %d 件の順位付けを省きました）", len(state["lists"])
    )
    if snap.learned is not None:
        snap.learned.take_bests(state.get("bests", {}))
    return Refreshed(snap.ranker, top, state["lists"], snap.learned, dict(state["floors"]))
