"""``service load`` with several files is one import: a refused file, wherever it comes
in the command, leaves every file unwritten (rows, departments, audit rows, uploads)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from matching._io import ORG_COLUMNS
from service.config import Settings
from service.db import make_engine

from ..conftest import NEED_ROWS, ORG_ROWS
from ..test_io import JA_NEED_HEADER
from .test_cli import run


def row_counts(url: str) -> dict[str, int]:
    """Every table's number of rows."""
    engine = make_engine(Settings(database_url=url).sqlalchemy_url)
    try:
        with Session(engine) as s:
            return {
                t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in SQLModel.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_refused_second_file_leaves_the_first_unwritten(
    empty_database: str, toy_files: tuple[Path, Path], make_csv
) -> None:
    _, npos = toy_files
    assert run(empty_database, "migrate").returncode == 0
    before = row_counts(empty_database)
    rows = [r.copy() for r in NEED_ROWS] + [["N4", "新設の課", "", "件名が空"]]
    bad_needs = make_csv("bad_needs.csv", JA_NEED_HEADER, rows)
    # the profiles come first in a load; the needs file is the one refused
    failed = run(empty_database, "load", "--npos", str(npos), "--needs", str(bad_needs))
    assert failed.returncode == 2
    assert f"{bad_needs}:5行目 列「件名」" in failed.stderr and "EMPTY_REQUIRED" in failed.stderr
    assert "どのファイルも取り込みませんでした" in failed.stderr
    assert "[IMPORT_REJECTED]" in failed.stderr
    assert "団体: 新規" not in failed.stdout  # never said to be written
    after = row_counts(empty_database)
    assert after == before, {t: (before[t], after[t]) for t in after if after[t] != before[t]}
    assert after["organization"] == 0 and after["audit_log"] == 0


def test_a_refused_first_file_leaves_the_second_unwritten(
    empty_database: str, toy_files: tuple[Path, Path], make_csv
) -> None:
    needs, _ = toy_files
    assert run(empty_database, "migrate").returncode == 0
    before = row_counts(empty_database)
    rows = [r.copy() for r in ORG_ROWS]
    rows[1][1] = ""  # a profile without its name
    bad_npos = make_csv("bad_npos.csv", [c.key for c in ORG_COLUMNS], rows)
    failed = run(empty_database, "load", "--npos", str(bad_npos), "--needs", str(needs))
    assert failed.returncode == 2 and "[IMPORT_REJECTED]" in failed.stderr
    assert row_counts(empty_database) == before


def test_an_unreadable_second_file_leaves_the_first_unwritten(
    empty_database: str, toy_files: tuple[Path, Path], tmp_path: Path
) -> None:
    _, npos = toy_files
    assert run(empty_database, "migrate").returncode == 0
    before = row_counts(empty_database)
    missing = tmp_path / "nowhere.csv"
    failed = run(empty_database, "load", "--npos", str(npos), "--needs", str(missing))
    assert failed.returncode == 2 and "[FILE_UNREADABLE]" in failed.stderr
    assert "どのファイルも取り込みませんでした" in failed.stderr
    assert row_counts(empty_database) == before


def test_valid_files_are_written_together_with_an_audit_row_each(
    empty_database: str, toy_files: tuple[Path, Path]
) -> None:
    needs, npos = toy_files
    done = run(empty_database, "load", "--npos", str(npos), "--needs", str(needs))
    assert done.returncode == 0, done.stderr
    assert "団体: 新規 5・更新 0・変更なし 0・不備 0" in done.stdout
    assert "課題: 新規 3・更新 0・変更なし 0・不備 0" in done.stdout
    counts = row_counts(empty_database)
    assert (counts["need"], counts["organization"], counts["audit_log"]) == (3, 5, 2)
