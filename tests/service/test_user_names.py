"""A display name follows the login name's rules (issue 13): no markup, control or
zero-width characters; stored NFKC-normalised and trimmed. Refused with a Japanese 422
and ``BAD_DISPLAY_NAME`` on the API, and beside the field on the pages."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from service.errors import Invalid
from service.models import Invitation, User
from service.security import clean_display_name

from .conftest import PASSWORD, Server
from .helpers import csrf_of, need_payload, ok, post_form
from .test_pages import anon, login

BAD = [
    "<b>花子</b>",
    "花子\u200b",
    "協働\u2060花子",
    "\ufeff花子",
    "花子\x07",
    "花子\u202e",
    "あ" * 101,
]


def test_the_rule_itself() -> None:
    for name in [*BAD, "花\x00子"]:  # (a NUL never gets this far over HTTP: ``limits``)
        with pytest.raises(Invalid) as caught:
            clean_display_name(name)
        assert caught.value.code == "BAD_DISPLAY_NAME"
    assert clean_display_name("") == ""
    assert clean_display_name(" Ｏ'Brien & 花子 ") == "O'Brien & 花子"


@pytest.mark.parametrize("name", BAD)
def test_the_api_refuses_a_bad_display_name(api: Server, name: str) -> None:
    coord = api.client("coord")
    r = coord.post(
        "/api/users",
        json={
            "username": "name-check",
            "password": "a-good-long-secret-9",
            "role": "coordinator",
            "display_name": name,
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "BAD_DISPLAY_NAME" and "表示名" in r.json()["message"]
    r = coord.post("/api/invitations", json={"role": "coordinator", "display_name": name})
    assert r.status_code == 422 and r.json()["code"] == "BAD_DISPLAY_NAME", r.text


def test_a_display_name_is_stored_nfkc_and_trimmed(api: Server) -> None:
    coord = api.client("coord")
    r = coord.post(
        "/api/users",
        json={
            "username": "nfkc-name",
            "password": "a-good-long-secret-9",
            "role": "coordinator",
            "display_name": "  ｷｮｳﾄﾞｳ　花子 Ａ ",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["display_name"] == "キョウドウ 花子 A"
    r = coord.post("/api/invitations", json={"role": "coordinator", "display_name": " ｶﾅ "})
    assert r.status_code == 201, r.text
    with Session(api.engine) as session:  # type: ignore[arg-type]
        user = session.exec(select(User).where(User.username == "nfkc-name")).one()
        assert user.display_name == "キョウドウ 花子 A"
        assert session.exec(select(Invitation).where(Invitation.display_name == "カナ")).first()


def test_the_pages_show_a_bad_display_name_beside_the_field(api: Server) -> None:
    coord = login(api, "coord")
    r = post_form(
        coord,
        "/users",
        "/users/invite",
        {"role": "department", "department": "市民課", "display_name": "<script>x</script>"},
    )
    assert r.status_code == 422 and "表示名に見えない文字" in r.text
    assert 'id="invitation-link"' not in r.text
    r = post_form(coord, "/users", "/users/invite", {"role": "department", "department": "市民課"})
    link = re.search(
        r'id="invitation-link" class="copy" readonly value="[^"]*(/invite/[^"]+)"', r.text
    )
    assert link is not None, r.text
    path = link.group(1)
    client = anon(api)
    page = client.get(path)
    assert page.status_code == 200
    r = client.post(
        path,
        data={
            "username": "accept-check",
            "display_name": "花子\u200b",
            "password": PASSWORD,
            "password2": PASSWORD,
            "csrf_token": csrf_of(page),
        },
    )
    assert r.status_code == 422 and "表示名に見えない文字" in r.text
    assert "kyodo_session" not in client.cookies
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(User).where(User.username == "accept-check")).first() is None


def test_approving_a_request_whose_contact_name_is_no_display_name_still_works(
    api: Server,
) -> None:
    """The public form lets ``<`` through in a contact's name (escaped where shown): the
    approval still makes the invitation, with an empty display name for the invitee to
    choose, instead of failing on the display-name rule."""
    from service.registrations import service as registration_service
    from service.registrations.models import RegistrationRequest

    need = ok(api.client("coord").post("/api/needs", json=need_payload(0)), 201)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        request = RegistrationRequest(
            need_id=need["id"],
            group_name="子ども食堂",
            contact_name="<山田>",
            email="a@example.jp",
            profile="紹介",
            address_hash="0" * 64,
        )
        session.add(request)
        session.commit()
        assert request.id is not None
        coord = session.exec(select(User).where(User.username == "coord")).one()
        done, _ = registration_service.approve(session, request_id=request.id, by=coord)
        invitation = session.get(Invitation, done.invitation_id)
        assert invitation is not None and invitation.display_name == ""
