"""A ranking model that learns from the coordinator's decisions, in three stages, each
kept only if it holds on the decided needs (never silently worse than the cold start).

0. Calibration: the cold start's own settings (``CALIBRATION``: 活動分野 weight,
   members-only factor, LSA weight, diversity, other-ward factor) were chosen on our
   corpus; another city's decisions may show that one of them does not fit its data
   (its groups fill in 活動分野 loosely, say). Each is tried alone from its default and
   kept only with a clear margin (``CALIBRATION_GAIN``).
1. Document expansion: confirmed decisions change retrieval, not only the order of the
   cold-start candidates. A group confirmed for a need the cold start had ranked low
   (below ``informative_rank``, or paired by hand) gets that need's text added to its
   profile (``β ×`` the mean vector of the needs it was confirmed for), so a later need
   worded like those needs reaches the group even when the group's own profile uses other
   words (独居高齢者の孤立 → ふれあいサロン). Confirmations of groups the cold start already
   ranked near the top teach the expansion nothing and are left out: expanding them only
   makes those groups crowd the lists of every similar need. Validated on training needs
   held out from it and dropped if it loses there by more than ``EXPANSION_TOLERANCE``.
2. Re-ranking: a logistic regression over features of each (need, group) pair re-orders
   the candidates once there are enough decisions of both kinds, and only if it beats the
   cold-start order on held-out decisions. Decisions teach twice: the weights of the
   generic features (text per field pair, BM25, 活動分野, area, members-only, forms of
   collaboration, profile completeness), and the history of each group — a group
   confirmed for needs like this one moves up; one rejected as 地域外 or 体制不足 for
   similar needs moves down.

``compare_with_current`` tells whether a retrained model may replace the one serving.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted

from ._bm25 import BM25Ranker
from ._explain import SCORE_DECIMALS
from ._ranker import _BLOCK, Ranking, TfidfRanker, top_k
from ._schema import Need, Organization
from ._signals import forms_named, forms_wanted

__all__ = [
    "CONTRIBUTIONS",
    "FEATURES",
    "FEATURE_LABELS",
    "REASONS",
    "Comparison",
    "Decision",
    "LearnedRanker",
    "compare_with_current",
]

# reject reasons (DOMAIN.md) → the history feature they feed
REASONS = {
    "分野違い": "field",
    "地域外": "area",
    "共益的活動": "members",
    "体制不足": "capacity",
    "計画外": "other",
    "その他": "other",
    "": "other",
}
FEATURES: tuple[str, ...] = (
    "cold_start",
    "cold_relative",
    "text",
    "problem_activities",
    "goal_offerings",
    "need_wishes",
    "bm25",
    "field_agree",
    "field_known",
    "area_same",
    "area_other",
    "area_local_group",
    "members_only",
    "forms_match",
    "forms_other",
    "completeness",
    "hist_confirm",
    "hist_reject",
    "hist_reject_field",
    "hist_reject_area",
    "hist_reject_capacity",
    "hist_reject_members",
)


# what ``contributions`` may name: the model's features, and the document expansion
CONTRIBUTIONS: tuple[str, ...] = (*FEATURES, "confirmed_similar")
# for people: what each contribution means
FEATURE_LABELS: dict[str, str] = {
    "cold_start": "初期スコア（本文・分野・地域）",
    "cold_relative": "初期スコア（課題内の相対値）",
    "text": "本文の類似度",
    "problem_activities": "課題の内容と団体の活動内容",
    "goal_offerings": "協働で実現したいことと協働でできること",
    "need_wishes": "課題と団体の協働の希望",
    "bm25": "BM25 スコア（課題内の相対値）",
    "field_agree": "活動分野の一致",
    "field_known": "活動分野の記入あり",
    "area_same": "地域が一致",
    "area_other": "地域が異なる・不明",
    "area_local_group": "市全域の課題に地域限定の団体",
    "members_only": "共益的活動と読める記述",
    "forms_match": "協働の形態が団体の希望に合う",
    "forms_other": "団体の希望する協働の形態が異なる",
    "completeness": "プロフィールの充実度",
    "hist_confirm": "似た協働の種で承認",
    "hist_reject": "似た協働の種で見送り",
    "hist_reject_field": "似た協働の種で見送り（分野違い）",
    "hist_reject_area": "似た協働の種で見送り（地域外）",
    "hist_reject_capacity": "似た協働の種で見送り（体制不足）",
    "hist_reject_members": "似た協働の種で見送り（共益的活動）",
    "confirmed_similar": "似た協働の種で承認済み",
}

# the cold start's settings the decisions may re-tune, each tried one at a time from its
# default (which comes first); ``area_other`` is the factor of a group limited to another
# ward. Our defaults were chosen on our own corpus; another city's data may differ (its
# 活動分野 filled in loosely, its profiles longer), and its decisions show it.
CALIBRATION: dict[str, tuple[float, ...]] = {
    "field_weight": (0.5, 0.0, 0.25, 1.0),
    "members_only_factor": (0.5, 0.25, 1.0),
    "semantic_weight": (0.2, 0.0, 0.4),
    "diversity": (0.15, 0.0, 0.3),
    "area_other": (0.5, 0.2, 0.8),
}
# a setting replaces its default only if it gains this much nDCG@10 on the decided needs,
# and the combination of the settings kept must gain as much and win on more needs than
# it loses; with confirmations on fewer than CALIBRATION_MIN_NEEDS needs the defaults stay
# (a dozen settings tried on a few needs find noise: on our corpus, with 30-50 decisions,
# a gate of 10 needs let calibration pick a setting in up to 7 of 10 splits, at a cost)
CALIBRATION_GAIN = 0.01
CALIBRATION_MIN_NEEDS = 20
BLENDS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# document expansion weights tried: β × the mean vector of the needs a group was confirmed
# for is added to its profile vector (0 = no expansion)
EXPANSIONS: tuple[float, ...] = (0.0, 0.5, 1.0)
# the expansion is kept unless it loses more than this on held-out training needs: its
# validation is pessimistic (a group it newly surfaces was never decided on, so it counts
# as not relevant) and noisy (a fold holds a handful of needs)
EXPANSION_TOLERANCE = 0.005
# a blend replaces the cold-start order only if it wins by this much held-out nDCG on
# average, and in at least this share of the folds (noise wins about half of them)
MIN_GAIN = 0.01
MIN_FOLD_WINS = 0.8


@dataclass(frozen=True, slots=True)
class Decision:
    need_id: str
    npo_id: str
    decision: str  # "confirm" | "reject"
    reason: str = ""


def _ranking_ndcg_at_10(scores: np.ndarray, relevant: np.ndarray, n_relevant: int) -> float:
    """nDCG@10 of one list ordered by ``scores`` (``relevant``: 1 = confirmed), against an
    ideal of ``n_relevant`` confirmed groups (some may be outside the list)."""
    discounts = 1.0 / np.log2(np.arange(2, 12))
    order = np.argsort(-scores, kind="stable")[:10]
    ideal = discounts[: min(10, n_relevant)].sum()
    return float(relevant[order] @ discounts[: len(order)]) / float(ideal) if ideal > 0 else 0.0


def _ndcg_at_10(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Mean nDCG@10 of each row's ranking of every column (``relevant``: 1 = confirmed),
    over the rows with something relevant."""
    values = _ndcg_rows(scores, relevant)[relevant.sum(axis=1) > 0]
    return float(values.mean()) if len(values) else 0.0


