"""Editing a need or a profile on the pages after someone else saved it: 409, nothing
overwritten, the typed form kept beside what is saved now, and a link to the item."""

from __future__ import annotations

import re
import threading

import httpx
from sqlmodel import Session, col, func, select

from service.models import AuditLog, Need, Organization, User

from .conftest import PASSWORD, Server
from .helpers import csrf_of, need_payload, ok, org_payload, page_login

VERSION = re.compile(r'name="version" value="([^"]+)"')


def login(api: Server, user: str) -> httpx.Client:
    client = page_login(api.url, user, PASSWORD)
    api.clients.append(client)
    return client


def edit_form(client: httpx.Client, page: str) -> dict[str, str]:
    """The edit page's CSRF token and the version it was loaded from."""
    r = client.get(page)
    assert r.status_code == 200, r.text
    version = VERSION.search(r.text)
    assert version, f"the edit form of {page} carries no version"
    return {"csrf_token": csrf_of(r), "version": version.group(1)}


def need_form(**over: str) -> dict[str, str | list[str]]:
    body: dict[str, str | list[str]] = {
        "title": "子どもの防災教育",
        "description": "子供向けの防災教育の機会が少ない。",
        "goal": "防災ワークショップ",
        "fields": ["8", "13"],
        "areas": "",
        "forms": ["共催"],
        "contact_name": "",
        "status": "published",
        "deadline": "",
    }
    body.update(over)
    return body


def updates(api: Server, entity: str, entity_id: int) -> int:
    with Session(api.engine) as s:  # type: ignore[arg-type]
        return s.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(
                col(AuditLog.entity) == entity,
                col(AuditLog.entity_id) == entity_id,
                col(AuditLog.action) == "update",
            )
        ).one()


