"""``python -m service``: migrate, load (idempotent, all or nothing), create-user, prepare."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, func, select

from service.audit import audit
from service.config import Settings
from service.db import make_engine
from service.index import MatchingIndex
from service.models import AuditLog, Need, Organization, Suggestion, User
from service.refresh import ensure_fresh

from ..conftest import NEED_ROWS
from ..test_io import JA_NEED_HEADER


def run(
    url: str, *args: str, stdin: str | None = None, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    """``python -m service ARGS`` on ``url``; no saved fits unless ``KYODO_INDEX_DIR`` is
    given (so that ``load`` prepares only where a test asks for it)."""
    env = {**os.environ, "DATABASE_URL": url, "KYODO_INDEX_DIR": "off", **env_vars}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        check=False,
    )


def counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(Settings(database_url=url).sqlalchemy_url)
    try:
        with Session(engine) as s:
            return (
                s.exec(select(func.count()).select_from(Need)).one(),
                s.exec(select(func.count()).select_from(Organization)).one(),
                s.exec(select(func.count()).select_from(AuditLog)).one(),
            )
    finally:
        engine.dispose()


def test_load_is_idempotent_and_all_or_nothing(empty_database: str, toy_files, make_csv) -> None:
    needs, npos = toy_files
    first = run(empty_database, "load", "--needs", str(needs), "--npos", str(npos))
    assert first.returncode == 0, first.stderr
    assert "団体: 新規 5・更新 0・変更なし 0" in first.stdout
    assert "課題: 新規 3・更新 0・変更なし 0" in first.stdout
    after_first = counts(empty_database)
    assert after_first[:2] == (3, 5)
    again = run(empty_database, "load", "--needs", str(needs), "--npos", str(npos))
    assert "課題: 新規 0・更新 0・変更なし 3" in again.stdout
    assert counts(empty_database)[:2] == (3, 5)
    # a file with one bad row changes nothing
    rows = [r.copy() for r in NEED_ROWS] + [["N4", "保育課", "", "件名が空"]]
    rows[0][2] = "件名を変えた"
    bad = make_csv("bad.csv", JA_NEED_HEADER, rows)
    failed = run(empty_database, "load", "--needs", str(bad))
    assert failed.returncode == 2
    assert f"{bad}:5行目 列「件名」" in failed.stderr and "EMPTY_REQUIRED" in failed.stderr
    assert counts(empty_database)[:2] == (3, 5)
    # a dry run shows the change and writes nothing; --accept-valid keeps the good rows
    preview = run(empty_database, "load", "--needs", str(bad), "--dry-run")
    assert (
        preview.returncode == 2
        and "課題（確認のみ）: 新規 0・更新 1・変更なし 2・不備 1" in preview.stdout
    )
    assert counts(empty_database)[:2] == (3, 5)
    kept = run(empty_database, "load", "--needs", str(bad), "--accept-valid")
    assert kept.returncode == 0 and "課題: 新規 0・更新 1・変更なし 2・不備 1" in kept.stdout


def test_create_user_and_migrate(empty_database: str, tmp_path: Path) -> None:
    assert run(empty_database, "migrate").returncode == 0
    made = run(
        empty_database,
        "create-user",
        "--username",
        "chief",
        "--role",
        "coordinator",
        stdin="correct-horse-1\ncorrect-horse-1\n",
    )
    assert made.returncode == 0, made.stderr
    engine = make_engine(Settings(database_url=empty_database).sqlalchemy_url)
    with Session(engine) as s:
        user = s.exec(select(User).where(User.username == "chief")).one()
        assert user.password_hash.startswith("$argon2id$")
    engine.dispose()
    dup = run(
        empty_database,
        "create-user",
        "--username",
        "chief",
        "--role",
        "coordinator",
        stdin="correct-horse-1\ncorrect-horse-1\n",
    )
    assert dup.returncode == 2 and "DUPLICATE_USERNAME" in dup.stderr


def test_production_refuses_the_demo_and_sqlite(tmp_path) -> None:
    """Production mode: no demo accounts, whatever the flags; PostgreSQL only."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "KYODO_ENVIRONMENT": "production",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    demo = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--demo", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 2 and "デモを使えません" in demo.stderr
    sqlite = subprocess.run(
        [sys.executable, "-m", "service", "migrate"],
        env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sqlite.returncode != 0 and "needs PostgreSQL" in sqlite.stderr
    assert not (tmp_path / "x.sqlite3").exists()


def test_load_reports_its_stages_on_stderr(empty_database: str, toy_files, make_csv) -> None:
    """Per file: reading, checking N rows, writing, done with counts and seconds; only on
    stderr and only when asked (stderr is a pipe here, not a terminal)."""
    needs, npos = toy_files
    shown = run(empty_database, "load", "--needs", str(needs), "--npos", str(npos), "--progress")
    assert shown.returncode == 0, shown.stderr
    assert "進捗" not in shown.stdout
    stages = [
        line.split(": ", 1)[1] for line in shown.stderr.splitlines() if line.startswith("進捗")
    ]
    done = re.compile(r"完了 新規 (\d)・更新 0・変更なし 0・不備 0（\d+\.\d秒）$")
    for label, name, rows in (("団体", "npos.csv", 5), ("課題", "needs.csv", 3)):
        mine = [s for s in stages if s.startswith(f"{label} {name}: ")]
        assert [s.split(": ", 1)[1] for s in mine[:3]] == [
            "読み込み中",
            f"{rows}行を確認中",
            f"書き込み中（新規 {rows}・更新 0）",
        ], shown.stderr
        assert len(mine) == 4 and (found := done.search(mine[3])), shown.stderr
        assert found.group(1) == str(rows)
    assert stages.index("団体 npos.csv: 読み込み中") < stages.index("課題 needs.csv: 読み込み中")
    assert run(empty_database, "load", "--needs", str(needs)).stderr == ""  # quiet by default
    # a refused file is never said to be written; its code is kept for a script
    bad = make_csv("bad.csv", JA_NEED_HEADER, [["N9", "保育課", "", "件名が空"]])
    refused = run(empty_database, "load", "--needs", str(bad), "--progress")
    assert refused.returncode == 2 and "[IMPORT_REJECTED]" in refused.stderr
    assert "1行を確認中" in refused.stderr and "書き込み中" not in refused.stderr
    preview = run(empty_database, "load", "--needs", str(needs), "--dry-run", "--progress")
    assert "完了（確認のみ） 新規 0・更新 0・変更なし 3・不備 0" in preview.stderr
    assert "書き込み中" not in preview.stderr


def test_prepare_leaves_a_fit_and_lists_a_server_starts_from_without_ranking(
    empty_database: str, toy_files, tmp_path: Path, ranked: list[int]
) -> None:
    """After a load, ``prepare`` fits, stores every need's suggestions and keeps the fit
    and the lists: a server process started next loads both and ranks no need."""
    needs, npos = toy_files
    folder = tmp_path / "index"
    assert run(empty_database, "load", "--needs", str(needs), "--npos", str(npos)).returncode == 0
    first = run(empty_database, "prepare", KYODO_INDEX_DIR=str(folder))
    assert first.returncode == 0, first.stderr
    assert "索引を作成しました: 課題 3 件、団体 5 件。提案を計算した課題 3 件" in first.stdout
    assert (
        len(list(folder.glob("ranker-*.pickle"))) == len(list(folder.glob("lists-*.joblib"))) == 1
    )
    engine = make_engine(Settings(database_url=empty_database).sqlalchemy_url)
    try:
        with Session(engine) as s:
            stored = s.exec(select(func.count(func.distinct(Suggestion.need_id)))).one()
        assert stored == 3
        again = run(empty_database, "prepare", KYODO_INDEX_DIR=str(folder))
        assert "索引を読み込みました: 課題 3 件、団体 5 件。提案を計算した課題 0 件" in again.stdout
        # a server's index over the same database and folder: loaded, nothing ranked
        index = MatchingIndex(engine, index_dir=folder)
        with Session(engine) as s:
            ensure_fresh(s, index, top=Settings().suggestions_per_need)
        assert index.loaded and ranked == [] and index.progress.last_total == 0
        assert index.refreshed is not None and len(index.refreshed.lists) == 3
        # a change since: ``prepare`` fits anew (a start would resume the saved fit and
        # rank every need), and the next start again ranks nothing
        with Session(engine) as s:
            profile = s.exec(select(Organization.id)).first()
            audit(s, None, "update", "organization", profile)
            s.commit()
        third = run(empty_database, "prepare", KYODO_INDEX_DIR=str(folder))
        assert "索引を作成しました: 課題 3 件、団体 5 件。提案を計算した課題 3 件" in third.stdout
        index = MatchingIndex(engine, index_dir=folder)
        with Session(engine) as s:
            ensure_fresh(s, index, top=Settings().suggestions_per_need)
        assert index.loaded and ranked == [] and index.seen_audit_id == index.fitted_audit_id
    finally:
        engine.dispose()


def test_the_first_load_prepares_so_the_first_start_ranks_nothing(
    empty_database: str, toy_files, tmp_path: Path, ranked: list[int]
) -> None:
    """With nothing saved yet, ``load`` does ``prepare``'s work after the import; a load
    after that leaves the index to the servers (which apply or resume), unless asked."""
    needs, npos = toy_files
    folder = tmp_path / "index"
    skipped = run(
        empty_database, "load", "--needs", str(needs), "--no-prepare", KYODO_INDEX_DIR=str(folder)
    )
    assert skipped.returncode == 0 and "索引" not in skipped.stdout and not folder.exists()
    first = run(empty_database, "load", "--npos", str(npos), KYODO_INDEX_DIR=str(folder))
    assert first.returncode == 0, first.stderr
    assert "索引を作成しました: 課題 3 件、団体 5 件。提案を計算した課題 3 件" in first.stdout
    engine = make_engine(Settings(database_url=empty_database).sqlalchemy_url)
    try:
        index = MatchingIndex(engine, index_dir=folder)
        with Session(engine) as s:
            ensure_fresh(s, index, top=Settings().suggestions_per_need)
        assert index.loaded and ranked == [] and index.progress.last_total == 0
        again = run(empty_database, "load", "--npos", str(npos), KYODO_INDEX_DIR=str(folder))
        assert again.returncode == 0 and "索引" not in again.stdout  # a fit is saved: not again
        forced = run(
            empty_database, "load", "--npos", str(npos), "--prepare", KYODO_INDEX_DIR=str(folder)
        )
        assert (
            forced.returncode == 0 and "課題 3 件、団体 5 件。提案を計算した課題" in forced.stdout
        )
    finally:
        engine.dispose()


def test_a_prepare_that_fails_after_the_import_keeps_the_import_and_says_so(
    empty_database: str, toy_files, tmp_path: Path, monkeypatch
) -> None:
    """The rows are written and kept; the failure is said on stderr with its code, and the
    exit is 0: the first start makes the index (the fault is injected into the prepare)."""
    from typer.testing import CliRunner

    from service import cli
    from service.cli import run as run_commands

    def broken(settings: Settings, say: object) -> None:
        raise OSError("ディスクがいっぱいです")

    monkeypatch.setattr(run_commands, "prepare_index", broken)
    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.setenv("KYODO_INDEX_DIR", str(tmp_path / "index"))
    needs, npos = toy_files
    result = CliRunner().invoke(cli.app, ["load", "--needs", str(needs), "--npos", str(npos)])
    assert result.exit_code == 0, result.output
    assert "[PREPARE_FAILED]" in result.stderr and "ディスクがいっぱいです" in result.stderr
    assert counts(empty_database)[:2] == (3, 5)