def _ndcg_rows(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """nDCG@10 of each row's ranking of every column (``relevant``: 1 = confirmed)."""
    discounts = 1.0 / np.log2(np.arange(2, 12))
    out = np.zeros(len(scores))
    for k, (row, gains) in enumerate(zip(scores, relevant, strict=True)):
        order = top_k(row, 10)
        ideal = discounts[: min(10, int(gains.sum()))].sum()
        out[k] = float(gains[order] @ discounts[: len(order)]) / float(ideal) if ideal else 0.0
    return out


def _calibrated(base: TfidfRanker, setting: Mapping[str, float]) -> TfidfRanker:
    """A copy of the fitted ``base`` with ``setting`` (``CALIBRATION`` names) in force.

    Shallow: the vocabulary, vectors and LSA are shared; only what the settings change
    (the factors, the LSA blend, hubness) is computed again, so ``base`` is untouched."""
    out = copy.copy(base)
    for name, value in setting.items():
        if name == "area_other":
            out.area_factors = {**(base.area_factors or {}), "other": value}
        else:
            setattr(out, name, value)
    out._set_items(base.needs_, base.orgs_)
    return out


def _promoted(scores: dict[float, tuple[float, float]]) -> float:
    """The setting that beats 0 (the cold start) by ``MIN_GAIN`` on average and in
    ``MIN_FOLD_WINS`` of the folds, best first; else 0."""
    if not scores:
        return 0.0
    best = max(scores, key=lambda a: (scores[a][0], -a))
    if best == 0.0 or scores[best][0] < scores[0.0][0] + MIN_GAIN:
        return 0.0
    return best if scores[best][1] >= MIN_FOLD_WINS else 0.0


def _expansion_promoted(scores: dict[float, tuple[float, float]]) -> float:
    """The expansion weight to use: the largest in ``EXPANSIONS`` that does not lose more
    than ``EXPANSION_TOLERANCE`` to no expansion on held-out training needs; else 0."""
    if 0.0 not in scores:
        return 0.0
    kept = [b for b in scores if b and scores[b][0] >= scores[0.0][0] - EXPANSION_TOLERANCE]
    return max(kept, default=0.0)


def _pair_dot(a: sp.csr_matrix, b: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.asarray(a[rows].multiply(b[cols]).sum(axis=1)).ravel()


def _with(candidates: np.ndarray, pinned: dict[int, float]) -> np.ndarray:
    """``candidates`` and the pinned rows that are not among them (in row order)."""
    extra = sorted(set(pinned) - set(candidates.tolist()))
    return np.concatenate([candidates, np.array(extra, dtype=np.intp)]) if extra else candidates


def _pin(scores: np.ndarray, rows: np.ndarray, pinned: dict[int, float]) -> np.ndarray:
    """``scores`` of ``rows`` moved up where confirmed and down where rejected, by a whole
    number larger than any score of the list (scores are ≥ 0): confirmed above, rejected
    below every undecided row, each kind kept in its own order."""
    if not pinned:
        return scores
    step = float(np.floor(np.abs(scores).max())) + 1.0 if len(scores) else 1.0
    offsets = np.array([pinned.get(r, 0.0) for r in rows.tolist()])
    return np.round(scores + step * offsets, SCORE_DECIMALS)


@dataclass(frozen=True)
class _ExpansionTerms:
    """Per confirmed matrix (needs × organisations, 1 = confirmed): the matrix as sparse
    ``pairs``, confirmations per group, ``Σ_c o_j·n_c`` and ``Σ_c Σ_c' n_c·n_c'`` over the
    needs ``c`` each group was confirmed for, and ``nn_ @ confirmed``."""

    confirmed: np.ndarray
    pairs: sp.csr_matrix
    count: np.ndarray
    org_mean: np.ndarray
    mean_mean: np.ndarray
    nn_c: np.ndarray


@dataclass
class _History:
    """Decisions by organisation row: ``[(need_row, label, reason_kind)]``."""

    by_org: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)


class LearnedRanker(BaseEstimator):
    """Cold-start candidates re-ranked by a model trained on decisions.

    Parameters
    ----------
    base: the cold-start ranker (``TfidfRanker()`` by default).
    candidates: how many cold-start candidates per need the model re-orders.
    min_decisions: the re-ranking model needs this many decisions, of both kinds.
    min_confirmed_needs: the expansion needs confirmations on this many needs (it learns
    from confirmations alone). With neither, the cold start serves.
    informative_rank: a confirmation expands the group's profile only if the cold start
    ranks the group below this for the need (see ``_informative``).
    calibrate: re-tune the cold start's settings (``CALIBRATION``) on the decided needs
    first; off, only the expansion and the re-ranking model learn.
    C, random_state: of the logistic regression.

    The learned score is ``(1 − α) × cold / (the need's best cold) + α × p(confirm)``,
    ``α`` chosen from ``BLENDS`` on held-out decisions (grouped by need). ``α = 0`` (cold
    start) unless a blend beats the cold-start order there by ``MIN_GAIN`` on average and
    in ``MIN_FOLD_WINS`` of the folds, so a model
    trained on too few or contradictory decisions falls back instead of making the
    ranking worse.
    """

    def __init__(
        self,
        *,
        base: TfidfRanker | None = None,
        candidates: int = 50,
        min_decisions: int = 50,
        min_confirmed_needs: int = 10,
        informative_rank: int = 5,
        calibrate: bool = True,
        C: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.base = base
        self.candidates = candidates
        self.informative_rank = informative_rank
        self.calibrate = calibrate
        self.min_decisions = min_decisions
        self.min_confirmed_needs = min_confirmed_needs
        self.C = C
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------
    def fit(
        self,
        needs: Sequence[Need],
        orgs: Sequence[Organization],
        decisions: Sequence[Decision] = (),
    ) -> LearnedRanker:
        base = clone(self.base) if self.base is not None else TfidfRanker()
        return self.fit_on(base.fit(needs, orgs), decisions)

    def fit_on(self, base: TfidfRanker, decisions: Sequence[Decision] = ()) -> LearnedRanker:
        """Learn on top of an already fitted cold-start ranker. ``base`` is never changed:
        it is used as it is, or through a shallow copy when the calibration changes one of
        its settings (``base_`` is what ranks).

        Calibration and expansion learn from confirmations alone; the re-ranking model
        needs both confirmations and rejections."""
        self.expansion_ = 0.0
        self.alpha_ = 0.0
        self.promoted_ = False
        self.calibration_: dict[str, float] = {}
        self._bind(base, decisions)
        known = self.decisions_
        self.model_: LogisticRegression | None = None
        self.report_: dict[str, object] = {"decisions": len(known), "promoted": False}
        labels = {d.decision for d in known}
        confirmed_needs = len({d.need_id for d in known if d.decision == "confirm"})
        can_expand = confirmed_needs >= self.min_confirmed_needs
        can_rerank = len(known) >= self.min_decisions and labels == {"confirm", "reject"}
        if not (can_expand or can_rerank):
            self.report_["reason"] = "too few decisions, or no confirmation: cold start"
            self.report_["code"] = "too_few_decisions"
            return self
        # 0. the cold start's own settings, re-tuned on the decided needs
        if self.calibrate and confirmed_needs >= max(
            CALIBRATION_MIN_NEEDS, self.min_confirmed_needs
        ):
            tried, setting = self._calibrate()
            self.report_["calibration_ndcg"] = tried
            if setting:
                self.calibration_ = setting
                self.report_["calibration"] = dict(setting)
                self._bind(_calibrated(base, setting), decisions)
        # 1. document expansion, validated on training needs held out from the expansion
        beta = 0.0
        if can_expand:
            expansion = self._validate_expansion()
            self.report_["expansion_ndcg"] = {a: v[0] for a, v in expansion.items()}
            beta = _expansion_promoted(expansion)
        self.expansion_ = beta
        # 2. the re-ranking model over the (expanded) candidates: needs both kinds
        alpha = 0.0
        if can_rerank:
            rows = np.array([base.need_index_[d.need_id] for d in known])
            cols = np.array([base.org_index_[d.npo_id] for d in known])
            X = self._features(rows, cols)
            y = np.array([int(d.decision == "confirm") for d in known])
            self.mean_ = X.mean(axis=0)
            self.scale_ = X.std(axis=0)
            self.scale_[self.scale_ == 0] = 1.0
            scores = self._validate(X, y, rows)
            self.report_["validation_ndcg"] = {a: v[0] for a, v in scores.items()}
            alpha = _promoted(scores)
            if alpha:
                self.model_ = self._new_model().fit((X - self.mean_) / self.scale_, y)
        else:
            self.report_["reranking"] = (
                "too few decisions, or no rejection: the re-ranking model was not trained"
            )
        if alpha == 0.0 and beta == 0.0 and not self.calibration_:
            self.report_["reason"] = "not better than cold start on held-out decisions"
            self.report_["code"] = "not_better"
            return self
        self.alpha_ = alpha
        self.promoted_ = True
        self.report_.update(promoted=True, code="promoted", alpha=alpha, expansion=beta)
        return self

    def rebind(self, base: TfidfRanker) -> LearnedRanker:
        """Keep the learned weights, but rank over ``base``'s current items (after the cold
        start ranker's ``upsert``/``remove``/``fit``): fields and history are rebuilt."""
        check_is_fitted(self, "base_")
        self._bind(
            _calibrated(base, self.calibration_) if self.calibration_ else base, self.decisions_
        )
        return self

    def _bind(self, base: TfidfRanker, decisions: Sequence[Decision]) -> None:
        self.base_ = base
        self._prepare_fields()
        self.decisions_ = [
            d for d in decisions if d.need_id in base.need_index_ and d.npo_id in base.org_index_
        ]
        self.history_ = _History()
        # the latest decision on each pair: +1 confirmed, -1 rejected (``pin_decided``)
        self.decided_: dict[tuple[int, int], float] = {
            (base.need_index_[d.need_id], base.org_index_[d.npo_id]): (
                1.0 if d.decision == "confirm" else -1.0
            )
            for d in self.decisions_
        }
        for d in self.decisions_:
            self.history_.by_org.setdefault(base.org_index_[d.npo_id], []).append(
                (
                    base.need_index_[d.need_id],
                    int(d.decision == "confirm"),
                    REASONS.get(d.reason, "other"),
                )
            )
        # document expansion: which needs each group was confirmed for (where the cold
        # start had not found it), and the need-need (query-need, profile-need) products
        # the expanded cosine is computed from
        self.informative_ = self._informative()
        confirms = [d for d, new in zip(self.decisions_, self.informative_, strict=True) if new]
        self.confirmed_ = self._confirm_matrix(
            [base.need_index_[d.need_id] for d in confirms],
            [base.org_index_[d.npo_id] for d in confirms],
        )
        nv = base.need_vectors_
        self._terms: _ExpansionTerms | None = None
        self.nn_ = (nv @ nv.T).toarray()
        self.qn_ = (base.need_queries_ @ nv.T).toarray()
        self.on_ = (base.org_vectors_ @ nv.T).toarray()

    def _informative(self) -> np.ndarray:
        """Per decision: a confirmation of a group the cold start ranks below
        ``informative_rank`` for that need (or not at all, e.g. one paired by hand). Only
        these expand profiles: a group the cold start already put near the top gains
        nothing from the need's words, and boosting it further for every similar need
        only makes it crowd other lists."""
        b = self.base_
        out = np.zeros(len(self.decisions_), dtype=bool)
        confirms = [k for k, d in enumerate(self.decisions_) if d.decision == "confirm"]
        if not confirms:
            return out
        rows = np.array([b.need_index_[self.decisions_[k].need_id] for k in confirms])
        found: dict[int, set[int]] = {}
        needs = np.unique(rows)
        for start in range(0, len(needs), _BLOCK):
            chunk = needs[start : start + _BLOCK]
            for i, row in zip(chunk.tolist(), b.score_block(chunk), strict=True):
                found[i] = set(top_k(row, self.informative_rank).tolist())
        for k, i in zip(confirms, rows.tolist(), strict=True):
            out[k] = b.org_index_[self.decisions_[k].npo_id] not in found[i]
        return out

    def _confirm_matrix(self, rows: Sequence[int], cols: Sequence[int]) -> np.ndarray:
        """needs × organisations, 1 where the group was confirmed for the need."""
        b = self.base_
        out = np.zeros((len(b.need_ids_), len(b.org_ids_)))
        out[np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)] = 1.0
        return out

    def _expanded(
        self, rows: np.ndarray, confirmed: np.ndarray, beta: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cold-start scores of ``rows`` × every organisation with each profile expanded by
        ``beta`` × the mean vector of the needs it was confirmed for (in ``confirmed``; a
        need's own decisions left out), and the part of each score the expansion added.

        The expanded profile ``(o + β m̄) / ‖o + β m̄‖`` is never built: its cosine with a
        query follows from the need-need products kept at bind time."""
        b = self.base_
        zero = np.zeros((len(rows), len(b.org_ids_)))
        if not beta or not confirmed.any():
            return b.score_block(rows), zero
        terms = self._expansion_terms(confirmed)
        own = confirmed[rows]
        count = terms.count[None, :] - own
        safe = np.maximum(count, 1.0)
        qn_self = self.qn_[rows, rows][:, None]
        nn_self = self.nn_[rows, rows][:, None]
        query_mean = (np.asarray(terms.pairs.T @ self.qn_[rows].T).T - own * qn_self) / safe
        org_mean = terms.org_mean[None, :] - own * self.on_[:, rows].T
        mean_mean = terms.mean_mean[None, :] - 2.0 * own * terms.nn_c[rows] + own * nn_self
        norm2 = 1.0 + 2.0 * beta * org_mean / safe + beta**2 * mean_mean / safe**2
        z = np.where(count > 0, np.sqrt(np.maximum(norm2, 1e-12)), 1.0)
        text = (b.need_queries_[rows] @ b.org_vectors_.T).toarray() / z
        added = np.where(count > 0, beta * query_mean, 0.0) / z
        factor = b.factor_product(rows)
        # the expansion is a signal of its own ("confirmed for needs like this one"): it
        # is added to the blended similarity, not diluted by the LSA and word-vector parts
        score = b.finish((b.blend(text, rows) + added) * factor)
        return score, added * factor

    def _calibrate(self) -> tuple[dict[str, float], dict[str, float]]:
        """Each ``CALIBRATION`` setting tried on its own: nDCG@10 of the decided needs
        (their confirmed groups relevant, every other group not) over the whole ranking.
        Returns the figures tried (``{"field_weight=0.25": nDCG, …}``, the defaults as
        ``"default"``) and the settings kept (``{}``: the defaults stay).

        A setting is global (it is not learned per need or per group), so the decided
        needs themselves measure it; the gate on needs, the margin and the check of the
        combination guard against picking noise among a dozen candidates."""
        b = self.base_
        confirmed: dict[int, set[int]] = {}
        for d in self.decisions_:
            if d.decision == "confirm":
                confirmed.setdefault(b.need_index_[d.need_id], set()).add(b.org_index_[d.npo_id])
        rows = np.array(sorted(confirmed), dtype=np.intp)
        relevant = np.zeros((len(rows), len(b.org_ids_)))
        for k, i in enumerate(rows.tolist()):
            relevant[k, sorted(confirmed[i])] = 1.0

        def per_need(ranker: TfidfRanker) -> np.ndarray:
            scores = np.vstack(
                [ranker.score_block(rows[s : s + _BLOCK]) for s in range(0, len(rows), _BLOCK)]
            )
            return _ndcg_rows(scores, relevant)

        default = per_need(b)
        tried = {"default": round(float(default.mean()), 4)}
        kept: dict[str, float] = {}
        for name, values in CALIBRATION.items():
            best, best_value = float(default.mean()) + CALIBRATION_GAIN, None
            for value in values[1:]:
                score = float(per_need(_calibrated(b, {name: value})).mean())
                tried[f"{name}={value:g}"] = round(score, 4)
                if score >= best:
                    best, best_value = score, value
            if best_value is not None:
                kept[name] = best_value
        if not kept:
            return tried, {}
        combined = per_need(_calibrated(b, kept))
        tried["combined"] = round(float(combined.mean()), 4)
        wins, losses = int((combined > default).sum()), int((combined < default).sum())
        if combined.mean() < default.mean() + CALIBRATION_GAIN or wins <= losses:
            return tried, {}
        return tried, kept

    def _expansion_terms(self, confirmed: np.ndarray) -> _ExpansionTerms:
        """What ``_expanded`` needs of a ``confirmed`` matrix whatever the rows: computed
        once per matrix (the last one is kept), from its few non-zero cells."""
        cached = getattr(self, "_terms", None)
        if cached is not None and cached.confirmed is confirmed:
            return cached
        pairs = sp.csr_matrix(confirmed)
        c, j = pairs.nonzero()
        # nn_ is symmetric: (confirmedᵀ nn_)ᵀ = nn_ confirmed, at the cost of its non-zeros
        nn_c = np.asarray(pairs.T @ self.nn_).T
        n_orgs = confirmed.shape[1]
        terms = _ExpansionTerms(
            confirmed=confirmed,
            pairs=pairs,
            count=np.asarray(pairs.sum(axis=0)).ravel(),
            org_mean=np.bincount(j, weights=self.on_[j, c], minlength=n_orgs),
            mean_mean=np.bincount(j, weights=nn_c[c, j], minlength=n_orgs),
            nn_c=nn_c,
        )
        self._terms = terms
        return terms

    def _validate_expansion(self) -> dict[float, tuple[float, float]]:
        """nDCG@10 of training needs held out from the expansion (GroupKFold by need), over
        every organisation (a group nobody decided on counts as not relevant), for each
        ``β`` in ``EXPANSIONS``: ``{β: (mean nDCG, share of folds where it beats β = 0)}``."""
        b = self.base_
        rows = np.array([b.need_index_[d.need_id] for d in self.decisions_])
        cols = np.array([b.org_index_[d.npo_id] for d in self.decisions_])
        y = np.array([d.decision == "confirm" for d in self.decisions_])
        new = self.informative_
        n_groups = len(set(rows.tolist()))
        if n_groups < 3:
            return {}
        scores: dict[float, list[float]] = {a: [] for a in EXPANSIONS}
        for train, test in GroupKFold(n_splits=min(5, n_groups)).split(rows, y, rows):
            confirmed = self._confirm_matrix(rows[train][new[train]], cols[train][new[train]])
            held = np.unique(rows[test][y[test]])
            if not len(held) or not confirmed.any():
                continue
            relevant = self._confirm_matrix(rows[test][y[test]], cols[test][y[test]])[held]
            for beta in EXPANSIONS:
                block = self._expanded(held, confirmed, beta)[0]
                scores[beta].append(_ndcg_at_10(block, relevant))
        if not scores[0.0]:
            return {}
        base = np.array(scores[0.0])
        return {
            a: (round(float(np.mean(v)), 4), round(float(np.mean(np.array(v) > base)), 2))
            for a, v in scores.items()
        }

    def _new_model(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)

    def _validate(
        self, X: np.ndarray, y: np.ndarray, groups: np.ndarray
    ) -> dict[float, tuple[float, float]]:
        """Held-out nDCG@10 (GroupKFold by need) of each blend ``{α: (mean nDCG, share of
        folds where it beats the cold-start order)}``; α=0 is the cold start itself.

        Measured where the blend is used: each held-out need's ``candidates`` cold-start
        groups are re-ranked, and the groups confirmed for it are the relevant ones (a
        group nobody decided on counts as not relevant). Ordering only the decided pairs
        would say little when a need has few decisions, most of them confirmations — as
        in decisions taken from relevance judgements — and let a harmful model through."""
        n_groups = len(set(groups.tolist()))
        if n_groups < 3:
            return {}
        b = self.base_
        cols = np.array([b.org_index_[d.npo_id] for d in self.decisions_])
        confirmed_needs = np.unique(groups[y == 1])
        block = self._expanded(confirmed_needs, self.confirmed_, self.expansion_)[0]
        candidates = [top_k(row, self.candidates) for row in block]
        every = self._features(
            np.concatenate(
                [np.full(len(c), i) for i, c in zip(confirmed_needs, candidates, strict=True)]
            ),
            np.concatenate(candidates),
        )
        lists = {}
        offset = 0
        for i, these in zip(confirmed_needs.tolist(), candidates, strict=True):
            mine = set(cols[(groups == i) & (y == 1)].tolist())
            relevant = np.array([j in mine for j in these.tolist()], dtype=np.float64)
            lists[i] = (every[offset : offset + len(these)], relevant, len(mine))
            offset += len(these)
        scores: dict[float, list[float]] = {a: [] for a in BLENDS}
        for train, test in GroupKFold(n_splits=min(5, n_groups)).split(X, y, groups):
            held = [i for i in np.unique(groups[test]).tolist() if i in lists]
            if len(set(y[train])) < 2 or not held:
                continue
            model = self._new_model().fit((X[train] - self.mean_) / self.scale_, y[train])
            fold: dict[float, list[float]] = {a: [] for a in BLENDS}
            for i in held:
                features, relevant, n_relevant = lists[i]
                p = model.predict_proba((features - self.mean_) / self.scale_)[:, 1]
                cold = self._cold_share(features)
                for alpha in BLENDS:
                    blended = (1 - alpha) * cold + alpha * p
                    fold[alpha].append(_ranking_ndcg_at_10(blended, relevant, n_relevant))
            for alpha in BLENDS:
                scores[alpha].append(float(np.mean(fold[alpha])))
        if not scores[0.0]:
            return {}
        base = np.array(scores[0.0])
        return {
            a: (round(float(np.mean(v)), 4), round(float(np.mean(np.array(v) > base)), 2))
            for a, v in scores.items()
        }

    @staticmethod
    def _cold_share(X: np.ndarray) -> np.ndarray:
        return X[:, FEATURES.index("cold_relative")]

    def _prepare_fields(self) -> None:
        b = self.base_
        vec = b.vectorizer_
        self.need_problem_ = vec.transform_fields(b.needs_, {"title": 1.0, "description": 1.0})
        self.need_goal_ = vec.transform_fields(b.needs_, {"goal": 1.0})
        self.org_activities_ = vec.transform_fields(b.orgs_, {"activities": 1.0})
        self.org_offerings_ = vec.transform_fields(b.orgs_, {"offerings": 1.0})
        self.org_wishes_ = vec.transform_fields(b.orgs_, {"wishes": 1.0})
        filled = np.array(
            [
                [
                    bool(o.offerings),
                    bool(o.wishes),
                    bool(o.fields),
                    bool(o.legal_form),
                    len(o.activities) >= 60,
                ]
                for o in b.orgs_
            ],
            dtype=np.float64,
        )
        self.completeness_ = filled.mean(axis=1) if len(filled) else np.zeros(0)
        self.need_forms_ = [forms_wanted(n) for n in b.needs_]
        self.org_forms_ = [forms_named(o) for o in b.orgs_]
        # BM25 over the same tokens, built at the first feature row (a rebind in the
        # service does not pay for it unless the re-ranking model is used)
        self.bm25_: BM25Ranker | None = None

    def _bm25_row(self, i: int) -> np.ndarray:
        """BM25 of need row ``i`` against every profile, as a share of the need's best."""
        if self.bm25_ is None:
            b = self.base_
            self.bm25_ = BM25Ranker(tokenizer=b.vectorizer_.tokenizer_).fit(b.needs_, b.orgs_)
        scores = self.bm25_.need_scores(i)
        best = scores.max() if len(scores) else 0.0
        return scores / best if best > 0 else np.zeros_like(scores)

    # -- features --------------------------------------------------------------------
    def _features(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """One row of ``FEATURES`` per (need row, organisation row) pair."""
        b = self.base_
        out = np.zeros((len(rows), len(FEATURES)))
        if not len(rows):
            return out
        f = {name: k for k, name in enumerate(FEATURES)}
        # the per-need parts, a block of needs at a time
        needs, inverse = np.unique(rows, return_inverse=True)
        for start in range(0, len(needs), _BLOCK):
            chunk = needs[start : start + _BLOCK]
            sel = np.flatnonzero((inverse >= start) & (inverse < start + len(chunk)))
            local, js = inverse[sel] - start, cols[sel]
            cold = self._expanded(chunk, self.confirmed_, self.expansion_)[0]
            out[sel, f["cold_start"]] = cold[local, js]
            # the share of the need's best cold-start score: the same scale for every need
            best = cold.max(axis=1)[local]
            out[sel, f["cold_relative"]] = np.where(
                best > 0, cold[local, js] / np.where(best > 0, best, 1.0), 0.0
            )
            out[sel, f["text"]] = b.text_similarity(chunk)[local, js]
            bm25 = np.vstack([self._bm25_row(i) for i in chunk.tolist()])
            out[sel, f["bm25"]] = bm25[local, js]
            out[sel, f["field_agree"]] = b._factors(chunk)["fields"][local, js]
        out[:, f["problem_activities"]] = _pair_dot(
            self.need_problem_, self.org_activities_, rows, cols
        )
        out[:, f["goal_offerings"]] = _pair_dot(self.need_goal_, self.org_offerings_, rows, cols)
        out[:, f["need_wishes"]] = _pair_dot(b.need_vectors_, self.org_wishes_, rows, cols)
        n_count = np.asarray(b.need_fields_.sum(axis=1)).ravel()
        o_count = np.asarray(b.org_fields_.sum(axis=1)).ravel()
        out[:, f["field_known"]] = (n_count[rows] > 0) & (o_count[cols] > 0)
        relation = b.area_relations_[b.need_area_codes_[rows], b.org_area_codes_[cols]]
        out[:, f["area_same"]] = relation == "same"
        out[:, f["area_other"]] = (relation == "other") | (relation == "unknown")
        out[:, f["area_local_group"]] = relation == "citywide_need"
        out[:, f["members_only"]] = b.members_only_[cols]
        out[:, f["completeness"]] = self.completeness_[cols]
        for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            wanted, named = self.need_forms_[i], self.org_forms_[j]
            out[k, f["forms_match"]] = bool(wanted & named)
            out[k, f["forms_other"]] = bool(wanted) and bool(named) and not wanted & named
        self._history_features(rows, cols, out, f)
        return out

    def _history_features(
        self, rows: np.ndarray, cols: np.ndarray, out: np.ndarray, f: dict[str, int]
    ) -> None:
        """Similarity-weighted decisions on the same group for *other* needs."""
        history = self.history_.by_org
        if not history:
            return
        for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            past = [(r, y, why) for r, y, why in history.get(j, ()) if r != i]
            if not past:
                continue
            # the need-need cosines are kept at bind time (``nn_``)
            sims = self.nn_[[r for r, _, _ in past], i]
            for (_, y, why), s in zip(past, sims, strict=True):
                if y:
                    out[k, f["hist_confirm"]] += s
                else:
                    out[k, f["hist_reject"]] += s
                    name = f"hist_reject_{why}"
                    if name in f:
                        out[k, f[name]] += s

    # -- ranking ---------------------------------------------------------------------
    def rank_orgs(
        self, need_ids: Sequence[str] | None = None, *, top: int = 10, pin_decided: bool = False
    ) -> list[tuple[str, Ranking]]:
        """For each need (all by default), the ``top`` organisations, best first.

        ``pin_decided``: the decisions learned from also stand for their own pairs — a
        need's confirmed groups come first, its rejected ones last (their scores moved by
        a whole number larger than any score of the list), each kind in the model's
        order, so a ranking never contradicts what the coordinator already decided.
        Needs without decisions are unaffected."""
        check_is_fitted(self, "base_")
        b = self.base_
        if not self.promoted_ and not (pin_decided and self.decided_):
            return b.rank_orgs(need_ids, top=top)
        pins = self._pins(by_need=True) if pin_decided else {}
        out = []
        rows = b._rows(need_ids, b.need_index_)
        for start in range(0, len(rows), _BLOCK):
            chunk = rows[start : start + _BLOCK]
            block = self._expanded(chunk, self.confirmed_, self.expansion_)[0]
            lists = [
                _with(top_k(row, max(top, self.candidates)), pins.get(i, {}))
                for i, row in zip(chunk.tolist(), block, strict=True)
            ]
            if self.alpha_:  # the model's features for the whole block at once
                learned = self._learned(
                    np.concatenate([np.full(len(c), i) for i, c in zip(chunk, lists, strict=True)]),
                    np.concatenate(lists),
                )
                bounds = np.cumsum([0, *(len(c) for c in lists)])
            for k, (i, row, cols) in enumerate(zip(chunk.tolist(), block, lists, strict=True)):
                scores = learned[bounds[k] : bounds[k + 1]] if self.alpha_ else row[cols]
                scores = _pin(scores, cols, pins.get(i, {}))
                order = top_k(scores, top)
                ranking = [(b.org_ids_[cols[m]], float(scores[m])) for m in order]
                out.append((b.need_ids_[i], ranking))
        return out

    def rank_needs(
        self, org_ids: Sequence[str] | None = None, *, top: int = 10, pin_decided: bool = False
    ) -> list[tuple[str, Ranking]]:
        """For each organisation (all by default), the ``top`` needs, best first
        (``pin_decided`` as in ``rank_orgs``: the needs it was confirmed for first)."""
        check_is_fitted(self, "base_")
        b = self.base_
        if not self.promoted_ and not (pin_decided and self.decided_):
            return b.rank_needs(org_ids, top=top)
        pins = self._pins(by_need=False) if pin_decided else {}
        cols = b._rows(org_ids, b.org_index_)
        every = np.arange(len(b.need_ids_))
        full = (
            np.vstack(
                [
                    self._expanded(every[s : s + _BLOCK], self.confirmed_, self.expansion_)[0]
                    for s in range(0, len(every), _BLOCK)
                ]
            )
            if len(every)
            else np.zeros((0, len(b.org_ids_)))
        )
        out = []
        for j in cols.tolist():
            pinned = pins.get(j, {})
            rows = _with(top_k(full[:, j], max(top, self.candidates)), pinned)
            scores = self._learned(rows, np.full(len(rows), j)) if self.alpha_ else full[rows, j]
            scores = _pin(scores, rows, pinned)
            order = top_k(scores, top)
            out.append((b.org_ids_[j], [(b.need_ids_[rows[k]], float(scores[k])) for k in order]))
        return out

    def _pins(self, *, by_need: bool) -> dict[int, dict[int, float]]:
        """The decided pairs keyed by need row (or organisation row): ``{other row: ±1}``."""
        out: dict[int, dict[int, float]] = {}
        for (i, j), sign in self.decided_.items():
            key, other = (i, j) if by_need else (j, i)
            out.setdefault(key, {})[other] = sign
        return out

    def _learned(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Blend of the cold-start score (scaled to the list's best) and p(confirm)."""
        assert self.model_ is not None
        X = self._features(rows, cols)
        p = self.model_.predict_proba((X - self.mean_) / self.scale_)[:, 1]
        blended = (1 - self.alpha_) * self._cold_share(X) + self.alpha_ * p
        return np.round(blended, SCORE_DECIMALS)

    def contributions(self, need_id: str, npo_id: str) -> dict[str, float]:
        """How much each feature pushed this pair up (+) or down (−) in the learned score
        (log-odds of the re-ranking model), and ``confirmed_similar``: the score the
        document expansion added because the group was confirmed for needs like this one.
        With no re-ranking model in use, ``cold_start`` is the rest of the score. Names
        are in ``CONTRIBUTIONS``; ``FEATURE_LABELS`` says each in Japanese."""
        if not self.promoted_:
            return {}
        b = self.base_
        i, j = b.need_index_[need_id], b.org_index_[npo_id]
        out: dict[str, float] = {}
        score, added = self._expanded(np.array([i]), self.confirmed_, self.expansion_)
        if self.alpha_ and self.model_ is not None:
            x = (self._features(np.array([i]), np.array([j])) - self.mean_) / self.scale_
            values = self.model_.coef_[0] * x[0]
            out.update(
                (name, round(float(v), 4))
                for name, v in zip(FEATURES, values, strict=True)
                if abs(v) > 1e-9
            )
        else:
            out["cold_start"] = round(float(score[0, j] - added[0, j]), 4)
        if added[0, j] > 1e-9:
            out["confirmed_similar"] = round(float(added[0, j]), 4)
        return out

    @property
    def version(self) -> str:
        return "learned" if self.promoted_ else "cold-start"


# a comparison with the current model needs confirmations on at least this many needs
# decided since it was trained; with fewer, the current model keeps serving
MIN_NEW_NEEDS = 3


@dataclass(frozen=True, slots=True)
class Comparison:
    """A retrained model against the one serving, on the decisions made since the serving
    one was trained (``compare_with_current``): nDCG@10 on the needs with a new
    confirmation, ranked by the serving model and by the candidate's procedure trained on
    every decision except those needs' new ones (both know the older ones)."""

    new_needs: int
    current_ndcg: float
    candidate_ndcg: float

    @property
    def enough(self) -> bool:
        return self.new_needs >= MIN_NEW_NEEDS

    @property
    def not_worse(self) -> bool:
        return self.enough and self.candidate_ndcg >= self.current_ndcg

    def as_dict(self) -> dict[str, object]:
        return {
            "new_needs": self.new_needs,
            "current_ndcg": self.current_ndcg,
            "candidate_ndcg": self.candidate_ndcg,
        }


def compare_with_current(
    base: TfidfRanker,
    current: Sequence[Decision],
    decisions: Sequence[Decision],
    *,
    serving: LearnedRanker | None = None,
) -> Comparison:
    """Whether learning from ``decisions`` does not do worse than the model learned from
    ``current`` (the serving model's decisions, an earlier state of the same record) on
    what was decided since: the pairs whose decision is new or changed. ``serving``: that
    model, when the caller holds it over ``base`` already (else it is learned again)."""
    before = {(d.need_id, d.npo_id): d for d in current}
    new = [d for d in decisions if before.get((d.need_id, d.npo_id)) != d]
    held = sorted(
        {d.need_id for d in new if d.decision == "confirm" and d.need_id in base.need_index_}
    )
    if len(held) < MIN_NEW_NEEDS:
        return Comparison(len(held), 0.0, 0.0)
    wanted = set(held)
    relevant = {
        q: {d.npo_id for d in new if d.need_id == q and d.decision == "confirm"} for q in held
    }
    serving = serving if serving is not None else LearnedRanker().fit_on(base, current)
    # the candidate knows what the serving model knew of those needs, not what is new
    unseen = {(d.need_id, d.npo_id) for d in new if d.need_id in wanted}
    candidate = LearnedRanker().fit_on(
        base, [d for d in decisions if (d.need_id, d.npo_id) not in unseen]
    )
    figures = []
    for model in (serving, candidate):
        ranked = dict(model.rank_orgs(held, top=10))
        figures.append(
            float(
                np.mean(
                    [
                        _ranking_ndcg_at_10(
                            -np.arange(len(ranked[q]), dtype=np.float64),
                            np.array([o in relevant[q] for o, _ in ranked[q]], dtype=np.float64),
                            len(relevant[q]),
                        )
                        for q in held
                    ]
                )
            )
        )
    return Comparison(len(held), round(figures[0], 4), round(figures[1], 4))
