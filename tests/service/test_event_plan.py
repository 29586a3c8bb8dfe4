"""The 分野別発表会 proposal as a pure function (``service.events.plan``), no database.

Properties over many random rankings: no group is invited for nothing (each is invited
for at least one proposed need it is a candidate for), no need is counted for more than
``per_need`` groups, every proposed need that has a candidate is covered, and under a
budget of groups the greedy choice covers at least (1 - 1/e) of the best possible.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from service.events.plan import Candidate, Rules, candidates_by_need, plan


def random_ranking(rng: random.Random) -> tuple[list[int], list[Candidate]]:
    needs = list(range(1, rng.randint(1, 15)))
    groups = list(range(100, 100 + rng.randint(1, 25)))
    candidates = [
        Candidate(n, g, round(rng.random(), 3))
        for n in needs
        for g in rng.sample(groups, rng.randint(0, min(len(groups), 8)))
    ]
    return needs, candidates


def check(needs: list[int], candidates: list[Candidate], rules: Rules) -> None:
    proposal = plan(needs, candidates, rules)
    edges = candidates_by_need(candidates, rules)
    assert len(proposal.needs) <= rules.max_needs and set(proposal.needs) <= set(needs)
    assert len(proposal.groups) <= rules.max_groups
    assert len(set(proposal.groups)) == len(proposal.groups)  # a group counted once
    # no group invited for nothing: each for proposed needs it is a candidate of
    for g in proposal.groups:
        assert proposal.invited_for[g], g
        for n in proposal.invited_for[g]:
            assert n in proposal.needs and g in edges[n]
            assert edges[n][g] >= rules.min_score
    counts = {n: sum(n in proposal.invited_for[g] for g in proposal.groups) for n in needs}
    assert max(counts.values(), default=0) <= rules.per_need  # the cap per need
    # needs with candidates come first
    has = [n in edges for n in proposal.needs]
    assert has == sorted(has, reverse=True)
    if rules.max_groups >= len(proposal.needs):
        # coverage: every proposed need with a candidate has a group invited for it
        assert all(counts[n] >= 1 for n in proposal.needs if n in edges), counts


@pytest.mark.parametrize("seed", range(200))
def test_properties_hold_on_random_rankings(seed: int) -> None:
    rng = random.Random(seed)
    needs, candidates = random_ranking(rng)
    rules = Rules(
        top_k=rng.randint(1, 6),
        min_score=rng.choice([0.0, 0.2, 0.5]),
        per_need=rng.randint(1, 4),
        max_needs=rng.randint(1, 12),
        max_groups=rng.randint(1, 40),
    )
    check(needs, candidates, rules)


def covered(invited: tuple[int, ...] | list[int], edges: dict[int, dict[int, float]]) -> int:
    return sum(any(g in groups for g in invited) for groups in edges.values())


@pytest.mark.parametrize("seed", range(60))
def test_coverage_under_a_budget_is_near_the_best(seed: int) -> None:
    rng = random.Random(1000 + seed)
    needs = list(range(1, 9))
    groups = list(range(100, 108))
    candidates = [
        Candidate(n, g, 0.5) for n in needs for g in rng.sample(groups, rng.randint(0, 3))
    ]
    budget = rng.randint(1, 3)
    rules = Rules(top_k=8, min_score=0.1, per_need=1, max_needs=8, max_groups=budget)
    proposal = plan(needs, candidates, rules)
    edges = candidates_by_need(candidates, rules)
    best = max(covered(c, edges) for c in itertools.combinations(groups, budget))
    assert covered(proposal.groups, edges) >= math.ceil((1 - 1 / math.e) * best)


def test_a_group_suiting_two_needs_comes_before_two_that_suit_one() -> None:
    candidates = [
        Candidate(1, 10, 0.9),  # 10 is the best for need 1 alone …
        Candidate(2, 11, 0.9),  # … 11 for need 2 alone
        Candidate(1, 12, 0.3),  # 12 suits both, less well
        Candidate(2, 12, 0.3),
    ]
    proposal = plan([1, 2], candidates, Rules(min_score=0.1, per_need=1, max_groups=1))
    assert proposal.groups == [12] and proposal.invited_for[12] == [1, 2]
    # with room for more, the others still come when a need wants a second group
    wider = plan([1, 2], candidates, Rules(min_score=0.1, per_need=2))
    assert wider.groups[0] == 12 and set(wider.groups) == {10, 11, 12}


def test_weak_and_low_ranked_pairs_invite_nobody() -> None:
    candidates = [Candidate(1, 10 + i, 0.9 - i / 10) for i in range(6)]  # 0.9 … 0.4
    candidates.append(Candidate(2, 30, 0.05))  # under the threshold
    proposal = plan([1, 2], candidates, Rules(top_k=3, min_score=0.1, per_need=5))
    assert proposal.groups == [10, 11, 12]  # only need 1's best three
    assert proposal.needs == [1, 2]  # need 2 is still presented, after the others
    assert 30 not in proposal.invited_for


def test_no_candidates_no_groups_and_needs_kept_in_order() -> None:
    proposal = plan([3, 1, 2], [])
    assert proposal.groups == [] and proposal.needs == [3, 1, 2]


def test_a_repeated_pair_counts_once_at_its_best_score() -> None:
    candidates = [Candidate(1, 10, 0.2), Candidate(1, 10, 0.8), Candidate(1, 11, 0.5)]
    edges = candidates_by_need(candidates, Rules(top_k=1, min_score=0.1))
    assert edges == {1: {10: 0.8}}
