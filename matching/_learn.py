"""A ranking model that learns from the coordinator's decisions, in stages, each kept
only if it holds on the decided needs (never silently worse than the cold start).

- ``_learn_reasons``: what a reason says about the group itself (共益的活動 → a
  members-only group, 営利・事業者 → a business), in force for every need.
- ``_learn_calibrate`` (stage 0): the cold start's own settings re-tuned on the decided
  needs, each setting tried only when a reason speaks to it.
- ``_learn_expand`` (stage 1): profiles expanded with the needs they were confirmed for;
  ``_learn_map`` (stage 1b, where the expansion does not hold): a need → partner map over
  word vectors, learned from the same confirmations.
- ``_learn_rerank`` (stage 2): a re-ranking model over pair features and group history
  (``_learn_features``).
- ``_learn_compare``: whether a retrained model may replace the one serving.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ._blas import one_blas_thread
from ._decision import REASONS, Decision
from ._explain import SCORE_DECIMALS
from ._learn_calibrate import (
    CALIBRATION,
    CALIBRATION_GAIN,
    CALIBRATION_MIN_NEEDS,
    MIN_REASON_REJECTIONS,
    calibrate,
    calibrated,
)
from ._learn_compare import MIN_NEW_NEEDS, Comparison, compare_with_current
from ._learn_expand import EXPANSION_MARGIN, EXPANSIONS, Expansion, expansion_promoted
from ._learn_features import (
    CONTRIBUTIONS,
    FEATURE_LABELS,
    FEATURES,
    PairFeatures,
    cold_share,
)
from ._learn_map import MAP_MIN_PAIRS, learn_map, map_promoted, mapped, validate_map
from ._learn_pins import decided_pins, pin, with_pinned
from ._learn_reasons import GroupFacts
from ._learn_rerank import blend_promoted, new_model, validate_blends
from ._learn_splice import decided_pairs, rebind_in_place, snapshot
from ._ranker import _BLOCK, Ranking, TfidfRanker, top_k
from ._schema import Need, Organization

__all__ = [
    "CALIBRATION",
    "CALIBRATION_GAIN",
    "CALIBRATION_MIN_NEEDS",
    "CONTRIBUTIONS",
    "EXPANSIONS",
    "EXPANSION_MARGIN",
    "FEATURES",
    "FEATURE_LABELS",
    "MIN_NEW_NEEDS",
    "REASONS",
    "Comparison",
    "Decision",
    "LearnedRanker",
    "compare_with_current",
]


class LearnedRanker(BaseEstimator):
    """Cold-start candidates re-ranked by what the decisions taught.

    Parameters
    ----------
    base: the cold-start ranker (``TfidfRanker()`` by default).
    candidates: how many cold-start candidates per need the model re-orders.
    min_decisions: the re-ranking model needs this many decisions, of both kinds.
    min_confirmed_needs: the expansion needs confirmations on this many needs (it learns
    from confirmations alone). With neither, the cold start serves.
    informative_rank: a confirmation expands the group's profile only if the cold start
    ranks the group below this for the need.
    calibrate: re-tune the cold start's settings (``CALIBRATION``) on the decided needs
    first; off, only the reasons' facts, the expansion and the re-ranking model learn.
    C, random_state: of the logistic regression.

    The learned score is ``(1 − α) × cold / (the need's best cold) + α × p(confirm)``,
    ``α`` chosen from ``BLENDS`` on held-out decisions (grouped by need). ``α = 0`` (cold
    start) unless a blend beats the cold-start order there by ``MIN_GAIN`` on average and
    in ``MIN_FOLD_WINS`` of the folds, so a model trained on too few or contradictory
    decisions falls back instead of making the ranking worse.
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

    @one_blas_thread
    def fit_on(self, base: TfidfRanker, decisions: Sequence[Decision] = ()) -> LearnedRanker:
        """Learn on top of an already fitted cold-start ranker. ``base`` is never changed:
        it is used as it is, or through a shallow copy when the facts or the calibration
        change it (``base_`` is what ranks).

        Facts, calibration and expansion learn from confirmations alone; the re-ranking
        model needs both confirmations and rejections."""
        self.expansion_ = 0.0
        self.alpha_ = 0.0
        self.promoted_ = False
        self.calibration_: dict[str, float] = {}
        self.dense_map_: np.ndarray | None = None
        self.facts_ = GroupFacts()
        self.model_: LogisticRegression | None = None
        known = [
            d for d in decisions if d.need_id in base.need_index_ and d.npo_id in base.org_index_
        ]
        self.report_: dict[str, object] = {"decisions": len(known), "promoted": False}
        labels = {d.decision for d in known}
        confirmed_needs = len({d.need_id for d in known if d.decision == "confirm"})
        can_expand = confirmed_needs >= self.min_confirmed_needs
        can_rerank = len(known) >= self.min_decisions and labels == {"confirm", "reject"}
        if not (can_expand or can_rerank):
            self._bind(base, known)
            self.report_["reason"] = "too few decisions, or no confirmation: cold start"
            self.report_["code"] = "too_few_decisions"
            return self
        # what the reasons said of the groups themselves
        self.facts_ = GroupFacts.of(known)
        if self.facts_:
            self.report_["facts"] = self.facts_.as_dict()
        # 0. the cold start's own settings, re-tuned on the decided needs
        if self.calibrate and confirmed_needs >= max(
            CALIBRATION_MIN_NEEDS, self.min_confirmed_needs
        ):
            tried, setting = calibrate(base, known, self.facts_)
            self.report_["calibration_ndcg"] = tried
            if setting:
                self.calibration_ = setting
                self.report_["calibration"] = dict(setting)
        # the ranker with what was learned so far in force
        self._bind(base, known)
        # 1. document expansion, validated on training needs held out from it
        beta = 0.0
        if can_expand:
            expansion = self.expansion_stage_.validate()
            self.report_["expansion_ndcg"] = {a: v[0] for a, v in expansion.items()}
            beta = expansion_promoted(expansion)
        self.expansion_ = beta
        # 1b. where the expansion does not hold (the groups confirmed are not the next
        # needs' partners), a need → partner map over word vectors: both learn from the
        # same confirmations, the expansion for those groups, the map for every group
        if can_expand and not beta:
            tried_maps = validate_map(self.base_, known)
            if tried_maps:
                self.report_["map_ndcg"] = {lam: v[0] for lam, v in tried_maps.items()}
                self.report_["map_sign_p"] = {lam: v[2] for lam, v in tried_maps.items() if lam}
            lam = map_promoted(tried_maps)
            if lam:
                self.dense_map_ = learn_map(self.base_, known, lam)
                self.report_["map_lambda"] = lam
                self._bind(base, known)
        # 2. the re-ranking model over the (expanded) candidates: needs both kinds
        alpha = 0.0
        if can_rerank:
            rows = np.array([base.need_index_[d.need_id] for d in known])
            cols = np.array([base.org_index_[d.npo_id] for d in known])
            X = self.features_(rows, cols, beta)
            y = np.array([int(d.decision == "confirm") for d in known])
            self.mean_ = X.mean(axis=0)
            self.scale_ = X.std(axis=0)
            self.scale_[self.scale_ == 0] = 1.0
            scores = validate_blends(
                self.features_,
                known,
                X,
                y,
                rows,
                beta=beta,
                candidates=self.candidates,
                mean=self.mean_,
                scale=self.scale_,
                C=self.C,
            )
            self.report_["validation_ndcg"] = {a: v[0] for a, v in scores.items()}
            alpha = blend_promoted(scores)
            if alpha:
                self.model_ = new_model(self.C).fit((X - self.mean_) / self.scale_, y)
        else:
            self.report_["reranking"] = (
                "too few decisions, or no rejection: the re-ranking model was not trained"
            )
        learned_nothing = not (self.calibration_ or self.facts_) and self.dense_map_ is None
        if alpha == 0.0 and beta == 0.0 and learned_nothing:
            self.report_["reason"] = "not better than cold start on held-out decisions"
            self.report_["code"] = "not_better"
            return self
        self.alpha_ = alpha
        self.promoted_ = True
        self.report_.update(promoted=True, code="promoted", alpha=alpha, expansion=beta)
        return self

    def requirements(self) -> dict[str, int]:
        """What each stage needs before it is tried, with this model's settings: needs with
        a confirmation for the expansion (``expansion_needs``) and for re-tuning the cold
        start (``calibration_needs``), rejections giving one reason for the settings that
        reason speaks to (``reason_rejections``), and decisions of both kinds for the
        re-ranking model (``reranking_decisions``), and confirmed pairs for the need →
        partner map (``map_confirmations``)."""
        return {
            "expansion_needs": self.min_confirmed_needs,
            "calibration_needs": max(CALIBRATION_MIN_NEEDS, self.min_confirmed_needs),
            "reason_rejections": MIN_REASON_REJECTIONS,
            "reranking_decisions": self.min_decisions,
            "map_confirmations": MAP_MIN_PAIRS,
        }

    @one_blas_thread
    def rebind(self, base: TfidfRanker) -> LearnedRanker:
        """Keep what was learned, but rank over ``base``'s current items (after the cold
        start ranker's ``upsert``/``remove``/``fit``). After an edit of the same fit only
        the rows it changed are computed again (``_learn_splice``); after a refit, every
        row."""
        check_is_fitted(self, "base_")
        if not rebind_in_place(self, base):
            self._bind(base, self.decisions_)
        return self

    def _bind(self, base: TfidfRanker, decisions: Sequence[Decision]) -> None:
        """Rank over ``base`` with what is learned so far (calibration, facts, map) in force."""
        ranker = calibrated(base, self.calibration_) if self.calibration_ else base
        ranker = self.facts_.apply(ranker)
        mapping = getattr(self, "dense_map_", None)
        ranker = mapped(ranker, mapping) if mapping is not None else ranker
        self.base_ = ranker
        self.decisions_ = [
            d for d in decisions if d.need_id in base.need_index_ and d.npo_id in base.org_index_
        ]
        # the latest decision on each pair: +1 confirmed, -1 rejected (``pin_decided``)
        self.decided_ = decided_pairs(base, self.decisions_)
        self.source_ = snapshot(base)  # what an incremental rebind compares with
        stage = Expansion(ranker, self.decisions_, informative_rank=self.informative_rank)
        self.expansion_stage_ = stage
        self.features_ = PairFeatures(self.expansion_stage_, self.decisions_)

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

    # -- ranking ---------------------------------------------------------------------
    @one_blas_thread
    def rank_orgs(
        self,
        need_ids: Sequence[str] | None = None,
        *,
        top: int = 10,
        pin_decided: bool = False,
        floors: dict[str, float] | None = None,
    ) -> list[tuple[str, Ranking]]:
        """For each need (all by default), the ``top`` organisations, best first.

        ``pin_decided``: the decisions learned from also stand for their own pairs — a
        need's confirmed groups come first, its rejected ones last (their scores moved by
        a whole number larger than any score of the list), each kind in the model's
        order, so a ranking never contradicts what the coordinator already decided.
        Needs without decisions are unaffected. ``floors``: filled with each need's last
        candidate's cold-start score (``needs_to_rerank`` reads it)."""
        check_is_fitted(self, "base_")
        b = self.base_
        if not self.promoted_ and not (pin_decided and self.decided_):
            return b.rank_orgs(need_ids, top=top)
        pins = decided_pins(self.decided_, by_need=True) if pin_decided else {}
        out = []
        rows = b._rows(need_ids, b.need_index_)
        for start in range(0, len(rows), _BLOCK):
            chunk = rows[start : start + _BLOCK]
            block = self._expanded(chunk, None, self.expansion_)[0]
            pools = [top_k(row, max(top, self.candidates)) for row in block]
            if floors is not None:
                for i, row, pool in zip(chunk.tolist(), block, pools, strict=True):
                    floors[b.need_ids_[i]] = float(row[pool[-1]]) if len(pool) else 0.0
            lists = [with_pinned(c, pins.get(i, {})) for i, c in zip(chunk, pools, strict=True)]
            if self.alpha_:  # the model's features for the whole block at once
                self.features_.note_best_cold(chunk, self.expansion_, block)
                learned = self._learned(
                    np.concatenate([np.full(len(c), i) for i, c in zip(chunk, lists, strict=True)]),
                    np.concatenate(lists),
                )
                bounds = np.cumsum([0, *(len(c) for c in lists)])
            for k, (i, row, cols) in enumerate(zip(chunk.tolist(), block, lists, strict=True)):
                scores = learned[bounds[k] : bounds[k + 1]] if self.alpha_ else row[cols]
                scores = pin(scores, cols, pins.get(i, {}))
                order = top_k(scores, top)
                ranking = [(b.org_ids_[cols[m]], float(scores[m])) for m in order]
                out.append((b.need_ids_[i], ranking))
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
        assert self.model_ is not None
        X = self._features(rows, cols)
        p = self.model_.predict_proba((X - self.mean_) / self.scale_)[:, 1]
        blended = (1 - self.alpha_) * cold_share(X) + self.alpha_ * p
        return np.round(blended, SCORE_DECIMALS)

    @one_blas_thread
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
        score, added = self._expanded(np.array([i]), None, self.expansion_)
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
