"""The fitted index left out of the garbage collector's full passes (#14).

A fit, or a saved fit read back (unpickled with the collector paused), is a million
objects the cyclic collector tracks. Each full pass over them took 230–400 ms at 50,000
profiles, every few seconds while every need was stored, and the first after a start
fell inside the promoted model's build (0.37 s of a restart's wait, the GIL held). Once a
fit is made or read, ``freeze_fit`` moves what the process holds out of those passes
(``gc.freeze``), before the model is built over it; the model's own rows once built
(``freeze_more``). What an earlier fit froze is let go first (unfreeze, then one full
pass; in the refit's thread, not a request's). The process's first freeze makes no pass:
nothing was frozen to let go, and at a start the pass (150–230 ms at 50,000 profiles)
would delay the first requests, which wait for this index; what little is garbage then is
collected at the next fit's freeze. The ranker has no reference cycles: a copy an edit
replaces is freed by its reference count, frozen or not.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import matching

__all__ = ["FREEZE_FROM", "freeze_fit", "freeze_more"]

# the size (needs and profiles) from which a fit is frozen: below it a full pass is cheap
FREEZE_FROM = 5000


def _large(ranker: matching.TfidfRanker | None) -> bool:
    return ranker is not None and len(ranker.need_ids_) + len(ranker.org_ids_) >= FREEZE_FROM


def freeze_fit(ranker: matching.TfidfRanker | None) -> None:
    """``ranker`` just fitted or read: what an earlier fit froze let go, and everything
    held now frozen."""
    if not _large(ranker):
        return
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def freeze_more(ranker: matching.TfidfRanker | None) -> None:
    """What was made over ``ranker``'s fit since ``freeze_fit`` (the promoted model's
    rows) frozen with it, nothing let go."""
    if _large(ranker):
        gc.freeze()
