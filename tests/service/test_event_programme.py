"""A 分野別発表会's printable programme (#16): the event's name, date, theme, the
presentations in order (担当課, title, a short description, goal, 活動分野) with their
time slots when a start time is given, and the invited groups without their contacts;
the event's page links to it; only the coordinator reads it; A4 print rules in the CSS.

Through the real app over HTTP; "today" is fixed through ``get_today``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from service.deps import get_today

from .conftest import Server
from .helpers import ok, seed
from .test_pages import login

TODAY = date(2026, 12, 10)
HELD_ON = "2027-02-14"  # a Sunday
LONG = "竹林の整備と活用について、" * 30  # 390 characters: printed shortened


@pytest.fixture
def event(api: Server) -> Iterator[dict[str, Any]]:
    """An event presenting N1 (高齢福祉課), N3 (環境政策課, a long description) and N2
    (防災危機管理室, withdrawn after it was put on), inviting P1 and P5."""
    api.app.dependency_overrides[get_today] = lambda: TODAY  # type: ignore[attr-defined]
    coord = api.client("coord")
    needs, orgs = seed(coord)
    ok(coord.patch(f"/api/needs/{needs['N3']}", json={"description": LONG}))
    body = {"title": "福祉と環境の協働発表会", "held_on": HELD_ON, "fields": [1, 7]}
    made = ok(coord.post("/api/events", json=body), 201)
    eid = made["id"]
    for n in made["needs"]:
        ok(coord.delete(f"/api/events/{eid}/needs/{n['need_id']}"))
    for g in made["groups"]:
        ok(coord.delete(f"/api/events/{eid}/groups/{g['organization_id']}"))
    for key in ("N1", "N2", "N3"):
        ok(coord.post(f"/api/events/{eid}/needs", json={"need_id": needs[key]}))
    for key in ("P1", "P5"):
        ok(coord.post(f"/api/events/{eid}/groups", json={"organization_id": orgs[key]}))
    assert coord.delete(f"/api/needs/{needs['N2']}").status_code in (200, 204)
    yield {"id": eid, "needs": needs, "orgs": orgs}
    api.app.dependency_overrides.pop(get_today, None)  # type: ignore[attr-defined]


def _text(html: str) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_programme_lists_the_event_in_order(api: Server, event: dict[str, Any]) -> None:
    page = login(api, "coord")
    detail = page.get(f"/events/{event['id']}")
    assert f'href="/events/{event["id"]}/programme">印刷用プログラム</a>' in detail.text
    r = page.get(f"/events/{event['id']}/programme")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    text = _text(r.text)
    assert "分野別発表会 プログラム" in text and "福祉と環境の協働発表会" in text
    assert "開催日 2027年2月14日（日）" in text
    assert "テーマ 保健・医療・福祉、環境の保全" in text
    # the presentations in the event's order (by 担当課: 環境政策課 sorts before
    # 高齢福祉課), numbered; the withdrawn one left out
    order = text.split("発表の順番", 1)[1]
    assert "1 放置竹林の整備" in order and "2 独居高齢者の孤立防止" in order
    assert order.index("放置竹林の整備") < order.index("独居高齢者の孤立防止")
    assert "子どもの防災教育" not in order
    assert "取り下げられた協働の種（1件）はプログラムに載せていません" in text
    assert "担当課: 高齢福祉課" in order and "担当課: 環境政策課" in order
    assert "協働で実現したいこと サロンや訪問による見守り" in order
    first, second = order.split("2 独居高齢者の孤立防止", 1)
    both = "(環境の保全、農山漁村・中山間地域|農山漁村・中山間地域、環境の保全)"
    assert re.search(f"活動分野 {both}", first)
    assert "活動分野 保健・医療・福祉" in second
    # a long description is cut to 160 characters with 「…」
    cut = re.search(r"課題の内容 ((?:竹林の整備と活用について、)+[^ ]*…)", order)
    assert cut and len(cut.group(1)) == 160, order[:800]
    # the invited groups, by name, with area and fields, and no contact
    invited = text.split("招待団体（2団体）", 1)[1]
    assert "ふれあいの会 北区 保健・医療・福祉" in invited
    assert "竹の子くらぶ 西区 環境の保全" in invited
    assert "hanako@example.jp" not in r.text and "佐藤 一郎" not in r.text
    # laid out for print: the sections are the print rules' classes
    assert r.text.count('class="programme-section"') == 2
    assert 'class="no-print"' in r.text


def test_time_slots_from_a_start_time(api: Server, event: dict[str, Any]) -> None:
    page = login(api, "coord")
    r = page.get(f"/events/{event['id']}/programme", params={"start": "１３：３０", "minutes": 20})
    assert r.status_code == 200
    text = _text(r.text)
    assert "開催日 2027年2月14日（日） 13:30〜14:10" in text
    assert "13:30〜13:50 ・ 担当課: 環境政策課" in text
    assert "13:50〜14:10 ・ 担当課: 高齢福祉課" in text
    assert 'value="13:30"' in r.text and 'value="20"' in r.text
    for params, message in (
        ({"start": "25:00"}, "開始時刻は 13:30 のように入力してください。"),
        ({"start": "13:30", "minutes": "3"}, "1件の持ち時間は5〜120分にしてください。"),
    ):
        bad = page.get(f"/events/{event['id']}/programme", params=params)
        assert bad.status_code == 422 and message in bad.text
        assert "〜13:" not in _text(bad.text)  # no slot printed from a refused time


def test_only_the_coordinator_reads_the_programme(api: Server, event: dict[str, Any]) -> None:
    for user in ("bousai", "kourei", "npo1"):
        assert login(api, user).get(f"/events/{event['id']}/programme").status_code == 403
    assert login(api, "coord").get("/events/999999/programme").status_code == 404


def test_the_stylesheet_lays_the_programme_out_for_a4(api: Server) -> None:
    css = api.client().get("/static/app.css").text
    assert re.search(r"@page\s*\{\s*size:\s*A4;\s*margin:", css)
    printed = css.split("@media print", 1)[1]
    assert re.search(r"header\.site, footer\.site[^{]*\.no-print[^{]*\{\s*display:\s*none", printed)
    assert re.search(r"\.programme-section\s*\{\s*break-before:\s*page", printed)
