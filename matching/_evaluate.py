"""Offline evaluation of rankers against graded relevance judgements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ._metrics import mrr, ndcg_at_k, recall_at_k
from ._ranker import Ranking
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
