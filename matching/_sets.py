"""Evaluation sets on disk, and the table that reports every set in one run.

A set is a folder in the interchange format: ``needs.csv``, ``npos.csv``, ``qrels.csv``
(``need_id,npo_id,grade`` or ``relevance``), and optionally ``decisions.csv`` (a
coordinator's decisions on some needs) and ``design.csv`` (each need's ``type``, as the
independent development set names them: ordinary, vocabulary, distractor).

Every set is also measured *text only*: 活動分野 and area blanked, as a city whose groups
leave them empty would give them. A ranker that only does well when those columns are
filled in would not hold elsewhere.

Each set is also read in the *reverse* direction (``REVERSE``): the needs ranked for each
group with a relevant need, as a group's page lists them (the devset's README asks for
those groups only).
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ._evaluate import METRICS, EvaluationResult, Rankable, evaluate_rankings
from ._io import load_needs, load_organizations
from ._judgements import load_decisions, load_qrels
from ._learn import Decision
from ._schema import Need, Organization

__all__ = [
    "REVERSE",
    "EvalSet",
    "SetRow",
    "default_sets",
    "evaluate_sets",
    "format_set_table",
    "learning_rows",
    "load_set",
    "text_only",
]


@dataclass(slots=True)
class EvalSet:
    """One test collection: needs, profiles, judgements, and what else its folder holds."""

    name: str
    needs: list[Need]
    orgs: list[Organization]
    qrels: dict[str, dict[str, int]]
    decisions: list[Decision] = field(default_factory=list)
    need_types: dict[str, str] = field(default_factory=dict)


def load_set(folder: str | Path, name: str | None = None) -> EvalSet:
    """Read a set's folder (see the module's docstring)."""
    path = Path(folder)
    decisions_path = path / "decisions.csv"
    design_path = path / "design.csv"
    types: dict[str, str] = {}
    if design_path.is_file():
        with design_path.open(encoding="utf-8-sig", newline="") as fh:
            types = {row["need_id"]: row["type"] for row in csv.DictReader(fh) if row.get("type")}
    return EvalSet(
        name=name or path.name,
        needs=load_needs(path / "needs.csv").items,
        orgs=load_organizations(path / "npos.csv").items,
        qrels=load_qrels(path / "qrels.csv"),
        decisions=(
            [Decision(*row) for row in load_decisions(decisions_path)]
            if decisions_path.is_file()
            else []
        ),
        need_types=types,
    )


def default_sets() -> list[Path]:
    """The folders ``python -m matching evaluate`` reports when given none: the bundled
    corpus's parts (found without importing the ``corpus`` package, which builds on this
    one) and the independent development set beside the project (``../shared/devset``)."""
    spec = importlib.util.find_spec("corpus")
    folders: list[Path] = []
    if spec is not None and spec.submodule_search_locations:
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        folders += sorted(p for p in data.iterdir() if (p / "needs.csv").is_file())
        devset = data.parent.parent.parent / "shared" / "devset"
        if (devset / "needs.csv").is_file():
            folders.append(devset)
    return folders


def text_only(data: EvalSet) -> EvalSet:
    """The same set with 活動分野 and area blanked on both sides."""
    return replace(
        data,
        name=f"{data.name} (text only)",
        needs=[replace(n, fields=[], areas=[]) for n in data.needs],
        orgs=[replace(o, fields=[], areas=[]) for o in data.orgs],
    )


# the slice name of the reverse direction: needs ranked for each group
REVERSE = "reverse (needs for a group)"


def reverse_qrels(qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """``{group: {need: grade}}`` for the groups with at least one relevant need."""
    out: dict[str, dict[str, int]] = {}
    for need, judged in qrels.items():
        for org, grade in judged.items():
            out.setdefault(org, {})[need] = grade
    return {o: j for o, j in sorted(out.items()) if any(g > 0 for g in j.values())}


@dataclass(frozen=True, slots=True)
class SetRow:
    """One line of the report: a ranker on a set (or on a slice of its needs)."""

    set_name: str
    slice_name: str
    ranker: str
    result: EvaluationResult


RankerFactory = Callable[[], Rankable]


def evaluate_sets(
    sets: Sequence[EvalSet],
    rankers: Mapping[str, RankerFactory],
    *,
    with_text_only: bool = True,
    with_reverse: bool = True,
    depth: int = 100,
    progress: Callable[[str], None] | None = None,
) -> list[SetRow]:
    """Every ranker on every set (and its text-only twin), fitted once per set; sets with
    need types are also reported per type, and each set in the reverse direction
    (``REVERSE``, for rankers that rank needs for a group). ``progress`` hears of each
    fit as it starts."""
    rows: list[SetRow] = []
    steps = len(sets) * (2 if with_text_only else 1) * len(rankers)
    step = 0
    for data in sets:
        variants = [data, text_only(data)] if with_text_only else [data]
        for variant in variants:
            judged = {q: j for q, j in variant.qrels.items() if q in {n.id for n in variant.needs}}
            for name, make in rankers.items():
                step += 1
                if progress is not None:
                    progress(f"学習・評価中 {step}/{steps}: {variant.name} · {name}")
                ranker = make()
                ranker.fit(variant.needs, variant.orgs)
                ranked = {
                    q: [o for o, _ in r] for q, r in ranker.rank_orgs(sorted(judged), top=depth)
                }
                rows.append(SetRow(variant.name, "all", name, evaluate_rankings(ranked, judged)))
                for kind in sorted(set(variant.need_types.values())):
                    part = {q: j for q, j in judged.items() if variant.need_types.get(q) == kind}
                    rows.append(SetRow(variant.name, kind, name, evaluate_rankings(ranked, part)))
                inverse = reverse_qrels(judged)
                rank_needs = getattr(ranker, "rank_needs", None)
                if with_reverse and inverse and rank_needs is not None:
                    back = {o: [q for q, _ in r] for o, r in rank_needs(sorted(inverse), top=depth)}
                    result = evaluate_rankings(back, inverse)
                    rows.append(SetRow(variant.name, REVERSE, name, result))
    return rows


def format_set_table(rows: Sequence[SetRow], metric: str = "nDCG@10") -> str:
    """A Markdown table: one line per set and slice, one column per ranker."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric: {metric}")
    rankers = list(dict.fromkeys(r.ranker for r in rows))
    lines: dict[tuple[str, str], dict[str, SetRow]] = {}
    for row in rows:
        lines.setdefault((row.set_name, row.slice_name), {})[row.ranker] = row
    head = f"| set | needs | {' | '.join(rankers)} |"
    rule = "|---|---:|" + "---:|" * len(rankers)
    body = []
    for (set_name, slice_name), by_ranker in lines.items():
        label = set_name if slice_name == "all" else f"{set_name} · {slice_name}"
        queries = next(iter(by_ranker.values())).result.queries
        cells = [
            f"{by_ranker[r].result.metrics[metric]:.3f}" if r in by_ranker else "" for r in rankers
        ]
        body.append(f"| {label} | {queries} | {' | '.join(cells)} |")
    return "\n".join([f"{metric}", "", head, rule, *body])


