"""Privacy: every view and export of personal data, and every login, logout and failed
login, is one audit row (who, when, what, how many); the coordinator reads the log on
``/audit`` (filters, pages, CSV) and that reading is audited too.

Personal data: a group's contact (name, e-mail, phone), a registration request's
contact, the addresses mail goes to. Real server, real database (SQLite or PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from sqlmodel import Session, col, func, select

from service.mail.models import MailOutbox
from service.models import AuditLog, Organization, User

from ..serving import TLS
from .conftest import PASSWORD, Server
from .helpers import csrf_of, ok, org_payload, page_login, post_form, seed

WRONG = "not-the-password-987"


def login(api: Server, user: str) -> httpx.Client:
    client = page_login(api.url, user, PASSWORD)
    api.clients.append(client)
    return client


def rows(api: Server, *actions: str) -> list[AuditLog]:
    """The audit rows of ``actions`` (default: reads of personal data), oldest first."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        query = select(AuditLog).where(col(AuditLog.action).in_(actions or ("view", "export")))
        return list(session.exec(query.order_by(col(AuditLog.id))).all())


def user_id(api: Server, name: str) -> int:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        found = session.exec(select(User.id).where(User.username == name)).one()
    assert found is not None
    return found


def with_contact(api: Server) -> list[int]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        orgs = session.exec(select(Organization).order_by(col(Organization.id))).all()
        return [o.id for o in orgs if o.id and (o.contact_name or o.contact_email)]


@pytest.fixture
def seeded(api: Server) -> Iterator[dict[str, int]]:
    _needs, orgs = seed(api.client("coord"))
    contact = {"contact_name": "佐藤 一郎", "contact_email": "sato@example.jp"}
    own = org_payload(2, key="OWN") | contact  # P3 itself has no contact
    own = ok(api.client("npo1").post("/api/organizations", json=own), 201)
    yield orgs | {"OWN": own["id"]}


def test_an_organisation_page_with_its_contact_is_one_row(
    api: Server, seeded: dict[str, int]
) -> None:
    coord, bousai, npo1 = login(api, "coord"), login(api, "bousai"), login(api, "npo1")
    p1, own = seeded["P1"], seeded["OWN"]
    page = coord.get(f"/orgs/{p1}")
    assert page.status_code == 200 and "hanako@example.jp" in page.text
    assert page.headers["cache-control"] == "no-store"
    [row] = rows(api)
    assert (row.action, row.entity, row.entity_id) == ("view", "organization", p1)
    assert row.user_id == user_id(api, "coord")
    assert row.detail["rows"] == 1 and row.detail["where"] == f"/orgs/{p1}"
    assert row.detail["ids"] == str(p1)
    assert row.at is not None
    # the edit form holds the contact too
    assert coord.get(f"/orgs/{p1}/edit").status_code == 200
    assert [r.detail["where"] for r in rows(api)][-1] == f"/orgs/{p1}/edit"
    # a department sees no contact: no row; nor on the lists of groups
    before = len(rows(api))
    shown = bousai.get(f"/orgs/{p1}")
    assert shown.status_code == 200 and "hanako@example.jp" not in shown.text
    assert coord.get("/orgs").status_code == 200 and bousai.get("/orgs").status_code == 200
    assert npo1.get(f"/orgs/{p1}").status_code == 200  # another group's: no contact
    assert npo1.get(f"/orgs/{p1}/edit").status_code == 403  # refused: nothing shown
    assert len(rows(api)) == before
    # a group's own page shows its contact: audited as that group's user
    assert npo1.get(f"/orgs/{own}").status_code == 200
    last = rows(api)[-1]
    assert (last.entity_id, last.user_id) == (own, user_id(api, "npo1"))


