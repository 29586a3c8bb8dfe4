"""Validation in Japanese with stable codes; bounded ids and paging; nothing half-written."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from service.models import AuditLog, Need

from .conftest import Server
from .helpers import need_payload, ok, seed


def test_missing_and_too_long_fields_are_named_in_japanese(api: Server) -> None:
    coord = api.client("coord")
    body = need_payload(0)
    del body["title"]
    body["description"] = "x" * 10_001
    r = coord.post("/api/needs", json=body)
    assert r.status_code == 422
    data = r.json()
    assert data["code"] == "VALIDATION_ERROR" and data["message"] == "入力内容に誤りがあります。"
    by_field = {e["field"]: e for e in data["errors"]}
    assert (
        by_field["title"]["code"] == "MISSING"
        and by_field["title"]["message"] == "件名は必須です。"
    )
    assert by_field["description"]["code"] == "STRING_TOO_LONG"
    assert "課題の内容は10000文字以内" in by_field["description"]["message"]


def test_unknown_field_number_and_extra_keys(api: Server) -> None:
    coord = api.client("coord")
    r = coord.post("/api/needs", json=need_payload(0, fields=[21], surprise=1))
    codes = {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert r.status_code == 422
    assert ("fields.0", "LESS_THAN_EQUAL") in codes and ("surprise", "EXTRA_FORBIDDEN") in codes


@pytest.mark.parametrize(
    "path",
    [
        "/api/needs/99999999999999999999",
        "/api/needs/0",
        "/api/needs/abc",
        "/api/needs?limit=1000",
        "/api/needs?offset=-1",
        "/api/review-queue?need_id=99999999999999999999",
        "/api/suggestions/9223372036854775808",
    ],
)
def test_oversized_and_bad_ids_are_422(api: Server, path: str) -> None:
    r = api.client("coord").get(path)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "VALIDATION_ERROR"


def test_unknown_ids_are_404(api: Server) -> None:
    coord = api.client("coord")
    for path in ("/api/needs/123456", "/api/organizations/123456", "/api/suggestions/123456"):
        r = coord.get(path)
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"


def test_duplicate_key_is_409_and_writes_nothing(api: Server) -> None:
    coord = api.client("coord")
    ok(coord.post("/api/needs", json=need_payload(0)), 201)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        before = session.exec(select(func.count()).select_from(AuditLog)).one()
    r = coord.post("/api/needs", json=need_payload(0))
    assert r.status_code == 409 and r.json()["code"] == "DUPLICATE_KEY"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(func.count()).select_from(Need)).one() == 1
        assert session.exec(select(func.count()).select_from(AuditLog)).one() == before


def test_stale_version_is_409(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    s = ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))[0]
    ok(
        coord.post(
            f"/api/suggestions/{s['id']}/decision",
            json={"action": "confirm", "version": s["version"]},
        )
    )
    r = coord.post(
        f"/api/suggestions/{s['id']}/decision",
        json={"action": "reject", "reason_code": "地域外", "version": s["version"]},
    )
    assert r.status_code == 409 and r.json()["code"] == "STALE_VERSION"
    assert "他の人が更新" in r.json()["message"]
    assert ok(coord.get(f"/api/suggestions/{s['id']}"))["status"] == "confirmed"


def test_list_filters_and_paging(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    assert ok(coord.get("/api/needs", params={"field": 7}))["total"] == 1
    assert ok(coord.get("/api/needs", params={"area": "北区"}))["total"] == 1
    assert ok(coord.get("/api/needs", params={"department": "防災危機管理室"}))["total"] == 1
    assert ok(coord.get("/api/needs", params={"q": "竹林"}))["total"] == 1
    assert (
        ok(coord.get("/api/needs", params={"q": "%"}))["total"] == 0
    )  # LIKE wildcards are literal
    page = ok(coord.get("/api/organizations", params={"limit": 2, "offset": 2}))
    assert page["total"] == 5 and len(page["items"]) == 2 and page["offset"] == 2
    assert ok(coord.get("/api/organizations", params={"field": 1}))["total"] == 2
    withdrawn = ok(coord.delete(f"/api/needs/{needs['N1']}"))
    assert withdrawn["status"] == "withdrawn"
    assert ok(coord.get("/api/needs", params={"status": "withdrawn"}))["total"] == 1


def test_null_in_a_patch_is_a_422_not_a_server_error(api: Server) -> None:
    """(Found by schemathesis: an explicit null reached a NOT NULL column.)"""
    coord = api.client("coord")
    needs, orgs = seed(coord)
    r = coord.patch(f"/api/needs/{needs['N1']}", json={"status": None, "title": "新しい件名"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "status"
    assert "null は指定できません" in r.json()["errors"][0]["message"]
    assert ok(coord.get(f"/api/needs/{needs['N1']}"))["title"] != "新しい件名"  # nothing written
    r = coord.patch(f"/api/organizations/{orgs['P1']}", json={"contact_phone": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contact_phone"
    # leaving a field out still leaves it unchanged
    ok(coord.patch(f"/api/needs/{needs['N1']}", json={"title": "新しい件名"}))


def test_a_whitespace_only_title_is_asked_for(api: Server) -> None:
    coord = api.client("coord")
    r = coord.post("/api/needs", json=need_payload(0, title="　 \t"))
    assert r.status_code == 422
    expected = {"field": "title", "code": "STRING_TOO_SHORT", "message": "件名を入力してください。"}
    assert expected in r.json()["errors"]


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("newuser", "1234567890", "WEAK_PASSWORD"),  # among the most common
        ("newuser", "Password123", "WEAK_PASSWORD"),  # the same, capitalised
        ("newuser", "aaaaaaaaaaaa", "WEAK_PASSWORD"),  # one character repeated
        ("tanaka-hanako", "tanaka-hanako-2026", "WEAK_PASSWORD"),  # holds the login name
        ("new\u200buser", "kawa-no-nagare-42", "BAD_USERNAME"),  # a zero-width space
        ("<b>user</b>", "kawa-no-nagare-42", "BAD_USERNAME"),  # markup
    ],
)
def test_weak_passwords_and_odd_user_names_are_refused(
    api: Server, username: str, password: str, code: str
) -> None:
    body = {"username": username, "password": password, "role": "coordinator"}
    r = api.client("coord").post("/api/users", json=body)
    assert r.status_code == 422 and r.json()["code"] == code, r.text


def test_a_user_name_is_stored_in_one_form(api: Server) -> None:
    body = {"username": "ＳＡＴＯ２０２６", "password": "kawa-no-nagare-42", "role": "coordinator"}
    created = ok(api.client("coord").post("/api/users", json=body), 201)
    assert created["username"] == "SATO2026"  # NFKC: full-width letters are one name
    again = {**body, "username": "SATO2026"}
    assert api.client("coord").post("/api/users", json=again).status_code == 409
