"""Bulk import at scale (#14): one audit row per import, limits the CLI may raise, and an
imported profile ranked at once (the index reads the import's audit row)."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

import matching
from matching._io import ORG_COLUMNS
from service import imports, loader
from service.config import Settings
from service.db import make_engine
from service.errors import Conflict
from service.index import REFIT_MIN_CHANGES
from service.migrate import upgrade
from service.models import AuditLog, Organization

from ..conftest import ORG_ROWS
from .conftest import Server
from .helpers import ok, seed
from .test_cli import counts, run


def _imports(engine: object) -> list[AuditLog]:
    with Session(engine) as session:  # type: ignore[arg-type]
        return list(session.exec(select(AuditLog).where(AuditLog.action == "import")).all())


def _org_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([[c.key for c in ORG_COLUMNS], *rows])
    return buf.getvalue().encode("utf-8")


def test_an_imported_profile_is_ranked_and_a_reimport_changes_nothing(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))  # the index is fitted
    before = ok(coord.get("/api/index"))
    row = list(ORG_ROWS[4])
    row[0], row[1], row[4] = "P9", "竹林の守り人", "西区"
    data = _org_csv([row])
    files = {"file": ("new.csv", data)}
    done = ok(coord.post("/api/import/organizations", params={"apply": True}, files=files))
    assert done["created"] == ["P9"]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        new_id = session.exec(select(Organization.id).where(Organization.key == "P9")).one()
    ranked = ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))
    assert new_id in [s["organization_id"] for s in ranked[:2]]
    after = ok(coord.get("/api/index"))
    assert after["version"] != before["version"]
    # the same file again writes nothing: one more audit row, and no new index version
    again = ok(coord.post("/api/import/organizations", params={"apply": True}, files=files))
    assert (again["created"], again["updated"], again["unchanged"]) == ([], [], ["P9"])
    ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))
    assert ok(coord.get("/api/index"))["version"] == after["version"]
    audited = _imports(api.engine)
    assert [(a.entity, a.detail["created"], a.detail["unchanged"]) for a in audited] == [
        ("organization", 1, 0),
        ("organization", 0, 1),
    ]
    assert audited[0].detail["created_keys"] == ["P9"] and audited[0].detail["file"] == "new.csv"


def test_the_cli_may_raise_the_file_limits(empty_database: str, tmp_path: Path) -> None:
    path = tmp_path / "npos.csv"
    path.write_bytes(_org_csv([list(r) for r in ORG_ROWS]))  # five profiles
    too_many = run(empty_database, "load", "--npos", str(path), "--max-rows", "4")
    assert too_many.returncode == 2
    assert "行数が上限（4行）を超えています。 [TOO_MANY_ROWS]" in too_many.stderr
    assert "[IMPORT_REJECTED]" in too_many.stderr and counts(empty_database)[1] == 0
    too_big = run(empty_database, "load", "--npos", str(path), "--max-bytes", "100")
    assert too_big.returncode == 2 and "[FILE_TOO_LARGE]" in too_big.stderr
    assert "ファイルが大きすぎます" in too_big.stderr and counts(empty_database)[1] == 0
    raised = run(empty_database, "load", "--npos", str(path), "--max-rows", "5")
    assert raised.returncode == 0, raised.stderr
    assert "団体: 新規 5・更新 0・変更なし 0・不備 0" in raised.stdout
    assert counts(empty_database)[1] == 5
    engine = make_engine(Settings(database_url=empty_database).sqlalchemy_url)
    try:
        audited = _imports(engine)
    finally:
        engine.dispose()
    # one audit row for the five rows, with the counts and the keys
    assert len(audited) == 1 and audited[0].entity_id is None
    detail = audited[0].detail
    assert (detail["created"], detail["updated"], detail["rejected"]) == (5, 0, 0)
    assert sorted(detail["created_keys"]) == sorted(r[0] for r in ORG_ROWS)
    assert detail["file"] == str(path)


def _fit(version: str) -> str:
    """The fit part of an index version (``fit<audit id>+<audit id>``)."""
    return version.split("+")[0]


def test_a_small_import_is_applied_to_the_index_without_a_refit(api: Server) -> None:
    coord = api.client("coord")
    needs, orgs = seed(coord)

    def scores() -> dict[int, float]:
        listed = ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))
        return {s["organization_id"]: s["score"] for s in listed}

    first = scores()  # the index is fitted
    before = ok(coord.get("/api/index"))["version"]
    new = list(ORG_ROWS[4])
    new[0], new[4] = "P9", "西区"  # P5's name and text: its twin
    changed = list(ORG_ROWS[3])
    changed[5] = "駅前の商店街で写真展を開いています。"  # P4 no longer in the 竹林や里山
    files = {"file": ("two.csv", _org_csv([new, changed]))}
    done = ok(coord.post("/api/import/organizations", params={"apply": True}, files=files))
    assert (done["created"], done["updated"]) == (["P9"], ["P4"])
    with Session(api.engine) as session:  # type: ignore[arg-type]
        new_id = session.exec(select(Organization.id).where(Organization.key == "P9")).one()
    second = scores()
    assert new_id not in first and second[new_id] == second[orgs["P5"]]  # P5's twin
    assert second[orgs["P4"]] < first[orgs["P4"]] / 2  # its shared words are gone
    after = ok(coord.get("/api/index"))["version"]
    assert after != before and _fit(after) == _fit(before)  # applied, not refitted


def test_a_big_import_refits(api: Server) -> None:
    """More rows than the refit threshold (a quarter of the index, at least 50): a refit."""
    coord = api.client("coord")
    needs, _ = seed(coord)
    ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))
    before = ok(coord.get("/api/index"))["version"]
    rows = []
    for i in range(REFIT_MIN_CHANGES + 1):
        row = list(ORG_ROWS[i % len(ORG_ROWS)])
        row[0], row[1] = f"Q{i:03d}", f"{row[1]}{i}"
        rows.append(row)
    files = {"file": ("many.csv", _org_csv(rows))}
    done = ok(coord.post("/api/import/organizations", params={"apply": True}, files=files))
    assert len(done["created"]) == len(rows)
    ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))
    after = ok(coord.get("/api/index"))
    fit, seen = after["version"].split("+")
    assert fit != _fit(before) and fit == f"fit{seen}"  # refitted over the import's rows
    assert after["organizations"] == len(ORG_ROWS) + len(rows)


def test_rows_another_process_wrote_meanwhile_make_a_conflict(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes import the same new rows (``_APPLYING`` orders imports inside one
    process only): the one whose write (PostgreSQL: ``COPY``) meets the other's keys is
    a conflict that wrote nothing, not a server error."""
    upgrade(empty_database)
    engine = make_engine(Settings(database_url=empty_database).sqlalchemy_url)
    data = _org_csv([list(r) for r in ORG_ROWS])
    orgs = matching.parse_organizations(matching.read_table(data, filename="a.csv")).items
    writing = threading.Event()
    insert = loader._insert

    def announced(*args: Any) -> None:
        writing.set()
        insert(*args)

    monkeypatch.setattr(loader, "_insert", announced)
    outcome: list[object] = []

    def second() -> None:
        with Session(engine) as session:
            try:
                imports.run_import(session, "organizations", data, "b.csv", user=None, apply=True)
            except Conflict as exc:
                outcome.append(exc.code)

    try:
        with Session(engine) as first:
            loader.import_organizations(first, orgs, user=None, commit=False)  # not committed
            writing.clear()
            thread = threading.Thread(target=second)
            thread.start()
            assert writing.wait(30)  # the second planned the rows as new, and writes them
            first.commit()
        thread.join(60)
        assert outcome == ["IMPORT_CONFLICT"]
        with Session(engine) as session:
            assert len(session.exec(select(Organization)).all()) == len(ORG_ROWS)
            assert len(_imports(engine)) == 1  # the first's audit row only
    finally:
        engine.dispose()
