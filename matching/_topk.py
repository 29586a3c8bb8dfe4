"""The best ``k`` of a row of scores, ties broken by index (so by id: items are kept in
id order), without sorting the row whole."""

from __future__ import annotations

import numpy as np

__all__ = ["Ranking", "top_k"]

Ranking = list[tuple[str, float]]
"""``(id, score)`` pairs, best first, ties broken by id."""


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best scores, best first; equal scores in index order.

    Works on one row without sorting it whole (``argpartition``), and keeps every
    index tied at the boundary in the running, so the result never depends on how
    the partition happened to split a tie.
    """
    n = scores.shape[0]
    if k <= 0 or n == 0:
        return np.empty(0, dtype=np.intp)
    if k < n:
        threshold = scores[np.argpartition(-scores, k - 1)[k - 1]]
        candidates = np.flatnonzero(scores >= threshold)
    else:
        candidates = np.arange(n)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:k]
