"""Offline evaluation of rankers against graded relevance judgements."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from ._areas import DEFAULT_AREA_FACTORS
from ._metrics import mrr, ndcg_at_k, recall_at_k
from ._protocols import (
    PROTOCOLS,
    confirmed_decisions,
    judged_decisions,
    simulate_decisions,
)
from ._ranker import Ranking, TfidfRanker
from ._schema import Need, Organization

__all__ = [
    "PROTOCOLS",
    "EvaluationResult",
    "Rankable",
    "confirmed_decisions",
    "evaluate_ranker",
    "evaluate_rankings",
    "format_table",
    "judged_decisions",
    "simulate_decisions",
]

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


def heldout_result(
    ranker: Rankable, judged: Mapping[str, Mapping[str, int]], name: str = ""
) -> EvaluationResult:
    """``ranker``'s top 100 for every judged (held-out) need, scored against ``judged``."""
    ranked = {q: [o for o, _ in r] for q, r in ranker.rank_orgs(sorted(judged), top=100)}
    return evaluate_rankings(ranked, judged, name)


def plain_tfidf() -> TfidfRanker:
    """The foundation's plain TF-IDF: no 活動分野, area, members-only, kind of partner,
    population, thesaurus, word vectors, LSA, diversity or reciprocity."""
    return TfidfRanker(
        field_weight=0.0,
        members_only_factor=1.0,
        kind_factor=1.0,
        population_factor=1.0,
        expansion_weight=0.0,
        semantic_weight=0.0,
        dense_weight=0.0,
        neighbour_weight=0.0,
        diversity=0.0,
        reciprocity=0.0,
        area_factors=dict.fromkeys(DEFAULT_AREA_FACTORS, 1.0),
    )


def heldout_means(
    needs: Sequence[Need],
    orgs: Sequence[Organization],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    seeds: Sequence[int] = range(10),
    protocol: str = "review",
) -> list[EvaluationResult]:
    """``heldout_comparison`` averaged over ``seeds`` splits, every ranker in one run:
    TF-IDF only, BM25, cold start and learned, each measured on the held-out half of every
    split (each result's ``queries``: the mean number of held-out needs in a split)."""
    from ._bm25 import BM25Ranker
    from ._learn import LearnedRanker

    cold = TfidfRanker().fit(needs, orgs)
    fixed: dict[str, Rankable] = {
        "TF-IDF only (foundation, no signals)": plain_tfidf().fit(needs, orgs),
        "BM25": BM25Ranker().fit(needs, orgs),
        "cold start": cold,
    }
    results: dict[str, list[EvaluationResult]] = {name: [] for name in [*fixed, "learned"]}
    for seed in seeds:
        train, test = split_needs([n.id for n in needs], seed=seed)
        judged = {q: qrels[q] for q in test if q in qrels}
        decisions = PROTOCOLS[protocol](cold, train, qrels, seed=seed)
        rankers = {**fixed, "learned": LearnedRanker().fit_on(cold, decisions)}
        for name, ranker in rankers.items():
            results[name].append(heldout_result(ranker, judged, name))
    return [
        EvaluationResult(
            f"{name} (mean of {len(runs)} splits)",
            round(float(np.mean([r.queries for r in runs]))),
            {m: float(np.mean([r.metrics[m] for r in runs])) for m in METRICS},
        )
        for name, runs in results.items()
    ]


def heldout_comparison(
    needs: Sequence[Need],
    orgs: Sequence[Organization],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    sizes: Sequence[int] = (0, 10, 30, 100, 300),
    seed: int = 0,
    protocol: str = "review",
) -> tuple[list[EvaluationResult], list[tuple[int, EvaluationResult]]]:
    """The learning protocol: decisions from ``qrels`` on half the needs, nDCG on the other half.

    ``protocol`` says how the decisions are made (``PROTOCOLS``): ``review`` — the
    coordinator reviews the cold start's top 10 of each training need; ``judged`` — every
    judgement of the training needs becomes a decision.

    Returns the comparison (TF-IDF only, BM25, cold start, learned on all simulated
    decisions) and the learning curve (learned on the first N decisions, N in ``sizes``).
    """
    from ._bm25 import BM25Ranker
    from ._learn import LearnedRanker

    train, test = split_needs([n.id for n in needs], seed=seed)
    test_qrels = {q: qrels[q] for q in test if q in qrels}
    cold = TfidfRanker().fit(needs, orgs)
    decisions = PROTOCOLS[protocol](cold, train, qrels, seed=seed)

    def score(ranker: Rankable, name: str) -> EvaluationResult:
        return heldout_result(ranker, test_qrels, name)

    text_only = plain_tfidf().fit(needs, orgs)
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


