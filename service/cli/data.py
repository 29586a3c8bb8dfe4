"""The commands that fill the database: migrate, load, create-user."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session, select

import matching
from matching._console import Progress, ProgressOpt, seconds_since

from .. import imports, search_fill
from ..config import Settings
from ..db import make_engine
from ..errors import DomainError
from ..migrate import upgrade
from ..models import Organization, Role
from ..schemas import UserCreate
from ..users import create_user

# the file limits the API keeps; ``load --max-bytes / --max-rows`` may raise them
_LIMITS = matching.Limits()


def migrate() -> None:
    """データベースを最新の形にする（初回は SQLite を作成） / apply the schema migrations."""
    settings = Settings()
    upgrade(settings.sqlalchemy_url)
    typer.echo(f"データベースを更新しました: {settings.sqlalchemy_url.split('@')[-1]}")


def load(
    needs: Annotated[
        Path | None,
        typer.Option(help="取り込む課題のファイル（CSV・XLSX） / needs file to import"),
    ] = None,
    npos: Annotated[
        Path | None,
        typer.Option(help="取り込む団体のファイル（CSV・XLSX） / profiles file to import"),
    ] = None,
    corpus: Annotated[
        bool, typer.Option(help="同梱のコーパスを取り込む / load the bundled corpus")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="確認だけして書き込まない / only show what would change")
    ] = False,
    accept_valid: Annotated[
        bool,
        typer.Option(
            help="不備のある行を除いて取り込む / import the valid rows of a file that has "
            "rejected ones"
        ),
    ] = False,
    max_bytes: Annotated[
        int,
        typer.Option(
            min=1, help="受け付ける最大のファイルサイズ（バイト） / largest file accepted, in bytes"
        ),
    ] = _LIMITS.file_bytes,
    max_rows: Annotated[
        int,
        typer.Option(min=1, help="1ファイルの最大行数 / most data rows per file"),
    ] = _LIMITS.rows,
    prepare: Annotated[
        bool | None,
        typer.Option(
            "--prepare/--no-prepare",
            help="取り込みの後に索引と全課題の提案を用意する（既定: 保存済みの索引がまだないとき）"
            " / fit and rank every need after the import (default: when no fit is saved yet)",
            show_default=False,
        ),
    ] = None,
    progress: ProgressOpt = None,
) -> None:
    """課題と団体を取り込む（不備が1行でもあれば何も変えない） / import needs and profiles.

    DATA_FORMAT.md の形式 / the format of DATA_FORMAT.md; a file with a bad row changes
    nothing. 結果の件数は標準出力、進み具合とエラーは標準エラー / counts on stdout,
    progress and errors on stderr. 初めての取り込みの後は ``prepare`` も行い、最初のサーバー
    起動がすぐに提案を返せるようにします / after the first load it also does ``prepare``'s
    work, so that the first start answers at once."""
    if needs is None and npos is None and not corpus:
        typer.echo(
            "エラー: --needs、--npos、--corpus のどれかを指定してください。 [MISSING_OPTION]",
            err=True,
        )
        raise typer.Exit(2)
    limits = dataclasses.replace(_LIMITS, file_bytes=max_bytes, rows=max_rows)
    settings = Settings()
    say = Progress(progress)
    say("データベースを準備中")
    upgrade(settings.sqlalchemy_url)
    if corpus:
        from corpus import PARTS, part_paths

        files = [
            (k, p)
            for part in PARTS
            for k, p in zip(("npos", "needs"), part_paths(part)[1::-1], strict=True)
        ]
    else:
        files = [(k, p) for k, p in (("npos", npos), ("needs", needs)) if p is not None]
    # every file is read and checked before any is written: one import, all or nothing
    sources = _read_files(files, say)
    if sources is None:
        raise typer.Exit(2)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            failed = _load_files(
                session, sources, dry_run=dry_run, accept_valid=accept_valid, limits=limits, say=say
            )
            if not failed and not dry_run:
                _fill_search_text(session, say)
    finally:
        engine.dispose()
    if failed:
        raise typer.Exit(2)
    if not dry_run and (prepare if prepare is not None else _first_load(settings)):
        from .run import prepare_index

        try:
            prepare_index(settings, say)
        except Exception as exc:  # the import is done: the first start makes the index
            typer.echo(
                f"取り込みは完了しましたが、索引の準備に失敗しました（{exc}）。"
                "サーバーの起動時に作成します。 [PREPARE_FAILED]",
                err=True,
            )


def _first_load(settings: Settings) -> bool:
    """Whether no fit is saved for this database yet (its folder is on and holds none): the
    first start would fit and rank every need while the first requests wait."""
    from ..saved_index import SavedIndexes

    folder = settings.saved_index_dir
    return folder is not None and not SavedIndexes(folder).any_saved()


def _label(kind: str) -> str:
    return "団体" if kind == "organizations" else "課題"


def _read_files(files: list[tuple[str, Path]], say: Progress) -> list[imports.Source] | None:
    """The files' bytes, or None (each unreadable one said on stderr) if any is unreadable."""
    sources: list[imports.Source] = []
    unreadable = False
    for kind, path in files:
        source_kind: imports.Kind = "organizations" if kind == "npos" else "needs"
        say(f"{_label(source_kind)} {path.name}: 読み込み中")
        try:
            sources.append(imports.Source(source_kind, path.read_bytes(), str(path)))
        except OSError as exc:
            typer.echo(
                f"エラー: {path}: ファイルを読めません（{exc.strerror}） [FILE_UNREADABLE]",
                err=True,
            )
            unreadable = True
    if unreadable:
        typer.echo(
            "ファイルを読めないため、どのファイルも取り込みませんでした（何も変更していません）。"
            " [FILE_UNREADABLE]",
            err=True,
        )
        return None
    return sources


