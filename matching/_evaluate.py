"""Offline evaluation of rankers against graded relevance judgements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ._learn import Decision
from ._metrics import mrr, ndcg_at_k, recall_at_k
from ._ranker import Ranking, TfidfRanker
from ._schema import Need, Organization

__all__ = ["EvaluationResult", "Rankable", "evaluate_ranker", "evaluate_rankings", "format_table"]

METRICS = ("nDCG@5", "nDCG@10", "Recall@10", "MRR")


class Rankable(Protocol):
    def fit(self, needs: Sequence[Need], orgs: Sequence[Organization]) -> object: ...
    def rank_orgs(
        self, need_ids: Sequence[str] | None = None, *, top: int = 10
    ) -> list[tuple[str, Ranking]]: ...


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    name: str
    queries: int
    metrics: dict[str, float]


def evaluate_rankings(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], name: str = ""
) -> EvaluationResult:
    """Mean metrics over the needs that have at least one relevant judgement.

    A judged need missing from ``rankings`` counts as an empty ranking (scores 0).
    """
    judged = sorted(q for q, j in qrels.items() if any(g > 0 for g in j.values()))
    sums = dict.fromkeys(METRICS, 0.0)
    for q in judged:
        ranked = list(rankings.get(q, ()))
        j = qrels[q]
        sums["nDCG@5"] += ndcg_at_k(ranked, j, 5)
        sums["nDCG@10"] += ndcg_at_k(ranked, j, 10)
        sums["Recall@10"] += recall_at_k(ranked, j, 10)
        sums["MRR"] += mrr(ranked, j)
    n = len(judged)
    return EvaluationResult(name, n, {m: (s / n if n else 0.0) for m, s in sums.items()})


def evaluate_ranker(
    ranker: Rankable,
    needs: Sequence[Need],
    orgs: Sequence[Organization],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    name: str,
    depth: int = 100,
) -> EvaluationResult:
    """Fit ``ranker`` on all needs and profiles (unsupervised), rank, score against ``qrels``."""
    ranker.fit(needs, orgs)
    ids = {n.id for n in needs}
    wanted = sorted(q for q in qrels if q in ids)
    rankings = {q: [o for o, _ in r] for q, r in ranker.rank_orgs(wanted, top=depth)}
    return evaluate_rankings(rankings, {q: qrels[q] for q in wanted}, name)


def format_table(results: Sequence[EvaluationResult]) -> str:
    """A Markdown table, one row per ranker."""
    head = "| ranker | needs | " + " | ".join(METRICS) + " |"
    rule = "|---|---:|" + "---:|" * len(METRICS)
    rows = [
        f"| {r.name} | {r.queries} | " + " | ".join(f"{r.metrics[m]:.4f}" for m in METRICS) + " |"
        for r in results
    ]
    return "\n".join([head, rule, *rows])


def split_needs(need_ids: Sequence[str], *, seed: int = 0) -> tuple[list[str], list[str]]:
    """A seeded half/half split of needs: ``(train, test)``."""
    ids = sorted(need_ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    half = len(ids) // 2
    return sorted(ids[k] for k in order[:half]), sorted(ids[k] for k in order[half:])


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
                continue
            why = ranker.explain(need_id, npo_id)
            if why.area_relation == "other":
                reason = "地域外"
            elif why.members_only:
                reason = "共益的活動"
            elif why.need_fields and why.org_fields and not why.shared_fields:
                reason = "分野違い"
            else:
                reason = "その他"
            out.append(Decision(need_id, npo_id, "reject", reason))
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[k] for k in order]


def heldout_comparison(
    needs: Sequence[Need],
    orgs: Sequence[Organization],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    sizes: Sequence[int] = (0, 10, 30, 100, 300),
    seed: int = 0,
) -> tuple[list[EvaluationResult], list[tuple[int, EvaluationResult]]]:
    """The learning protocol: decisions from ``qrels`` on half the needs, nDCG on the other half.

    Returns the comparison (TF-IDF only, BM25, cold start, learned on all simulated
    decisions) and the learning curve (learned on the first N decisions, N in ``sizes``).
    """
    from ._bm25 import BM25Ranker
    from ._learn import LearnedRanker

    train, test = split_needs([n.id for n in needs], seed=seed)
    test_qrels = {q: qrels[q] for q in test if q in qrels}
    cold = TfidfRanker().fit(needs, orgs)
    decisions = simulate_decisions(cold, train, qrels, seed=seed)

    def score(ranker: Rankable, name: str) -> EvaluationResult:
        rankings = {q: [o for o, _ in r] for q, r in ranker.rank_orgs(sorted(test_qrels), top=100)}
        return evaluate_rankings(rankings, test_qrels, name)

    text_only = TfidfRanker(
        field_weight=0.0,
        members_only_factor=1.0,
        expansion_weight=0.0,
        semantic_weight=0.0,
        area_factors=dict.fromkeys(
            ("same", "both_citywide", "citywide_org", "citywide_need", "unknown", "other"), 1.0
        ),
    ).fit(needs, orgs)
    learned = LearnedRanker().fit(needs, orgs, decisions)
    table = [
        score(text_only, "TF-IDF only (foundation, no signals)"),
        score(BM25Ranker().fit(needs, orgs), "BM25"),
        score(cold, "cold start"),
        score(learned, f"learned ({len(decisions)} decisions, {learned.version})"),
    ]
    curve = []
    for n in sizes:
        model = LearnedRanker().fit(needs, orgs, decisions[:n])
        curve.append((n, score(model, f"learned, {n} decisions ({model.version})")))
    return table, curve
