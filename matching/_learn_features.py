"""Learning stage 2's features: what the re-ranking model reads of each (need, group)
pair — text per field pair, BM25, the cold-start score, 活動分野, area, members-only,
business, population, forms of collaboration, profile completeness, and the group's
history of decisions on similar needs.

A few profiles' pairs (one group's page) are read from those profiles' columns alone;
what needs every profile (each need's best cold-start and BM25 score, the divisors of
the relative features) is kept per instance once computed. BM25's statistics are those
of the profiles the cold start was fitted on (``_bm25_parts``): an edit moves only the
edited profiles' BM25, as it moves only their TF-IDF rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ._bm25 import need_text, org_text
from ._bm25_parts import Bm25Parts, Bm25Stats
from ._decision import Decision
from ._learn_expand import Expansion
from ._learn_items import ItemRows
from ._ranker import _BLOCK, TfidfRanker

__all__ = [
    "CONTRIBUTIONS",
    "FEATURES",
    "FEATURE_LABELS",
    "PairFeatures",
    "cold_share",
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
# a block's features are computed on its own profiles' columns when they are at most this
# share of all (1 / _FEW); otherwise on every column, as a ranking of every need does
_FEW = 4


def _share(values: np.ndarray, best: np.ndarray | float) -> np.ndarray:
    """``values`` as a share of their need's ``best`` (0 where the best is not positive)."""
    return np.where(best > 0, values / np.where(best > 0, best, 1.0), 0.0)


