"""Both command lines, run as a person runs them: help in Japanese and English for every
command, option and argument; progress on stderr only, so stdout stays JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from matching import _ranker
from matching import cli as matching_cli
from service.cli import app as service_app

from .conftest import run_matching

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
ENGLISH = re.compile(r"[a-z]{3,}")  # a lower-case word: "CSV" or "ID" alone is not English
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BRACKETS = re.compile(r"\[[^\]]*\]")  # rich's [default: …] and [required]
CORPUS_A = Path(__file__).resolve().parents[1] / "corpus" / "data" / "a"

APPS = {"matching": matching_cli.app, "service": service_app}


def command_names(module: str) -> list[str]:
    return list(typer.main.get_command(APPS[module]).commands)  # type: ignore[attr-defined]


COMMANDS = [(m, None) for m in APPS] + [(m, c) for m in APPS for c in command_names(m)]


def help_text(module: str, command: str | None) -> str:
    """``python -m MODULE [COMMAND] --help`` on a wide terminal (one row per option)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "TERMINAL_WIDTH"}
    }
    env.update(COLUMNS="1000", NO_COLOR="1")
    args = [sys.executable, "-m", module, *([command] if command else []), "--help"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return ANSI.sub("", proc.stdout)


def panels(text: str) -> dict[str, dict[str, str]]:
    """Rich's boxes: {title: {name: its help}}, e.g. {"Options": {"--top": "1行に…"}}."""
    found: dict[str, dict[str, str]] = {}
    rows: dict[str, str] | None = None
    for line in text.splitlines():
        if line.startswith("╭─"):
            rows = found.setdefault(line.strip("╭─╮ "), {})
        elif line.startswith("╰"):
            rows = None
        elif rows is not None:
            cells = [c for c in re.split(r"\s{2,}", line.strip("│ ")) if c not in {"", "*"}]
            assert len(cells) >= 2, f"a row with no help, or wrapped: {line!r}"
            rows[cells[0]] = BRACKETS.sub("", cells[-1]).strip()
    return found


def description(text: str) -> str:
    """The text between the usage line and the first box."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Usage:"))
    end = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    return " ".join(line.strip() for line in lines[start + 1 : end] if line.strip())


def is_bilingual(text: str) -> bool:
    """「日本語 / English」: Japanese before the slash, an English word after it."""
    japanese, slash, english = text.partition(" / ")
    return bool(slash and CJK.search(japanese) and ENGLISH.search(english))


def test_is_bilingual_tells_one_language_from_two() -> None:
    assert is_bilingual("取り込む団体のファイル / profiles file to import")
    assert not is_bilingual("profiles file to import")
    assert not is_bilingual("取り込む団体のファイル（CSV・XLSX）")
    assert not is_bilingual("団体ID / 団体のID")


def expected_names(module: str, command: str | None) -> set[str]:
    group = typer.main.get_command(APPS[module])
    if command is None:
        return {"--help"}
    params = group.commands[command].params  # type: ignore[attr-defined]
    return {p.opts[0] if p.param_type_name == "option" else p.name for p in params} | {"--help"}


@pytest.mark.parametrize(("module", "command"), COMMANDS)
def test_help_is_in_japanese_and_english(module: str, command: str | None) -> None:
    text = help_text(module, command)
    usage = f"Usage: python -m {module}{f' {command}' if command else ''}"
    assert usage in text  # a proper program name, not __main__.py
    assert is_bilingual(description(text)), description(text)
    boxes = panels(text)
    rows = {**boxes.get("Options", {}), **boxes.get("Arguments", {})}
    assert set(rows) == expected_names(module, command)  # every option, and only those
    for name, help_ in rows.items():
        assert is_bilingual(help_), f"{command} {name}: {help_!r}"
    if command is None:  # the app's command list: every command, said in both languages
        listed = boxes["Commands"]
        assert set(listed) == set(command_names(module))
        for name, help_ in listed.items():
            assert is_bilingual(help_), f"{name}: {help_!r}"


def test_rank_writes_json_on_stdout_and_progress_on_stderr(toy_files: tuple[Path, Path]) -> None:
    needs, npos = toy_files
    common = ("rank", "--needs", str(needs), "--npos", str(npos), "--top", "2")
    shown = run_matching(*common, "--progress")
    assert shown.returncode == 0, shown.stderr
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [r["need_id"] for r in rows] == ["N1", "N2", "N3"]
    assert all(len(r["ranking"]) == 2 for r in rows)
    assert "進捗" not in shown.stdout
    stages = [line for line in shown.stderr.splitlines() if line.startswith("進捗 ")]
    for expected in ("読み込み中: needs.csv, npos.csv", "学習中: 課題 3件・団体 5件"):
        assert any(line.endswith(expected) for line in stages), shown.stderr
    assert stages[-2].endswith("順位づけ: 課題 3/3件") and stages[-1].endswith("完了")
    # stderr is a pipe here, not a terminal: silent unless asked, the same JSON
    quiet = run_matching(*common)
    assert quiet.returncode == 0 and "進捗" not in quiet.stderr
    assert quiet.stdout == shown.stdout


def test_rank_in_batches_gives_the_same_lines(
    toy_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of the ranker's own block size: the lines of one call for all, in order."""
    needs, npos = toy_files
    args = ["rank", "--needs", str(needs), "--npos", str(npos), "--reverse", "--progress"]
    monkeypatch.setattr(_ranker, "_BLOCK", 2)
    whole = CliRunner().invoke(matching_cli.app, args)
    monkeypatch.setattr(matching_cli, "_RANK_BATCH", 2)
    batched = CliRunner().invoke(matching_cli.app, args)
    assert whole.exit_code == batched.exit_code == 0, batched.output
    assert batched.stdout == whole.stdout and len(whole.stdout.splitlines()) == 5
    assert "順位づけ: 団体 5/5件" in whole.stderr and "順位づけ: 団体 2/5件" not in whole.stderr
    for step in ("2/5", "4/5", "5/5"):
        assert f"順位づけ: 団体 {step}件" in batched.stderr


def test_evaluate_json_stays_clean_with_progress() -> None:
    files = {k: str(CORPUS_A / f"{k}.csv") for k in ("needs", "npos", "qrels")}
    args = [f"--{k}={v}" for k, v in files.items()]
    proc = run_matching("evaluate", *args, "--json", "--progress")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["ranker"] for r in results] == ["tfidf (ours)", "bm25 (baseline)"]
    assert "学習・評価中 1/2: tfidf (ours)" in proc.stderr
    assert "学習・評価中 2/2: bm25 (baseline)" in proc.stderr
