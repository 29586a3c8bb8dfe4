"""Command line: ``python -m matching rank | evaluate | explain``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ._bm25 import BM25Ranker
from ._evaluate import evaluate_ranker, evaluate_rankings, format_table, plain_tfidf
from ._io import (
    DataFormatError,
    ParseResult,
    Problem,
    load_decisions,
    load_needs,
    load_organizations,
    load_qrels,
)
from ._learn import Decision, LearnedRanker
from ._ranker import TfidfRanker
from ._schema import Need, Organization
from ._sets import default_sets, evaluate_sets, format_set_table, learning_rows, load_set

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="協働マッチング: rank NPOs and citizen groups for a city's needs (and the reverse).",
)

NeedsOpt = Annotated[Path, typer.Option("--needs", help="needs file (CSV or XLSX, DATA_FORMAT.md)")]
NposOpt = Annotated[
    Path, typer.Option("--npos", help="profiles file (CSV or XLSX, DATA_FORMAT.md)")
]


def _fail(problems: list[Problem]) -> typer.Exit:
    for p in problems:
        typer.echo(f"エラー: {p}", err=True)
    return typer.Exit(code=2)


def _warn(results: list[ParseResult[Need]] | list[ParseResult[Organization]]) -> None:
    for result in results:
        for w in result.warnings:
            typer.echo(f"注意: {w}", err=True)


def _load(needs: Path, npos: Path) -> tuple[list[Need], list[Organization]]:
    problems: list[Problem] = []
    need_items: list[Need] = []
    org_items: list[Organization] = []
    try:
        need_result = load_needs(needs)
        _warn([need_result])
        need_items = need_result.items
    except DataFormatError as exc:
        problems += exc.problems
    try:
        org_result = load_organizations(npos)
        _warn([org_result])
        org_items = org_result.items
    except DataFormatError as exc:
        problems += exc.problems
    if problems:
        raise _fail(problems)
    return need_items, org_items


@app.command()
def rank(
    needs: NeedsOpt,
    npos: NposOpt,
    top: Annotated[int, typer.Option("--top", min=1, help="suggestions per line")] = 10,
    reverse: Annotated[bool, typer.Option("--reverse", help="rank needs for every NPO")] = False,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help="learn first from need_id,npo_id,decision,reason rows; a decided need "
            "lists its confirmed groups first and its rejected ones last",
        ),
    ] = None,
) -> None:
    """Print one JSON line per need (or per NPO with --reverse): its ranking, best first."""
    need_items, org_items = _load(needs, npos)
    ranker: TfidfRanker | LearnedRanker
    if decisions is None:
        ranker = TfidfRanker().fit(need_items, org_items)
    else:
        ranker = LearnedRanker().fit(need_items, org_items, _decisions(decisions))
        typer.echo(f"注意: 学習結果 {json.dumps(ranker.report_, ensure_ascii=False)}", err=True)
    # a decision also stands for its own pair: confirmed groups first, rejected ones last
    if isinstance(ranker, LearnedRanker):
        rankings = (
            ranker.rank_needs(top=top, pin_decided=True)
            if reverse
            else ranker.rank_orgs(top=top, pin_decided=True)
        )
    else:
        rankings = ranker.rank_needs(top=top) if reverse else ranker.rank_orgs(top=top)
    key, other = ("npo_id", "need_id") if reverse else ("need_id", "npo_id")
    out = sys.stdout
    for item_id, ranking in rankings:
        row = {key: item_id, "ranking": [{other: i, "score": s} for i, s in ranking]}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _decisions(path: Path) -> list[Decision]:
    try:
        return [Decision(*row) for row in load_decisions(path)]
    except DataFormatError as exc:
        raise _fail(exc.problems) from exc


@app.command()
def evaluate(
    needs: Annotated[
        Path | None, typer.Option("--needs", help="needs file (one set; with --npos, --qrels)")
    ] = None,
    npos: Annotated[Path | None, typer.Option("--npos", help="profiles file (one set)")] = None,
    qrels: Annotated[
        Path | None, typer.Option("--qrels", help="judgements: need_id,npo_id,grade (one set)")
    ] = None,
    sets: Annotated[
        list[Path] | None,
        typer.Option(
            "--set",
            help="a set's folder (needs.csv, npos.csv, qrels.csv; decisions.csv and "
            "design.csv if present); repeatable. Default: the corpus parts and "
            "../shared/devset",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    decisions: Annotated[
        Path | None,
        typer.Option("--decisions", help="also learn from these; measured on the other needs"),
    ] = None,
) -> None:
    """nDCG@5, nDCG@10, Recall@10 and MRR of our ranker and of the baselines, in one run.

    With no --needs: every set (the corpus parts and the independent devset, or --set
    folders), each also text only (活動分野 and area blanked), per need type where the set
    names them, and learned against cold start where the set carries decisions.
    With --needs/--npos/--qrels: that one set; with --decisions, every ranker is measured
    on the needs that have no decision, and the learned ranker is compared with the cold
    start.
    """
    if needs is None and npos is None and qrels is None:
        _evaluate_sets(sets or default_sets(), as_json)
        return
    if needs is None or npos is None or qrels is None:
        raise _fail(
            [Problem("MISSING_OPTION", "--needs、--npos、--qrels は3つとも指定してください。", "")]
        )
    need_items, org_items = _load(needs, npos)
    try:
        judgements = load_qrels(qrels)
    except DataFormatError as exc:
        raise _fail(exc.problems) from exc
    if decisions is None:
        results = [
            evaluate_ranker(TfidfRanker(), need_items, org_items, judgements, name="tfidf (ours)"),
            evaluate_ranker(
                BM25Ranker(), need_items, org_items, judgements, name="bm25 (baseline)"
            ),
        ]
    else:
        learned_from = _decisions(decisions)
        decided = {d.need_id for d in learned_from}
        heldout = {q: j for q, j in judgements.items() if q not in decided}
        learned = LearnedRanker().fit(need_items, org_items, learned_from)
        results = [
            evaluate_ranker(BM25Ranker(), need_items, org_items, heldout, name="bm25 (baseline)"),
            evaluate_ranker(learned.base_, need_items, org_items, heldout, name="cold start"),
            evaluate_rankings(
                {q: [o for o, _ in r] for q, r in learned.rank_orgs(sorted(heldout), top=100)},
                heldout,
                f"learned ({learned.version}, {len(learned.decisions_)} decisions)",
            ),
        ]
    if as_json:
        typer.echo(
            json.dumps([{"ranker": r.name, "needs": r.queries, **r.metrics} for r in results])
        )
    else:
        typer.echo(format_table(results))


@app.command()
def explain(
    needs: NeedsOpt,
    npos: NposOpt,
    need_id: Annotated[str, typer.Argument(help="課題ID")],
    npo_id: Annotated[str, typer.Argument(help="団体ID")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Why an NPO scores as it does for a need, in readable Japanese."""
    need_items, org_items = _load(needs, npos)
    ranker = TfidfRanker().fit(need_items, org_items)
    missing = []
    if need_id not in ranker.need_index_:
        missing.append(Problem("UNKNOWN_ID", f"課題ID「{need_id}」がありません。", str(needs)))
    if npo_id not in ranker.org_index_:
        missing.append(Problem("UNKNOWN_ID", f"団体ID「{npo_id}」がありません。", str(npos)))
    if missing:
        raise _fail(missing)
    explanation = ranker.explain(need_id, npo_id)
    if as_json:
        typer.echo(json.dumps(explanation.as_dict(), ensure_ascii=False, indent=2))
        return
    need = ranker.needs_[ranker.need_index_[need_id]]
    org = ranker.orgs_[ranker.org_index_[npo_id]]
    typer.echo(f"課題 {need.id}「{need.title}」（{need.department}）")
    typer.echo(f"団体 {org.id}「{org.name}」")
    typer.echo(f"スコア {explanation.score:.4f}（本文の類似度 {explanation.text_similarity:.4f}）")
    for line in explanation.reasons_ja():
        typer.echo(f"- {line}")


def _evaluate_sets(folders: list[Path], as_json: bool) -> None:
    if not folders:
        raise _fail([Problem("NO_SET", "評価するデータセットがありません（--set で指定）。", "")])
    try:
        loaded = [load_set(f, f.name) for f in folders]
    except DataFormatError as exc:
        raise _fail(exc.problems) from exc
    rankers = {
        "TF-IDF only": plain_tfidf,
        "BM25": BM25Ranker,
        "ours (cold start)": TfidfRanker,
    }
    rows = evaluate_sets(loaded, rankers)
    learning = [row for data in loaded for row in learning_rows(data)]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "set": r.set_name,
                        "slice": r.slice_name,
                        "ranker": r.ranker,
                        "needs": r.result.queries,
                        **r.result.metrics,
                    }
                    for r in rows + learning
                ],
                ensure_ascii=False,
            )
        )
        return
    typer.echo(format_set_table(rows))
    if learning:
        typer.echo("")
        typer.echo(format_set_table(learning))


def main() -> None:
    app()
