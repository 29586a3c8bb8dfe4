"""Which needs' top lists an edit can move under a learned model (#14): the learned
counterpart of ``needs_to_rerank``, for a model rebound over an edit (``rebind``).

What the learned score of a pair (need ``i``, profile ``j``) reads, in ``rank_orgs``:

- the expanded cold-start score ``e(i, j)``: need ``i``; profile ``j`` and its hubness;
  the needs ``j`` was confirmed for (an informative confirmation) and their vectors;
- the candidates: the ``candidates`` best ``e(i, ·)`` of the need; with no re-ranking
  model (``α = 0``) the list is the best ``e`` among them, that is of the whole row;
- with a re-ranking model (``α > 0``), the features of the pair among the candidates:
  ``e`` and its share of the need's best (the first candidate), the pair's text, fields,
  area, kind, population, forms (need ``i`` and profile ``j`` alone), the decisions on
  ``j`` for other needs weighted by those needs' similarity to ``i``, and BM25 as a share
  of the need's best over every profile. BM25's IDF and mean length are the fit's
  (``_bm25_parts``): an edit moves the edited profiles' BM25 alone, and with it the best
  of the needs it scored highest for or now does (those are ranked again).

So between a model and its rebind, a need's list can change only if the need changed, or
a "moved" profile (edited, added, removed, its hubness or its confirmed needs or, with
``α > 0``, its decisions' needs changed) was on its list or among its candidates, or now
scores within them: its ``e`` at least the list's last score (``α = 0``) or the need's
last candidate's (``floors``, kept from the ranking, ``α > 0``), or (``α > 0``) a moved
profile scored or now scores its best BM25 score. Those needs, ranked again, give the
lists a ranking of every need gives; the others' best scores are the old model's, and
are handed to the rebind (``_carry_bests``), and so are the best BM25 scores of the needs
ranked again whose words are the same and whose best no changed profile held or reaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._changes import RerankScope, _same_fit, hubness_moved
from ._decision import Decision
from ._lineage import Edit, edit_between
from ._topk import Ranking

if TYPE_CHECKING:
    from ._learn import LearnedRanker

__all__ = ["learned_needs_to_rerank"]

# a column restricted to a few profiles may differ in its last digit (float32 word
# vectors): a moved profile this close below a threshold counts as reaching it
_TOLERANCE = 1e-5
# BM25 scores are float32 sums of tens of parts, up to tens: they compare within this share
_RELATIVE = 1e-5
_BLOCK = 1024


def _same_model(old: LearnedRanker, new: LearnedRanker) -> bool:
    """``new`` is ``old`` rebound: the same learned stages over one fit."""
    learned = ("model_", "dense_map_")
    return (
        old.promoted_
        and new.promoted_
        and all(getattr(old, a, None) is getattr(new, a, None) for a in learned)
        and (old.alpha_, old.expansion_, old.calibration_, old.facts_, old.candidates)
        == (new.alpha_, new.expansion_, new.calibration_, new.facts_, new.candidates)
        and _same_fit(old.base_, new.base_)
    )


def _confirmed_by_group(model: LearnedRanker) -> dict[str, set[str]]:
    """The needs each profile was confirmed for (informative confirmations), by id."""
    b = model.base_
    rows, cols = model.confirmed_.nonzero()
    out: dict[str, set[str]] = {}
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        out.setdefault(b.org_ids_[j], set()).add(b.need_ids_[i])
    return out


def _decided_by_group(decisions: Sequence[Decision]) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for d in decisions:
        out.setdefault(d.npo_id, []).append((d.need_id, d.decision, d.about))
    return out


def _moved(
    old: LearnedRanker,
    new: LearnedRanker,
    changed_orgs: set[str],
    changed_needs: set[str],
    edit: Edit,
) -> set[str]:
    """The profiles still indexed whose column of ``e`` (and, with ``α > 0``, of the
    pair features) may differ for an unchanged need."""
    before, after = old.base_, new.base_
    moved = set(changed_orgs)
    hub = hubness_moved(before, after, edit.org_source)
    moved.update(after.org_ids_[j] for j in np.flatnonzero(hub).tolist())
    touched = changed_needs | set(edit.gone_needs)
    if new.expansion_:
        was, now = _confirmed_by_group(old), _confirmed_by_group(new)
        moved.update(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
        moved.update(k for k, needs in now.items() if needs & touched)
    if new.alpha_:
        was_d, now_d = _decided_by_group(old.decisions_), _decided_by_group(new.decisions_)
        moved.update(k for k in was_d.keys() | now_d.keys() if was_d.get(k) != now_d.get(k))
        moved.update(k for k, ds in now_d.items() if any(q in touched for q, _, _ in ds))
    return {k for k in moved if k in after.org_index_}


def _bm25_best_moved(
    old: LearnedRanker, new: LearnedRanker, changed_orgs: set[str], gone: set[str]
) -> set[str] | None:
    """Needs (ids, in both) whose best BM25 score over every profile may differ: a
    changed or removed profile scored it (within the tolerance), or a changed or added one
    now reaches it. BM25's statistics are the fit's in both (``_bm25_parts``), so the
    other profiles' scores are as they were. ``None`` when a need's best was not kept
    (the old model did not rank every need)."""
    before, after = old.base_, new.base_
    kept = [k for k in after.need_ids_ if k in before.need_index_]
    if not (changed_orgs or gone) or not kept:
        return set()
    bests = old.features_.bests.get("bm25", {})
    rows = np.array([before.need_index_[k] for k in kept], dtype=np.intp)
    if any(r not in bests for r in rows.tolist()):
        return None
    best = np.array([bests[r] for r in rows.tolist()])
    reached = np.zeros(len(kept), dtype=bool)
    old_parts, new_parts = old.features_._bm25_index(), new.features_._bm25_index()
    old_words, new_words = old.features_.org_tokens, new.features_.org_tokens
    assert old_words is not None and new_words is not None
    # a profile whose words did not change (its 活動分野, area, name) keeps its BM25
    worded = {
        k
        for k in changed_orgs
        if k not in before.org_index_
        or old_words[before.org_index_[k]] != new_words[after.org_index_[k]]
    }
    was = [before.org_index_[k] for k in sorted(worded | gone) if k in before.org_index_]
    now = [after.org_index_[k] for k in sorted(worded)]
    for features, parts, cols, index in (
        (old.features_, old_parts, was, before),
        (new.features_, new_parts, now, after),
    ):
        if cols:
            queries = features.need_token_ids([index.need_index_[k] for k in kept])
            near = best - _TOLERANCE - _RELATIVE * best  # (float32 sums of up to ~50)
            reached |= (parts.against_ids(queries, cols) >= near).any(axis=0)
    return {k for k, hit in zip(kept, reached.tolist(), strict=True) if hit}


def _reach(
    model: LearnedRanker, cols: np.ndarray, thresholds: np.ndarray, *, positive: bool
) -> set[str]:
    """Needs (ids) whose ``e`` with one of profile rows ``cols`` reaches their threshold
    (and is positive: a list keeps positive scores only; the candidates need not)."""
    out: set[str] = set()
    if not len(cols):
        return out
    stage, b = model.expansion_stage_, model.base_
    rows = np.arange(len(b.need_ids_))
    for start in range(0, len(rows), _BLOCK):
        chunk = rows[start : start + _BLOCK]
        scores = stage.scores(chunk, None, model.expansion_, cols)[0]
        near = (scores >= thresholds[chunk, None]) & ((scores > 0) | (not positive))
        out.update(b.need_ids_[r] for r in chunk[near.any(axis=1)].tolist())
    return out


def learned_needs_to_rerank(
    old: LearnedRanker,
    new: LearnedRanker,
    previous: Mapping[str, Ranking],
    *,
    top: int,
    floors: Mapping[str, float] | None = None,
    max_share: float = 0.25,
) -> RerankScope | None:
    """The needs whose ``top`` list may differ between ``old`` (whose lists are
    ``previous``, each need's ranked pairs with a positive score, and, with a re-ranking
    model, ``floors``: each need's last candidate's ``e``, from ``rank_orgs``) and its
    rebind ``new``; ``None`` when every need must be ranked again (another model or fit,
    a need without a previous list or floor, more than ``max_share`` of the profiles
    moved, or, with a re-ranking model and a profile changed, a need whose best BM25
    score ``old`` did not keep)."""
    if not _same_model(old, new):
        return None
    before, after = old.base_, new.base_
    kept_needs = [k for k in after.need_ids_ if k in before.need_index_]
    if any(k not in previous for k in kept_needs):
        return None
    reranked = new.alpha_ > 0
    pools = floors or {}
    if reranked and any(k not in pools for k in kept_needs):
        return None
    edit = edit_between(before, after)
    changed_needs = {after.need_ids_[i] for i in edit.needs.tolist()}
    changed_orgs = {after.org_ids_[j] for j in edit.orgs.tolist()}
    removed = edit.gone_needs
    gone = set(edit.gone_orgs)
    moved = _moved(old, new, changed_orgs, changed_needs, edit)
    if len(moved) + len(gone) > max_share * max(len(after.org_ids_), 1):
        return None
    best_moved = _bm25_best_moved(old, new, changed_orgs, gone) if reranked else set()
    if best_moved is None:
        return None
    rerank = set(changed_needs) | best_moved
    watched = moved | gone
    thresholds = np.zeros(len(after.need_ids_))
    for r, key in enumerate(after.need_ids_):
        ranking = previous.get(key)
        if key in changed_needs or ranking is None:
            continue
        if any(org in watched for org, _ in ranking):
            rerank.add(key)
        elif reranked:
            thresholds[r] = pools[key] - _TOLERANCE
        elif len(ranking) >= top:
            thresholds[r] = ranking[-1][1] - _TOLERANCE
    cols = np.array(sorted(after.org_index_[k] for k in moved), dtype=np.intp)
    rerank |= _reach(new, cols, thresholds, positive=not reranked)
    if reranked:  # a moved profile among the candidates before: the others' order moves
        was = np.array(
            sorted(before.org_index_[k] for k in moved | gone if k in before.org_index_),
            dtype=np.intp,
        )
        old_thresholds = np.array(
            [pools[k] - _TOLERANCE if k in pools else np.inf for k in before.need_ids_]
        )
        rerank |= _reach(old, was, old_thresholds, positive=False) & set(after.need_index_)
        _carry_bests(old, new, float(new.expansion_), [k for k in kept_needs if k not in rerank])
        # a need's best BM25 score moves only with its words or a profile's it held or
        # now reaches: the others ranked again keep theirs too (and read their pairs'
        # BM25 from those profiles alone, not scored against every profile)
        still = [k for k in kept_needs if k not in best_moved and k not in changed_needs]
        _carry_bests(old, new, "bm25", still)
    return RerankScope(needs=[k for k in after.need_ids_ if k in rerank], removed=removed)


def _carry_bests(
    old: LearnedRanker, new: LearnedRanker, key: float | str, unmoved: Sequence[str]
) -> None:
    """Give ``new`` the best scores of ``key`` (the cold start's by the expansion's β, or
    ``"bm25"``) that ``old`` kept of the needs ``unmoved``, whose best the edit cannot
    move: for the cold start, no moved profile was or now is among their candidates (the
    best is the first); for BM25, none held or now reaches their best and their words
    are the same. So the refresh that ranks the other needs leaves every need's bests
    kept (the next edit is scoped too, and a group's page reads them instead of scoring
    its needs against every profile)."""
    before, after = old.base_, new.base_
    kept = old.features_.bests.get(key, {})
    target = new.features_.bests.setdefault(key, {})
    for k in unmoved:
        i = before.need_index_[k]
        if i in kept:
            target.setdefault(after.need_index_[k], kept[i])
