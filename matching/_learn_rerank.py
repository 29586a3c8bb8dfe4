"""Learning stage 2: a re-ranking model over features of each (need, group) pair
(``_learn_features``).

A logistic regression re-orders the cold-start candidates once there are enough decisions
of both kinds, and only if it beats the cold-start order on held-out decisions. Decisions
teach twice: the weights of the generic features (text per field pair, BM25, 活動分野, area,
members-only, the kind of partner, the population, forms of collaboration, profile
completeness), and the history of each group — a group confirmed for needs like this one
moves up; one rejected as 地域外 or 体制不足 for similar needs moves down.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from ._decision import Decision, fold_summary, ranking_ndcg_at_10
from ._learn_features import PairFeatures, cold_share
from ._ranker import top_k

__all__ = [
    "BLENDS",
    "MIN_FOLD_WINS",
    "MIN_GAIN",
    "blend_promoted",
    "new_model",
    "validate_blends",
]

BLENDS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# a blend replaces the cold-start order only if it wins by this much held-out nDCG on
# average, and in at least this share of the folds (noise wins about half of them)
MIN_GAIN = 0.01
MIN_FOLD_WINS = 0.8


def blend_promoted(scores: dict[float, tuple[float, float]]) -> float:
    """The blend that beats 0 (the cold start) by ``MIN_GAIN`` on average and in
    ``MIN_FOLD_WINS`` of the folds, best first; else 0."""
    if not scores:
        return 0.0
    best = max(scores, key=lambda a: (scores[a][0], -a))
    if best == 0.0 or scores[best][0] < scores[0.0][0] + MIN_GAIN:
        return 0.0
    return best if scores[best][1] >= MIN_FOLD_WINS else 0.0


def new_model(C: float) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced", max_iter=1000)


def validate_blends(
    features: PairFeatures,
    decisions: Sequence[Decision],
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    beta: float,
    candidates: int,
    mean: np.ndarray,
    scale: np.ndarray,
    C: float,
) -> dict[float, tuple[float, float]]:
    """Held-out nDCG@10 (GroupKFold by need) of each blend ``{α: (mean nDCG, share of
    folds where it beats the cold-start order)}``; α=0 is the cold start itself.

    Measured where the blend is used: each held-out need's ``candidates`` cold-start
    groups are re-ranked, and the groups confirmed for it are the relevant ones (a group
    nobody decided on counts as not relevant). Ordering only the decided pairs would say
    little when a need has few decisions, most of them confirmations — as in decisions
    taken from relevance judgements — and let a harmful model through."""
    n_groups = len(set(groups.tolist()))
    if n_groups < 3:
        return {}
    b = features.base
    cols = np.array([b.org_index_[d.npo_id] for d in decisions])
    confirmed_needs = np.unique(groups[y == 1])
    block = features.expansion.scores(confirmed_needs, None, beta)[0]
    features.note_best_cold(confirmed_needs, beta, block)  # their candidates' divisor
    lists_of = [top_k(row, candidates) for row in block]
    every = features(
        np.concatenate(
            [np.full(len(c), i) for i, c in zip(confirmed_needs, lists_of, strict=True)]
        ),
        np.concatenate(lists_of),
        beta,
    )
    lists = {}
    offset = 0
    for i, these in zip(confirmed_needs.tolist(), lists_of, strict=True):
        mine = set(cols[(groups == i) & (y == 1)].tolist())
        relevant = np.array([j in mine for j in these.tolist()], dtype=np.float64)
        lists[i] = (every[offset : offset + len(these)], relevant, len(mine))
        offset += len(these)
    scores: dict[float, list[float]] = {a: [] for a in BLENDS}
    for train, test in GroupKFold(n_splits=min(5, n_groups)).split(X, y, groups):
        held = [i for i in np.unique(groups[test]).tolist() if i in lists]
        if len(set(y[train])) < 2 or not held:
            continue
        model = new_model(C).fit((X[train] - mean) / scale, y[train])
        fold: dict[float, list[float]] = {a: [] for a in BLENDS}
        for i in held:
            feats, relevant, n_relevant = lists[i]
            p = model.predict_proba((feats - mean) / scale)[:, 1]
            cold = cold_share(feats)
            for alpha in BLENDS:
                blended = (1 - alpha) * cold + alpha * p
                fold[alpha].append(ranking_ndcg_at_10(blended, relevant, n_relevant))
        for alpha in BLENDS:
            scores[alpha].append(float(np.mean(fold[alpha])))
    return fold_summary(scores)
