"""The ranker's hubness pass and the blocks its scores are made in.

A profile's hubness is its mean score over the needs it fits best (its top ``k``). A
long, well-written profile that scores high for every need has a high value;
subtracting ``diversity × hubness`` (as CSLS does for word translation) keeps it from
topping every list while a profile that fits few needs well loses little.

The settings (``HUB_SAMPLE``, ``HUB_K``, ``_BLOCK``, ``_PAIRS``) live in ``_ranker`` and
are read at each call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ._factors import top_rows

if TYPE_CHECKING:
    from ._ranker import TfidfRanker

__all__ = ["hub_best", "measure_hubness", "pieces"]


def pieces(rows: np.ndarray, width: int) -> Iterator[np.ndarray]:
    """``rows`` in blocks of ``_BLOCK``, each cut to about ``_PAIRS`` pairs against
    ``width`` columns. A block of several rows is never cut into a piece of one: a
    one-row product is a matrix-vector product, whose last digits differ from the
    matrix product's (every piece of two rows or more gives the block's values)."""
    from . import _ranker

    block = _ranker._BLOCK
    size = max(2, _ranker._PAIRS // max(1, width))
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        cuts = list(range(0, len(chunk), size))
        if len(cuts) > 1 and len(chunk) - cuts[-1] == 1:
            cuts.pop()
        for a, b in zip(cuts, [*cuts[1:], len(chunk)], strict=True):
            yield chunk[a:b]


def hub_best(ranker: TfidfRanker, org_rows: np.ndarray | None = None) -> np.ndarray:
    """Each profile's ``k`` best raw scores over the needs (``k`` × profiles, best
    first, zeros where it fits fewer): what its hubness is the mean of. Each column
    depends on its own profile only (``org_rows``: those profiles)."""
    from ._ranker import HUB_K, HUB_SAMPLE

    n_needs = len(ranker.need_ids_)
    n_orgs = len(ranker.org_ids_) if org_rows is None else len(org_rows)
    if not n_needs or not n_orgs:
        return np.zeros((0, n_orgs))
    rows = np.arange(n_needs)
    k = min(HUB_K, n_needs)
    if n_needs > HUB_SAMPLE:
        # a seeded sample of the needs, and the same share of them as the top k: the
        # pass stays linear in the profiles, exact up to HUB_SAMPLE needs
        rows = np.sort(np.random.default_rng(0).choice(n_needs, HUB_SAMPLE, replace=False))
        k = max(1, round(k * HUB_SAMPLE / n_needs))
    best = np.zeros((k, n_orgs))
    for piece in pieces(rows, n_orgs):
        best = top_rows(best, ranker._raw_scores(piece, org_rows))
    return best


def measure_hubness(ranker: TfidfRanker) -> None:
    """``hubness_`` of every profile; up to ``HUB_SAMPLE`` needs the top scores are
    kept too (``hub_top_``), so that a need's edit updates them exactly."""
    from ._ranker import HUB_SAMPLE

    ranker.hub_top_ = None
    if not ranker.diversity:
        ranker.hubness_ = np.zeros(len(ranker.org_ids_))
        return
    best = hub_best(ranker)
    ranker.hubness_ = best.mean(axis=0) if len(best) else np.zeros(best.shape[1])
    if len(ranker.need_ids_) <= HUB_SAMPLE:
        ranker.hub_top_ = best
