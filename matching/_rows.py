"""The ranker's incremental updates (``upsert``, ``remove``): rows spliced in and out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import scipy.sparse as sp

from ._columns import Columns
from ._factors import PairSignals, field_matrix
from ._hubness import as_high
from ._kinds import profile_text
from ._lineage import note_edit
from ._memory import release_freed
from ._schema import Need, Organization
from ._signals import members_only

if TYPE_CHECKING:
    from ._ranker import TfidfRanker

__all__ = ["remove_items", "splice_needs", "splice_orgs", "upsert_items"]

Item = TypeVar("Item", Need, Organization)


def _splicer(keep: list[int], take: np.ndarray) -> Callable[[Any, Any], Any]:
    """Rows ``keep`` of a matrix, then ``fresh`` rows, reordered by ``take``: each row
    copied once into the result (not into a kept part, a stack and the reordering)."""
    kept = np.asarray(keep, dtype=np.intp)
    is_fresh = take >= len(kept)
    # the row of ``old`` for each result row (fresh rows: the first, overwritten after)
    source = np.zeros(len(take), dtype=np.intp)
    source[~is_fresh] = kept[take[~is_fresh]]
    fresh_at = np.flatnonzero(is_fresh)

    def spliced(old: Any, fresh: Any) -> Any:
        if fresh is None or not len(fresh_at):
            return old[source]
        if sp.issparse(old):
            stacked = sp.vstack([old, fresh], "csr")
            return stacked[np.where(is_fresh, old.shape[0] + take - len(kept), source)]
        out = np.asarray(old)[source] if len(old) else np.empty((len(take), *old.shape[1:]))
        out = out.astype(np.result_type(old, fresh), copy=False)
        out[fresh_at] = fresh[take[fresh_at] - len(kept)]
        return out

    return spliced


def _spliced_list(old: list[Any], keep: list[int], fresh: list[Any], take: np.ndarray) -> list[Any]:
    """A per-item list spliced like the matrices: rows ``keep``, then ``fresh``, by ``take``."""
    rows = [old[k] for k in keep] + list(fresh)
    return [rows[k] for k in take]


def _order(items: Sequence[Need] | Sequence[Organization]) -> np.ndarray:
    return np.array(sorted(range(len(items)), key=lambda k: items[k].id), dtype=np.intp)


def splice_needs(ranker: TfidfRanker, keep: list[int], added: Sequence[Need]) -> None:
    """``ranker``'s index with the needs at rows ``keep`` and the ``added`` ones, in id
    order: only the added rows are vectorised, expanded and measured (signals, topics,
    word vectors), the rest is copied. Equal to rebuilding every row (``rebuild``) over
    the same rows, the profiles' hubness included (``_hub_update``: the added needs'
    scores merge into each profile's kept best scores; only the profiles a removed need
    was a best score of are measured again). Past ``HUB_SAMPLE`` needs the hubness stays
    as last measured until the next ``fit`` or ``rebuild``."""
    needs = [ranker.needs_[i] for i in keep] + list(added)
    take = _order(needs)
    spliced = _splicer(keep, take)
    new = ranker.vectorizer_.transform_needs(added) if added else None
    kept = set(keep)
    removed = np.array([i for i in range(len(ranker.needs_)) if i not in kept], dtype=np.intp)
    # the profiles whose best scores a removed (or replaced) need was among: measured again
    dirty = _hub_dirty(ranker, removed)
    ranker.needs_ = [needs[k] for k in take]
    ranker.need_ids_ = [n.id for n in ranker.needs_]
    ranker.need_index_ = {n: i for i, n in enumerate(ranker.need_ids_)}
    ranker.need_vectors_ = spliced(ranker.need_vectors_, new)
    ranker.need_fields_ = spliced(ranker.need_fields_, field_matrix(added) if added else None)
    areas, read = ranker._ward_reader().all_areas(added)
    ranker.need_areas_ = _spliced_list(ranker.need_areas_, keep, areas, take)
    ranker.need_areas_read_ = _spliced_list(ranker.need_areas_read_, keep, read, take)
    ranker.signals_ = ranker.signals_.with_needs(keep, PairSignals.of(added, []), take)
    queries = ranker._queries(new) if new is not None else None
    ranker.need_queries_ = spliced(ranker.need_queries_, queries)
    if ranker.svd_ is not None:
        fresh = ranker.topics(new) if new is not None else None
        ranker.need_topics_ = spliced(ranker.need_topics_, fresh)
    if ranker.dense_ is not None:
        fresh = ranker.dense_.transform(new) if new is not None else None
        ranker.need_dense_ = spliced(ranker.need_dense_, fresh)
    ranker._set_areas()
    source = np.concatenate([np.array(keep, dtype=np.intp), np.full(len(added), -1)])[take]
    _hub_update(ranker, np.flatnonzero(source < 0), dirty)


def _hub_dirty(ranker: TfidfRanker, removed: np.ndarray) -> np.ndarray | None:
    """Before the needs at rows ``removed`` go: the profiles they were a best score of
    (``None``: the kept best scores cannot be updated, measure again or keep)."""
    top = ranker.hub_top_
    if not ranker.diversity or top is None:
        return None
    dirty = np.zeros(len(ranker.org_ids_), dtype=bool)
    for start in range(0, len(removed), 256):
        raw = ranker._raw_scores(removed[start : start + 256])
        # (a tolerance: float32 word vectors give a score computed in another block a
        # different eighth digit, and a best score missed would stay in the mean)
        dirty |= ((raw > 0) & (raw >= top[-1][None, :] - 1e-6)).any(axis=0)
    return dirty


def _hub_update(ranker: TfidfRanker, added_rows: np.ndarray, dirty: np.ndarray | None) -> None:
    """After a need splice: the profiles' best scores with the added needs merged in and
    the ``dirty`` profiles measured again: equal to measuring every profile again. Past
    ``HUB_SAMPLE`` needs (a sample measures them) the hubness stays as last measured."""
    from ._ranker import HUB_K, HUB_SAMPLE

    n_needs = len(ranker.need_ids_)
    top = ranker.hub_top_
    if not ranker.diversity:
        return
    if n_needs > HUB_SAMPLE:
        # the sample's needs and k change: next fit or rebuild (``rank_top_`` stays)
        ranker.hub_top_ = None
        return
    if top is None or dirty is None or len(top) != min(HUB_K, n_needs):
        ranker._measure_hubness()  # below the sample size this pass is cheap
        return
    top = top.copy()  # a shallow copy of the ranker may share the old one: never write it
    for start in range(0, len(added_rows), 256):
        raw = ranker._raw_scores(added_rows[start : start + 256])
        top = -np.sort(-np.vstack([top, raw]), axis=0)[: len(top)]
    cols = np.flatnonzero(dirty)
    if len(cols):
        top[:, cols] = ranker._hub_best(cols)
    ranker.hub_top_ = ranker.rank_top_ = top
    ranker.rank_scale_ = 1.0
    ranker.hubness_ = top.mean(axis=0)


def splice_orgs(ranker: TfidfRanker, keep: list[int], added: Sequence[Organization]) -> None:
    """``ranker``'s index with the profiles at rows ``keep`` and the ``added`` ones, in id order:
    only the added rows are vectorised and measured (their signals, topics, word
    vectors and hubness; a profile's hubness is its own column's), the rest is
    copied. Equal to rebuilding every row (``rebuild``) over the same rows."""
    orgs = [ranker.orgs_[j] for j in keep] + list(added)
    take = _order(orgs)
    source = np.concatenate([np.array(keep, dtype=np.intp), np.full(len(added), -1)])[take]
    new = ranker.vectorizer_.transform_orgs(added) if added else None
    spliced = _splicer(keep, take)

    ranker.orgs_ = [orgs[k] for k in take]
    ranker.org_ids_ = [o.id for o in ranker.orgs_]
    ranker.org_index_ = {o: i for i, o in enumerate(ranker.org_ids_)}
    old_vectors = ranker.org_vectors_
    ranker.org_vectors_ = spliced(old_vectors, new)
    kept: Columns | None = getattr(ranker, "org_columns_", None)
    ranker.org_columns_ = None
    if kept is not None and kept.vectors is old_vectors:  # kept through the edit (``_columns``)
        fresh_at = np.flatnonzero(source < 0)
        fresh = new[take[fresh_at] - len(keep)] if new is not None and len(fresh_at) else None
        ranker.org_columns_ = kept.spliced(ranker.org_vectors_, source, fresh, fresh_at)
    ranker.org_fields_ = spliced(ranker.org_fields_, field_matrix(added) if added else None)
    areas, read = ranker._ward_reader().all_areas(added)
    ranker.org_areas_ = _spliced_list(ranker.org_areas_, keep, areas, take)
    ranker.org_areas_read_ = _spliced_list(ranker.org_areas_read_, keep, read, take)
    texts = [profile_text(o) for o in added]
    ranker.members_only_ = spliced(
        ranker.members_only_,
        np.array([members_only(o, text=t) for o, t in zip(added, texts, strict=True)], dtype=bool),
    )
    ranker.signals_ = ranker.signals_.with_orgs(keep, PairSignals.of([], added, texts), take)
    if ranker.svd_ is not None:
        fresh = ranker.topics(new) if new is not None else None
        ranker.org_topics_ = spliced(ranker.org_topics_, fresh)
    if ranker.dense_ is not None:
        fresh = ranker.dense_.transform(new) if new is not None else None
        ranker.org_dense_ = spliced(ranker.org_dense_, fresh)
    ranker._set_areas()
    if ranker.diversity:
        added_rows = np.flatnonzero(source < 0)
        hubness = np.zeros(len(ranker.orgs_))
        hubness[source >= 0] = ranker.hubness_[source[source >= 0]]
        # ``hub_top_`` is ``rank_top_`` while that is exact (``measure_hubness``)
        exact, top = ranker.hub_top_ is not None, ranker.rank_top_
        if top is not None:  # an added column is filled below
            top = np.concatenate([top[:, keep], np.zeros((len(top), len(added)))], axis=1)[:, take]
        if len(added_rows):
            best = ranker._hub_best(added_rows)
            hubness[added_rows] = best.mean(axis=0) if len(best) else 0.0
            if top is not None:
                top[:, added_rows] = as_high(best, len(top))
        ranker.hubness_ = hubness
        ranker.rank_top_ = top
        ranker.hub_top_ = top if exact else None
    else:
        ranker.hubness_ = np.zeros(len(ranker.orgs_))


def upsert_items(
    ranker: TfidfRanker, needs: Sequence[Need] = (), orgs: Sequence[Organization] = ()
) -> None:
    """``TfidfRanker.upsert``: the given needs and profiles replace those of their ids or
    join, each side spliced once (the last of an id given twice wins)."""
    latest_needs = {n.id: n for n in needs}
    latest = {o.id: o for o in orgs}
    if needs:
        splice_needs(
            ranker,
            [i for i, n in enumerate(ranker.needs_) if n.id not in latest_needs],
            [latest_needs[k] for k in sorted(latest_needs)],
        )
    if orgs:
        keep = [j for j, o in enumerate(ranker.orgs_) if o.id not in latest]
        splice_orgs(ranker, keep, [latest[k] for k in sorted(latest)])
    if needs or orgs:
        note_edit(ranker, set(latest_needs), set(latest))
        release_freed()


def remove_items(ranker: TfidfRanker, need_ids: Sequence[str], org_ids: Sequence[str]) -> None:
    """``TfidfRanker.remove``: ids not indexed are ignored (no set of every id is made)."""
    drop_n = {i for i in need_ids if i in ranker.need_index_}
    drop_o = {i for i in org_ids if i in ranker.org_index_}
    if drop_n:
        splice_needs(ranker, [i for i, n in enumerate(ranker.needs_) if n.id not in drop_n], [])
    if drop_o:
        splice_orgs(ranker, [j for j, o in enumerate(ranker.orgs_) if o.id not in drop_o], [])
    if drop_n or drop_o:
        note_edit(ranker, drop_n, drop_o)
        release_freed()
