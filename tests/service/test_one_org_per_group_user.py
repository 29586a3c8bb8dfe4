"""A group's user registers one organisation, its own, even with ten requests at once
(through the API or the page); the coordinator registers as many as it needs."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
from sqlmodel import Session, col, func, select

from service.models import AuditLog, Organization, User

from .conftest import PASSWORD, Server
from .helpers import csrf_of, org_payload, page_login

PARALLEL = 10


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in threads released together; their answers in order."""
    answers: list[httpx.Response | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def registered(api: Server, username: str) -> tuple[int | None, int, int]:
    """The user's organisation, how many organisations exist, how many creations were audited."""
    with Session(api.engine) as s:  # type: ignore[arg-type]
        user = s.exec(select(User).where(User.username == username)).one()
        orgs = s.exec(select(func.count()).select_from(Organization)).one()
        audited = s.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(col(AuditLog.entity) == "organization", col(AuditLog.action) == "create")
        ).one()
        return user.organization_id, orgs, audited


def test_ten_parallel_api_registrations_by_one_group_user_make_one(api: Server) -> None:
    clients = [api.client("npo1") for _ in range(PARALLEL)]  # one connection each
    answers = at_once(
        [
            (lambda c=c, i=i: c.post("/api/organizations", json=org_payload(0, key=f"PAR{i}")))
            for i, c in enumerate(clients)
        ]
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (PARALLEL - 1), [a.text for a in answers]
    refused = [a.json() for a in answers if a.status_code == 409]
    assert {r["code"] for r in refused} == {"ALREADY_REGISTERED"}
    assert all("既に団体を登録しています" in r["message"] for r in refused)
    made = next(a.json() for a in answers if a.status_code == 201)
    assert registered(api, "npo1") == (made["id"], 1, 1)
    # and one more, later, is refused the same way
    late = api.client("npo1").post("/api/organizations", json=org_payload(1, key="LATE"))
    assert late.status_code == 409 and late.json()["code"] == "ALREADY_REGISTERED"
    assert registered(api, "npo1") == (made["id"], 1, 1)


def test_ten_parallel_page_registrations_by_one_group_user_make_one(api: Server) -> None:
    # ten tabs of the registration form, each with its own form token, sent at once
    clients = [page_login(api.url, "npo2", PASSWORD) for _ in range(PARALLEL)]
    api.clients += clients
    forms = []
    for i, c in enumerate(clients):
        page = c.get("/orgs/new")
        assert page.status_code == 200
        body = org_payload(0)
        forms.append(
            {
                "csrf_token": csrf_of(page),
                "form_key": f"TAB{i}",
                "name": f"{body['name']}（{i}）",
                "activities": str(body["activities"]),
            }
        )
    answers = at_once(
        [
            (lambda c=c, f=f: c.post("/orgs/new", data=f))
            for c, f in zip(clients, forms, strict=True)
        ]
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [303] + [409] * (PARALLEL - 1), statuses
    refused = [a for a in answers if a.status_code == 409]
    assert all("既に団体を登録しています" in a.text for a in refused)
    org_id, orgs, audited = registered(api, "npo2")
    assert org_id is not None and (orgs, audited) == (1, 1)


def test_the_coordinator_registers_several_at_once(api: Server) -> None:
    clients = [api.client("coord") for _ in range(5)]
    answers = at_once(
        [
            (lambda c=c, i=i: c.post("/api/organizations", json=org_payload(i, key=f"C{i}")))
            for i, c in enumerate(clients)
        ]
    )
    assert [a.status_code for a in answers] == [201] * 5
    assert registered(api, "coord")[1:] == (5, 5)
