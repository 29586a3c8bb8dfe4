"""The ranker's incremental updates (``upsert``, ``remove``): rows spliced in and out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from ._areas import DEFAULT_AREA_FACTORS
from ._columns import Columns
from ._factors import PairSignals, field_matrix, with_area_groups
from ._hubness import as_high
from ._kinds import profile_text
from ._lineage import note_edit
from ._memory import release_freed
from ._schema import Need, Organization
from ._signals import members_only
from ._splice import Splice

if TYPE_CHECKING:
    from ._ranker import TfidfRanker

__all__ = ["remove_items", "splice_needs", "splice_orgs", "upsert_items"]


def splice_needs(ranker: TfidfRanker, splice: Splice, added: Sequence[Need]) -> None:
    """``ranker``'s index with the needs' rows spliced (``_splice``: kept rows copied by
    runs, the ``added`` needs among them, in id order): only the added rows are
    vectorised, expanded and measured (signals, topics, word vectors). Equal to
    rebuilding every row (``rebuild``) over the same rows, the profiles' hubness included
    (``_hub_update``: the added needs' scores merge into each profile's kept best scores;
    only the profiles a removed need was a best score of are measured again). Past
    ``HUB_SAMPLE`` needs the hubness stays as last measured until the next ``fit`` or
    ``rebuild``."""
    new = ranker.vectorizer_.transform_needs(added) if added else None
    # the profiles whose best scores a removed (or replaced) need was among: measured again
    dirty = _hub_dirty(ranker, splice.dropped)
    old_ids = ranker.need_ids_
    ranker.needs_ = splice.items(ranker.needs_, added)
    ranker.need_ids_ = splice.items(old_ids, [n.id for n in added])
    ranker.need_index_ = splice.index(ranker.need_index_, old_ids, ranker.need_ids_)
    ranker.need_vectors_ = splice.rows(ranker.need_vectors_, new)
    ranker.need_fields_ = splice.rows(ranker.need_fields_, field_matrix(added))
    areas, read = ranker._ward_reader().all_areas(added)
    ranker.need_areas_ = splice.items(ranker.need_areas_, areas)
    ranker.need_areas_read_ = splice.items(ranker.need_areas_read_, read)
    ranker.signals_ = ranker.signals_.with_needs(splice, PairSignals.of(added, []))
    queries = ranker._queries(new) if new is not None else None
    ranker.need_queries_ = splice.rows(ranker.need_queries_, queries)
    if ranker.svd_ is not None:
        fresh = ranker.topics(new) if new is not None else None
        ranker.need_topics_ = splice.rows(ranker.need_topics_, fresh)
    if ranker.dense_ is not None:
        fresh = ranker.dense_.transform(new) if new is not None else None
        ranker.need_dense_ = splice.rows(ranker.need_dense_, fresh)
    _splice_areas(ranker, splice, areas, "need")
    _hub_update(ranker, splice.fresh_at, dirty)


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


def splice_orgs(ranker: TfidfRanker, splice: Splice, added: Sequence[Organization]) -> None:
    """``ranker``'s index with the profiles' rows spliced (``_splice``), the ``added``
    ones among them in id order: only the added rows are vectorised and measured (their
    signals, topics, word vectors, area codes and hubness; a profile's hubness is its
    own column's), the rest is copied by runs. Equal to rebuilding every row
    (``rebuild``) over the same rows."""
    new = ranker.vectorizer_.transform_orgs(added) if added else None
    fresh_at = splice.fresh_at
    old_ids = ranker.org_ids_
    ranker.orgs_ = splice.items(ranker.orgs_, added)
    ranker.org_ids_ = splice.items(old_ids, [o.id for o in added])
    ranker.org_index_ = splice.index(ranker.org_index_, old_ids, ranker.org_ids_)
    old_vectors = ranker.org_vectors_
    ranker.org_vectors_ = splice.rows(old_vectors, new)
    kept: Columns | None = getattr(ranker, "org_columns_", None)
    ranker.org_columns_ = None
    if kept is not None and kept.vectors is old_vectors:  # kept through the edit (``_columns``)
        ranker.org_columns_ = kept.spliced(ranker.org_vectors_, splice, new)
    ranker.org_fields_ = splice.rows(ranker.org_fields_, field_matrix(added))
    areas, read = ranker._ward_reader().all_areas(added)
    ranker.org_areas_ = splice.items(ranker.org_areas_, areas)
    ranker.org_areas_read_ = splice.items(ranker.org_areas_read_, read)
    texts = [profile_text(o) for o in added]
    ranker.members_only_ = splice.array(
        ranker.members_only_,
        np.array([members_only(o, text=t) for o, t in zip(added, texts, strict=True)], dtype=bool),
    )
    ranker.signals_ = ranker.signals_.with_orgs(splice, PairSignals.of([], added, texts))
    if ranker.svd_ is not None:
        fresh = ranker.topics(new) if new is not None else None
        ranker.org_topics_ = splice.rows(ranker.org_topics_, fresh)
    if ranker.dense_ is not None:
        fresh = ranker.dense_.transform(new) if new is not None else None
        ranker.org_dense_ = splice.rows(ranker.org_dense_, fresh)
    _splice_areas(ranker, splice, areas, "org")
    if ranker.diversity:
        hubness = splice.array(ranker.hubness_, np.zeros(len(added)))
        # ``hub_top_`` is ``rank_top_`` while that is exact (``measure_hubness``)
        exact, top = ranker.hub_top_ is not None, ranker.rank_top_
        if top is not None:  # an added column is filled below
            top = splice.array(top, np.zeros((len(top), len(added))), axis=1)
        if len(fresh_at):
            best = ranker._hub_best(fresh_at)
            hubness[fresh_at] = best.mean(axis=0) if len(best) else 0.0
            if top is not None:
                top[:, fresh_at] = as_high(best, len(top))
        ranker.hubness_ = hubness
        ranker.rank_top_ = top
        ranker.hub_top_ = top if exact else None
    else:
        ranker.hubness_ = np.zeros(len(ranker.orgs_))


def _splice_areas(
    ranker: TfidfRanker,
    splice: Splice,
    areas: Sequence[tuple[str, ...]],
    side: Literal["need", "org"],
) -> None:
    """One side's area codes spliced, the fresh rows' ``areas`` coded
    (``with_area_groups``); the other side's are kept."""
    groups, codes, relations, table = with_area_groups(
        ranker.need_area_groups_,
        ranker.org_area_groups_,
        ranker.area_relations_,
        ranker.area_table_,
        areas,
        {**DEFAULT_AREA_FACTORS, **(ranker.area_factors or {})},
        side=side,
    )
    ranker.area_relations_, ranker.area_table_ = relations, table
    if side == "need":
        ranker.need_area_groups_ = groups
        ranker.need_area_codes_ = splice.array(ranker.need_area_codes_, codes)
    else:
        ranker.org_area_groups_ = groups
        ranker.org_area_codes_ = splice.array(ranker.org_area_codes_, codes)


def _edit(index: dict[str, int], ids: Iterable[str]) -> tuple[list[str], list[int]]:
    """The ``ids`` given, each once and in increasing order, and the rows of those the
    index holds (replaced or removed)."""
    named = sorted(set(ids))
    return named, [index[i] for i in named if i in index]


def upsert_items(
    ranker: TfidfRanker, needs: Sequence[Need] = (), orgs: Sequence[Organization] = ()
) -> None:
    """``TfidfRanker.upsert``: the given needs and profiles replace those of their ids or
    join, each side spliced once (the last of an id given twice wins)."""
    latest_needs = {n.id: n for n in needs}
    latest = {o.id: o for o in orgs}
    if needs:
        ids, rows = _edit(ranker.need_index_, latest_needs)
        splice = Splice.of(ranker.need_ids_, rows, ids)
        splice_needs(ranker, splice, [latest_needs[k] for k in ids])
    if orgs:
        ids, rows = _edit(ranker.org_index_, latest)
        splice_orgs(ranker, Splice.of(ranker.org_ids_, rows, ids), [latest[k] for k in ids])
    if needs or orgs:
        note_edit(ranker, set(latest_needs), set(latest))
        release_freed()


def remove_items(ranker: TfidfRanker, need_ids: Sequence[str], org_ids: Sequence[str]) -> None:
    """``TfidfRanker.remove``: ids not indexed are ignored (no set of every id is made)."""
    drop_n = {i for i in need_ids if i in ranker.need_index_}
    drop_o = {i for i in org_ids if i in ranker.org_index_}
    if drop_n:
        _, rows = _edit(ranker.need_index_, drop_n)
        splice_needs(ranker, Splice.of(ranker.need_ids_, rows, []), [])
    if drop_o:
        _, rows = _edit(ranker.org_index_, drop_o)
        splice_orgs(ranker, Splice.of(ranker.org_ids_, rows, []), [])
    if drop_n or drop_o:
        note_edit(ranker, drop_n, drop_o)
        release_freed()