def _pair_dot(a: sp.csr_matrix, b: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.asarray(a[rows].multiply(b[cols]).sum(axis=1)).ravel()


class PairFeatures:
    """``FEATURES`` of (need row, organisation row) pairs over one expansion's ranker."""

    def __init__(self, expansion: Expansion, decisions: Sequence[Decision]) -> None:
        self.expansion = expansion
        b = self.base = expansion.base
        given: ItemRows | None = getattr(b, "item_rows_", None)
        if given is not None and (given.needs is not b.needs_ or given.orgs is not b.orgs_):
            given = None  # made for other items
        rows = given if given is not None else ItemRows.of(b)
        self.need_problem, self.need_goal = rows.need_problem, rows.need_goal
        self.need_forms = rows.need_forms
        self.org_activities, self.org_offerings = rows.org_activities, rows.org_offerings
        self.org_wishes, self.completeness = rows.org_wishes, rows.completeness
        self.org_forms = rows.org_forms
        # BM25 over the same tokens, tokenised and indexed at the first feature row (a
        # rebind in the service does not pay for it unless the re-ranking model is used;
        # an incremental one keeps the tokens of the rows it did not change)
        self.need_tokens: list[list[str]] | None = rows.need_tokens
        self.org_tokens: list[list[str]] | None = rows.org_tokens
        # BM25's statistics: those of the profiles the cold start was fitted on (kept by
        # an incremental rebind, as the fit's IDF is), and its parts over the current ones
        self.bm25_stats: Bm25Stats | None = rows.bm25_stats
        self.bm25: Bm25Parts | None = None
        if rows.bm25_parts is not None and self.bm25_stats is not None:
            self.bm25 = Bm25Parts.of_parts(rows.bm25_parts, self.bm25_stats)
        # each need's tokens as ids under BM25's statistics, made at the first use
        # (``need_token_ids``; an incremental rebind keeps the rows it did not change)
        self.need_ids: list[np.ndarray] | None = None
        self.history = self.history_of(b, decisions)
        self.bests: dict[float | str, dict[int, float]] = {}

    def item_rows(self) -> ItemRows:
        """What these features computed of the items alone (BM25's tokens and statistics
        once a ranking made them), to hand to another model over the same items."""
        return ItemRows(
            self.need_problem,
            self.need_goal,
            self.need_forms,
            self.org_activities,
            self.org_offerings,
            self.org_wishes,
            self.completeness,
            self.org_forms,
            self.need_tokens,
            self.org_tokens,
            self.bm25_stats,
            self.bm25.by_doc if self.bm25 is not None else None,
        )

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

    def note_best_cold(self, rows: np.ndarray, beta: float, block: np.ndarray) -> None:
        """Keep each need's best cold-start score over every profile, from a block of
        ``rows`` × every profile that a ranking computed anyway (``cold_relative``'s
        divisor): a few pairs' features need not score the need against every profile
        again."""
        if block.shape[1] == len(self.base.org_ids_):
            best = self._bests(float(beta))
            best.update(zip(rows.tolist(), block.max(axis=1, initial=0.0).tolist(), strict=True))

    def _bests(self, key: float | str) -> dict[int, float]:
        """Each need's best score over every profile, by need row: the cold start's (by
        the expansion's β) or BM25's (``"bm25"``). Kept per instance: an incremental
        rebind's copy starts empty (``_learn_splice``), a rebind makes a new one."""
        return self.bests.setdefault(key, {})

    def _bm25_index(self) -> Bm25Parts:
        """BM25 over the profiles' tokens, with the fit's statistics, made at the first use."""
        b = self.base
        if self.bm25 is None:
            # the vectorizer's tokenizer, a large collection shared with worker processes
            vectorizer = b.vectorizer_
            if self.need_tokens is None:
                self.need_tokens = vectorizer.token_lists([need_text(n) for n in b.needs_])
            if self.org_tokens is None:
                self.org_tokens = vectorizer.token_lists([org_text(o) for o in b.orgs_])
            if self.bm25_stats is None:
                self.bm25_stats = Bm25Stats.of(self._fit_tokens(self.org_tokens))
            self.bm25 = Bm25Parts(self.org_tokens, self.bm25_stats)
        return self.bm25

    def need_token_ids(self, rows: Sequence[int]) -> list[np.ndarray]:
        """Need rows ``rows``' tokens as ids under BM25's statistics (``Bm25Stats.token_ids``),
        every need's made once: an edit's scope reads every need's (``_learn_scope``)."""
        index = self._bm25_index()
        if self.need_ids is None:
            assert self.need_tokens is not None
            ids = index.stats.token_ids
            self.need_ids = [np.asarray(ids(t), dtype=np.int64) for t in self.need_tokens]
        return [self.need_ids[i] for i in rows]

    def _fit_tokens(self, current: list[list[str]]) -> list[list[str]]:
        """The tokens of the profiles the cold start was fitted on (``fit_orgs_``): a
        profile's current tokens while its text is the fit's, the others tokenised."""
        b = self.base
        fitted = getattr(b, "fit_orgs_", b.orgs_)
        if fitted is b.orgs_:
            return current
        out: list[list[str] | None] = []
        for o in fitted:
            j = b.org_index_.get(o.id)
            same = j is not None and org_text(b.orgs_[j]) == org_text(o)
            out.append(current[j] if same and j is not None else None)
        missing = [k for k, tokens in enumerate(out) if tokens is None]
        made = b.vectorizer_.token_lists([org_text(fitted[k]) for k in missing])
        for k, tokens in zip(missing, made, strict=True):
            out[k] = tokens
        return [tokens or [] for tokens in out]

    def _bm25_row(self, i: int) -> np.ndarray:
        """BM25 of need row ``i`` against every profile (under the fit's statistics: at
        the fit, ``BM25Ranker.need_scores``), as a share of the need's best (which is kept)."""
        index = self._bm25_index()
        assert self.need_tokens is not None
        scores = np.asarray(index.scores(self.need_tokens[i]), dtype=np.float64)
        scores = scores[: len(self.base.org_ids_)]
        best = scores.max() if len(scores) else 0.0
        self._bests("bm25")[i] = float(best)
        return _share(scores, best)

    def _bm25_shares(self, needs: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``_bm25_row(needs[k])[cols[k]]`` for every pair: a need whose best is not kept
        yet is scored against every profile (which keeps it), the others' pairs are read
        from their profiles alone."""
        index = self._bm25_index()
        assert self.need_tokens is not None
        kept = self._bests("bm25")
        out = np.zeros(len(needs))
        scored = np.array([i not in kept for i in needs.tolist()], dtype=bool)
        for i in np.unique(needs[scored]).tolist():
            mine = needs == i
            out[mine] = self._bm25_row(i)[cols[mine]]
        read = np.flatnonzero(~scored)
        if not len(read):
            return out
        queries = [self.need_tokens[i] for i in needs[read].tolist()]
        raw = index.pairs(queries, cols[read]).astype(np.float64)
        best = np.array([kept[i] for i in needs[read].tolist()])
        out[read] = _share(raw, best)
        return out

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
            # the block's profiles only, when they are few (one group's page: one column)
            profiles = np.unique(js)
            few = len(profiles) * _FEW <= len(b.org_ids_)
            some = profiles if few else None
            at = np.searchsorted(profiles, js) if few else js
            cold = self.expansion.scores(chunk, None, beta, some)[0]
            out[sel, f["cold_start"]] = cold[local, at]
            # the share of the need's best cold-start score: the same scale for every need
            best = self._best_cold(chunk, beta, cold if some is None else None)[local]
            out[sel, f["cold_relative"]] = _share(cold[local, at], best)
            out[sel, f["text"]] = b.text_similarity(chunk, some)[local, at]
            if some is None:
                bm25 = np.vstack([self._bm25_row(i) for i in chunk.tolist()])
                out[sel, f["bm25"]] = bm25[local, js]
            else:
                out[sel, f["bm25"]] = self._bm25_shares(chunk[local], js)
            out[sel, f["field_agree"]] = b._factors(chunk, some)["fields"][local, at]
            out[sel, f["business"]] = b.signals_.supplier(chunk, some)[local, at]
            out[sel, f["population_other"]] = b.signals_.population_mismatch(chunk, some)[local, at]
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

    def _best_cold(self, rows: np.ndarray, beta: float, every: np.ndarray | None) -> np.ndarray:
        """Each of ``rows``' best cold-start score over every profile: from ``every``
        (their scores against every profile) when given, else kept, else scored."""
        if every is not None:
            self.note_best_cold(rows, beta, every)
        kept = self._bests(float(beta))
        if not beta:
            self._bests_from_tops(rows, kept)
        missing = np.array([i for i in rows.tolist() if i not in kept], dtype=rows.dtype)
        if len(missing):
            self.note_best_cold(missing, beta, self.expansion.scores(missing, None, beta)[0])
        return np.array([kept[i] for i in rows.tolist()])

    def _bests_from_tops(self, rows: np.ndarray, kept: dict[int, float]) -> None:
        """The best cold-start score (no expansion) of each of ``rows`` that is a
        confirmed need, from its top groups (``Expansion.tops``, best first), which the
        informative flags scored against every profile: a model's build scored each
        confirmed need against all 50,000 profiles twice (1.2 s of a restart's 4 s)."""
        tops, ids = self.expansion.tops, self.base.need_ids_
        for i in rows.tolist():
            top = tops.get(ids[i]) if i not in kept else None
            if top is not None and len(top[1]):
                kept[i] = max(0.0, float(top[1][0]))

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