def learning_rows(data: EvalSet) -> list[SetRow]:
    """Learned against cold start where a set carries decisions: the model learns from
    the decisions, and both are measured on the judged needs nobody decided on (also per
    need type)."""
    from ._learn import LearnedRanker
    from ._ranker import TfidfRanker

    if not data.decisions:
        return []
    decided = {d.need_id for d in data.decisions}
    known = {n.id for n in data.needs}
    heldout = {q: j for q, j in data.qrels.items() if q in known and q not in decided}
    cold = TfidfRanker().fit(data.needs, data.orgs)
    learned = LearnedRanker().fit_on(cold, data.decisions)
    name = f"{data.name}: learned from {len(data.decisions)} decisions on {len(decided)} needs"
    rows = []
    learned_label = "learned" if learned.promoted_ else "learned (nothing held: the cold start)"
    for label, ranker in (("cold start", cold), (learned_label, learned)):
        ranked = {q: [o for o, _ in r] for q, r in ranker.rank_orgs(sorted(heldout), top=100)}
        rows.append(SetRow(name, "all", label, evaluate_rankings(ranked, heldout)))
        for kind in sorted(set(data.need_types.values())):
            part = {q: j for q, j in heldout.items() if data.need_types.get(q) == kind}
            rows.append(SetRow(name, kind, label, evaluate_rankings(ranked, part)))
    return rows
