"""Import speed: the whole bundled corpus, and a 10,000-row profiles file, in one run.

    python benchmarks/import_speed.py [--database-url URL]

Times the dry run (read, validate, compare) and the real import (all rows in one
transaction), on a throw-away SQLite file unless a URL is given.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from pathlib import Path

from sqlmodel import Session

from corpus import PARTS, part_paths
from service.config import Settings
from service.db import make_engine
from service.imports import run_import
from service.migrate import upgrade


def big_file(rows: int) -> bytes:
    """``rows`` profiles made by repeating the corpus profiles under new ids."""
    source = list(csv.reader(io.StringIO(part_paths(PARTS[0])[1].read_text(encoding="utf-8"))))
    header, body = source[0], source[1:]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for k in range(rows):
        row = list(body[k % len(body)])
        row[0] = f"X{k:06d}"
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def timed(session: Session, kind: str, data: bytes, name: str, apply: bool) -> float:
    t0 = time.perf_counter()
    report = run_import(session, kind, data, name, user=None, apply=apply)  # type: ignore[arg-type]
    assert not report.rejected, report.rejected[:3]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'import.sqlite3'}"
    settings = Settings(database_url=url)
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as session:
        total_preview = total_apply = 0.0
        rows = 0
        for part in PARTS:
            needs_path, npos_path, _ = part_paths(part)
            for kind, path in (("organizations", npos_path), ("needs", needs_path)):
                data = path.read_bytes()
                rows += data.count(b"\n") - 1
                total_preview += timed(session, kind, data, path.name, apply=False)
                total_apply += timed(session, kind, data, path.name, apply=True)
        print(f"database: {settings.sqlalchemy_url.split('://')[0]}")
        print(
            f"whole corpus ({len(PARTS)} parts, ~{rows} lines): dry run {total_preview:.2f} s, "
            f"import {total_apply:.2f} s"
        )
        data = big_file(10_000)
        preview = timed(session, "organizations", data, "big.csv", apply=False)
        applied = timed(session, "organizations", data, "big.csv", apply=True)
        again = timed(session, "organizations", data, "big.csv", apply=True)
        print(
            f"10,000-row profiles file ({len(data) / 1e6:.1f} MB): dry run {preview:.2f} s, "
            f"import {applied:.2f} s, re-import (nothing changes) {again:.2f} s"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
