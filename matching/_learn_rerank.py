"""Learning stage 2: a re-ranking model over features of each (need, group) pair.

A logistic regression re-orders the cold-start candidates once there are enough decisions
of both kinds, and only if it beats the cold-start order on held-out decisions. Decisions
teach twice: the weights of the generic features (text per field pair, BM25, 活動分野, area,
members-only, the kind of partner, the population, forms of collaboration, profile
completeness), and the history of each group — a group confirmed for needs like this one
moves up; one rejected as 地域外 or 体制不足 for similar needs moves down.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from ._bm25 import BM25Ranker, need_tokens, org_tokens
from ._decision import Decision, fold_summary, ranking_ndcg_at_10
from ._learn_expand import Expansion
from ._ranker import _BLOCK, TfidfRanker, top_k
from ._schema import Need, Organization
from ._signals import forms_named, forms_wanted

__all__ = [
    "BLENDS",
    "CONTRIBUTIONS",
    "FEATURES",
    "FEATURE_LABELS",
    "MIN_FOLD_WINS",
    "MIN_GAIN",
    "PairFeatures",
    "blend_promoted",
    "new_model",
]

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
    "business",
    "population_other",
    "forms_match",
    "forms_other",
    "completeness",
    "hist_confirm",
    "hist_reject",
    "hist_reject_field",
    "hist_reject_area",
    "hist_reject_capacity",
    "hist_reject_members",
    "hist_reject_business",
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
    "business": "営利企業（企業の参加を求めない課題）",
    "population_other": "対象者が異なる",
    "forms_match": "協働の形態が団体の希望に合う",
    "forms_other": "団体の希望する協働の形態が異なる",
    "completeness": "プロフィールの充実度",
    "hist_confirm": "似た協働の種で承認",
    "hist_reject": "似た協働の種で見送り",
    "hist_reject_field": "似た協働の種で見送り（分野違い）",
    "hist_reject_area": "似た協働の種で見送り（地域外）",
    "hist_reject_capacity": "似た協働の種で見送り（体制不足）",
    "hist_reject_members": "似た協働の種で見送り（共益的活動）",
    "hist_reject_business": "似た協働の種で見送り（営利・事業者）",
    "confirmed_similar": "似た協働の種で承認済み",
}
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


def _pair_dot(a: sp.csr_matrix, b: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.asarray(a[rows].multiply(b[cols]).sum(axis=1)).ravel()


def _fields(
    b: TfidfRanker, items: Sequence[Need] | Sequence[Organization], weights: dict[str, float]
) -> sp.csr_matrix:
    if not items:  # (the vectorizer wants one row at least)
        return sp.csr_matrix((0, b.need_vectors_.shape[1]))
    return b.vectorizer_.transform_fields(items, weights)


def need_rows(
    b: TfidfRanker, needs: Sequence[Need]
) -> tuple[sp.csr_matrix, sp.csr_matrix, list[set[str]]]:
    """What ``PairFeatures`` keeps per need: its problem's and its goal's vectors, the
    forms of collaboration it asks for (each row its own need's alone)."""
    return (
        _fields(b, needs, {"title": 1.0, "description": 1.0}),
        _fields(b, needs, {"goal": 1.0}),
        [forms_wanted(n) for n in needs],
    )


def org_rows(
    b: TfidfRanker, orgs: Sequence[Organization]
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray, list[set[str]]]:
    """What ``PairFeatures`` keeps per profile: the vectors of its activities, its offers
    and its wishes, its completeness, the forms of collaboration it names."""
    filled = np.array(
        [
            [
                bool(o.offerings),
                bool(o.wishes),
                bool(o.fields),
                bool(o.legal_form),
                len(o.activities) >= 60,
            ]
            for o in orgs
        ],
        dtype=np.float64,
    )
    return (
        _fields(b, orgs, {"activities": 1.0}),
        _fields(b, orgs, {"offerings": 1.0}),
        _fields(b, orgs, {"wishes": 1.0}),
        filled.mean(axis=1) if len(filled) else np.zeros(0),
        [forms_named(o) for o in orgs],
    )


class PairFeatures:
    """``FEATURES`` of (need row, organisation row) pairs over one expansion's ranker."""

    def __init__(self, expansion: Expansion, decisions: Sequence[Decision]) -> None:
        self.expansion = expansion
        b = self.base = expansion.base
        self.need_problem, self.need_goal, self.need_forms = need_rows(b, b.needs_)
        (
            self.org_activities,
            self.org_offerings,
            self.org_wishes,
            self.completeness,
            self.org_forms,
        ) = org_rows(b, b.orgs_)
        # BM25 over the same tokens, tokenised and indexed at the first feature row (a
        # rebind in the service does not pay for it unless the re-ranking model is used;
        # an incremental one keeps the tokens of the rows it did not change)
        self.need_tokens: list[list[str]] | None = None
        self.org_tokens: list[list[str]] | None = None
        self.bm25: bm25s.BM25 | None = None
        self.history = self.history_of(b, decisions)

    @staticmethod
    def history_of(
        b: TfidfRanker, decisions: Sequence[Decision]
    ) -> dict[int, list[tuple[int, int, str]]]:
        """Decisions by organisation row: ``[(need row, label, what the reason is about)]``."""
        history: dict[int, list[tuple[int, int, str]]] = {}
        for d in decisions:
            history.setdefault(b.org_index_[d.npo_id], []).append(
                (b.need_index_[d.need_id], int(d.decision == "confirm"), d.about)
            )
        return history

    def _bm25_row(self, i: int) -> np.ndarray:
        """BM25 of need row ``i`` against every profile (``BM25Ranker.need_scores``), as a
        share of the need's best."""
        b = self.base
        if self.bm25 is None:
            tok = b.vectorizer_.tokenizer_
            if self.need_tokens is None:
                self.need_tokens = [need_tokens(tok, n) for n in b.needs_]
            if self.org_tokens is None:
                self.org_tokens = [org_tokens(tok, o) for o in b.orgs_]
            self.bm25 = BM25Ranker(tokenizer=tok).index_of(self.org_tokens)
        assert self.need_tokens is not None
        scores = np.asarray(self.bm25.get_scores(self.need_tokens[i]), dtype=np.float64)
        scores = scores[: len(b.org_ids_)]
        best = scores.max() if len(scores) else 0.0
        return scores / best if best > 0 else np.zeros_like(scores)

    def __call__(self, rows: np.ndarray, cols: np.ndarray, beta: float) -> np.ndarray:
        """One row of ``FEATURES`` per (need row, organisation row) pair, over the
        profiles expanded by ``beta``."""
        b = self.base
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
            cold = self.expansion.scores(chunk, None, beta)[0]
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
            out[sel, f["business"]] = b.signals_.supplier(chunk)[local, js]
            out[sel, f["population_other"]] = b.signals_.population_mismatch(chunk)[local, js]
        out[:, f["problem_activities"]] = _pair_dot(
            self.need_problem, self.org_activities, rows, cols
        )
        out[:, f["goal_offerings"]] = _pair_dot(self.need_goal, self.org_offerings, rows, cols)
        out[:, f["need_wishes"]] = _pair_dot(b.need_vectors_, self.org_wishes, rows, cols)
        n_count = np.asarray(b.need_fields_.sum(axis=1)).ravel()
        o_count = np.asarray(b.org_fields_.sum(axis=1)).ravel()
        out[:, f["field_known"]] = (n_count[rows] > 0) & (o_count[cols] > 0)
        relation = b.area_relations_[b.need_area_codes_[rows], b.org_area_codes_[cols]]
        out[:, f["area_same"]] = relation == "same"
        out[:, f["area_other"]] = (relation == "other") | (relation == "unknown")
        out[:, f["area_local_group"]] = relation == "citywide_need"
        out[:, f["members_only"]] = b.members_only_[cols]
        out[:, f["completeness"]] = self.completeness[cols]
        for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            wanted, named = self.need_forms[i], self.org_forms[j]
            out[k, f["forms_match"]] = bool(wanted & named)
            out[k, f["forms_other"]] = bool(wanted) and bool(named) and not wanted & named
        self._history_features(rows, cols, out, f)
        return out

    def _history_features(
        self, rows: np.ndarray, cols: np.ndarray, out: np.ndarray, f: dict[str, int]
    ) -> None:
        """Similarity-weighted decisions on the same group for *other* needs."""
        if not self.history:
            return
        decided = np.unique(
            [r for j in np.unique(cols).tolist() for r, _, _ in self.history.get(j, ())]
        )
        if not len(decided):
            return
        needs, inverse = np.unique(rows, return_inverse=True)
        nn = self.expansion.need_products(decided, needs)
        where = {r: k for k, r in enumerate(decided.tolist())}
        for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            past = [(r, y, why) for r, y, why in self.history.get(j, ()) if r != i]
            if not past:
                continue
            sims = nn[[where[r] for r, _, _ in past], inverse[k]]
            for (_, y, why), s in zip(past, sims, strict=True):
                if y:
                    out[k, f["hist_confirm"]] += s
                else:
                    out[k, f["hist_reject"]] += s
                    name = f"hist_reject_{why}"
                    if name in f:
                        out[k, f[name]] += s


def cold_share(X: np.ndarray) -> np.ndarray:
    return X[:, FEATURES.index("cold_relative")]


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
