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

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ._blas import one_blas_thread
from ._decision import REASONS, Decision
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
)
from ._learn_map import MAP_MIN_PAIRS, learn_map, map_promoted, mapped, validate_map
from ._learn_reasons import GroupFacts
from ._learn_rerank import blend_promoted, new_model, validate_blends
from ._learn_serve import BuildParts, LearnedRanking
from ._learn_splice import decided_pairs, rebind_in_place, snapshot
from ._learn_stages import Stages
from ._ranker import TfidfRanker
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
    "BuildParts",
    "Comparison",
    "Decision",
    "LearnedRanker",
    "compare_with_current",
]


class LearnedRanker(LearnedRanking, BaseEstimator):
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
    def fit_on(
        self,
        base: TfidfRanker,
        decisions: Sequence[Decision] = (),
        *,
        stages: Stages | Mapping[str, object] | None = None,
        parts: BuildParts | None = None,
    ) -> LearnedRanker:
        """Learn on top of an already fitted cold-start ranker. ``base`` is never changed:
        it is used as it is, or through a shallow copy when the facts or the calibration
        change it (``base_`` is what ranks).

        Facts, calibration and expansion learn from confirmations alone; the re-ranking
        model needs both confirmations and rejections. ``stages``: what an earlier fit's
        validation chose (its ``stages_``); each stage then learns with that choice and
        nothing is validated again (``_learn_stages``), a stage the decisions no longer
        allow staying off. ``parts``: with ``stages``, what a build of this same model
        (the same ranker, decisions and stages) scored against every profile
        (``build_parts``), taken instead of scored again; the caller vouches that they
        are of the same three. (A validation binds rankers they are not of.)"""
        given = Stages.of(stages) if stages is not None else None
        parts = parts if given is not None else None
        self.expansion_ = 0.0
        self.alpha_ = 0.0
        self.promoted_ = False
        self.calibration_: dict[str, float] = {}
        self.dense_map_: np.ndarray | None = None
        self.map_lambda_ = 0.0
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
        if given is not None:
            self.calibration_ = dict(given.calibration)
            self.report_["rebuilt_from_stages"] = True
        elif self.calibrate and confirmed_needs >= max(
            CALIBRATION_MIN_NEEDS, self.min_confirmed_needs
        ):
            tried, setting = calibrate(base, known, self.facts_)
            self.report_["calibration_ndcg"] = tried
            if setting:
                self.calibration_ = setting
                self.report_["calibration"] = dict(setting)
        # the ranker with what was learned so far in force (a rebuild that binds a map
        # next binds the ranker alone: an expansion stage over it would be for nothing)
        mapping_next = (
            given is not None and can_expand and not given.expansion and bool(given.map_lambda)
        )
        self._bind(base, known, None if mapping_next else parts, stage=not mapping_next)
        # 1. document expansion, validated on training needs held out from it
        beta = 0.0
        if can_expand and given is not None:
            beta = given.expansion
        elif can_expand:
            expansion = self.expansion_stage_.validate()
            self.report_["expansion_ndcg"] = {a: v[0] for a, v in expansion.items()}
            beta = expansion_promoted(expansion)
        self.expansion_ = beta
        # 1b. where the expansion does not hold (the groups confirmed are not the next
        # needs' partners), a need → partner map over word vectors: both learn from the
        # same confirmations, the expansion for those groups, the map for every group
        if can_expand and not beta:
            if given is not None:
                lam = given.map_lambda
            else:
                tried_maps = validate_map(self.base_, known)
                if tried_maps:
                    self.report_["map_ndcg"] = {lam: v[0] for lam, v in tried_maps.items()}
                    self.report_["map_sign_p"] = {lam: v[2] for lam, v in tried_maps.items() if lam}
                lam = map_promoted(tried_maps)
            if lam:
                self.dense_map_ = learn_map(self.base_, known, lam)
                self.report_["map_lambda"] = lam
                self.map_lambda_ = lam
                self._bind(base, known, parts)
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
            if given is not None:
                alpha = given.alpha
            else:
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
        self.report_["stages"] = self.stages_.as_dict()
        return self

    @property
    def stages_(self) -> Stages:
        """What this model's validation chose: ``fit_on(..., stages=...)`` builds it again."""
        check_is_fitted(self, "report_")
        return Stages(dict(self.calibration_), self.expansion_, self.map_lambda_, self.alpha_)

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

    def _bind(
        self,
        base: TfidfRanker,
        decisions: Sequence[Decision],
        parts: BuildParts | None = None,
        *,
        stage: bool = True,
    ) -> None:
        """Rank over ``base`` with what is learned so far (calibration, facts, map) in
        force; the expansion stage and the features over it unless ``stage`` is off, with
        ``parts`` (of this ranker and these decisions) taken instead of scored."""
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
        if not stage:
            return
        self.expansion_stage_ = Expansion(
            ranker,
            self.decisions_,
            informative_rank=self.informative_rank,
            known_tops=parts.tops if parts is not None else None,
        )
        self.features_ = PairFeatures(self.expansion_stage_, self.decisions_)
        if parts is not None:
            self.take_bests(parts.bests)

    @property
    def version(self) -> str:
        return "learned" if self.promoted_ else "cold-start"
