"""Learning stage: what a reject reason says about the group itself.

Some reasons describe the pair (分野違い, 地域外: wrong for *this* need); two describe the
group, whatever the need:

- 共益的活動: the group works for its own members. It is treated as members-only for
  every need from then on (``members_only_factor``), even when its profile has none of
  the wording the cold start looks for.
- 営利・事業者: the group is a business offering its service. It is treated as a
  business (``kind_factor``) for every need that does not invite companies.

A later confirmation of the same group for any need undoes the fact (the coordinator
has shown it can be a partner). Facts are statements, not statistics: they hold from
one decision on, and the cold start's factors decide how much they weigh.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ._decision import Decision
from ._ranker import TfidfRanker

__all__ = ["GroupFacts"]


@dataclass(frozen=True, slots=True)
class GroupFacts:
    """Group ids the decisions declared members-only or a business."""

    members_only: frozenset[str] = frozenset()
    business: frozenset[str] = frozenset()

    @classmethod
    def of(cls, decisions: Sequence[Decision]) -> GroupFacts:
        confirmed = {d.npo_id for d in decisions if d.decision == "confirm"}
        said: dict[str, set[str]] = {"members": set(), "business": set()}
        for d in decisions:
            if d.about in said and d.npo_id not in confirmed:
                said[d.about].add(d.npo_id)
        return cls(frozenset(said["members"]), frozenset(said["business"]))

    def __bool__(self) -> bool:
        return bool(self.members_only or self.business)

    def as_dict(self) -> dict[str, list[str]]:
        return {"members_only": sorted(self.members_only), "business": sorted(self.business)}

    def apply(self, base: TfidfRanker) -> TfidfRanker:
        """A shallow copy of the fitted ``base`` with the facts in force (``base`` itself
        is untouched); the hubness is computed again, since the scores changed."""
        if not self:
            return base
        out = copy.copy(base)
        out.members_only_ = base.members_only_.copy()
        for npo_id in self.members_only:
            if npo_id in base.org_index_:
                out.members_only_[base.org_index_[npo_id]] = True
        business = base.signals_.for_profit.copy()
        for npo_id in self.business:
            if npo_id in base.org_index_:
                business[base.org_index_[npo_id]] = True
        out.signals_ = replace(base.signals_, for_profit=business)
        out._measure_hubness()
        return out
