"""Which needs' top lists an index change can move (#14): a profile's edit moves the lists
it was on and the lists it now reaches, not every need's.

Between two states of one fit (``upsert``/``remove`` on a copy, same vocabulary and
settings), a pair's score changes only when its need changed, or its profile's column
changed (the profile itself, or its hubness). So a need keeps its top list unless it
changed, a changed profile was on its list, or a changed profile now scores at least the
list's last score (any positive score, when the list is not full). ``needs_to_rerank``
finds those needs from the changed profiles' columns alone; ranking them again gives the
same lists as ranking every need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._lineage import edit_between
from ._ranker import TfidfRanker
from ._topk import Ranking

if TYPE_CHECKING:
    from ._learn import LearnedRanker

__all__ = ["RerankScope", "needs_to_rerank"]

# float32 word vectors: a score computed in a block of another shape may differ in its
# last digit, so a changed profile this close below a list's last score is ranked again
_TOLERANCE = 1e-5
_BLOCK = 1024


@dataclass(frozen=True)
class RerankScope:
    """The needs to rank again (ids in ``new``) and the needs gone since (ids in ``old``)."""

    needs: list[str]
    removed: list[str]


def _same_fit(old: TfidfRanker, new: TfidfRanker) -> bool:
    """The two share one fit (vocabulary, IDF, topics, word vectors, a learned need →
    partner map) and one setting."""
    shared = ("vectorizer_", "expander_", "svd_", "dense_", "neighbours_", "dense_map_")
    return all(getattr(old, a, None) is getattr(new, a, None) for a in shared) and (
        old.get_params(deep=False) == new.get_params(deep=False)
    )


def hubness_moved(before: TfidfRanker, after: TfidfRanker, kept: np.ndarray) -> np.ndarray:
    """Per profile of ``after``: its hubness differs from its own in ``before`` (a profile
    new to ``after`` does not count); ``kept``: each profile's row in ``before``, -1 if
    new (``Edit.org_source``)."""
    if after.hubness_ is before.hubness_:
        return np.zeros(len(after.org_ids_), dtype=bool)
    if after.org_ids_ == before.org_ids_:
        return np.asarray(before.hubness_ != after.hubness_)
    known = kept >= 0
    differs = np.zeros(len(kept), dtype=bool)
    differs[known] = before.hubness_[kept[known]] != after.hubness_[known]
    return differs


def needs_to_rerank(
    old: TfidfRanker | LearnedRanker | None,
    new: TfidfRanker | LearnedRanker | None,
    previous: Mapping[str, Ranking],
    *,
    top: int,
    max_share: float = 0.25,
    floors: Mapping[str, float] | None = None,
) -> RerankScope | None:
    """The needs whose ``top`` list may differ between ``old`` (whose lists are
    ``previous``: each need's ranked pairs with a positive score) and ``new``; ``None``
    when every need must be ranked again (another fit, other settings, a need without a
    previous list, or more than ``max_share`` of the profiles changed).

    Two learned rankers (``new`` a ``rebind`` of ``old``): ``_learn_scope``, which says
    what a learned score reads (``floors``: as ``LearnedRanker.rank_orgs`` fills them)."""
    if old is None or new is None:
        return None
    if not isinstance(old, TfidfRanker) and not isinstance(new, TfidfRanker):
        from ._learn_scope import learned_needs_to_rerank

        return learned_needs_to_rerank(
            old, new, previous, top=top, floors=floors, max_share=max_share
        )
    if not isinstance(old, TfidfRanker) or not isinstance(new, TfidfRanker):
        return None  # a learned model started or stopped ranking
    if not _same_fit(old, new):
        return None
    if any(key not in previous for key in new.need_ids_ if key in old.need_index_):
        return None
    edit = edit_between(old, new)
    rerank = {new.need_ids_[r] for r in edit.needs.tolist()}
    removed = edit.gone_needs
    hub_moved = hubness_moved(old, new, edit.org_source)
    cols = np.union1d(edit.orgs, np.flatnonzero(hub_moved)).astype(np.intp)
    gone = set(edit.gone_orgs)
    if len(cols) + len(gone) > max_share * max(len(new.org_ids_), 1):
        return None
    watched = gone | {new.org_ids_[j] for j in cols}
    thresholds = np.zeros(len(new.need_ids_))
    for r, key in enumerate(new.need_ids_):
        ranking = previous.get(key)
        if ranking is None:
            continue
        if any(org in watched for org, _ in ranking):
            rerank.add(key)
        elif len(ranking) >= top:
            thresholds[r] = ranking[-1][1] - _TOLERANCE
    if len(cols):
        rows = np.arange(len(new.need_ids_))
        for start in range(0, len(rows), _BLOCK):
            chunk = rows[start : start + _BLOCK]
            scores = new.score_block(chunk, cols)
            reach = ((scores > 0) & (scores >= thresholds[chunk, None])).any(axis=1)
            rerank.update(new.need_ids_[r] for r in chunk[reach])
    return RerankScope(needs=[k for k in new.need_ids_ if k in rerank], removed=removed)
