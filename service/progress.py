"""What the matching index is doing, for ``/api/index`` and the models page (#14)."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Progress"]


@dataclass
class Progress:
    """What the index is doing: ``idle``, ``fitting``, ``waiting`` (for another worker's
    refresh of every need: ``refresh._alone``) or ``ranking`` (the stored
    suggestions of every need, or of the needs a change can move), how far, since when;
    and how long the last run took, over how many."""

    state: str = "idle"
    done: int = 0
    total: int = 0
    started: float = 0.0
    last_state: str = ""
    last_seconds: float = 0.0
    last_total: int = 0

    def start(self, state: str, total: int = 0) -> None:
        self.state, self.done, self.total, self.started = state, 0, total, time.monotonic()

    def finish(self) -> None:
        self.last_state, self.last_seconds = self.state, time.monotonic() - self.started
        self.last_total = self.total
        self.state, self.done, self.total = "idle", 0, 0

    def as_dict(self) -> dict[str, object]:
        running = self.state != "idle"
        return {
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "seconds": round(time.monotonic() - self.started, 1) if running else 0.0,
            "last_state": self.last_state,
            "last_seconds": round(self.last_seconds, 1),
            "last_total": self.last_total,
        }
