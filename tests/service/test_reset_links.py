"""A password-reset link works once, and only the newest one works (issue 13)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, col, select

from service import invitations
from service.models import Invitation, User, utcnow

from .conftest import PASSWORD, Server
from .helpers import csrf_of, post_form
from .test_pages import _restore, anon, login


@pytest.fixture
def restore(api: Server) -> Iterator[Callable[[str], None]]:
    """``restore(name)``: that shared user gets its password and token back afterwards."""
    names: list[str] = []
    yield names.append
    for name in names:
        _restore(api, name)


def _issue(api: Server, username: str) -> str:
    """A reset link for ``username``, issued by the coordinator; its path."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        coord = session.exec(select(User).where(User.username == "coord")).one()
        target = session.exec(select(User).where(User.username == username)).one()
        assert target.id is not None
        _, token = invitations.create_reset(session, by=coord, user_id=target.id)
    return f"/invite/{token}"


def _use(client: httpx.Client, path: str, password: str) -> httpx.Response:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(
        path, data={"password": password, "password2": password, "csrf_token": csrf_of(page)}
    )


def test_a_newer_reset_link_ends_the_older_one(api: Server, restore: Callable[[str], None]) -> None:
    restore("npo1")
    older = _issue(api, "npo1")
    assert anon(api).get(older).status_code == 200
    newer = _issue(api, "npo1")
    refused = anon(api).get(older)
    assert refused.status_code == 409 and "新しいリンクが発行されています" in refused.text
    assert _use(anon(api), newer, "a-brand-new-secret-1").status_code == 303
    # a used link cannot be used again, nor the older one now
    for path in (newer, older):
        assert anon(api).get(path).status_code == 409
        client = anon(api)
        token = csrf_of(client.get("/login"))
        r = client.post(
            path, data={"password": "x" * 12, "password2": "x" * 12, "csrf_token": token}
        )
        assert r.status_code == 409 and "kyodo_session" not in client.cookies


def test_using_a_reset_link_ends_every_other_link_of_the_user(
    api: Server, restore: Callable[[str], None]
) -> None:
    """Two links valid at once (issued before this rule): using one ends the other."""
    restore("npo2")
    first = _issue(api, "npo2")
    second = _issue(api, "npo2")
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for row in session.exec(select(Invitation).where(col(Invitation.for_user).is_not(None))):
            row.expires_at = utcnow() + timedelta(days=1)
            session.add(row)
        session.commit()
    assert anon(api).get(first).status_code == 200  # both work, as links of old did
    assert _use(anon(api), second, "another-new-secret-2").status_code == 303
    assert anon(api).get(first).status_code == 409
    assert anon(api).get(second).status_code == 409


def test_changing_the_password_ends_pending_reset_links(
    api: Server, restore: Callable[[str], None]
) -> None:
    """(A link handed over before the change stayed usable for 3 days: whoever held it
    could undo the user's new password.)"""
    restore("npo1")
    pending = _issue(api, "npo1")
    client = login(api, "npo1")
    r = post_form(
        client,
        "/account",
        "/account",
        {
            "current_password": PASSWORD,
            "new_password": "my-own-new-secret-3",
            "new_password2": "my-own-new-secret-3",
        },
    )
    assert r.status_code == 303, r.text
    refused = anon(api).get(pending)
    assert refused.status_code == 409 and "コーディネーターに再発行を依頼" in refused.text


def test_stopping_a_user_ends_its_reset_links_and_sessions(
    api: Server, restore: Callable[[str], None]
) -> None:
    restore("npo2")
    pending = _issue(api, "npo2")
    session_client = login(api, "npo2")
    assert session_client.get("/account").status_code == 200
    coord = login(api, "coord")
    with Session(api.engine) as session:  # type: ignore[arg-type]
        target = session.exec(select(User).where(User.username == "npo2")).one()
    r = post_form(coord, "/users", f"/users/{target.id}/active", {"active": "0"})
    assert r.status_code == 303, r.text
    try:
        assert anon(api).get(pending).status_code == 409
        assert session_client.get("/account").status_code in (303, 401)
    finally:
        r = post_form(coord, "/users", f"/users/{target.id}/active", {"active": "1"})
        assert r.status_code == 303, r.text
    assert anon(api).get(pending).status_code == 409  # restoring brings no link back
