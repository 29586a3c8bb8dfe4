"""How decisions are made from relevance judgements, for the learning protocols of the
evaluation: a coordinator reviewing the cold start's top 10 (``review``), every judgement
taken as a decision (``judged``), or only the confirmations (``confirmed``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._decision import Decision
from ._ranker import TfidfRanker

__all__ = [
    "PROTOCOLS",
    "confirmed_decisions",
    "judged_decisions",
    "reject_reason",
    "simulate_decisions",
]


def reject_reason(ranker: TfidfRanker, need_id: str, npo_id: str) -> str:
    """The reason a coordinator would give from the pair's signals (地域外, 共益的活動,
    営利・事業者, 分野違い, else その他): the facts ``explain`` reports, read without
    scoring the pair."""
    i, j = ranker.need_index_[need_id], ranker.org_index_[npo_id]
    if ranker.area_relations_[ranker.need_area_codes_[i], ranker.org_area_codes_[j]] == "other":
        return "地域外"
    if ranker.members_only_[j]:
        return "共益的活動"
    if ranker.signals_.supplier(np.array([i]))[0, j]:
        return "営利・事業者"
    need, org = ranker.needs_[i], ranker.orgs_[j]
    if need.fields and org.fields and not set(need.fields) & set(org.fields):
        return "分野違い"
    return "その他"


def simulate_decisions(
    ranker: TfidfRanker,
    need_ids: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    per_need: int = 10,
    seed: int = 0,
) -> list[Decision]:
    """Decisions a coordinator following ``qrels`` would make on the top suggestions.

    Confirm a judged-relevant group (grade ≥ 1), reject the rest with the reason the
    pair's signals give (地域外, 共益的活動, 分野違い, else その他). Shuffled with ``seed``,
    so the first N are a fair sample across needs.
    """
    out = []
    for need_id, ranking in ranker.rank_orgs(list(need_ids), top=per_need):
        for npo_id, _ in ranking:
            if qrels.get(need_id, {}).get(npo_id, 0) > 0:
                out.append(Decision(need_id, npo_id, "confirm"))
            else:
                out.append(
                    Decision(need_id, npo_id, "reject", reject_reason(ranker, need_id, npo_id))
                )
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[k] for k in order]


def judged_decisions(
    ranker: TfidfRanker,
    need_ids: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    seed: int = 0,
) -> list[Decision]:
    """Decisions taken straight from the judgements of ``need_ids``: every judged-relevant
    group confirmed (wherever the cold start ranks it), every group judged 0 rejected with
    the reason its signals give. The other protocol an outside evaluation may use; unlike
    ``simulate_decisions`` it confirms groups the cold start does not suggest. Shuffled
    with ``seed``."""
    known = set(ranker.org_index_)
    out = [
        Decision(need_id, npo_id, "confirm")
        if grade > 0
        else Decision(need_id, npo_id, "reject", reject_reason(ranker, need_id, npo_id))
        for need_id in sorted(need_ids)
        for npo_id, grade in sorted(qrels.get(need_id, {}).items())
        if npo_id in known
    ]
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[k] for k in order]


def confirmed_decisions(
    ranker: TfidfRanker,
    need_ids: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    seed: int = 0,
) -> list[Decision]:
    """``judged_decisions`` without the rejections: a decisions file that lists only the
    pairs judged relevant, as an outside evaluation may well give."""
    return [
        d for d in judged_decisions(ranker, need_ids, qrels, seed=seed) if d.decision == "confirm"
    ]


PROTOCOLS = {
    "review": simulate_decisions,
    "judged": judged_decisions,
    "confirmed": confirmed_decisions,
}
