"""Public pages and open data (/public): anyone may read the published needs, and nothing
else: no drafts, no withdrawn needs, no contacts, no review history."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from service.deadlines import today_jst
from service.public import service as public_service
from service.public import views as public_views

from .conftest import Server
from .helpers import need_payload, ok, seed

ATOM = "{http://www.w3.org/2005/Atom}"
DRAFT_TITLE = "パラスポーツ交流の下書き"
WITHDRAWN_TITLE = "取り下げた見守りの課題"
PARA_TITLE = "パラスポーツ体験会の運営"
DRAFT_DEPARTMENT = "下書きだけの課"  # has no published need
# text only the coordinator and the departments may read
SECRETS = (
    "佐藤 一郎",  # N1's contact person
    "田中 花子",  # a group's contact person
    "hanako@example.jp",
    "090-555-0101",
    "内部メモ：承認の理由",  # a decision's comment
    "内部メモ：見送りの理由",
    "下書きの担当者",  # the draft's contact person
)
OUTPUTS = ("/public/needs", "/public/needs.csv", "/public/needs.json", "/public/needs.atom")


@dataclass
class World:
    anon: httpx.Client
    coord: httpx.Client
    needs: dict[str, int]  # published, by key
    draft: int
    withdrawn: int


def _world(api: Server) -> World:
    coord = api.client("coord")
    needs, _ = seed(coord)
    para = need_payload(
        1,
        key="NP",
        title=PARA_TITLE,
        description="障害のある人もない人も楽しめるスポーツの場をつくりたい。",
        fields=[6],
        areas=["南区"],
        department="スポーツ推進課",
    )
    needs["NP"] = ok(coord.post("/api/needs", json=para), 201)["id"]
    draft = ok(
        coord.post(
            "/api/needs",
            json=need_payload(
                2,
                key="ND",
                title=DRAFT_TITLE,
                status="draft",
                contact_name="下書きの担当者",
                department=DRAFT_DEPARTMENT,
            ),
        ),
        201,
    )["id"]
    withdrawn = ok(
        coord.post("/api/needs", json=need_payload(0, key="NW", title=WITHDRAWN_TITLE)), 201
    )["id"]
    ok(coord.delete(f"/api/needs/{withdrawn}"))
    # the review history: a confirmation and a rejection, both with internal comments
    for key, body in (
        ("N1", {"action": "confirm", "comment": "内部メモ：承認の理由"}),
        (
            "N3",
            {"action": "reject", "reason_code": "共益的活動", "comment": "内部メモ：見送りの理由"},
        ),
    ):
        s = ok(coord.get(f"/api/needs/{needs[key]}/suggestions"))[0]
        decided = coord.post(
            f"/api/suggestions/{s['id']}/decision", json={**body, "version": s["version"]}
        )
        ok(decided)
    return World(api.client(), coord, needs, draft, withdrawn)


def _listed(page: httpx.Response) -> list[int]:
    """The need ids a public list page links to, in order."""
    assert page.status_code == 200, page.text
    return [int(i) for i in re.findall(r'href="/public/needs/(\d+)"', page.text)]


def _json_ids(client: httpx.Client, **params: object) -> set[int]:
    return {item["id"] for item in ok(client.get("/public/needs.json", params=params))}  # type: ignore[arg-type]


def test_anonymous_visitors_read_the_published_needs(api: Server) -> None:
    w = _world(api)
    published = set(w.needs.values())
    page = w.anon.get("/public/needs")
    assert "text/html" in page.headers["content-type"]
    assert set(_listed(page)) == published
    for title in ("独居高齢者の孤立防止", "子どもの防災教育", PARA_TITLE):
        assert title in page.text
    detail = w.anon.get(f"/public/needs/{w.needs['N1']}")
    assert detail.status_code == 200
    for text in ("独居高齢者の孤立防止", "高齢福祉課", "サロンや訪問による見守り", "北区", "委託"):
        assert text in detail.text
    assert "保健・医療・福祉" in detail.text  # the field by name, not by number
    assert _json_ids(w.anon) == published
    # the rest of the service still asks for a login
    assert w.anon.get("/needs").status_code == 303
    assert w.anon.get(f"/needs/{w.needs['N1']}").status_code == 303
    assert w.anon.get("/api/needs").status_code == 401


def test_drafts_and_withdrawn_needs_are_nowhere(api: Server) -> None:
    w = _world(api)
    for hidden in (w.draft, w.withdrawn, 999_999):
        r = w.anon.get(f"/public/needs/{hidden}")
        assert r.status_code == 404 and "見つかりません" in r.text, hidden
        assert "text/html" in r.headers["content-type"]
    for path in OUTPUTS:
        text = w.anon.get(path).content.decode("utf-8-sig")
        assert DRAFT_TITLE not in text and WITHDRAWN_TITLE not in text, path
        assert DRAFT_DEPARTMENT not in text, path  # not even in the filter form
        assert f'/public/needs/{w.draft}"' not in text, path
    # nor through a search that the draft would match
    assert _json_ids(w.anon, q="パラスポーツ") == {w.needs["NP"]}
    assert _listed(w.anon.get("/public/needs", params={"q": "パラスポーツ"})) == [w.needs["NP"]]


def test_nothing_internal_leaves_the_public_pages(api: Server) -> None:
    w = _world(api)
    # the contact is really stored: the coordinator sees it
    assert ok(w.coord.get(f"/api/needs/{w.needs['N1']}"))["contact_name"] == "佐藤 一郎"
    pages = [*OUTPUTS, *(f"/public/needs/{i}" for i in w.needs.values())]
    for path in pages:
        text = w.anon.get(path).content.decode("utf-8-sig")
        for secret in SECRETS:
            assert secret not in text, (path, secret)
        assert "共益的活動" not in text and "承認" not in text, path
    items = ok(w.anon.get("/public/needs.json"))
    assert {frozenset(item) for item in items} == {
        frozenset(
            {
                "id",
                "title",
                "department",
                "description",
                "goal",
                "fields",
                "field_names",
                "areas",
                "forms",
                "deadline",
                "created_at",
                "updated_at",
                "url",
            }
        )
    }


def test_search_reads_variants_and_filters_narrow_the_list(api: Server) -> None:
    w = _world(api)
    n = w.needs
    # half-width katakana finds パラスポーツ; 子ども finds the need that writes 子供
    assert _listed(w.anon.get("/public/needs", params={"q": "ﾊﾟﾗｽﾎﾟｰﾂ"})) == [n["NP"]]
    assert _json_ids(w.anon, q="子供") == {n["N2"]}
    assert _json_ids(w.anon, q="竹林") == {n["N3"]}
    assert set(_listed(w.anon.get("/public/needs", params={"field": "8"}))) == {n["N2"]}
    assert _json_ids(w.anon, area="北区") == {n["N1"]}
    assert _json_ids(w.anon, area="市全域") == {n["N2"]}  # no area given: the whole city
    assert _json_ids(w.anon, department="環境政策課") == {n["N3"]}
    assert _json_ids(w.anon, department="環境政策課", q="子供") == set()
    page = w.anon.get("/public/needs", params={"department": "高齢福祉課"})
    assert _listed(page) == [n["N1"]]
    # the filter form offers the departments that have published needs
    assert "<option selected>高齢福祉課</option>" in page.text
    assert re.search(r"<option\s*>スポーツ推進課</option>", page.text)
    csv_text = w.anon.get("/public/needs.csv", params={"field": "8"}).content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(csv_text)))) == 2  # header + N2


def test_the_list_pages(api: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    w = _world(api)
    monkeypatch.setattr(public_views, "PER_PAGE", 3)
    newest_first = sorted(w.needs.values(), reverse=True)
    first = w.anon.get("/public/needs")
    assert _listed(first) == newest_first[:3]
    assert "1 / 2 ページ（全 4 件）" in first.text
    second = w.anon.get("/public/needs", params={"page": "2"})
    assert _listed(second) == newest_first[3:]


def test_csv_is_excel_friendly_and_neutralises_formulas(api: Server) -> None:
    w = _world(api)
    formula = ok(
        w.coord.post("/api/needs", json=need_payload(0, key="NF", title='=HYPERLINK("x")')), 201
    )["id"]
    r = w.anon.get("/public/needs.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "番号",
        "件名",
        "担当課",
        "課題の内容",
        "協働で実現したいこと",
        "活動分野",
        "対象地域",
        "協働の形態",
        "募集期限",
        "登録日時",
        "更新日時",
        "URL",
    ]
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {str(i) for i in [*w.needs.values(), formula]}
    assert by_id[str(formula)][1] == '\'=HYPERLINK("x")'
    n2 = by_id[str(w.needs["N2"])]
    assert n2[5] == "災害救援、子どもの健全育成" and n2[6] == "市全域" and n2[7] == "共催"
    assert n2[8] == "" and n2[11].endswith(f"/public/needs/{w.needs['N2']}")


def test_a_deadline_is_shown_on_the_pages_and_in_the_files(api: Server) -> None:
    """A group deciding whether to step forward needs to know until when it may."""
    w = _world(api)
    until = (today_jst() + timedelta(days=30)).isoformat()
    ok(w.coord.patch(f"/api/needs/{w.needs['N2']}", json={"deadline": until}))
    day = date.fromisoformat(until)
    said = f"{day.year}年{day.month}月{day.day}日まで"
    assert f"募集期限: {said}" in w.anon.get(f"/public/needs/{w.needs['N2']}").text
    assert f"募集期限 {said}" in w.anon.get("/public/needs").text
    rows = list(
        csv.reader(io.StringIO(w.anon.get("/public/needs.csv").content.decode("utf-8-sig")))
    )
    column = rows[0].index("募集期限")
    by_id = {row[0]: row[column] for row in rows[1:]}
    assert by_id[str(w.needs["N2"])] == until and by_id[str(w.needs["N1"])] == ""
    listed = {n["id"]: n["deadline"] for n in ok(w.anon.get("/public/needs.json"))}
    assert listed[w.needs["N2"]] == until and listed[w.needs["N1"]] is None


def test_atom_feed_has_the_newest_published_needs(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _world(api)
    # an update makes the oldest need the newest
    ok(w.coord.patch(f"/api/needs/{w.needs['N1']}", json={"goal": "サロンの運営"}))
    monkeypatch.setattr(public_service, "FEED_SIZE", 2)
    r = w.anon.get("/public/needs.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}updated")
    entries = feed.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") or "" for e in entries]
    assert [i.rsplit("/", 1)[-1] for i in ids] == [str(w.needs["N1"]), str(w.needs["NP"])]
    for entry, entry_id in zip(entries, ids, strict=True):
        assert entry_id.startswith("http://")
        link = entry.find(f"{ATOM}link")
        assert link is not None and link.get("href") == entry_id
        assert entry.findtext(f"{ATOM}updated")
        assert w.anon.get(entry_id).status_code == 200  # the link opens the public page
    assert entries[0].findtext(f"{ATOM}title") == "独居高齢者の孤立防止"
    monkeypatch.setattr(public_service, "FEED_SIZE", 20)
    everything = ET.fromstring(w.anon.get("/public/needs.atom").content)
    assert len(everything.findall(f"{ATOM}entry")) == len(w.needs)


def test_what_a_department_typed_is_escaped(api: Server) -> None:
    w = _world(api)
    evil = '<script>alert("x")</script>&'
    need = ok(w.coord.post("/api/needs", json=need_payload(1, key="NX", title=evil)), 201)["id"]
    for path in ("/public/needs", f"/public/needs/{need}"):
        r = w.anon.get(path)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;" in r.text, path
        assert "<script>alert" not in r.text, path
        assert re.search(r"<script(?![^>]*\bsrc=)", r.text) is None, path
        assert "unsafe-inline" not in r.headers["content-security-policy"]
    feed = w.anon.get("/public/needs.atom")
    assert "<script>" not in feed.text
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(feed.content).iter(f"{ATOM}entry")]
    assert evil in titles
    assert evil in {item["title"] for item in ok(w.anon.get("/public/needs.json"))}
