"""Decisions the learned-model tests train on."""

from __future__ import annotations

from matching import LearnedRanker, TfidfRanker
from matching._learn import Decision


def prefer_complete(cold: TfidfRanker) -> list[Decision]:
    """Every need's cold-start top 10 decided by one rule: the complete profiles (menu,
    wishes, 活動分野, legal form, a real description) confirmed, the others rejected for
    体制不足 (a re-ranking model learns it, as ``tests/service/test_training.py``'s does)."""
    probe = LearnedRanker().fit_on(cold, [])
    complete = {
        o.id for o, c in zip(cold.orgs_, probe.features_.completeness, strict=True) if c == 1.0
    }
    return [
        Decision(q, o, "confirm" if o in complete else "reject", "体制不足")
        for q, ranking in cold.rank_orgs(top=10)
        for o, _ in ranking
    ]