def test_the_api_audits_one_row_per_answer_with_the_count(
    api: Server, seeded: dict[str, int]
) -> None:
    coord = api.client("coord")
    listed = ok(coord.get("/api/organizations", params={"limit": 50}))
    ids = [o["id"] for o in listed["items"] if any(o["contact"].values())]
    assert 0 < len(ids) < len(listed["items"])  # groups without a contact are not counted
    [row] = rows(api)
    assert (row.action, row.entity, row.entity_id) == ("view", "organization", None)
    assert row.detail["rows"] == len(ids) and row.detail["ids"] == ",".join(map(str, ids))
    assert row.detail["filter"] == {} and row.detail["where"] == "/api/organizations"
    assert row.user_id == user_id(api, "coord")
    one = coord.get(f"/api/organizations/{seeded['P1']}")
    assert one.headers["cache-control"] == "no-store"
    last = rows(api)[-1]
    assert (last.entity_id, last.detail["rows"]) == (seeded["P1"], 1)
    # without contacts (a department; another group's profile): nothing written
    before = len(rows(api))
    assert all(
        o["contact"] is None for o in ok(api.client("bousai").get("/api/organizations"))["items"]
    )
    ok(api.client("npo1").get(f"/api/organizations/{seeded['P1']}"))
    ok(api.client("bousai").get(f"/api/organizations/{seeded['P1']}"))
    assert len(rows(api)) == before
    # a group listing every group sees only its own contact: one row, one record
    ok(api.client("npo1").get("/api/organizations", params={"limit": 100}))
    last = rows(api)[-1]
    assert last.user_id == user_id(api, "npo1")
    assert (last.detail["rows"], last.detail["ids"]) == (1, str(seeded["OWN"]))
    # the filter is recorded
    ok(coord.get("/api/organizations", params={"field": 1, "q": "見守り"}))
    assert rows(api)[-1].detail["filter"] == {"field": 1, "q": "見守り"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_with_contacts_is_one_row_with_its_count(
    api: Server, seeded: dict[str, int], fmt: str
) -> None:
    coord = login(api, "coord")
    r = coord.get(f"/files/export/organizations.{fmt}")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    [row] = rows(api)
    expected = with_contact(api)
    assert (row.action, row.entity, row.entity_id) == ("export", "organization", None)
    assert row.detail["rows"] == len(expected) and row.detail["ids"] == ",".join(map(str, expected))
    assert (row.detail["export"], row.detail["format"]) == ("organizations", fmt)
    assert row.user_id == user_id(api, "coord")
    # the same export through the API
    ok_export = api.client("coord").get("/api/export/organizations", params={"format": fmt})
    assert ok_export.status_code == 200 and ok_export.headers["cache-control"] == "no-store"
    assert rows(api)[-1].detail["where"] == f"/api/export/organizations?format={fmt}"
    # exports without personal data write nothing
    before = len(rows(api))
    assert coord.get(f"/files/export/suggestions.{fmt}").status_code == 200
    assert login(api, "bousai").get(f"/files/export/needs.{fmt}").status_code == 200
    assert len(rows(api)) == before


def test_an_event_invitation_list_is_an_export_of_its_groups_contacts(
    api: Server, seeded: dict[str, int]
) -> None:
    coord = api.client("coord")
    held_on = (date.today() + timedelta(days=60)).isoformat()
    body = {"title": "見守りの発表会", "held_on": held_on, "fields": [1]}
    event = ok(coord.post("/api/events", json=body), 201)
    for key in ("P1", "P3"):
        ok(coord.post(f"/api/events/{event['id']}/groups", json={"organization_id": seeded[key]}))
    r = login(api, "coord").get(f"/events/{event['id']}/invitations.csv")
    assert r.status_code == 200 and "hanako@example.jp" in r.content.decode("utf-8-sig")
    [row] = rows(api, "export")
    assert row.entity == "organization" and row.detail["event_id"] == event["id"]
    # the groups with a contact (P3 has none: in the list, not counted)
    expected = [i for i in sorted([seeded["P1"], seeded["P3"]]) if i in with_contact(api)]
    assert expected == [seeded["P1"]]
    assert row.detail["ids"] == str(seeded["P1"]) and row.detail["rows"] == 1
    assert row.detail["export"] == "event_invitations" and row.detail["format"] == "csv"


def test_registration_requests_and_the_mail_outbox(api: Server, seeded: dict[str, int]) -> None:
    coord = login(api, "coord")
    assert coord.get("/registrations").status_code == 200
    assert rows(api) == []  # nothing waits: no contact shown, nothing written
    need = ok(api.client("coord").get("/api/needs"))["items"][0]["id"]
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30)
    api.clients.append(anon)
    form = {
        "group_name": "みどりの会",
        "contact_name": "鈴木",
        "email": "suzuki@example.org",
        "profile": "公園の花壇の手入れ",
    }
    for _ in range(2):
        r = post_form(anon, f"/public/needs/{need}", f"/public/needs/{need}/register", form)
        assert r.status_code == 303, r.text
    page = coord.get("/registrations")
    assert "suzuki@example.org" in page.text
    [row] = rows(api)
    assert (row.action, row.entity, row.detail["rows"]) == ("view", "registration_request", 2)
    assert len(row.detail["ids"].split(",")) == 2
    # the outbox shows where mail goes
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for i in range(3):
            session.add(
                MailOutbox(
                    kind="test",
                    to_address=f"person{i}@example.org",
                    subject="件名",
                    body="本文",
                    dedup_key=f"privacy-test-{i}",
                )
            )
        session.commit()
        queued = session.exec(select(func.count()).select_from(MailOutbox)).one()
    outbox = coord.get("/mail")
    assert outbox.status_code == 200 and "person2@example.org" in outbox.text
    last = rows(api)[-1]
    assert (last.entity, last.detail["where"]) == ("mail_outbox", "/mail")
    assert last.detail["rows"] == queued >= 3


