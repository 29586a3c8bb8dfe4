"""How a learned model ranks (``LearnedRanker``'s serving half; ``_learn`` fits it):
each need's cold-start candidates, expanded (``_learn_expand``), re-scored by the
re-ranking model's blend (``_learn_features``) and, on request, pinned to what the
coordinator already decided (``_learn_pins``); and each feature's contribution to a
pair's score, for the reasons shown beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ._blas import one_blas_thread
from ._explain import SCORE_DECIMALS
from ._learn_expand import Expansion, Top
from ._learn_features import FEATURES, PairFeatures, cold_share
from ._learn_pins import decided_pins, pin, with_pinned
from ._ranker import _BLOCK, Ranking, TfidfRanker, top_k

__all__ = ["BuildParts", "LearnedRanking"]


@dataclass(frozen=True)
class BuildParts:
    """What a model's build scored against every profile, by need id: each confirmed
    need's top groups (``Expansion.tops``, which the informative flags read) and each
    decided need's best cold-start and BM25 scores (``kept_bests``, which the features
    divide by). They depend on the ranker the model is built over and on its decisions
    and stages alone, so a model built again from the same three takes them
    (``fit_on(..., parts=)``) instead of scoring those needs against every profile again
    (most of a restart's wait for the model at 50,000 profiles). Only the caller knows
    that they are of the same three: the service keys them by the fit, the model and a
    digest of the decisions it read (``service/saved_rows.py``)."""

    tops: dict[str, Top]
    bests: dict[float | str, dict[str, float]]


class LearnedRanking:
    """The ranking methods of ``LearnedRanker``, over what its fit set."""

    base_: TfidfRanker
    promoted_: bool
    decided_: dict[tuple[int, int], float]
    expansion_: float
    expansion_stage_: Expansion
    features_: PairFeatures
    alpha_: float
    candidates: int
    model_: LogisticRegression | None
    mean_: np.ndarray
    scale_: np.ndarray

    # what the tests and the service read of the stages
    @property
    def confirmed_(self) -> sp.csr_matrix:
        return self.expansion_stage_.confirmed

    @property
    def informative_(self) -> np.ndarray:
        return self.expansion_stage_.informative

    def _expanded(
        self,
        rows: np.ndarray,
        confirmed: sp.csr_matrix | np.ndarray | None,
        beta: float,
        cols: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.expansion_stage_.scores(rows, confirmed, beta, cols)

    def _features(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.features_(rows, cols, self.expansion_)

    # -- what a ranking kept, for a process that takes its lists ------------------------
    def kept_bests(self) -> dict[float | str, dict[str, float]]:
        """Each need's best scores its rankings kept (the cold start's by the expansion's
        β, BM25's by ``"bm25"``), by need id: to keep beside the lists of a ranking of
        every need (``take_bests``)."""
        ids = self.base_.need_ids_
        return {
            key: {ids[i]: score for i, score in kept.items()}
            for key, kept in self.features_.bests.items()
        }

    def build_parts(self) -> BuildParts:
        """What this model's build scored against every profile (``BuildParts``): to keep
        while it is as built, before an edit moves its ranker."""
        return BuildParts(dict(self.expansion_stage_.tops), self.kept_bests())

    def take_bests(self, kept: Mapping[float | str, Mapping[str, float]]) -> int:
        """Take the bests ``kept_bests`` gave of this same model over the same fit: a
        process that takes a ranking's kept lists instead of ranking every need keeps no
        best, and the scope of its first edit needs them (``needs_to_rerank``, which
        would rank every need again). Needs it does not know are left out; a best it
        kept itself stays. Returns how many it took."""
        taken = 0
        index = self.base_.need_index_
        for key, scores in kept.items():
            mine = self.features_.bests.setdefault(key, {})
            for need_id, score in scores.items():
                i = index.get(need_id)
                if i is not None and i not in mine:
                    mine[i] = float(score)
                    taken += 1
        return taken

    # -- ranking ---------------------------------------------------------------------
    @one_blas_thread
    def rank_orgs(
        self,
        need_ids: Sequence[str] | None = None,
        *,
        top: int = 10,
        pin_decided: bool = False,
        floors: dict[str, float] | None = None,
        contributions: dict[str, dict[str, dict[str, float]]] | None = None,
    ) -> list[tuple[str, Ranking]]:
        """For each need (all by default), the ``top`` organisations, best first.

        ``pin_decided``: the decisions learned from also stand for their own pairs — a
        need's confirmed groups come first, its rejected ones last (their scores moved by
        a whole number larger than any score of the list), each kind in the model's
        order, so a ranking never contradicts what the coordinator already decided.
        Needs without decisions are unaffected. ``floors``: filled with each need's last
        candidate's cold-start score (``needs_to_rerank`` reads it). ``contributions``:
        filled with each need's listed groups' ``contributions``, by need and group, from
        the features the ranking computed (a list explained without computing them
        again: 9 ms a need at 50,000 profiles)."""
        check_is_fitted(self, "base_")
        b = self.base_
        if not self.promoted_ and not (pin_decided and self.decided_):
            out = b.rank_orgs(need_ids, top=top)
            if contributions is not None:
                contributions.update({q: {o: {} for o, _ in r} for q, r in out})
            return out
        pins = decided_pins(self.decided_, by_need=True) if pin_decided else {}
        out = []
        rows = b._rows(need_ids, b.need_index_)
        for start in range(0, len(rows), _BLOCK):
            chunk = rows[start : start + _BLOCK]
            block, added = self._expanded(chunk, None, self.expansion_)
            pools = [top_k(row, max(top, self.candidates)) for row in block]
            if floors is not None:
                for i, row, pool in zip(chunk.tolist(), block, pools, strict=True):
                    floors[b.need_ids_[i]] = float(row[pool[-1]]) if len(pool) else 0.0
            lists = [with_pinned(c, pins.get(i, {})) for i, c in zip(chunk, pools, strict=True)]
            if self.alpha_:  # the model's features for the whole block at once
                self.features_.note_best_cold(chunk, self.expansion_, block)
                X = self._features(
                    np.concatenate([np.full(len(c), i) for i, c in zip(chunk, lists, strict=True)]),
                    np.concatenate(lists),
                )
                learned = self._blend(X)
                bounds = np.cumsum([0, *(len(c) for c in lists)])
            for k, (i, row, cols) in enumerate(zip(chunk.tolist(), block, lists, strict=True)):
                scores = learned[bounds[k] : bounds[k + 1]] if self.alpha_ else row[cols]
                scores = pin(scores, cols, pins.get(i, {}))
                order = top_k(scores, top)
                ranking = [(b.org_ids_[cols[m]], float(scores[m])) for m in order]
                out.append((b.need_ids_[i], ranking))
                if contributions is not None:
                    listed = [npo_id for npo_id, _ in ranking]
                    picked = cols[order]
                    contributions[b.need_ids_[i]] = (
                        self._contributed(
                            listed,
                            row[picked],
                            added[k, picked],
                            X[bounds[k] + order] if self.alpha_ else None,
                        )
                        if self.promoted_
                        else {npo_id: {} for npo_id in listed}
                    )
        return out

    @one_blas_thread
    def rank_needs(
        self, org_ids: Sequence[str] | None = None, *, top: int = 10, pin_decided: bool = False
    ) -> list[tuple[str, Ranking]]:
        """For each organisation (all by default), the ``top`` needs, best first
        (``pin_decided`` as in ``rank_orgs``: the needs it was confirmed for first)."""
        check_is_fitted(self, "base_")
        b = self.base_
        if not self.promoted_ and not (pin_decided and self.decided_):
            return b.rank_needs(org_ids, top=top)
        pins = decided_pins(self.decided_, by_need=False) if pin_decided else {}
        cols = b._rows(org_ids, b.org_index_)
        every = np.arange(len(b.need_ids_))
        # every need against the profiles asked for (all: None), not every pair for a few
        picked = None if org_ids is None else np.unique(cols)
        at = cols if picked is None else np.searchsorted(picked, cols)
        blocks = [
            self._expanded(every[s : s + _BLOCK], None, self.expansion_, picked)[0]
            for s in range(0, len(every), _BLOCK)
        ]
        width = len(b.org_ids_) if picked is None else len(picked)
        full = np.vstack(blocks) if blocks else np.zeros((0, width))
        out = []
        for j, c in zip(cols.tolist(), at.tolist(), strict=True):
            pinned = pins.get(j, {})
            rows = with_pinned(top_k(full[:, c], max(top, self.candidates)), pinned)
            scores = self._learned(rows, np.full(len(rows), j)) if self.alpha_ else full[rows, c]
            scores = pin(scores, rows, pinned)
            order = top_k(scores, top)
            out.append((b.org_ids_[j], [(b.need_ids_[rows[k]], float(scores[k])) for k in order]))
        return out

    def _learned(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Blend of the cold-start score (scaled to the list's best) and p(confirm)."""
        return self._blend(self._features(rows, cols))

    def _blend(self, X: np.ndarray) -> np.ndarray:
        """``_learned`` of pairs whose features are ``X``."""
        assert self.model_ is not None
        p = self.model_.predict_proba((X - self.mean_) / self.scale_)[:, 1]
        blended = (1 - self.alpha_) * cold_share(X) + self.alpha_ * p
        return np.round(blended, SCORE_DECIMALS)

    def contributions(self, need_id: str, npo_id: str) -> dict[str, float]:
        """How much each feature pushed this pair up (+) or down (−) in the learned score
        (log-odds of the re-ranking model), and ``confirmed_similar``: the score the
        document expansion added because the group was confirmed for needs like this one.
        With no re-ranking model in use, ``cold_start`` is the rest of the score. Names
        are in ``CONTRIBUTIONS``; ``FEATURE_LABELS`` says each in Japanese."""
        return self.contributions_many(need_id, [npo_id])[npo_id]

    @one_blas_thread
    def contributions_many(
        self, need_id: str, npo_ids: Sequence[str]
    ) -> dict[str, dict[str, float]]:
        """``contributions`` of the need with each of ``npo_ids`` (a list being explained),
        computed together from those profiles' columns: one list costs about one pair (each
        pair scored the need against every profile)."""
        if not self.promoted_:
            return {o: {} for o in npo_ids}
        b = self.base_
        i = b.need_index_[need_id]
        js = np.array([b.org_index_[o] for o in npo_ids], dtype=np.intp)
        score, added = self._expanded(np.array([i]), None, self.expansion_, js)
        X = self._features(np.full(len(js), i), js) if self.alpha_ else None
        return self._contributed(list(npo_ids), score[0], added[0], X)

    def _contributed(
        self, npo_ids: list[str], score: np.ndarray, added: np.ndarray, X: np.ndarray | None
    ) -> dict[str, dict[str, float]]:
        """``contributions`` of one need's pairs with ``npo_ids``, from their expanded
        cold-start ``score``, the part of it the expansion ``added`` and (with a
        re-ranking model) their features ``X``."""
        values = None
        if X is not None and self.model_ is not None:
            values = self.model_.coef_[0] * ((X - self.mean_) / self.scale_)
        out: dict[str, dict[str, float]] = {}
        for k, npo_id in enumerate(npo_ids):
            mine: dict[str, float] = {}
            if values is not None:
                mine.update(
                    (name, round(float(v), 4))
                    for name, v in zip(FEATURES, values[k], strict=True)
                    if abs(v) > 1e-9
                )
            else:
                mine["cold_start"] = round(float(score[k] - added[k]), 4)
            if added[k] > 1e-9:
                mine["confirmed_similar"] = round(float(added[k]), 4)
            out[npo_id] = mine
        return out