def test_a_stale_need_edit_is_refused_with_the_typed_form_kept(api: Server) -> None:
    need = ok(api.client("bousai").post("/api/needs", json=need_payload(1)), 201)
    page = f"/needs/{need['id']}/edit"
    bousai, coord = login(api, "bousai"), login(api, "coord")
    mine = edit_form(bousai, page)
    # the coordinator saves the need on the page meanwhile
    theirs = edit_form(coord, page)
    r = coord.post(page, data={**need_form(title="子どもと家族の防災教育"), **theirs})
    assert r.status_code == 303, r.text
    # the department's save, made on what it read before, is refused
    typed = "学校と地域が一緒に学ぶ防災の授業を、年に三回開きたい。"
    r = bousai.post(page, data={**need_form(description=typed), **mine})
    assert r.status_code == 409, r.text
    assert "ほかの人が保存しました" in r.text and "まだ保存していません" in r.text
    assert typed in r.text  # what was typed is kept in the form
    assert f'href="/needs/{need["id"]}"' in r.text  # and the way to the item as it is now
    assert "子どもと家族の防災教育" in r.text  # the saved title, shown where it differs
    assert "上書きして保存する" in r.text
    with Session(api.engine) as s:  # type: ignore[arg-type]
        stored = s.get(Need, need["id"])
        assert stored is not None
        assert stored.title == "子どもと家族の防災教育"  # the coordinator's save stands
        assert stored.description == need["description"]  # and nothing of the stale one
    assert updates(api, "need", need["id"]) == 1
    # the 409 page's form carries the version saved now: sending it again is a knowing
    # overwrite, and it is saved
    again = VERSION.search(r.text)
    assert again and again.group(1) != mine["version"]
    r = bousai.post(
        page,
        data={**need_form(description=typed), "csrf_token": csrf_of(r), "version": again.group(1)},
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/needs/{need['id']}")
    assert ok(api.client("bousai").get(f"/api/needs/{need['id']}"))["description"] == typed


def test_an_api_edit_in_between_makes_the_page_save_stale(api: Server) -> None:
    need = ok(api.client("bousai").post("/api/needs", json=need_payload(1)), 201)
    page = f"/needs/{need['id']}/edit"
    bousai = login(api, "bousai")
    mine = edit_form(bousai, page)
    ok(api.client("coord").patch(f"/api/needs/{need['id']}", json={"goal": "防災の出前授業"}))
    r = bousai.post(page, data={**need_form(), **mine})
    assert r.status_code == 409
    assert ok(api.client("bousai").get(f"/api/needs/{need['id']}"))["goal"] == "防災の出前授業"


def test_an_edit_nobody_came_between_is_saved_and_a_double_post_is_no_conflict(
    api: Server,
) -> None:
    need = ok(api.client("bousai").post("/api/needs", json=need_payload(1)), 201)
    page = f"/needs/{need['id']}/edit"
    bousai = login(api, "bousai")
    sent = {**need_form(title="防災教育の担い手"), **edit_form(bousai, page)}
    assert bousai.post(page, data=sent).status_code == 303
    # the same form posted again (a double click): what it says is saved already
    r = bousai.post(page, data=sent)
    assert r.status_code == 303, r.text
    assert ok(api.client("bousai").get(f"/api/needs/{need['id']}"))["title"] == "防災教育の担い手"
    assert updates(api, "need", need["id"]) == 1
    # but the same stale form with other content is refused
    r = bousai.post(page, data={**sent, "goal": "別の目標"})
    assert r.status_code == 409


def test_two_saves_of_one_read_at_once_let_exactly_one_through(api: Server) -> None:
    need = ok(api.client("bousai").post("/api/needs", json=need_payload(1)), 201)
    page = f"/needs/{need['id']}/edit"
    clients = [login(api, "bousai") for _ in range(2)] + [login(api, "coord") for _ in range(2)]
    forms = [edit_form(c, page) for c in clients]
    assert len({f["version"] for f in forms}) == 1  # all read the same version
    statuses: list[int] = []
    start = threading.Barrier(len(clients))

    def save(i: int) -> None:
        start.wait()
        r = clients[i].post(page, data={**need_form(title=f"件名その{i}"), **forms[i]})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [303, 409, 409, 409], statuses
    assert updates(api, "need", need["id"]) == 1


def test_a_stale_profile_edit_is_refused_with_the_typed_form_kept(api: Server) -> None:
    org = ok(api.client("coord").post("/api/organizations", json=org_payload(0)), 201)
    with Session(api.engine) as s:  # type: ignore[arg-type]
        user = s.exec(select(User).where(User.username == "npo1")).one()
        user.organization_id = org["id"]
        s.add(user)
        s.commit()
    page = f"/orgs/{org['id']}/edit"
    npo, coord = login(api, "npo1"), login(api, "coord")
    mine = edit_form(npo, page)
    ok(api.client("coord").patch(f"/api/organizations/{org['id']}", json={"wishes": "見守り"}))
    typed = "毎週木曜に公民館で傾聴サロンを開いています。"
    form = {
        "name": org["name"],
        "legal_form": org["legal_form"],
        "fields": [str(f) for f in org["fields"]],
        "areas": "、".join(org["areas"]),
        "activities": typed,
        "offerings": org["offerings"],
        "wishes": org["wishes"],
        "contact_name": "",
        "contact_email": "",
        "contact_phone": "",
    }
    r = npo.post(page, data={**form, **mine})
    assert r.status_code == 409, r.text
    assert "この団体の情報は、編集を始めた後にほかの人が保存しました" in r.text
    assert typed in r.text and f'href="/orgs/{org["id"]}"' in r.text
    with Session(api.engine) as s:  # type: ignore[arg-type]
        stored = s.get(Organization, org["id"])
        assert stored is not None
        assert stored.wishes == "見守り" and stored.activities == org["activities"]
    # the coordinator's own page edit, on a fresh read, goes through
    r = coord.post(page, data={**form, **edit_form(coord, page)})
    assert r.status_code == 303


def test_the_api_refuses_a_stale_patch_by_the_same_rule(api: Server) -> None:
    """A PATCH that sends the ``updated_at`` it read is saved only over that version."""
    bousai, coord = api.client("bousai"), api.client("coord")
    need = ok(bousai.post("/api/needs", json=need_payload(1)), 201)
    read = need["updated_at"]
    saved = ok(
        coord.patch(f"/api/needs/{need['id']}", json={"title": "先に保存", "updated_at": read})
    )
    assert saved["updated_at"] != read
    r = bousai.patch(f"/api/needs/{need['id']}", json={"goal": "あとから", "updated_at": read})
    assert r.status_code == 409 and r.json()["code"] == "STALE_VERSION"
    assert "ほかの人が保存しました" in r.json()["message"]
    now = ok(bousai.get(f"/api/needs/{need['id']}"))
    assert (now["title"], now["goal"]) == ("先に保存", need["goal"])
    # with the version read now it is saved; without one, as before, it is saved too
    ok(
        bousai.patch(
            f"/api/needs/{need['id']}", json={"goal": "読み直して", "updated_at": now["updated_at"]}
        )
    )
    ok(bousai.patch(f"/api/needs/{need['id']}", json={"goal": "確認なし"}))
    assert updates(api, "need", need["id"]) == 3
    org = ok(coord.post("/api/organizations", json=org_payload(0)), 201)
    ok(
        coord.patch(
            f"/api/organizations/{org['id']}",
            json={"wishes": "一", "updated_at": org["updated_at"]},
        )
    )
    r = coord.patch(
        f"/api/organizations/{org['id']}", json={"wishes": "二", "updated_at": org["updated_at"]}
    )
    assert r.status_code == 409 and r.json()["code"] == "STALE_VERSION"
    assert ok(coord.get(f"/api/organizations/{org['id']}"))["wishes"] == "一"
