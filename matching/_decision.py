"""A coordinator's decision on a suggested pair, and what its reason is about.

Shared by every stage of the learner (``_learn*``) and by the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._ranker import top_k

__all__ = [
    "REASONS",
    "Decision",
    "fold_summary",
    "mean_ndcg_at_10",
    "ndcg_at_10_rows",
    "ranking_ndcg_at_10",
]

# reject reasons (DOMAIN.md, and 営利・事業者 for a business offering its service) → what
# each is about: the history feature it feeds and the setting it can re-tune
REASONS = {
    "分野違い": "field",
    "地域外": "area",
    "共益的活動": "members",
    "体制不足": "capacity",
    "営利・事業者": "business",
    "計画外": "other",
    "その他": "other",
    "": "other",
}


@dataclass(frozen=True, slots=True)
class Decision:
    need_id: str
    npo_id: str
    decision: str  # "confirm" | "reject"
    reason: str = ""

    @property
    def about(self) -> str:
        """What the reason is about (``REASONS``): field, area, members, capacity,
        business or other; ``""`` for a confirmation."""
        return REASONS.get(self.reason, "other") if self.decision == "reject" else ""


def ranking_ndcg_at_10(scores: np.ndarray, relevant: np.ndarray, n_relevant: int) -> float:
    """nDCG@10 of one list ordered by ``scores`` (``relevant``: 1 = confirmed), against an
    ideal of ``n_relevant`` confirmed groups (some may be outside the list)."""
    discounts = 1.0 / np.log2(np.arange(2, 12))
    order = np.argsort(-scores, kind="stable")[:10]
    ideal = discounts[: min(10, n_relevant)].sum()
    return float(relevant[order] @ discounts[: len(order)]) / float(ideal) if ideal > 0 else 0.0


def ndcg_at_10_rows(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """nDCG@10 of each row's ranking of every column (``relevant``: 1 = confirmed)."""
    discounts = 1.0 / np.log2(np.arange(2, 12))
    out = np.zeros(len(scores))
    for k, (row, gains) in enumerate(zip(scores, relevant, strict=True)):
        order = top_k(row, 10)
        ideal = discounts[: min(10, int(gains.sum()))].sum()
        out[k] = float(gains[order] @ discounts[: len(order)]) / float(ideal) if ideal else 0.0
    return out


def mean_ndcg_at_10(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Mean nDCG@10 of each row's ranking of every column, over the rows with something
    relevant."""
    values = ndcg_at_10_rows(scores, relevant)[relevant.sum(axis=1) > 0]
    return float(values.mean()) if len(values) else 0.0


def fold_summary(
    scores: dict[float, list[float]], *, count: str = "wins"
) -> dict[float, tuple[float, float]]:
    """Per setting tried, from its figure in each validation fold: ``(mean, share of
    folds where it beats the setting 0)`` (``count="not_worse"``: where it is at least
    as good, a fold with nothing to learn from being a tie); ``{}`` when no fold was
    measured."""
    if not scores.get(0.0):
        return {}
    base = np.array(scores[0.0])

    def share(v: list[float]) -> float:
        folds = np.array(v)
        return float(np.mean(folds >= base if count == "not_worse" else folds > base))

    return {a: (round(float(np.mean(v)), 4), round(share(v), 2)) for a, v in scores.items()}
