"""Learning stage 0b: a need → partner map over word vectors, from confirmations.

Needs name problems (孤立, 担い手不足); groups name activities (お茶会, 見回り). Word vectors
bring a need's words near their synonyms, not near the activities that answer them. The
city's confirmed pairs show which activities answer which problems: this stage learns a
linear map ``W`` (300 × 300) that takes a need's word-vector document (``need_dense_``, the
IDF-weighted mean of its words' chiVe vectors) towards those of the groups confirmed for
it — a translation model between the two vocabularies, learned in vector space so that it
carries to words no decision mentioned:

    W = argmin ‖X W − Y‖² + λ ‖W − I‖²  =  (XᵀX + λI)⁻¹ (XᵀY + λI)

(``X``: the needs of the confirmed pairs, ``Y``: their groups, unit rows). Ridge towards
the identity: with few decisions ``W`` stays near ``I`` (the cold start's own word-vector
cosine); ``λ`` sets how far the decisions may pull it. The ranker's word-vector cosine then
compares the mapped need with each profile (``TfidfRanker.dense_map_``).

Validated like the expansion: ``W`` is learned on the confirmations of four fifths of the
decided needs (GroupKFold by need) and measured on the other fifth's confirmed groups; a
``λ`` is kept only if it gains ``MAP_MARGIN`` nDCG@10 there on average, wins in more
folds than not, and ranks more held-out needs better than worse than no map, by a
one-sided sign test at ``MAP_SIGN_P`` (on confirmations of random groups the first two
alone kept a map in two of nine draws: a gain of 0.005 over an nDCG of 0.02 is chance).
Measured on the devset (``notebooks/evaluation.ipynb``): learned from the decisions on
D001–D030, the held-out D031–D060 gain, where the decisions of a single need cannot carry
(a group confirmed once is rarely another need's partner).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest
from sklearn.model_selection import GroupKFold

from ._decision import Decision, fold_summary, ndcg_at_10_rows
from ._ranker import _BLOCK, TfidfRanker

__all__ = [
    "MAP_LAMBDAS",
    "MAP_MARGIN",
    "MAP_MIN_PAIRS",
    "MAP_SIGN_P",
    "fit_map",
    "mapped",
    "validate_map",
]

# the ridge strengths tried (0 = no map): smaller lets the decisions pull further from I
MAP_LAMBDAS: tuple[float, ...] = (0.0, 1.0, 3.0)
# a map is kept only if it gains this much nDCG@10 on held-out decided needs
MAP_MARGIN = 0.005
# and only from this many confirmed pairs (a 300 × 300 map from fewer learns noise)
MAP_MIN_PAIRS = 30
# and only if the held-out needs it ranks better outnumber those it ranks worse (sign test)
MAP_SIGN_P = 0.05


def fit_map(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """``(XᵀX + λI)⁻¹ (XᵀY + λI)``: the map of ``x`` rows towards ``y`` rows, ridge towards
    the identity (``λ > 0``)."""
    dim = x.shape[1]
    eye = np.eye(dim)
    return np.linalg.solve(x.T @ x + lam * eye, x.T @ y + lam * eye)


def mapped(base: TfidfRanker, mapping: np.ndarray | None) -> TfidfRanker:
    """A shallow copy of the fitted ``base`` with ``mapping`` in its word-vector cosine
    (``None``: none); hubness is measured again, ``base`` is untouched."""
    out = copy.copy(base)
    out.dense_map_ = mapping
    out._measure_hubness()
    return out


def _pairs(base: TfidfRanker, confirms: Sequence[Decision]) -> tuple[np.ndarray, np.ndarray]:
    rows = [base.need_index_[d.need_id] for d in confirms]
    cols = [base.org_index_[d.npo_id] for d in confirms]
    return base.need_dense_[rows], base.org_dense_[cols]


def learn_map(base: TfidfRanker, decisions: Sequence[Decision], lam: float) -> np.ndarray:
    """The map learned from every confirmation in ``decisions``."""
    x, y = _pairs(base, [d for d in decisions if d.decision == "confirm"])
    return fit_map(x, y, lam)


def validate_map(
    base: TfidfRanker, decisions: Sequence[Decision]
) -> dict[float, tuple[float, ...]]:
    """nDCG@10 of decided needs held out from the map (GroupKFold by need; their confirmed
    groups relevant, every other group not), for each ``λ`` of ``MAP_LAMBDAS``:
    ``{λ: (mean, share of folds where it beats no map, sign-test p)}``, the p-value of
    the needs it ranks better against those it ranks worse (1 for no map); ``{}`` when
    the ranker has no word vectors or there are too few confirmations to learn from."""
    if getattr(base, "dense_", None) is None or not base.dense_weight:
        return {}
    confirms = [d for d in decisions if d.decision == "confirm"]
    needs = np.array([base.need_index_[d.need_id] for d in confirms])
    orgs = np.array([base.org_index_[d.npo_id] for d in confirms])
    n_groups = len(set(needs.tolist()))
    if len(confirms) < MAP_MIN_PAIRS or n_groups < 3:
        return {}
    # per λ, per fold: the nDCG@10 of each held-out need with something confirmed
    per_need: dict[float, list[np.ndarray]] = {lam: [] for lam in MAP_LAMBDAS}
    for train, test in GroupKFold(n_splits=min(5, n_groups)).split(needs, needs, needs):
        held = np.unique(needs[test])
        relevant = np.zeros((len(held), len(base.org_ids_)))
        where = {i: k for k, i in enumerate(held.tolist())}
        relevant[[where[i] for i in needs[test].tolist()], orgs[test]] = 1.0
        x, y = base.need_dense_[needs[train]], base.org_dense_[orgs[train]]
        for lam in MAP_LAMBDAS:
            ranker = mapped(base, fit_map(x, y, lam) if lam else None)
            block = np.vstack(
                [ranker.score_block(held[s : s + _BLOCK]) for s in range(0, len(held), _BLOCK)]
            )
            per_need[lam].append(ndcg_at_10_rows(block, relevant)[relevant.sum(axis=1) > 0])
    means = {lam: [float(v.mean()) if len(v) else 0.0 for v in f] for lam, f in per_need.items()}
    summary = fold_summary(means)
    none = np.concatenate(per_need[0.0])
    return {lam: (*v, _sign_p(np.concatenate(per_need[lam]) - none)) for lam, v in summary.items()}


def _sign_p(diff: np.ndarray) -> float:
    """One-sided sign test: the chance of at least this many needs ranked better, of those
    that moved, if better and worse were equally likely (1 when none moved)."""
    better, worse = int((diff > 1e-12).sum()), int((diff < -1e-12).sum())
    if not better + worse:
        return 1.0
    return round(float(binomtest(better, better + worse, 0.5, alternative="greater").pvalue), 4)


def map_promoted(scores: dict[float, tuple[float, ...]]) -> float:
    """The ``λ`` to use: among those that gain ``MAP_MARGIN`` over no map on held-out
    needs, beat it in more than half the folds and pass the sign test (``MAP_SIGN_P``,
    where ``validate_map`` gave its p-value), the best there; else 0 (no map)."""
    if 0.0 not in scores:
        return 0.0
    floor = scores[0.0][0] + MAP_MARGIN

    def holds(v: tuple[float, ...]) -> bool:
        return v[0] >= floor and v[1] > 0.5 and (len(v) < 3 or v[2] < MAP_SIGN_P)

    kept = [lam for lam in scores if lam and holds(scores[lam])]
    return max(kept, key=lambda lam: (scores[lam][0], lam), default=0.0)
