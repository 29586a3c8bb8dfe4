"""Whether a retrained model may replace the one serving: never silently worse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._decision import Decision, ranking_ndcg_at_10
from ._ranker import TfidfRanker

if TYPE_CHECKING:
    from ._learn import LearnedRanker

__all__ = ["MIN_NEW_NEEDS", "Comparison", "compare_with_current"]

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
    from ._learn import LearnedRanker

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
                        ranking_ndcg_at_10(
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
