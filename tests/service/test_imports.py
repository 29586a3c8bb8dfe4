"""Bulk import over HTTP: dry run, all or nothing, idempotent, audited, bounded."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile

from openpyxl import Workbook
from sqlmodel import Session, func, select

from corpus import part_paths
from service.models import AuditLog, Need, Organization

from ..conftest import NEED_ROWS
from ..test_io import JA_NEED_HEADER
from .conftest import Server
from .helpers import ok


def _count(api: Server, model: type) -> int:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return int(session.exec(select(func.count()).select_from(model)).one())


def _upload(client, kind: str, name: str, data: bytes, **params: object):  # type: ignore[no-untyped-def]
    return client.post(f"/api/import/{kind}", params=params, files={"file": (name, data)})


def test_preview_then_apply_then_idempotent(api: Server) -> None:
    coord = api.client("coord")
    needs_path, npos_path, _ = part_paths("c")
    data = needs_path.read_bytes()
    preview = ok(_upload(coord, "needs", "needs.csv", data))
    assert (len(preview["created"]), preview["applied"], preview["rejected"]) == (71, False, [])
    assert _count(api, Need) == 0  # a dry run writes nothing
    applied = ok(_upload(coord, "needs", "needs.csv", data, apply=True))
    assert applied["applied"] and len(applied["created"]) == 71 and _count(api, Need) == 71
    again = ok(_upload(coord, "needs", "needs.csv", data, apply=True))
    assert (len(again["created"]), len(again["updated"]), len(again["unchanged"])) == (0, 0, 71)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        audited = session.exec(select(AuditLog).where(AuditLog.action == "import")).all()
    # one audit row per import (not one per row): what file, by whom, the counts, the keys
    assert [(a.entity, a.entity_id) for a in audited] == [("need", None), ("need", None)]
    first, second = audited[0].detail, audited[1].detail
    assert first["sha256"] == hashlib.sha256(data).hexdigest() and first["file"] == "needs.csv"
    assert audited[0].user_id is not None
    assert (first["created"], first["updated"], first["unchanged"], first["rejected"]) == (
        71,
        0,
        0,
        0,
    )
    assert sorted(first["created_keys"]) == sorted(applied["created"])
    assert (second["created"], second["unchanged"], second["created_keys"]) == (0, 71, [])
    # profiles in CP932 and as XLSX give the same preview
    rows = list(csv.reader(io.StringIO(npos_path.read_text(encoding="utf-8"))))
    cp932 = "\r\n".join(",".join(f'"{c}"' for c in r) for r in rows).encode(
        "cp932", errors="replace"
    )
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    from_csv = ok(_upload(coord, "organizations", "npos.csv", cp932))
    from_xlsx = ok(_upload(coord, "organizations", "npos.xlsx", buf.getvalue()))
    assert len(from_csv["created"]) == len(from_xlsx["created"]) == 133


def test_bad_rows_change_nothing_unless_valid_rows_are_accepted(api: Server) -> None:
    coord = api.client("coord")
    rows = [r.copy() for r in NEED_ROWS] + [
        ["N1", "保育課", "重複", "重複"],
        ["N5", "保育課", "", "件名なし"],
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows([JA_NEED_HEADER, *rows])
    data = buf.getvalue().encode("utf-8-sig")
    preview = ok(_upload(coord, "needs", "bad.csv", data))
    assert [(p["line"], p["column"], p["code"]) for p in preview["rejected"]] == [
        (5, "課題ID", "DUPLICATE_ID"),
        (6, "件名", "EMPTY_REQUIRED"),
    ]
    refused = _upload(coord, "needs", "bad.csv", data, apply=True)
    assert refused.status_code == 422 and refused.json()["code"] == "IMPORT_REJECTED"
    assert (
        "何も変更していません" in refused.json()["message"] and len(refused.json()["errors"]) == 2
    )
    assert _count(api, Need) == 0
    partial = ok(_upload(coord, "needs", "bad.csv", data, apply=True, accept_valid=True))
    assert len(partial["created"]) == 3 and _count(api, Need) == 3


def test_zip_bomb_and_roles(api: Server) -> None:
    coord = api.client("coord")
    wb = Workbook()
    wb.active.append(["id", "name", "activities"])
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * 30_000_000)
    bomb = ok(_upload(coord, "organizations", "bomb.xlsx", buf.getvalue()))
    assert [p["code"] for p in bomb["rejected"]] == ["XLSX_TOO_LARGE"]
    refused = _upload(
        coord, "organizations", "bomb.xlsx", buf.getvalue(), apply=True, accept_valid=True
    )
    assert refused.status_code == 422 and _count(api, Organization) == 0
    assert _upload(api.client("bousai"), "needs", "x.csv", b"id\n").status_code == 403
    assert _upload(coord, "budgets", "x.csv", b"id\n").status_code == 422


def test_an_oversized_upload_is_refused_without_reading_it_all(api: Server) -> None:
    coord = api.client("coord")
    header = "団体ID,団体名,活動内容\n".encode()
    big = header + b"P1,a," + b"x" * (20 * 1024 * 1024) + b"\n"
    r = _upload(coord, "organizations", "big.csv", big, apply=True)
    assert r.status_code == 422 and r.json()["code"] == "FILE_TOO_LARGE"
    assert "上限 20 MB" in r.json()["message"] and _count(api, Organization) == 0


def test_concurrent_imports_of_one_file_write_it_once_and_answer_no_500(api: Server) -> None:
    """(The probe: 19 of 20 simultaneous imports of one file answered 500.)"""
    from concurrent.futures import ThreadPoolExecutor

    needs_path, _, _ = part_paths("c")
    data = needs_path.read_bytes()

    def apply_once(_: int) -> tuple[int, dict]:
        client = api.client("coord")
        r = client.post(
            "/api/import/needs", params={"apply": True}, files={"file": ("n.csv", data)}
        )
        return r.status_code, r.json()

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(apply_once, range(20)))
    statuses = [s for s, _ in results]
    assert 500 not in statuses, results
    # each answer is a whole import, a conflict, or the database asking to retry
    assert set(statuses) <= {200, 409, 503}, statuses
    assert all(b["code"] == "IMPORT_CONFLICT" for s, b in results if s == 409)
    created = [len(b["created"]) for s, b in results if s == 200]
    assert sum(created) == 71  # written once, whoever won
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(func.count()).select_from(Need)).one() == 71


def _needs_file(rows: list[list[str]], header: list[str] = JA_NEED_HEADER) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue().encode("utf-8-sig")


def _deadlines(api: Server) -> dict[str, str | None]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(select(Need.key, Need.deadline)).all()
    return {k: d.isoformat() if d else None for k, d in rows}


def test_the_deadline_column_is_imported_and_exported_back(api: Server) -> None:
    """募集期限 in a needs file sets each need's deadline (an empty cell: none); a file
    without the column leaves them alone; the export writes it, so export → import
    changes nothing; a date already past is imported with a warning."""
    coord = api.client("coord")
    cells = ["2030-12-20", "2030/1/5", "2020-04-01"]
    rows = [[*r, cell] for r, cell in zip(NEED_ROWS, cells, strict=True)]
    preview = ok(_upload(coord, "needs", "needs.csv", _needs_file(rows)))
    assert preview["rejected"] == [] and len(preview["created"]) == 3
    assert [(w["line"], w["column"], w["code"]) for w in preview["warnings"]] == [
        (4, "募集期限", "PAST_DEADLINE")
    ]
    assert "2020年04月01日 は過ぎています" in preview["warnings"][0]["message"]
    ok(_upload(coord, "needs", "needs.csv", _needs_file(rows), apply=True))
    assert _deadlines(api) == {"N1": "2030-12-20", "N2": "2030-01-05", "N3": "2020-04-01"}
    # the same file again: nothing changes; a file without the column: the deadlines stay
    again = ok(_upload(coord, "needs", "needs.csv", _needs_file(rows), apply=True))
    assert len(again["unchanged"]) == 3
    old = ok(
        _upload(coord, "needs", "old.csv", _needs_file(NEED_ROWS, JA_NEED_HEADER[:-1]), apply=True)
    )
    assert len(old["unchanged"]) == 3 and _deadlines(api)["N1"] == "2030-12-20"
    # export → import: the column is written and reads back unchanged, CSV and XLSX
    for fmt in ("csv", "xlsx"):
        exported = coord.get("/api/export/needs", params={"format": fmt})
        if fmt == "csv":
            header = next(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
            assert header[-1] == "募集期限"
            assert "2030-12-20" in exported.content.decode("utf-8-sig")
        back = ok(_upload(coord, "needs", f"back.{fmt}", exported.content, apply=True))
        assert (len(back["unchanged"]), back["updated"], back["rejected"]) == (3, [], []), fmt
    assert _deadlines(api) == {"N1": "2030-12-20", "N2": "2030-01-05", "N3": "2020-04-01"}
    # a changed date and an emptied cell: updated, and the empty one has no deadline now
    rows[0][-1], rows[2][-1] = "2031-03-31", ""
    changed = ok(_upload(coord, "needs", "needs.csv", _needs_file(rows), apply=True))
    assert sorted(changed["updated"]) == ["N1", "N3"]
    assert _deadlines(api) == {"N1": "2031-03-31", "N2": "2030-01-05", "N3": None}
    assert ok(coord.get("/api/needs", params={"q": "放置竹林"}))["items"][0]["deadline"] is None


def test_a_bad_deadline_is_a_row_error_and_nothing_is_half_written(api: Server) -> None:
    coord = api.client("coord")
    rows = [[*r, "2030-12-20"] for r in NEED_ROWS]
    rows[1][-1] = "2030-02-30"  # line 3: no such day
    data = _needs_file(rows)
    preview = ok(_upload(coord, "needs", "bad.csv", data))
    assert [(p["line"], p["column"], p["code"]) for p in preview["rejected"]] == [
        (3, "募集期限", "BAD_DATE")
    ]
    assert "募集期限「2030-02-30」を日付として読めません" in preview["rejected"][0]["message"]
    refused = _upload(coord, "needs", "bad.csv", data, apply=True)
    assert refused.status_code == 422 and refused.json()["code"] == "IMPORT_REJECTED"
    assert [e["code"] for e in refused.json()["errors"]] == ["BAD_DATE"]
    assert _count(api, Need) == 0
    partial = ok(_upload(coord, "needs", "bad.csv", data, apply=True, accept_valid=True))
    assert sorted(partial["created"]) == ["N1", "N3"]
    assert _deadlines(api) == {"N1": "2030-12-20", "N3": "2030-12-20"}
