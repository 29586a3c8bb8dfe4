"""Bulk import at scale (#14): N generated profiles imported through the service's import
path, beside a plain bulk write of the same rows, on SQLite and (if reachable) PostgreSQL.

For each N (profiles recombined from the corpus as in ``scale.py``, seeded; one CSV file,
the CLI's raised limits), each on a fresh database:

- the import (``imports.run_import``, applied: read, validate, compare, write, one audit
  row, one transaction, ANALYZE); a file this big leaves the lemma line of its search text
  to ``search_fill``;
- the fill (``search_fill.fill``: every row's lemma line, in batches), timed apart: it runs
  after the import (the server's background thread, the end of ``service load``), while
  the rows are already written and searchable by their text;
- the same file again (nothing changes);
- with ``--old REV``, the import path of that git revision (``service/imports.py`` and
  ``service/loader.py`` as they were), on the same file;
- the baseline: the same rows (every column already computed, ``search_text`` with its
  lemmas included) written by PostgreSQL ``COPY`` or, on SQLite, one ``executemany``
  INSERT; and, apart, the tokenizer's pass that computes those lemmas.

Not a test: the ratios (÷ baseline) are what to compare across machines.

    .venv/bin/python benchmarks/import_scale.py [--sizes 5000 20000] [--old REV]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import inspect
import io
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

import matching
from service import imports, loader, search_fill
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import OrgStatus, utcnow
from service.search import search_text

sys.path.insert(0, str(Path(__file__).parent))
from scale import recombined

_COLUMNS = ["id", "name", "legal_form", "fields", "area", "activities", "offerings", "wishes"]
_COLUMNS += ["contact_name", "contact_email", "contact_phone"]
LIMITS = dataclasses.replace(matching.Limits(), file_bytes=1 << 30, rows=1_000_000)


def profiles_csv(n: int) -> bytes:
    _, orgs = recombined(n, seed=0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_COLUMNS)
    for o in orgs:
        writer.writerow(
            [
                *(o.id, o.name, o.legal_form, ";".join(map(str, o.fields)), ";".join(o.areas)),
                *(o.activities, o.offerings, o.wishes, o.contact_name, o.contact_email),
                o.contact_phone,
            ]
        )
    return out.getvalue().encode("utf-8")


@contextlib.contextmanager
def fresh_database(postgres: str | None) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a scratch PostgreSQL database."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = Settings(database_url=f"sqlite:///{tmp}/import.sqlite3").sqlalchemy_url
            upgrade(url)
            yield url
        return
    base = make_url(Settings(database_url=postgres).sqlalchemy_url)
    name = f"kyodo_import_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def old_run_import(rev: str) -> Any:
    """``run_import`` as it was at ``rev`` (its loader too), with the raised limits."""

    def module(name: str, source: str) -> types.ModuleType:
        mod = types.ModuleType(f"service.{name}")
        mod.__package__ = "service"
        mod.__dict__["_BENCH_LIMITS"] = LIMITS
        sys.modules[mod.__name__] = mod
        exec(compile(source, f"{rev}:service/{name}.py", "exec"), mod.__dict__)
        return mod

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True
        ).stdout

    module("_bench_old_loader", show("service/loader.py"))
    source = show("service/imports.py").replace(
        "from . import loader", "from . import _bench_old_loader as loader"
    )
    source = source.replace(
        "matching.read_table(data, filename=filename)",
        "matching.read_table(data, filename=filename, limits=_BENCH_LIMITS)",
    )
    return module("_bench_old_imports", source).run_import


def timed_import(url: str, data: bytes, run: Any) -> float:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            extra = {"limits": LIMITS} if "limits" in inspect.signature(run).parameters else {}
            start = time.perf_counter()
            report = run(
                session, "organizations", data, "bench.csv", user=None, apply=True, **extra
            )
            seconds = time.perf_counter() - start
            assert not report.rejected and report.applied, report.rejected[:3]
    finally:
        engine.dispose()
    return seconds


def timed_fill(url: str) -> tuple[float, int]:
    """The fill after an import: seconds, and the rows it gave their lemma line."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            start = time.perf_counter()
            filled = search_fill.fill(session)
            seconds = time.perf_counter() - start
            assert search_fill.pending_rows(session) == 0
    finally:
        engine.dispose()
    return seconds, filled


def baseline(url: str, data: bytes) -> tuple[float, float]:
    """The same rows written by COPY (PostgreSQL) or one executemany (SQLite), timed alone;
    and, timed apart, computing their ``search_text`` (the tokenizer: part of any import)."""
    table = matching.read_table(data, filename="bench.csv", limits=LIMITS)
    orgs = matching.parse_organizations(table).items
    now = utcnow()
    columns = ["key", *list(loader._org_values(orgs[0])), "search_text", "status"]
    columns += ["created_at", "updated_at"]
    rows = []
    tokenizing = time.perf_counter()
    for o in orgs:
        values = loader._org_values(o)
        text_ = search_text(o.id, o.name, o.activities, o.offerings, o.wishes)
        rows.append((o.id, *values.values(), text_, OrgStatus.active.value, now, now))
    tokenizing = time.perf_counter() - tokenizing
    names = ", ".join(columns)
    engine = make_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            start = time.perf_counter()
            if url.startswith("sqlite"):
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO organization ({names}) VALUES ({marks})",
                    [(*r[:-2], r[-2].isoformat(), r[-1].isoformat()) for r in rows],
                )
            else:
                with cursor.copy(f"COPY organization ({names}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
            raw.commit()
            return time.perf_counter() - start, tokenizing
        finally:
            raw.close()
    finally:
        engine.dispose()


def one_database(label: str, postgres: str | None, sizes: list[int], old: Any) -> None:
    print(f"\n## {label}\n")
    print(
        "| profiles | MB | import s | fill s (rows) | re-import s | baseline s "
        "| import ÷ baseline | search_text s | (import + fill) ÷ (baseline + search_text) "
        "| old import s | old ÷ baseline |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        data = profiles_csv(n)
        with fresh_database(postgres) as url:
            new = timed_import(url, data, imports.run_import)
            fill, filled = timed_fill(url)
            again = timed_import(url, data, imports.run_import)
        with fresh_database(postgres) as url:
            base, tokens = baseline(url, data)
        cells = [f"{n:,}", f"{len(data) / 1e6:.1f}", f"{new:.2f}", f"{fill:.2f} ({filled:,})"]
        cells += [f"{again:.2f}", f"{base:.2f}", f"{new / base:.1f}×", f"{tokens:.2f}"]
        cells += [f"{(new + fill) / (base + tokens):.2f}×"]
        if old is not None:
            with fresh_database(postgres) as url:
                before = timed_import(url, data, old)
            cells += [f"{before:.2f}", f"{before / base:.1f}×"]
        else:
            cells += ["–", "–"]
        print("| " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--old", help="a git revision whose import path to time too")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    old = old_run_import(args.old) if args.old else None
    one_database("SQLite (a file, WAL)", None, args.sizes, old)
    if args.no_postgres:
        return
    try:
        create_engine(Settings(database_url=args.postgres).sqlalchemy_url).connect().close()
    except Exception as exc:  # only reported: the database is not there
        print(f"\nPostgreSQL not reachable ({type(exc).__name__}): skipped")
        return
    one_database("PostgreSQL", args.postgres, args.sizes, old)


if __name__ == "__main__":
    main()
