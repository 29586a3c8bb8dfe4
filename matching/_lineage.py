"""What changed between two states of one fit, from the edits that led from one to the
other (#14).

A ranker's ``upsert`` and ``remove`` replace its attributes on a copy; the service keeps
the state it last ranked with, and a learned model the state it last bound to. To find
the needs an edit can move (``needs_to_rerank``) and the rows a rebind must compute
again (``rebind_in_place``), both compared every item of the two states, and looked
every id up in the other's index: Python loops over all 50,000 profiles, a fifth of a
registration's time under a learned model. Instead, a fit starts a ``Lineage`` that its
copies share; each edit records the ids it touched and the edit it was made on. The ids
changed between a state and a later one are then those of the edits between them, and
only those items are compared. When the two states are not one the other's descendant
by recorded edits (another fit, a rebuild, a ranker saved before lineages), every item is
compared as before: the answer is the same either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    from ._ranker import TfidfRanker

__all__ = ["Edit", "Lineage", "edit_between", "note_edit", "start_lineage"]


@dataclass
class Lineage:
    """The edits made from one fit: each edit's number → (the edit it was made on, the
    need ids and the profile ids it touched). 0 is the fit itself."""

    entries: dict[int, tuple[int, frozenset[str], frozenset[str]]] = field(default_factory=dict)
    first: int = 1  # the first number this lineage gives (after a saved one's)
    counter: Any = field(default_factory=lambda: itertools.count(1), repr=False)

    def __getstate__(self) -> dict[str, Any]:
        # a saved state's loaded copies start their edits afresh (the saved state is their
        # root: no entry is kept), numbered after every edit made so far (a loaded
        # ranker's ``_edit`` is one of those); the counter itself is not pickled
        return {"entries": {}, "first": max(self.entries, default=self.first - 1) + 1}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.entries = dict(state.get("entries", {}))
        self.first = int(state.get("first", 1))
        self.counter = itertools.count(self.first)


def start_lineage(ranker: TfidfRanker) -> None:
    """A fit (or a rebuild): the state its copies' edits descend from."""
    ranker._lineage = Lineage()
    ranker._edit = 0


def note_edit(ranker: TfidfRanker, needs: set[str], orgs: set[str]) -> None:
    """Record that ``ranker`` (a copy, just edited) touched these ids."""
    lineage: Lineage | None = getattr(ranker, "_lineage", None)
    if lineage is None:
        return
    number = next(lineage.counter)  # (atomic: copies edited in two threads get two numbers)
    lineage.entries[number] = (ranker._edit, frozenset(needs), frozenset(orgs))
    ranker._edit = number


def _touched(old: TfidfRanker, new: TfidfRanker) -> tuple[set[str], set[str]] | None:
    """The ids the edits from ``old`` to ``new`` touched; ``None`` when ``new`` does not
    descend from ``old`` by recorded edits."""
    lineage = getattr(new, "_lineage", None)
    if lineage is None or getattr(old, "_lineage", None) is not lineage:
        return None
    entries = cast(Lineage, lineage).entries
    needs: set[str] = set()
    orgs: set[str] = set()
    at: int = new._edit
    goal: int = old._edit
    while at != goal:
        entry = entries.get(at)
        if entry is None:  # the fit reached: ``old`` is no ancestor
            return None
        at = entry[0]
        needs |= entry[1]
        orgs |= entry[2]
    return needs, orgs


@dataclass(frozen=True)
class Edit:
    """Between two states of one fit, per side: the rows of the new state whose item is
    new or differs (``needs``, ``orgs``: row numbers, ascending), the ids of the old state
    gone from the new (in the old state's order), and for each new row its old row
    (``need_source``, ``org_source``: -1 where the id is new)."""

    needs: np.ndarray
    orgs: np.ndarray
    gone_needs: list[str]
    gone_orgs: list[str]
    need_source: np.ndarray
    org_source: np.ndarray


def edit_between(old: TfidfRanker, new: TfidfRanker) -> Edit:
    """What changed from ``old`` to ``new`` (two states of one fit)."""
    touched = _touched(old, new)
    need_side = _side(old.needs_, old.need_index_, new.needs_, new.need_index_, touched, 0)
    org_side = _side(old.orgs_, old.org_index_, new.orgs_, new.org_index_, touched, 1)
    return Edit(need_side[0], org_side[0], need_side[1], org_side[1], need_side[2], org_side[2])


def _side(
    old_items: Sequence[Any],
    old_index: Mapping[str, int],
    new_items: Sequence[Any],
    new_index: Mapping[str, int],
    touched: tuple[set[str], set[str]] | None,
    side: int,
) -> tuple[np.ndarray, list[str], np.ndarray]:
    if touched is None:
        return _scanned(old_items, old_index, new_items, new_index)
    ids = touched[side]
    gone_rows = sorted(old_index[k] for k in ids if k in old_index and k not in new_index)
    added_rows = sorted(new_index[k] for k in ids if k in new_index and k not in old_index)
    changed = sorted(
        new_index[k]
        for k in ids
        if k in new_index
        and (k not in old_index or _differs(old_items[old_index[k]], new_items[new_index[k]]))
    )
    # the other ids keep their order (both states are in id order): they pair up in turn
    source = np.full(len(new_items), -1, dtype=np.intp)
    source[np.delete(np.arange(len(new_items)), added_rows)] = np.delete(
        np.arange(len(old_items)), gone_rows
    )
    gone = [old_items[r].id for r in gone_rows]
    return np.array(changed, dtype=np.intp), gone, source


def _scanned(
    old_items: Sequence[Any],
    old_index: Mapping[str, int],
    new_items: Sequence[Any],
    new_index: Mapping[str, int],
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``_side`` by comparing every item."""
    source = np.array([old_index.get(item.id, -1) for item in new_items], dtype=np.intp)
    changed = [
        j for j, i in enumerate(source.tolist()) if i < 0 or _differs(old_items[i], new_items[j])
    ]
    gone = [item.id for item in old_items if item.id not in new_index]
    return np.array(changed, dtype=np.intp), gone, source


def _differs(old: Any, new: Any) -> bool:
    """Another item (the same object is the same item; others are compared)."""
    return old is not new and bool(old != new)
