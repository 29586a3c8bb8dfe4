"""Ranking metrics as small pure functions (graded relevance, linear gain as in trec_eval)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["dcg", "mrr", "ndcg_at_k", "recall_at_k"]


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: ``Σ gain_i / log2(i + 1)`` for ranks i = 1, 2, …"""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], judgements: Mapping[str, int], k: int) -> float:
    """nDCG@k: DCG of the first ``k`` ranked ids over the DCG of the ideal order.

    Unjudged ids count as 0. Returns 0.0 when nothing is relevant.
    """
    ideal = dcg(sorted((g for g in judgements.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([judgements.get(i, 0) for i in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], judgements: Mapping[str, int], k: int) -> float:
    """Share of the relevant ids (grade ≥ 1) found in the first ``k``."""
    relevant = {i for i, g in judgements.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr(ranked: Sequence[str], judgements: Mapping[str, int]) -> float:
    """Reciprocal rank of the first relevant id (grade ≥ 1); 0.0 if none is ranked."""
    for rank, i in enumerate(ranked, start=1):
        if judgements.get(i, 0) > 0:
            return 1.0 / rank
    return 0.0
