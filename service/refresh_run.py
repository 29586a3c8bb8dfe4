"""A refresh of the stored suggestions under way, as requests meet it (``index.running``).

A refresh stores its needs ``refresh.CHUNK`` at a time, each chunk in a transaction of
its own. A request that cannot wait for the whole refresh (``served``) may store the one
need it asks for itself, with the refresh's snapshot, so the refresh leaves that need
out; or wait for the one transaction that holds it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .index import MatchingIndex
    from .refresh import Snapshot

__all__ = ["Run", "announce", "changed"]


class Run:
    """A refresh under way (``index.running``): the snapshot it ranks with, and where each
    of its needs stands. It stores ``CHUNK`` needs a transaction; a request that cannot
    wait for all of them stores the one need it asks for itself, with the same snapshot
    (``claim``), and the refresh leaves that need out."""

    def __init__(self, snap: Snapshot, needs: list[str], *, full: bool) -> None:
        self.snap, self.full = snap, full
        self.cond = threading.Condition()
        self.order, self.next = list(needs), 0
        self.todo = set(needs)  # not taken yet, by the refresh or by a request
        self.open: set[str] = set()  # in the refresh's transaction, not committed yet
        self.done: set[str] = set()  # committed by the refresh
        self.early: dict[str, list[tuple[str, float]] | None] = {}  # by requests (None: storing)
        self.closed = False

    def take(self, size: int) -> list[str]:
        """The refresh's next needs, its last transaction committed."""
        with self.cond:
            self.done |= self.open
            chunk: list[str] = []
            while self.next < len(self.order) and len(chunk) < size:
                key = self.order[self.next]
                self.next += 1
                if key in self.todo:
                    chunk.append(key)
            self.todo.difference_update(chunk)
            self.open = set(chunk)
            self.cond.notify_all()
            return chunk

    def settle(self) -> bool:
        """Once the refresh has taken every need: wait for the requests storing one;
        ``True`` when one of them gave its need back (it failed) for the refresh to store."""
        with self.cond:
            while not self.todo and any(v is None for v in self.early.values()):
                self.cond.wait()
            return bool(self.todo)

    def early_lists(self) -> dict[str, list[tuple[str, float]]]:
        with self.cond:
            return {k: v for k, v in self.early.items() if v is not None}

    def stored(self, key: str) -> bool:
        """Whether ``key``'s list is stored by this run (committed)."""
        with self.cond:
            return key in self.done or self.early.get(key) is not None

    def claim(self, key: str) -> bool:
        """For a request: ``True`` when it is to store ``key`` itself (then ``give``, or
        ``give_back`` if it failed); ``False`` when the run has stored it or will not,
        after waiting for the transaction that holds it."""
        with self.cond:
            while not self.closed and (
                key in self.open or (key in self.early and self.early[key] is None)
            ):
                self.cond.wait()
            if self.closed or key not in self.todo:
                return False
            self.todo.discard(key)
            self.early[key] = None
            return True

    def give(self, key: str, ranking: list[tuple[str, float]]) -> None:
        with self.cond:
            self.early[key] = ranking
            self.cond.notify_all()

    def give_back(self, key: str) -> None:
        with self.cond:
            del self.early[key]
            if not self.closed:
                self.todo.add(key)
                self.order.append(key)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed, self.open = True, set()
            self.cond.notify_all()


# notified when a process's warm-up ends or a refresh starts or ends (``_announce``)
changed = threading.Condition()


def announce(index: MatchingIndex, **state: Any) -> None:
    """Set ``state`` on ``index`` (``running``, ``warming``) and wake whoever waits for it."""
    with changed:
        for name, value in state.items():
            setattr(index, name, value)
        changed.notify_all()
