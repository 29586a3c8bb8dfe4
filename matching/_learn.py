"""A ranking model that learns from the coordinator's decisions.

The cold-start ranker proposes candidates; a logistic regression over features of each
(need, group) pair re-orders them once there are enough decisions to learn from, and
only if it beats the cold-start order on held-out decisions. Decisions teach twice: the
weights of the generic features (text per field pair, 活動分野, area, members-only,
profile completeness), and the history of each group — a group confirmed for needs like
this one moves up; one rejected as 地域外 or 体制不足 for similar needs moves down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted

from ._explain import SCORE_DECIMALS
from ._ranker import Ranking, TfidfRanker, top_k
from ._schema import Need, Organization

__all__ = ["FEATURES", "REASONS", "Decision", "LearnedRanker"]

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
    "field_agree",
    "field_known",
    "area_same",
    "area_other",
    "area_local_group",
    "members_only",
    "completeness",
    "hist_confirm",
    "hist_reject",
    "hist_reject_field",
    "hist_reject_area",
    "hist_reject_capacity",
    "hist_reject_members",
)


BLENDS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
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


def _within_need_ndcg(y: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> float:
    """Mean nDCG of each need's decided candidates ordered by ``scores`` (confirm = 1):
    the ranking quality the blend is chosen for, measured where it is used."""
    values = []
    for g in np.unique(groups):
        mask = groups == g
        if y[mask].any():
            order = np.argsort(-scores[mask], kind="stable")
            gains = y[mask][order]
            ideal = np.sort(y[mask])[::-1]
            discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
            values.append(float(gains @ discounts) / float(ideal @ discounts))
    return float(np.mean(values)) if values else 0.0


def _pair_dot(a: sp.csr_matrix, b: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.asarray(a[rows].multiply(b[cols]).sum(axis=1)).ravel()


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
    min_decisions: fewer decisions than this (or only one kind) → cold start.
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
        C: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.base = base
        self.candidates = candidates
        self.min_decisions = min_decisions
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
        """Learn on top of an already fitted cold-start ranker (used as it is, not copied)."""
        self._bind(base, decisions)
        known = self.decisions_
        self.model_: LogisticRegression | None = None
        self.report_: dict[str, object] = {"decisions": len(known), "promoted": False}
        labels = {d.decision for d in known}
        if len(known) < self.min_decisions or labels != {"confirm", "reject"}:
            self.report_["reason"] = "too few decisions, or only one kind: cold start"
            return self
        rows = np.array([base.need_index_[d.need_id] for d in known])
        cols = np.array([base.org_index_[d.npo_id] for d in known])
        X = self._features(rows, cols)
        y = np.array([int(d.decision == "confirm") for d in known])
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        scores = self._validate(X, y, rows)
        self.report_["validation_ndcg"] = {a: v[0] for a, v in scores.items()}
        best = max(scores, key=lambda a: (scores[a][0], -a)) if scores else 0.0
        if (
            best == 0.0
            or scores[best][0] < scores[0.0][0] + MIN_GAIN
            or scores[best][1] < MIN_FOLD_WINS
        ):
            self.report_["reason"] = "not better than cold start on held-out decisions"
            return self
        self.alpha_ = best
        self.model_ = self._new_model().fit((X - self.mean_) / self.scale_, y)
        self.report_.update(promoted=True, alpha=best)
        return self

    def rebind(self, base: TfidfRanker) -> LearnedRanker:
        """Keep the learned weights, but rank over ``base``'s current items (after the cold
        start ranker's ``upsert``/``remove``/``fit``): fields and history are rebuilt."""
        check_is_fitted(self, "base_")
        self._bind(base, self.decisions_)
        return self

    def _bind(self, base: TfidfRanker, decisions: Sequence[Decision]) -> None:
        self.base_ = base
        self._prepare_fields()
        self.decisions_ = [
            d for d in decisions if d.need_id in base.need_index_ and d.npo_id in base.org_index_
        ]
        self.history_ = _History()
        for d in self.decisions_:
            self.history_.by_org.setdefault(base.org_index_[d.npo_id], []).append(
                (
                    base.need_index_[d.need_id],
                    int(d.decision == "confirm"),
                    REASONS.get(d.reason, "other"),
                )
            )

    def _new_model(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)

    def _validate(
        self, X: np.ndarray, y: np.ndarray, groups: np.ndarray
    ) -> dict[float, tuple[float, float]]:
        """Held-out nDCG (GroupKFold by need) of each blend ``{α: (mean nDCG, share of folds
        where it beats the cold-start order)}``; α=0 is the cold start itself."""
        n_groups = len(set(groups.tolist()))
        if n_groups < 3:
            return {}
        scores: dict[float, list[float]] = {a: [] for a in BLENDS}
        for train, test in GroupKFold(n_splits=min(5, n_groups)).split(X, y, groups):
            if len(set(y[train])) < 2 or len(set(y[test])) < 2:
                continue
            model = self._new_model().fit((X[train] - self.mean_) / self.scale_, y[train])
            p = model.predict_proba((X[test] - self.mean_) / self.scale_)[:, 1]
            cold = self._cold_share(X[test])
            for alpha in BLENDS:
                scores[alpha].append(
                    _within_need_ndcg(y[test], (1 - alpha) * cold + alpha * p, groups[test])
                )
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

    # -- features --------------------------------------------------------------------
    def _features(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """One row of ``FEATURES`` per (need row, organisation row) pair."""
        b = self.base_
        out = np.zeros((len(rows), len(FEATURES)))
        if not len(rows):
            return out
        f = {name: k for k, name in enumerate(FEATURES)}
        for i in np.unique(rows):
            mask = rows == i
            js = cols[mask]
            block = np.array([i])
            cold = b.score_block(block)[0]
            out[mask, f["cold_start"]] = cold[js]
            # the share of the need's best cold-start score: the same scale for every need
            out[mask, f["cold_relative"]] = cold[js] / cold.max() if cold.max() > 0 else 0.0
            out[mask, f["text"]] = b.text_similarity(block)[0, js]
            factors = b._factors(block)
            out[mask, f["field_agree"]] = factors["fields"][0, js]
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
        self._history_features(rows, cols, out, f)
        return out

    def _history_features(
        self, rows: np.ndarray, cols: np.ndarray, out: np.ndarray, f: dict[str, int]
    ) -> None:
        """Similarity-weighted decisions on the same group for *other* needs."""
        history = self.history_.by_org
        if not history:
            return
        b = self.base_
        for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            past = [(r, y, why) for r, y, why in history.get(j, ()) if r != i]
            if not past:
                continue
            others = np.array([r for r, _, _ in past])
            sims = np.asarray((b.need_vectors_[others] @ b.need_vectors_[i].T).todense()).ravel()
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
        self, need_ids: Sequence[str] | None = None, *, top: int = 10
    ) -> list[tuple[str, Ranking]]:
        check_is_fitted(self, "base_")
        b = self.base_
        if self.model_ is None:
            return b.rank_orgs(need_ids, top=top)
        out = []
        for need_id, ranking in b.rank_orgs(need_ids, top=max(top, self.candidates)):
            i = b.need_index_[need_id]
            cols = np.array([b.org_index_[o] for o, _ in ranking], dtype=np.intp)
            scores = self._learned(np.full(len(cols), i), cols)
            order = top_k(scores, top)
            out.append((need_id, [(b.org_ids_[cols[k]], float(scores[k])) for k in order]))
        return out

    def rank_needs(
        self, org_ids: Sequence[str] | None = None, *, top: int = 10
    ) -> list[tuple[str, Ranking]]:
        check_is_fitted(self, "base_")
        b = self.base_
        if self.model_ is None:
            return b.rank_needs(org_ids, top=top)
        out = []
        for org_id, ranking in b.rank_needs(org_ids, top=max(top, self.candidates)):
            j = b.org_index_[org_id]
            rows = np.array([b.need_index_[n] for n, _ in ranking], dtype=np.intp)
            scores = self._learned(rows, np.full(len(rows), j))
            order = top_k(scores, top)
            out.append((org_id, [(b.need_ids_[rows[k]], float(scores[k])) for k in order]))
        return out

    def _learned(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Blend of the cold-start score (scaled to the list's best) and p(confirm)."""
        assert self.model_ is not None
        X = self._features(rows, cols)
        p = self.model_.predict_proba((X - self.mean_) / self.scale_)[:, 1]
        blended = (1 - self.alpha_) * self._cold_share(X) + self.alpha_ * p
        return np.round(blended, SCORE_DECIMALS)

    def contributions(self, need_id: str, npo_id: str) -> dict[str, float]:
        """How much each feature pushed this pair up (+) or down (−) in the learned score."""
        if self.model_ is None:
            return {}
        b = self.base_
        x = (
            self._features(np.array([b.need_index_[need_id]]), np.array([b.org_index_[npo_id]]))
            - self.mean_
        ) / self.scale_
        values = self.model_.coef_[0] * x[0]
        return {
            name: round(float(v), 4)
            for name, v in zip(FEATURES, values, strict=True)
            if abs(v) > 1e-9
        }

    @property
    def version(self) -> str:
        return "learned" if self.model_ is not None else "cold-start"
