"""A form posted twice (Back + resubmit, a double click, two at once) makes one record (#15)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, func, select

from service.models import Need, Organization

from .conftest import PASSWORD, Server
from .helpers import csrf_of, ok
from .test_pages import login


def _count(api: Server, model: type, title_field: str, value: str) -> int:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return int(
            session.exec(
                select(func.count()).select_from(model).where(getattr(model, title_field) == value)
            ).one()
        )


def test_a_need_form_posted_twice_or_at_once_makes_one_need(api: Server) -> None:
    dept = login(api, "bousai")
    page = dept.get("/needs/new")
    key = re.search(r'name="form_key" value="(W[0-9A-F]{10})"', page.text)
    assert key, "the form carries the id of the record it will create"
    form = {
        "csrf_token": csrf_of(page),
        "form_key": key.group(1),
        "title": "避難所の運営訓練の担い手",
        "description": "地区ごとの避難所運営訓練に参加する人が減っている。",
        "goal": "訓練を一緒に企画する団体と組みたい。",
        "status": "published",
    }
    first = dept.post("/needs/new", data=form)
    again = dept.post("/needs/new", data=form)  # Back, then 送信 again
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert _count(api, Need, "title", form["title"]) == 1
    # two at once: still one
    page = dept.get("/needs/new")
    form = {
        **form,
        "csrf_token": csrf_of(page),
        "form_key": re.search(r'name="form_key" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
        "title": "防災訓練の企画",
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: dept.post("/needs/new", data=form), range(4)))
    assert {r.status_code for r in answers} == {303}
    assert len({r.headers["location"] for r in answers}) == 1
    assert _count(api, Need, "title", "防災訓練の企画") == 1
    # another department posting the same id is not sent to the first department's need
    other = login(api, "kourei")
    other_page = other.get("/needs/new")
    r = other.post("/needs/new", data={**form, "csrf_token": csrf_of(other_page)})
    assert r.status_code == 422 and "location" not in r.headers


def test_a_group_registering_twice_makes_one_group(api: Server) -> None:
    ok(
        api.client("coord").post(
            "/api/users", json={"username": "newgroup", "password": PASSWORD, "role": "npo"}
        ),
        201,
    )
    npo = login(api, "newgroup")
    page = npo.get("/orgs/new")
    form = {
        "csrf_token": csrf_of(page),
        "form_key": re.search(r'name="form_key" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
        "name": "みどりの見守り隊",
        "activities": "地域の高齢者宅を訪問し、話し相手や見守りをしています。",
    }
    first = npo.post("/orgs/new", data=form)
    again = npo.post("/orgs/new", data=form)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"].startswith("/my")
    assert _count(api, Organization, "name", "みどりの見守り隊") == 1