def _load_files(
    session: Session,
    sources: list[imports.Source],
    *,
    dry_run: bool,
    accept_valid: bool,
    limits: matching.Limits,
    say: Progress,
) -> bool:
    """Import (or preview) the files as one; print their counts and problems. True if
    they were refused (then nothing of any file was written)."""
    started = time.perf_counter()

    def name(report: imports.ImportReport) -> str:
        return f"{_label(report.kind)} {Path(report.file).name}"

    def stage(stage_name: str, report: imports.ImportReport) -> None:
        if stage_name == "checking":
            say(f"{name(report)}: {report.rows}行を確認中")
        else:
            say(
                f"{name(report)}: 書き込み中（新規 {len(report.created)}・"
                f"更新 {len(report.updated)}）"
            )

    try:
        reports = imports.run_imports(
            session,
            sources,
            user=None,
            apply=not dry_run,
            accept_valid=accept_valid,
            limits=limits,
            on_stage=stage,
        )
    except DomainError as exc:
        for problem in exc.errors:
            typer.echo(f"エラー: {matching.Problem(**problem)}", err=True)
        typer.echo(f"{exc.message} [{exc.code}]", err=True)
        return True
    prefix = "（確認のみ）" if dry_run else ""
    for report in reports:
        label = _label(report.kind)
        for problem in report.rejected:
            typer.echo(f"エラー: {matching.Problem(**problem)}", err=True)
        for warning in report.warnings:
            typer.echo(f"注意: {matching.Problem(**warning)}", err=True)
        counts = (
            f"新規 {len(report.created)}・更新 {len(report.updated)}"
            f"・変更なし {len(report.unchanged)}・不備 {len(report.rejected)}"
        )
        typer.echo(f"{label}{prefix}: {counts}")
        say(f"{name(report)}: 完了{prefix} {counts}{seconds_since(started)}")
    return any(report.rejected for report in reports) and not accept_valid


def _fill_search_text(session: Session, say: Progress) -> None:
    """The lemma line of the search text a big import left (``search_fill``): the rows
    are already written and usable; this finishes their keyword search."""
    pending = search_fill.pending_rows(session)
    if not pending:
        return
    started = time.perf_counter()
    said = [0]  # the last tenth said: a few lines, not one per batch

    def batch(done: int) -> None:
        if done * 10 // pending > said[0]:
            said[0] = done * 10 // pending
            say(f"検索用の語を準備中: {done}/{pending}件")

    say(f"検索用の語を準備中（{pending}件）")
    done = search_fill.fill(session, on_batch=batch)
    say(f"検索用の語: 完了 {done}件{seconds_since(started)}")


def create_user_command(
    username: Annotated[str, typer.Option(help="ログイン名 / login name")],
    role: Annotated[
        Role,
        typer.Option(help="役割（コーディネーター・担当課・団体） / role of the user"),
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="パスワード（省略すると入力を求めます） / password (asked for if omitted)",
        ),
    ],
    department: Annotated[
        str | None, typer.Option(help="担当課（担当課の利用者） / department (department users)")
    ] = None,
    organization: Annotated[
        str | None, typer.Option(help="団体ID（団体の利用者） / group's id (npo users)")
    ] = None,
    display_name: Annotated[str, typer.Option(help="表示名 / name shown on the pages")] = "",
) -> None:
    """利用者を作成（最初のコーディネーターはここから） / create a user (the first coordinator)."""
    settings = Settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            org_id = None
            if organization:
                org_id = session.exec(
                    select(Organization.id).where(Organization.key == organization)
                ).first()
            data = UserCreate(
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                department=department,
                organization_id=org_id,
            )
            user = create_user(session, data, by=None)
            typer.echo(f"利用者 {user.username}（{user.role}）を作成しました")
    except DomainError as exc:
        typer.echo(f"エラー: {exc.message} [{exc.code}]", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