def test_logins_logouts_and_failures_are_recorded_without_the_password(api: Server) -> None:
    coord_id = user_id(api, "coord")
    client = login(api, "coord")
    [logged] = rows(api, "login")
    assert (logged.user_id, logged.entity, logged.entity_id) == (coord_id, "user", coord_id)
    assert logged.detail["via"] == "page" and logged.detail["address"]
    # a wrong password for a real account, and a name nobody has
    for name in ("coord", "nobody-here"):
        anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30)
        api.clients.append(anon)
        token = csrf_of(anon.get("/login"))
        r = anon.post("/login", data={"username": name, "password": WRONG, "csrf_token": token})
        assert r.status_code == 401
    failed = rows(api, "login_failed")
    assert [(f.entity_id, f.detail["username"], f.detail["reason"]) for f in failed] == [
        (coord_id, "coord", "password"),
        (None, "nobody-here", "unknown_user"),
    ]
    assert all(f.user_id is None and f.detail["address"] for f in failed)
    assert all(WRONG not in json.dumps(f.detail) for f in rows(api, *ACTIONS))
    # the API: a token, then its logout
    r = httpx.post(f"{api.url}/api/auth/token", data={"username": "npo1", "password": PASSWORD})
    token = ok(r)["access_token"]
    assert rows(api, "login")[-1].detail["via"] == "api"
    r = httpx.post(f"{api.url}/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    out = rows(api, "logout")
    assert [(o.user_id, o.detail["via"]) for o in out] == [(user_id(api, "npo1"), "api")]
    # the page's logout
    post_form(client, "/account", "/logout", {})
    assert [o.detail["via"] for o in rows(api, "logout")] == ["api", "page"]
    assert rows(api, "logout")[-1].user_id == coord_id


def test_a_stopped_account_is_a_failure_with_its_reason(api: Server) -> None:
    name = "stopped-user"
    made = api.client("coord").post(
        "/api/users", json={"username": name, "password": "long-password-55", "role": "npo"}
    )
    ok(made, 201)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        account = session.exec(select(User).where(User.username == name)).one()
        account.is_active = False
        session.add(account)
        session.commit()
    r = httpx.post(
        f"{api.url}/api/auth/token", data={"username": name, "password": "long-password-55"}
    )
    assert r.status_code == 401
    [failed] = rows(api, "login_failed")
    assert (failed.entity_id, failed.detail["reason"]) == (user_id(api, name), "inactive")
    assert "long-password-55" not in json.dumps(failed.detail)


def test_refused_logins_are_recorded(api: Server) -> None:
    for _ in range(7):
        httpx.post(
            f"{api.url}/api/auth/token",
            data={"username": "kourei", "password": WRONG},
            headers={"X-Forwarded-For": "198.51.100.77"},
        )
    refused = rows(api, "login_refused")
    failed = rows(api, "login_failed")
    assert len(failed) == 5 and len(refused) == 2
    assert {(r.detail["username"], r.detail["reason"], r.detail["address"]) for r in refused} == {
        ("kourei", "throttled", "198.51.100.77")
    }


ACTIONS = ("view", "export", "login", "logout", "login_failed", "login_refused")


def test_reads_do_not_move_the_matching_index(api: Server, seeded: dict[str, int]) -> None:
    """A view row names an organisation but changes nothing: the index does not apply it."""
    from service.index import MatchingIndex

    index = MatchingIndex(api.engine)  # type: ignore[arg-type]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        index.sync(session)
        version = index.version
        login(api, "coord").get(f"/orgs/{seeded['P1']}")
        assert rows(api)[-1].entity == "organization"
        index.sync(session)
        assert index.version == version
