from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from matching._io import NEED_COLUMNS, ORG_COLUMNS

from .mailserver import SmtpServer

NEED_ROWS = [
    [
        "N1",
        "高齢福祉課",
        "独居高齢者の孤立防止",
        "一人暮らしの高齢者が増え、地域から孤立する方が多い。見守りの担い手が不足している。",
        "サロンや訪問による見守り",
        "保健・医療・福祉",
        "北区",
        "委託",
        "佐藤 一郎",
    ],
    [
        "N2",
        "防災危機管理室",
        "子どもの防災教育",
        "子供向けの防災教育の機会が少ない。",
        "防災ワークショップ",
        "8；13",
        "",
        "共催",
        "",
    ],
    [
        "N3",
        "環境政策課",
        "放置竹林の整備",
        "西区の丘陵で放置竹林が広がり、里山が荒れている。",
        "竹の伐採と活用",
        "環境の保全、5",
        "西区",
        "事業協力",
        "",
    ],
]
ORG_ROWS = [
    [
        "P1",
        "ふれあいの会",
        "任意団体",
        "1",
        "北区",
        "ふれあいサロンを月2回開き、傾聴ボランティアが独居の高齢者宅を見守り訪問しています。",
        "見守り訪問、サロン運営",
        "",
        "田中 花子",
        "hanako@example.jp",
        "090-555-0101",
    ],
    [
        "P2",
        "南区ふれあいクラブ",
        "任意団体",
        "1",
        "南区",
        "ふれあいサロンを月2回開き、傾聴ボランティアが独居の高齢者宅を見守り訪問しています。",
        "見守り訪問、サロン運営",
        "",
        "",
        "",
        "",
    ],
    [
        "P3",
        "そなえ隊",
        "特定非営利活動法人",
        "災害救援;子どもの健全育成",
        "",
        "こども向けの防災ワークショップと避難訓練の企画運営。",
        "出前講座",
        "",
        "",
        "",
        "",
    ],
    [
        "P4",
        "写真愛好会",
        "任意団体",
        "6",
        "",
        "会員相互の親睦を深めるため、竹林や里山で撮影会を開いています。",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "P5",
        "竹の子くらぶ",
        "任意団体",
        "7",
        "西区",
        "放置竹林の竹を伐採し、竹炭づくりと里山の手入れをしています。",
        "竹林整備の人手",
        "",
        "",
        "",
        "",
    ],
]


def run_matching(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m matching ARGS`` in a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "matching", *args], capture_output=True, text=True, check=False
    )


def python_with_two_blas_threads(code: str) -> str:
    """The last line ``python -c CODE`` prints, in a process of its own with BLAS allowed
    two threads (the limit ``matching._blas`` sets is process-wide, and in the suite's
    process other tests' servers run limited calls at any moment)."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def share_tokenising(monkeypatch: pytest.MonkeyPatch, chunk: int) -> list[bool]:
    """Make ``matching._vectorize`` tokenise in chunks of ``chunk`` texts, this process
    slowed (0.05 s a chunk) so that a worker takes part when there is one; returns the
    list it fills with each chunk's ``made here``."""
    from matching import _vectorize as vectorize_module

    where: list[bool] = []
    shared_map = vectorize_module.map_chunks

    def recorded(fn, chunks, n_jobs, *, here):  # type: ignore[no-untyped-def]
        def slowed(chunk):  # type: ignore[no-untyped-def]
            time.sleep(0.05)
            return here(chunk)

        for i, made, done_here in shared_map(
            fn, chunks, n_jobs, here=slowed if n_jobs > 1 else here
        ):
            where.append(done_here)
            yield i, made, done_here

    monkeypatch.setattr(vectorize_module, "_CHUNK", chunk)
    monkeypatch.setattr(vectorize_module, "map_chunks", recorded)
    return where


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8"
) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.fixture
def toy_files(tmp_path: Path) -> tuple[Path, Path]:
    needs = write_csv(tmp_path / "needs.csv", [c.ja for c in NEED_COLUMNS], NEED_ROWS)
    npos = write_csv(tmp_path / "npos.csv", [c.key for c in ORG_COLUMNS], ORG_ROWS)
    return needs, npos


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
        return write_csv(tmp_path / name, header, rows, encoding)

    return make


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback for the test, stopped after it."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
