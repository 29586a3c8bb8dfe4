"""Payloads built from the toy rows of tests/conftest.py, the mail tests' outbox, and a
server's index replaced as after a restart."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from matching import parse_areas, parse_fields
from service.index import MatchingIndex
from service.mail.models import MailOutbox
from service.models import User

from ..conftest import NEED_ROWS, ORG_ROWS
from ..serving import TLS


def need_payload(i: int, **over: object) -> dict[str, object]:
    key, dept, title, desc, goal, fields, area, forms, contact = NEED_ROWS[i]
    body = {
        "key": key,
        "department": dept,
        "title": title,
        "description": desc,
        "goal": goal,
        "fields": parse_fields(fields)[0],
        "areas": parse_areas(area),
        "forms": [forms] if forms else [],
        "contact_name": contact,
    }
    body.update(over)
    return body


def org_payload(i: int, **over: object) -> dict[str, object]:
    key, name, legal, fields, area, acts, offers, wishes, cname, email, phone = ORG_ROWS[i]
    body = {
        "key": key,
        "name": name,
        "legal_form": legal,
        "fields": parse_fields(fields)[0],
        "areas": parse_areas(area),
        "activities": acts,
        "offerings": offers,
        "wishes": wishes,
        "contact_name": cname,
        "contact_email": email,
        "contact_phone": phone,
    }
    body.update(over)
    return body


def ok(response: httpx.Response, status: int = 200) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def train(coord: httpx.Client, *, wait: float = 600.0) -> dict:  # type: ignore[type-arg]
    """Retrain through the API: start a run (202), follow it until it ends, and return
    the model it recorded; fails if the run does not end as ``done``."""
    started = ok(coord.post("/api/model/train"), 202)
    where = f"/api/model/training/{started['id']}"
    assert started["state"] in ("running", "done")
    deadline = time.monotonic() + wait
    run = started
    while run["state"] == "running":
        assert time.monotonic() < deadline, f"the training run did not end: {run}"
        time.sleep(0.05)
        run = ok(coord.get(where))
    assert run["state"] == "done" and run["model"] is not None, run
    return run["model"]  # type: ignore[no-any-return]


def seed(coord: httpx.Client) -> tuple[dict[str, int], dict[str, int]]:
    """All toy organisations and needs, created through the API by the coordinator."""
    orgs = {
        row[0]: ok(coord.post("/api/organizations", json=org_payload(i)), 201)["id"]
        for i, row in enumerate(ORG_ROWS)
    }
    needs = {
        row[0]: ok(coord.post("/api/needs", json=need_payload(i)), 201)["id"]
        for i, row in enumerate(NEED_ROWS)
    }
    return needs, orgs


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a page's forms carry."""
    match = CSRF.search(page.text)
    assert match, f"no form with a CSRF token on {page.url}"
    return match.group(1)


def page_login(url: str, username: str, password: str) -> httpx.Client:
    """A client that logged in through the login page (session cookie, no bearer token)."""
    client = httpx.Client(verify=TLS, base_url=url, timeout=30, follow_redirects=False)
    token = csrf_of(client.get("/login"))
    r = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert r.status_code == 303, r.text
    return client


def post_form(
    client: httpx.Client, page: str, action: str, data: dict[str, object]
) -> httpx.Response:
    """Open ``page``, then post ``data`` to ``action`` with the page's CSRF token."""
    token = csrf_of(client.get(page))
    return client.post(action, data={**data, "csrf_token": token})  # type: ignore[arg-type]


def outbox(api: object) -> list[MailOutbox]:
    """Every mail the outbox holds, oldest first (``api``: a running test server)."""
    with Session(_engine(api)) as session:
        return list(session.exec(select(MailOutbox).order_by(col(MailOutbox.id))).all())


def clear_addresses(api: object) -> None:
    """Every user's address blanked: what a mail test gave them is not left for the next
    module's server (no mail is queued for a user without an address)."""
    with Session(_engine(api)) as session:
        for user in session.exec(select(User)).all():
            user.email = ""
            session.add(user)
        session.commit()


def _engine(api: object) -> Engine:
    engine = getattr(api, "engine", None)
    assert isinstance(engine, Engine)
    return engine


def restarted_index(api: Any, index_dir: Path) -> MatchingIndex:
    """A new index in the test server ``api``, as after a restart (or in another worker),
    its fits saved in ``index_dir`` (the test's own)."""
    index = MatchingIndex(api.engine, mail_base_url=api.settings.base_url, index_dir=index_dir)
    api.app.state.index = index
    return index
