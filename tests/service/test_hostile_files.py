"""The hostile-file set through the real import endpoints, on SQLite and PostgreSQL.

Every file of ``tests/hostile`` (made at test time, seeded) is sent as a needs file and as
a profiles file: to the API, as a preview and applied, and to the import page. Each is
refused with a 4xx (never a 5xx), a machine code and a Japanese message, and nothing is
written: no need, no profile, no pending upload, no audit row of an import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session, col, func, select

from service.models import AuditLog, Need, Organization, PendingUpload

from ..hostile.catalogue import HOSTILE
from .conftest import PASSWORD, Server
from .helpers import csrf_of, ok, page_login

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KINDS = ("needs", "organizations")


def _written(api: Server) -> tuple[int, ...]:
    """What an import could have written: needs, profiles, pending uploads, audit rows of
    needs and profiles (an import's own row among them)."""
    counted = []
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for model in (Need, Organization, PendingUpload):
            counted.append(session.exec(select(func.count()).select_from(model)).one())
        audited = select(func.count()).where(col(AuditLog.entity).in_(("need", "organization")))
        counted.append(session.exec(audited).one())
    return tuple(counted)


@pytest.fixture(scope="module")
def page(server: Server) -> Iterator[httpx.Client]:
    """The coordinator on the pages (a session cookie), once for the module."""
    client = page_login(server.url, "coord", PASSWORD)
    yield client
    client.close()


def _codes(body: dict) -> set[str]:  # type: ignore[type-arg]
    return {e["code"] for e in body.get("errors") or body.get("rejected") or []}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_and_nothing_is_written(
    api: Server, page: httpx.Client, name: str
) -> None:
    hostile = HOSTILE[name]
    coord = api.client("coord")
    before = _written(api)
    for kind in KINDS:
        filename, data = hostile.build(kind)
        files = {"file": (filename, data)}
        preview = coord.post(f"/api/import/{kind}", files=files)
        assert preview.status_code in (200, 422), (kind, preview.status_code, preview.text[:300])
        assert _codes(preview.json()) & hostile.codes, (kind, preview.text[:500])
        applied = coord.post(
            f"/api/import/{kind}", params={"apply": True, "accept_valid": True}, files=files
        )
        assert 400 <= applied.status_code < 500, (kind, applied.status_code, applied.text[:300])
        body = applied.json()
        assert body["code"] and JAPANESE.search(body["message"]), body
        assert _codes(body) & hostile.codes, (kind, body)
        for problem in body["errors"]:
            assert problem["code"] and JAPANESE.search(problem["message"]), problem
        form = {"kind": kind, "csrf_token": csrf_of(page.get("/files"))}
        shown = page.post("/files/import", data=form, files=files)
        assert 400 <= shown.status_code < 500, (kind, shown.status_code, shown.text[:300])
        assert "取り込める行がありません" in shown.text
        assert any(code in shown.text for code in hostile.codes), shown.text[:2000]
    assert _written(api) == before


def test_the_set_is_large_and_varied() -> None:
    names = [h.filename for h in HOSTILE.values()]
    assert len(names) >= 35
    assert sum(n.endswith(".csv") for n in names) >= 15
    assert sum(n.endswith((".xlsx", ".xlsm")) for n in names) >= 15


def test_a_byte_order_mark_in_a_key_cell_is_not_part_of_the_key(api: Server) -> None:
    """(The probe: "\\ufeffN1" was stored as a key of its own beside "N1".)"""
    coord = api.client("coord")
    header = ["課題ID", "担当課", "件名", "課題の内容"]

    def upload(key: str) -> dict:  # type: ignore[type-arg]
        buf = io.StringIO()
        csv.writer(buf).writerows([header, [key, "防災危機管理室", "避難所の運営", "備蓄"]])
        files = {"file": ("n.csv", buf.getvalue().encode("utf-8-sig"))}
        return ok(coord.post("/api/import/needs", params={"apply": True}, files=files))

    assert upload("\ufeffN1")["created"] == ["N1"]
    assert upload("N1")["unchanged"] == ["N1"]
    assert upload("N\ufeff1")["unchanged"] == ["N1"]
    keys = [n["key"] for n in ok(coord.get("/api/needs"))["items"]]
    assert keys == ["N1"]
