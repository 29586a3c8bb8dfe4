"""A form posted after the session ended is kept through the login (#15)."""

from __future__ import annotations

import html
import re

import httpx
from sqlmodel import Session, func, select

from service.models import Need
from service.web.core import SESSION_COOKIE

from .conftest import PASSWORD, Server
from .helpers import csrf_of
from .test_pages import login

TITLE = "夜間の避難所開設訓練の担い手"
DESCRIPTION = "夜間に避難所を開く訓練に\n参加する人が、ここ数年で半分に減っている。"


def _end_session(client: httpx.Client) -> None:
    """The client's session ends on the server while its browser keeps the cookie (as
    when a session expires while a form is being typed); other sessions and tokens stay."""
    cookie = next(c for c in client.cookies.jar if c.name == SESSION_COOKIE)
    home = client.get("/account")
    assert client.post("/logout", data={"csrf_token": csrf_of(home)}).status_code == 303
    assert cookie.value
    client.cookies.set(SESSION_COOKIE, cookie.value, domain=cookie.domain, path=cookie.path)
    assert client.get("/account").status_code == 303  # the server no longer knows it


def _needs_titled(api: Server, title: str) -> int:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return int(
            session.exec(select(func.count()).select_from(Need).where(Need.title == title)).one()
        )


def test_a_need_typed_while_the_session_ended_is_kept_through_the_login(api: Server) -> None:
    dept = login(api, "bousai")
    page = dept.get("/needs/new")
    key = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert key
    form = {
        "csrf_token": csrf_of(page),
        "form_key": key.group(1),
        "department": "防災危機管理室",
        "title": TITLE,
        "description": DESCRIPTION,
        "goal": "訓練を一緒に企画し、<当日>の運営を担う団体と組みたい。",
        "status": "published",
    }
    _end_session(dept)
    origin = api.url.rstrip("/")
    r = dept.post("/needs/new", data=form, headers={"Origin": origin})
    # the login page, saying why, with what was typed carried in one hidden field
    assert r.status_code == 401
    assert "ログインの期限が切れました" in r.text
    carried = re.search(r'name="resume" value="([^"]*)"', r.text)
    assert carried and TITLE in html.unescape(carried.group(1))
    assert "csrf_token" not in html.unescape(carried.group(1))
    assert _needs_titled(api, TITLE) == 0
    # log in from that page: the typed text is shown, and nothing is sent yet
    r = dept.post(
        "/login",
        data={
            "username": "bousai",
            "password": PASSWORD,
            "csrf_token": csrf_of(r),
            "resume": html.unescape(carried.group(1)),
        },
    )
    assert r.status_code == 200
    assert "入力した内容を送信する" in r.text and TITLE in r.text
    assert "&lt;当日&gt;" in r.text and "<当日>" not in r.text  # escaped, not markup
    assert _needs_titled(api, TITLE) == 0
    # one button sends it, with the new session's token, to where it was going
    action = re.search(r'<form method="post" action="([^"]+)"', r.text)
    assert action and action.group(1) == "/needs/new"
    hidden = dict(
        (html.unescape(k), html.unescape(v))
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text)
    )
    assert hidden["description"] == DESCRIPTION  # line breaks survive the trip
    sent = dept.post("/needs/new", data=hidden)
    assert sent.status_code == 303, sent.text
    assert _needs_titled(api, TITLE) == 1
    # sent twice (Back, then the button again): still one need, by the form's key
    assert dept.post("/needs/new", data=hidden).status_code == 303
    assert _needs_titled(api, TITLE) == 1


def test_a_post_from_another_site_is_not_carried_through_the_login(api: Server) -> None:
    dept = login(api, "bousai")
    page = dept.get("/needs/new")
    form = {"csrf_token": csrf_of(page), "title": "よそのサイトが仕込んだ件名"}
    _end_session(dept)
    for headers in ({"Origin": "https://evil.example"}, {}):
        r = dept.post("/needs/new", data=form, headers=headers)
        assert r.status_code == 303 and r.headers["location"] == "/login"
    # a carried form that names another site, or the login itself, is ignored
    login_page = dept.get("/login")
    for action in ("//evil.example/x", "/login", "https://evil.example/"):
        r = dept.post(
            "/login",
            data={
                "username": "bousai",
                "password": PASSWORD,
                "csrf_token": csrf_of(login_page),
                "resume": f'{{"action": "{action}", "fields": [["title", "x"]]}}',
            },
        )
        assert r.status_code == 303, action  # an ordinary login, to the start page
        dept.cookies.clear()
        login_page = dept.get("/login")
