"""The proposal of an event's lists, as a pure function of the stored rankings.

A need's *candidates* are its best ``top_k`` suggestions scoring at least ``min_score``
(each pair once, ties broken by the group's id). Needs that have candidates are proposed
first, best top score first, up to ``max_needs``. Groups are then chosen greedily, one at
a time, for what they add:

1. the number of proposed needs it suits that no chosen group suits yet (coverage first:
   the classic greedy set cover, so with a budget of groups as many needs as possible
   are covered);
2. then the number it suits that still have fewer than ``per_need`` groups;
3. then the sum of its scores for those needs, then the lower id (deterministic).

A chosen group is invited *for* the needs it was counted for, so no need is counted for
more than ``per_need`` groups, and no group is invited for nothing: the choice stops
when no group adds a need, or at ``max_groups``. Without that budget, every proposed
need that has a candidate ends up with at least one group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Candidate", "Plan", "Rules", "candidates_by_need", "plan"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored suggestion as the planner needs it."""

    need_id: int
    org_id: int
    score: float


@dataclass(frozen=True, slots=True)
class Rules:
    """How wide the proposal is."""

    top_k: int = 5  # a need's best k suggestions are its candidates …
    min_score: float = 0.1  # … when they score at least this
    per_need: int = 3  # a need is counted for at most this many groups
    max_needs: int = 12  # needs presented
    max_groups: int = 30  # groups invited


@dataclass(frozen=True)
class Plan:
    """The proposal: needs in presentation order, groups in the order they were chosen,
    and for each group the needs it was invited for (best score first)."""

    needs: list[int]
    groups: list[int]
    invited_for: dict[int, list[int]] = field(default_factory=dict)


def candidates_by_need(
    candidates: Iterable[Candidate], rules: Rules
) -> dict[int, dict[int, float]]:
    """``{need: {group: score}}``: each need's best ``top_k`` at or above ``min_score``."""
    best: dict[tuple[int, int], float] = {}
    for c in candidates:
        pair = (c.need_id, c.org_id)
        if c.score >= rules.min_score and c.score > best.get(pair, float("-inf")):
            best[pair] = c.score
    per_need: dict[int, list[tuple[int, float]]] = {}
    for (need, org), score in best.items():
        per_need.setdefault(need, []).append((org, score))
    return {
        need: dict(sorted(rows, key=lambda r: (-r[1], r[0]))[: rules.top_k])
        for need, rows in per_need.items()
    }


def plan(needs: Sequence[int], candidates: Iterable[Candidate], rules: Rules | None = None) -> Plan:
    """Propose the needs (among ``needs``, the ones on the theme, in the caller's order)
    and the groups to invite. See the module's docstring."""
    rules = rules or Rules()
    theme = list(dict.fromkeys(needs))
    edges = {n: g for n, g in candidates_by_need(candidates, rules).items() if n in set(theme)}
    order = {n: i for i, n in enumerate(theme)}
    chosen_needs = sorted(
        theme, key=lambda n: (n not in edges, -max(edges.get(n, {0: 0.0}).values()), order[n])
    )[: rules.max_needs]
    suits: dict[int, dict[int, float]] = {}  # group -> {proposed need: score}
    for n in chosen_needs:
        for org, score in edges.get(n, {}).items():
            suits.setdefault(org, {})[n] = score
    counted = dict.fromkeys(chosen_needs, 0)
    groups: list[int] = []
    invited_for: dict[int, list[int]] = {}
    while len(groups) < rules.max_groups:
        best: tuple[tuple[int, int, float, int], int, list[int]] | None = None
        for org, scores in suits.items():
            if org in invited_for:
                continue
            wanted = [n for n in scores if counted[n] < rules.per_need]
            if not wanted:
                continue
            uncovered = sum(counted[n] == 0 for n in wanted)
            key = (uncovered, len(wanted), sum(scores[n] for n in wanted), -org)
            if best is None or key > best[0]:
                best = (key, org, wanted)
        if best is None:
            break
        _, org, wanted = best
        for n in wanted:
            counted[n] += 1
        groups.append(org)
        invited_for[org] = sorted(wanted, key=lambda n: (-suits[org][n], order[n]))
    return Plan(needs=chosen_needs, groups=groups, invited_for=invited_for)
