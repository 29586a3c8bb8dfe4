"""Rows kept by id for the ranker's incremental updates (``upsert``, ``remove``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ._factors import PairSignals, field_matrix
from ._schema import Need, Organization
from ._signals import members_only

if TYPE_CHECKING:
    from ._ranker import TfidfRanker

__all__ = ["merge_rows", "splice_orgs", "stack_rows"]

Item = TypeVar("Item", Need, Organization)


def merge_rows(
    current: list[Item],
    matrix: sp.csr_matrix,
    new: Sequence[Item] = (),
    transform: Callable[[Sequence[Item]], sp.csr_matrix] | None = None,
) -> dict[str, tuple[Item, sp.csr_matrix]]:
    """Rows by id: the current ones, replaced or joined by the newly vectorised ``new``."""
    rows = {item.id: (item, matrix[i]) for i, item in enumerate(current)}
    if new and transform is not None:
        vectors = transform(list(new))
        for k, item in enumerate(new):
            rows[item.id] = (item, vectors[k])
    return rows


def stack_rows(
    rows: dict[str, tuple[Item, sp.csr_matrix]], width: int
) -> tuple[list[Item], sp.csr_matrix]:
    """Items sorted by id and their vectors stacked in the same order."""
    ordered = [rows[k] for k in sorted(rows)]
    items = [item for item, _ in ordered]
    if not ordered:
        return items, sp.csr_matrix((0, width))
    return items, sp.vstack([v for _, v in ordered], format="csr")


def splice_orgs(ranker: TfidfRanker, keep: list[int], added: Sequence[Organization]) -> None:
    """``ranker``'s index with the profiles at rows ``keep`` and the ``added`` ones, in id order:
    only the added rows are vectorised and measured (their signals, topics, word
    vectors and hubness; a profile's hubness is its own column's), the rest is
    copied. Equal to rebuilding every row (``_set_items``) over the same rows."""
    orgs = [ranker.orgs_[j] for j in keep] + list(added)
    take = np.array(sorted(range(len(orgs)), key=lambda k: orgs[k].id), dtype=np.intp)
    source = np.concatenate([np.array(keep, dtype=np.intp), np.full(len(added), -1)])[take]
    new = ranker.vectorizer_.transform_orgs(added) if added else None

    def spliced(old: Any, fresh: Any) -> Any:
        if sp.issparse(old):
            rows = old[keep] if fresh is None else sp.vstack([old[keep], fresh], "csr")
            return rows[take]
        rows = old[keep] if fresh is None else np.concatenate([old[keep], fresh])
        return rows[take]

    ranker.orgs_ = [orgs[k] for k in take]
    ranker.org_ids_ = [o.id for o in ranker.orgs_]
    ranker.org_index_ = {o: i for i, o in enumerate(ranker.org_ids_)}
    ranker.org_vectors_ = spliced(ranker.org_vectors_, new)
    ranker.org_fields_ = spliced(ranker.org_fields_, field_matrix(added) if added else None)
    ranker.members_only_ = spliced(
        ranker.members_only_, np.array([members_only(o) for o in added], dtype=bool)
    )
    ranker.signals_ = ranker.signals_.with_orgs(keep, PairSignals.of([], added), take)
    if ranker.svd_ is not None:
        fresh = normalize(ranker.svd_.transform(new)) if new is not None else None
        ranker.org_topics_ = spliced(ranker.org_topics_, fresh)
    if ranker.dense_ is not None:
        fresh = ranker.dense_.transform(new) if new is not None else None
        ranker.org_dense_ = spliced(ranker.org_dense_, fresh)
    ranker._set_areas()
    if ranker.diversity:
        added_rows = np.flatnonzero(source < 0)
        hubness = np.zeros(len(ranker.orgs_))
        hubness[source >= 0] = ranker.hubness_[source[source >= 0]]
        if len(added_rows):
            hubness[added_rows] = ranker._hubness(added_rows)
        ranker.hubness_ = hubness
    else:
        ranker.hubness_ = np.zeros(len(ranker.orgs_))
