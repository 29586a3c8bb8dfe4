"""The coordinator's audit-log page (``/audit``): who may read it, its filters (user,
object, action, Japan-time dates), its pages, its CSV export, and that reading it is
itself audited. Real server, real database (SQLite or PostgreSQL).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
from sqlmodel import Session, func, select

from service.audit import audit
from service.models import AuditLog, User

from ..serving import TLS
from .conftest import Server
from .helpers import csrf_of, ok
from .test_privacy_audit import ACTIONS, WRONG, login, rows, seeded, user_id

__all__ = ["seeded"]  # the fixture, shared with test_privacy_audit

ALL = (*ACTIONS, "create", "update", "withdraw")  # what these tests write


def test_only_the_coordinator_reads_the_audit_log(api: Server) -> None:
    for user in ("bousai", "npo1"):
        client = login(api, user)
        assert client.get("/audit").status_code == 403
        assert client.get("/audit.csv").status_code == 403
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30)
    api.clients.append(anon)
    assert anon.get("/audit").headers["location"].startswith("/login")
    assert anon.get("/audit.csv").headers["location"].startswith("/login")
    assert not [r for r in rows(api) if r.entity == "audit_log"]


def _entries(page: str) -> int:
    return page.count('<tr id="audit-')


def test_the_audit_page_filters_and_is_itself_audited(api: Server, seeded: dict[str, int]) -> None:
    coord = login(api, "coord")
    npo1 = login(api, "npo1")
    p1, own = seeded["P1"], seeded["OWN"]
    coord.get(f"/orgs/{p1}")
    npo1.get(f"/orgs/{own}")
    ok(api.client("coord").get("/api/organizations", params={"limit": 100}))
    everything = rows(api, *ALL)
    page = coord.get("/audit")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert _entries(page.text) == len(everything)
    assert all(f'<tr id="audit-{r.id}">' in page.text for r in everything)
    # each row said in Japanese: what, where, how many
    assert f"場所 /orgs/{p1}" in page.text and "個人情報の閲覧" in page.text
    assert "経路 画面" in page.text  # the page logins
    # the page's own reading is the newest row, with its count and filter
    own_row = rows(api)[-1]
    assert (own_row.entity, own_row.user_id) == ("audit_log", user_id(api, "coord"))
    assert own_row.detail["rows"] == _entries(page.text) and own_row.detail["filter"] == {}
    # by user: npo1's login and view only (and no row of the coordinator's)
    npo = user_id(api, "npo1")
    expected = [
        r
        for r in rows(api, *ALL)
        if r.user_id == npo or (r.entity == "user" and r.entity_id == npo)
    ]
    mine = coord.get("/audit", params={"user": "npo1"}).text
    assert _entries(mine) == len(expected) >= 3  # its registration, login and view
    assert all(f'<tr id="audit-{r.id}">' in mine for r in expected)
    assert rows(api)[-1].detail["filter"] == {"user": "npo1"}
    assert _entries(coord.get("/audit", params={"user": "no-such-user"}).text) == 0
    # a name nobody has, typed at the login page: its failures are found by that name
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30)
    api.clients.append(anon)
    tried = {
        "username": "no-such-user",
        "password": WRONG,
        "csrf_token": csrf_of(anon.get("/login")),
    }
    assert anon.post("/login", data=tried).status_code == 401
    found = coord.get("/audit", params={"user": "no-such-user"}).text
    [failure] = rows(api, "login_failed")
    assert _entries(found) == 1 and f'<tr id="audit-{failure.id}">' in found
    # by object: P1's page view, and the API list that included it
    for org in (p1, own):
        expected = [
            r
            for r in rows(api, *ALL)
            if r.entity == "organization"
            and (r.entity_id == org or str(org) in r.detail.get("ids", "").split(","))
        ]
        about = coord.get("/audit", params={"entity": "organization", "object_id": org}).text
        # its registration, its page's view, and the list that included it
        assert _entries(about) == len(expected) >= 3, org
        assert {"create", "view"} <= {r.action for r in expected}
        assert any(r.entity_id is None for r in expected)  # the list
    # by action
    logins = coord.get("/audit", params={"action": "login"}).text
    assert _entries(logins) == len(rows(api, "login")) == 2
    assert "個人情報の閲覧" not in logins.split("<tbody>")[1]
    # a bad date is said, not a 500
    bad = coord.get("/audit", params={"since": "2026-13-45"})
    assert bad.status_code == 200 and "日付は" in bad.text


def test_dates_are_japan_days_and_pages_hold_fifty(api: Server) -> None:
    coord = login(api, "coord")
    with Session(api.engine) as session:  # type: ignore[arg-type]
        someone = session.exec(select(User).where(User.username == "kourei")).one()
        for i in range(60):
            audit(session, someone, "view", "organization", i + 1, rows=1, where="/test")
        session.commit()
        # 2026-01-01 15:30 UTC is already 2 January in Japan
        first = session.exec(
            select(func.min(AuditLog.id)).where(AuditLog.user_id == someone.id)
        ).one()
        row = session.get(AuditLog, first)
        assert row is not None
        row.at = datetime(2026, 1, 1, 15, 30, tzinfo=UTC)
        session.add(row)
        session.commit()
    on_2nd = coord.get("/audit", params={"since": "2026-01-02", "until": "2026-01-02"}).text
    assert _entries(on_2nd) == 1 and "2026年01月02日 00:30:00" in on_2nd
    on_1st = coord.get("/audit", params={"since": "2026-01-01", "until": "2026-01-01"}).text
    assert _entries(on_1st) == 0
    kourei = {"user": "kourei"}
    first_page = coord.get("/audit", params=kourei).text
    assert _entries(first_page) == 50 and "1 / 2 ページ（全 60 件）" in first_page
    second = coord.get("/audit", params=kourei | {"page": 2}).text
    assert _entries(second) == 10
    assert rows(api)[-1].detail["page"] == 2 and rows(api)[-1].detail["rows"] == 10


def test_the_csv_export_is_japanese_neutralised_and_audited(api: Server) -> None:
    coord = api.client("coord")
    name = "=SUM(1;2)"
    ok(
        coord.post(
            "/api/users", json={"username": name, "password": "long-password-77", "role": "npo"}
        ),
        201,
    )
    r = httpx.post(f"{api.url}/api/auth/token", data={"username": name, "password": WRONG})
    assert r.status_code == 401
    r = httpx.post(
        f"{api.url}/api/auth/token", data={"username": name, "password": "long-password-77"}
    )
    ok(r)
    page = login(api, "coord")
    export = page.get("/audit.csv", params={"action": "login"})
    assert export.status_code == 200 and export.headers["cache-control"] == "no-store"
    assert export.headers["content-type"].startswith("text/csv")
    assert export.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    table = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["番号", "日時（日本時間）", "操作した利用者", "操作"]
    body = table[1:]
    assert {row[3] for row in body} == {"ログイン"}
    assert len(body) == len(rows(api, "login"))
    assert "'" + name in [row[2] for row in body]  # never a live formula
    assert not [c for row in body for c in row if c[:1] in ("=", "+", "-", "@")]
    assert all(row[1].endswith("+09:00") for row in body)
    [exported] = [r for r in rows(api, "export") if r.entity == "audit_log"]
    assert exported.detail["rows"] == len(body)
    assert exported.detail["filter"] == {"action": "login"}
    assert exported.user_id == user_id(api, "coord")
    # the failure names the tried login (as text) and never the password
    got = page.get("/audit.csv", params={"action": "login_failed"}).content.decode("utf-8-sig")
    [failure] = list(csv.reader(io.StringIO(got)))[1:]
    assert failure[3] == "ログインの失敗" and failure[6] == "'" + name  # the account tried
    assert "入力されたユーザー名 =SUM(1;2)" in failure[8] and WRONG not in got