@dataclass(frozen=True, slots=True)
class SeedResult:
    """One split of ``learning_gains``: nDCG@10 of the held-out needs."""

    seed: int
    cold: float
    learned: float
    expansion: float
    alpha: float
    calibration: dict[str, float] = field(default_factory=dict)

    @property
    def gain(self) -> float:
        return self.learned - self.cold


def learning_gains(
    needs: Sequence[Need],
    orgs: Sequence[Organization],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    seeds: Sequence[int] = range(10),
    protocol: str = "review",
    calibrate: bool = True,
) -> list[SeedResult]:
    """Learned against cold start on many half/half splits: one split is too noisy to
    tell a gain of 0.005 nDCG from luck (about 33 held-out needs per part).
    ``calibrate=False`` leaves out the learner's calibration stage."""
    from ._learn import LearnedRanker

    cold = TfidfRanker().fit(needs, orgs)
    out = []
    for seed in seeds:
        train, test = split_needs([n.id for n in needs], seed=seed)
        judged = {q: qrels[q] for q in test if q in qrels}
        decisions = PROTOCOLS[protocol](cold, train, qrels, seed=seed)
        learned = LearnedRanker(calibrate=calibrate).fit_on(cold, decisions)
        values = [heldout_result(r, judged).metrics["nDCG@10"] for r in (cold, learned)]
        out.append(
            SeedResult(
                seed,
                values[0],
                values[1],
                learned.expansion_,
                learned.alpha_,
                dict(learned.calibration_),
            )
        )
    return out


def scramble_fields(
    orgs: Sequence[Organization], *, share: float = 0.5, seed: int = 7
) -> list[Organization]:
    """``orgs`` with ``share`` of the profiles that name 活動分野 given as many random ones
    instead (seeded): data from a city whose groups fill the fields in loosely, to check
    that learning adapts the cold start where our defaults do not fit."""
    rng = random.Random(seed)
    return [
        replace(o, fields=sorted(rng.sample(range(1, 21), len(o.fields))))
        if o.fields and rng.random() < share
        else o
        for o in orgs
    ]


def confirmation_transfer(
    needs: Sequence[Need],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Whether a group judged relevant for a training need is more often relevant for a
    held-out need than any group is: the signal decision history can carry at all.

    ``base``: share of (held-out need, judged group) pairs that are relevant, over every
    group judged for any need; ``confirmed_elsewhere``: the same share among groups
    relevant for some training need; ``same_department``: among groups relevant for a
    training need of the held-out need's department. A lift near 1 means past
    confirmations say nothing about new needs beyond what their text says."""
    train, test = split_needs([n.id for n in needs], seed=seed)
    department = {n.id: n.department for n in needs}
    groups = sorted({o for judged in qrels.values() for o in judged})
    elsewhere: dict[str, set[str]] = {}
    for q in train:
        for o, grade in qrels.get(q, {}).items():
            if grade > 0:
                elsewhere.setdefault(o, set()).add(department[q])
    counts = {"base": [0, 0], "confirmed_elsewhere": [0, 0], "same_department": [0, 0]}
    for q in test:
        if q not in qrels:
            continue
        for o in groups:
            relevant = qrels[q].get(o, 0) > 0
            kinds = ["base"]
            if o in elsewhere:
                kinds.append("confirmed_elsewhere")
                if department[q] in elsewhere[o]:
                    kinds.append("same_department")
            for kind in kinds:
                counts[kind][0] += relevant
                counts[kind][1] += 1
    return {k: (hit / total if total else 0.0) for k, (hit, total) in counts.items()}


def learning_curve(
    needs: Sequence[Need],
    orgs: Sequence[Organization],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    sizes: Sequence[int] = (0, 10, 30, 100, 300),
    seeds: Sequence[int] = range(5),
    protocol: str = "review",
) -> dict[int, float]:
    """Mean nDCG@10 of the held-out needs over ``seeds`` splits, learned from the first N
    decisions of each split (N in ``sizes``; all of them when there are fewer)."""
    from ._learn import LearnedRanker

    cold = TfidfRanker().fit(needs, orgs)
    values: dict[int, list[float]] = {n: [] for n in sizes}
    for seed in seeds:
        train, test = split_needs([n.id for n in needs], seed=seed)
        judged = {q: qrels[q] for q in test if q in qrels}
        decisions = PROTOCOLS[protocol](cold, train, qrels, seed=seed)
        for n in sizes:
            model = LearnedRanker().fit_on(cold, decisions[:n])
            values[n].append(heldout_result(model, judged).metrics["nDCG@10"])
    return {n: float(np.mean(v)) for n, v in values.items()}
