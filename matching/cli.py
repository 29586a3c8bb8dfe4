"""Command line: ``python -m matching rank | evaluate | explain``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ._bm25 import BM25Ranker
from ._console import Command, Group, Progress, ProgressOpt
from ._evaluate import evaluate_ranker, evaluate_rankings, format_table, plain_tfidf
from ._io import (
    DataFormatError,
    ParseResult,
    Problem,
    load_needs,
    load_organizations,
)
from ._judgements import load_decisions, load_qrels
from ._learn import Decision, LearnedRanker
from ._ranker import _BLOCK, TfidfRanker
from ._schema import Need, Organization
from ._sets import default_sets, evaluate_sets, format_set_table, learning_rows, load_set

app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    help="協働マッチング: 市の課題（協働の種）に合う NPO・市民団体を順に並べ、評価し、"
    "理由を説明します。 / kyodo-match: rank NPOs and citizen groups for a city's needs "
    "(and the reverse), evaluate the ranking, explain a score.",
)

NeedsOpt = Annotated[
    Path,
    typer.Option("--needs", help="課題のファイル（CSV・XLSX） / needs file (DATA_FORMAT.md)"),
]
NposOpt = Annotated[
    Path,
    typer.Option("--npos", help="団体のファイル（CSV・XLSX） / profiles file (DATA_FORMAT.md)"),
]
# rank writes this many needs (or groups) at a time, with a progress line after each
# batch: the ranker's own block, so the scores are those of one call for all
_RANK_BATCH = _BLOCK


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


@app.command(cls=Command)
def rank(
    needs: NeedsOpt,
    npos: NposOpt,
    top: Annotated[
        int, typer.Option("--top", min=1, help="1行に並べる件数 / suggestions per line")
    ] = 10,
    reverse: Annotated[
        bool,
        typer.Option("--reverse", help="団体ごとに課題を並べる / rank needs for every NPO"),
    ] = False,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help="過去の判断（need_id,npo_id,decision,reason）から先に学習 / learn first "
            "from these decisions; a decided need lists its confirmed groups first and "
            "its rejected ones last",
        ),
    ] = None,
    progress: ProgressOpt = None,
) -> None:
    """課題ごとに合う団体を JSON で1行ずつ / one JSON line per need: its ranking, best first.

    --reverse: 団体ごとに合う課題 / one line per NPO instead."""
    say = Progress(progress)
    say(f"読み込み中: {needs.name}, {npos.name}")
    need_items, org_items = _load(needs, npos)
    say(f"学習中: 課題 {len(need_items)}件・団体 {len(org_items)}件")
    ranker: TfidfRanker | LearnedRanker
    if decisions is None:
        ranker = TfidfRanker().fit(need_items, org_items)
        base = ranker
    else:
        ranker = LearnedRanker().fit(need_items, org_items, _decisions(decisions))
        base = ranker.base_
        typer.echo(f"注意: 学習結果 {json.dumps(ranker.report_, ensure_ascii=False)}", err=True)
    ids = base.org_ids_ if reverse else base.need_ids_
    key, other = ("npo_id", "need_id") if reverse else ("need_id", "npo_id")
    out = sys.stdout
    for start in range(0, len(ids), _RANK_BATCH):
        batch = ids[start : start + _RANK_BATCH]
        for item_id, ranking in _rank(ranker, batch, top=top, reverse=reverse):
            row = {key: item_id, "ranking": [{other: i, "score": s} for i, s in ranking]}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
        say(f"順位づけ: {'団体' if reverse else '課題'} {start + len(batch)}/{len(ids)}件")
    say("完了")


def _rank(
    ranker: TfidfRanker | LearnedRanker, ids: list[str], *, top: int, reverse: bool
) -> list[tuple[str, list[tuple[str, float]]]]:
    # a decision also stands for its own pair: confirmed groups first, rejected ones last
    if isinstance(ranker, LearnedRanker):
        if reverse:
            return ranker.rank_needs(ids, top=top, pin_decided=True)
        return ranker.rank_orgs(ids, top=top, pin_decided=True)
    return ranker.rank_needs(ids, top=top) if reverse else ranker.rank_orgs(ids, top=top)


def _decisions(path: Path) -> list[Decision]:
    try:
        return [Decision(*row) for row in load_decisions(path)]
    except DataFormatError as exc:
        raise _fail(exc.problems) from exc


@app.command(cls=Command)
def evaluate(
    needs: Annotated[
        Path | None,
        typer.Option(
            "--needs", help="課題のファイル（1組、--npos・--qrels と） / needs file (one set)"
        ),
    ] = None,
    npos: Annotated[
        Path | None, typer.Option("--npos", help="団体のファイル（1組） / profiles file (one set)")
    ] = None,
    qrels: Annotated[
        Path | None,
        typer.Option(
            "--qrels", help="正解の判定（1組） / judgements: need_id,npo_id,grade (one set)"
        ),
    ] = None,
    sets: Annotated[
        list[Path] | None,
        typer.Option(
            "--set",
            help="評価セットのフォルダ（繰り返し可、既定はコーパスと devset） / a set's "
            "folder (needs.csv, npos.csv, qrels.csv; decisions.csv and design.csv if "
            "present); repeatable. Default: the corpus parts and ../shared/devset",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="表の代わりに JSON / print JSON instead of a table")
    ] = False,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help="この判断からも学習し、判断のない課題で測る / also learn from these; "
            "measured on the other needs",
        ),
    ] = None,
    progress: ProgressOpt = None,
) -> None:
    """順位づけの精度を比較手法と並べて測る / nDCG, Recall and MRR against the baselines.

    nDCG@5, nDCG@10, Recall@10 and MRR of our ranker and of the baselines, in one run.

    With no --needs: every set (the corpus parts and the independent devset, or --set
    folders), each also text only (活動分野 and area blanked), per need type where the set
    names them, and learned against cold start where the set carries decisions.
    With --needs/--npos/--qrels: that one set; with --decisions, every ranker is measured
    on the needs that have no decision, and the learned ranker is compared with the cold
    start.
    """
    say = Progress(progress)
    if needs is None and npos is None and qrels is None:
        _evaluate_sets(sets or default_sets(), as_json, say)
        return
    if needs is None or npos is None or qrels is None:
        raise _fail(
            [Problem("MISSING_OPTION", "--needs、--npos、--qrels は3つとも指定してください。", "")]
        )
    say(f"読み込み中: {needs.name}, {npos.name}, {qrels.name}")
    need_items, org_items = _load(needs, npos)
    try:
        judgements = load_qrels(qrels)
    except DataFormatError as exc:
        raise _fail(exc.problems) from exc
    if decisions is None:
        say("学習・評価中 1/2: tfidf (ours)")
        results = [
            evaluate_ranker(TfidfRanker(), need_items, org_items, judgements, name="tfidf (ours)")
        ]
        say("学習・評価中 2/2: bm25 (baseline)")
        results.append(
            evaluate_ranker(BM25Ranker(), need_items, org_items, judgements, name="bm25 (baseline)")
        )
    else:
        learned_from = _decisions(decisions)
        decided = {d.need_id for d in learned_from}
        known = {n.id for n in need_items}
        heldout = {q: j for q, j in judgements.items() if q in known and q not in decided}
        say(f"学習中: 判断 {len(learned_from)}件から")
        # the cold start is fitted once and never refitted: a learned model ranks through
        # it (or a copy of it), and a refit would wipe what the model set on that copy
        cold = TfidfRanker().fit(need_items, org_items)
        learned = LearnedRanker().fit_on(cold, learned_from)
        say(f"評価中: 判断のない課題 {len(heldout)}件で3つの手法を比べます")

        def ranked(ranker: TfidfRanker | LearnedRanker) -> dict[str, list[str]]:
            return {q: [o for o, _ in r] for q, r in ranker.rank_orgs(sorted(heldout), top=100)}

        results = [
            evaluate_ranker(BM25Ranker(), need_items, org_items, heldout, name="bm25 (baseline)"),
            evaluate_rankings(ranked(cold), heldout, "cold start"),
            evaluate_rankings(
                ranked(learned),
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
    say("完了")


@app.command(cls=Command)
def explain(
    needs: NeedsOpt,
    npos: NposOpt,
    need_id: Annotated[str, typer.Argument(help="課題ID / the need's id")],
    npo_id: Annotated[str, typer.Argument(help="団体ID / the group's id")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON で出力 / print JSON")] = False,
) -> None:
    """団体のスコアの理由を日本語で説明 / why an NPO scores as it does for a need."""
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


def _evaluate_sets(folders: list[Path], as_json: bool, say: Progress) -> None:
    if not folders:
        raise _fail([Problem("NO_SET", "評価するデータセットがありません（--set で指定）。", "")])
    say(f"読み込み中: {len(folders)}組の評価セット")
    try:
        loaded = [load_set(f, f.name) for f in folders]
    except DataFormatError as exc:
        raise _fail(exc.problems) from exc
    rankers = {
        "TF-IDF only": plain_tfidf,
        "BM25": BM25Ranker,
        "ours (cold start)": TfidfRanker,
    }
    rows = evaluate_sets(loaded, rankers, progress=say)
    learning = []
    for data in loaded:
        if data.decisions:
            say(f"学習の評価中: {data.name}")
        learning += learning_rows(data)
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
        say("完了")
        return
    typer.echo(format_set_table(rows))
    if learning:
        typer.echo("")
        typer.echo(format_set_table(learning))
    say("完了")


def main() -> None:
    app()
