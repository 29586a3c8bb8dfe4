"""提案にない団体を組み合わせる: the coordinator finds a group by searching (as people type
its name or what it does), sees who it is, and pairs it from the list; a page of twenty,
not a drop-down of every group in the city."""

from __future__ import annotations

import re

import httpx

from .conftest import Server
from .helpers import ok, org_payload, post_form, seed
from .test_pages import anon, login
from .test_pairing import _unsuggested

ROW = re.compile(r"<tr>\s*<td>(.*?)</td>.*?</tr>", re.S)


def _rows(page: httpx.Response) -> dict[str, str]:
    """The picker's table rows by 団体ID (the header row has no <td>)."""
    assert page.status_code == 200, page.text
    return {m.group(1): m.group(0) for m in ROW.finditer(page.text)}


def _button(org_id: int) -> str:
    return f'name="organization_id" value="{org_id}"'


def test_the_picker_finds_a_group_written_another_way_and_shows_who_it_is(api: Server) -> None:
    needs, _ = seed(api.client("coord"))
    coord = login(api, "coord")
    picker = f"/needs/{needs['N1']}/pair"
    # the need's page opens the picker with a search box (a GET form, no script)
    page = coord.get(f"/needs/{needs['N1']}").text
    assert f'<form method="get" action="{picker}"' in page and 'name="q"' in page
    # 子供 finds a group that writes こども; the others are not listed
    found = coord.get(picker, params={"q": "子供"})
    rows = _rows(found)
    assert set(rows) == {"P3"}
    # the picker's own search box and form post back to it (one template for both pickers)
    assert 'id="pair-q"' in found.text and f'<form method="post" action="{picker}">' in found.text
    assert "提案にない団体を組み合わせる" in found.text and "組み合わせて承認する" in found.text
    assert "そなえ隊" in rows["P3"]
    assert '<span class="badge field">災害救援</span>' in rows["P3"]
    assert '<span class="badge field">子どもの健全育成</span>' in rows["P3"]
    assert '<span class="badge area">市全域</span>' in rows["P3"]  # no area given
    # half-width katakana finds the full-width name; its area is shown
    rows = _rows(coord.get(picker, params={"q": "南区ふれあいｸﾗﾌﾞ"}))
    assert set(rows) == {"P2"}
    assert '<span class="badge area">南区</span>' in rows["P2"]
    assert '<span class="badge field">保健・医療・福祉</span>' in rows["P2"]
    # nothing found: said in Japanese, no list
    page = coord.get(picker, params={"q": "宇宙開発"})
    assert _rows(page) == {} and "「宇宙開発」に合う登録中の団体はありません" in page.text


def test_the_picker_shows_twenty_groups_a_page_and_no_withdrawn_group(api: Server) -> None:
    coord_api = api.client("coord")
    needs, orgs = seed(coord_api)
    extra = {
        f"X{i:02}": ok(
            coord_api.post(
                "/api/organizations",
                json=org_payload(4, key=f"X{i:02}", name=f"里山の手入れグループ{i:02}"),
            ),
            201,
        )["id"]
        for i in range(25)
    }
    ok(coord_api.delete(f"/api/organizations/{extra['X07']}"))
    coord = login(api, "coord")
    picker = f"/needs/{needs['N3']}/pair"
    first = coord.get(picker)
    page1 = _rows(first)
    assert len(page1) == 20  # 5 + 25 - 1 = 29 active groups, twenty of them here
    assert "（全 29 件）" in first.text and f'href="{picker}?&amp;page=2"' in first.text
    page2 = _rows(coord.get(picker, params={"page": 2}))
    assert len(page2) == 9 and not set(page1) & set(page2)
    assert set(page1) | set(page2) == (set(orgs) | set(extra)) - {"X07"}  # withdrawn: not offered
    assert _button(extra["X07"]) not in first.text
    # a search narrows the count and the pages with it
    found = coord.get(picker, params={"q": "里山の手入れグループ"})
    assert len(_rows(found)) == 20 and "（全 24 件）" in found.text
    assert f'href="{picker}?q=' in found.text and "page=2" in found.text


def test_pairing_from_the_picker_records_the_pairing_and_marks_the_group(api: Server) -> None:
    coord_api = api.client("coord")
    needs, orgs = seed(coord_api)
    need = needs["N2"]
    org = _unsuggested(coord_api, need, orgs)
    key = next(k for k, v in orgs.items() if v == org)
    name = next(
        o["name"] for o in ok(coord_api.get("/api/organizations"))["items"] if o["id"] == org
    )
    suggested = ok(coord_api.get(f"/api/needs/{need}/suggestions"))[0]
    suggested_key = next(k for k, v in orgs.items() if v == suggested["organization_id"])
    coord = login(api, "coord")
    picker = f"/needs/{need}/pair?q={name}"
    rows = _rows(coord.get(picker))
    assert _button(org) in rows[key] and "提案済み" not in rows[key]
    # a group the ranking already suggested is marked, and opens its suggestion instead
    rows = _rows(coord.get(f"/needs/{need}/pair"))
    assert "提案済み" in rows[suggested_key]
    assert f'href="/suggestions/{suggested["id"]}"' in rows[suggested_key]
    assert _button(suggested["organization_id"]) not in rows[suggested_key]
    r = post_form(
        coord,
        picker,
        f"/needs/{need}/pair",
        {"organization_id": org, "comment": "防災訓練で一緒に活動した団体"},
    )
    assert r.status_code == 303 and "msg=paired" in r.headers["location"]
    made = {s["organization_id"]: s for s in ok(coord_api.get(f"/api/needs/{need}/suggestions"))}
    assert made[org]["status"] == "confirmed" and made[org]["model_version"] == "by-hand"
    assert r.headers["location"].startswith(f"/suggestions/{made[org]['id']}?")
    history = ok(coord_api.get(f"/api/suggestions/{made[org]['id']}/history"))
    assert [h["comment"] for h in history] == ["防災訓練で一緒に活動した団体"]
    # now marked in the picker: no second pairing offered
    row = _rows(coord.get(picker))[key]
    assert "提案済み" in row and _button(org) not in row
    assert f'href="/suggestions/{made[org]["id"]}"' in row


def test_only_the_coordinator_uses_the_picker(api: Server) -> None:
    coord_api = api.client("coord")
    needs, orgs = seed(coord_api)
    need = needs["N2"]  # 防災危機管理室's own need
    org = _unsuggested(coord_api, need, orgs)
    before = ok(coord_api.get(f"/api/needs/{need}/suggestions"))
    for who in ("bousai", "kourei", "npo1"):
        client = login(api, who)
        r = client.get(f"/needs/{need}/pair", params={"q": "子供"})
        assert r.status_code == 403 and "そなえ隊" not in r.text, who
        assert f'action="/needs/{need}/pair"' not in client.get(f"/needs/{need}").text, who
        r = post_form(
            client,
            "/my" if who != "npo1" else "/needs",
            f"/needs/{need}/pair",
            {"organization_id": org},
        )
        assert r.status_code == 403, who
    r = anon(api).get(f"/needs/{need}/pair")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert ok(coord_api.get(f"/api/needs/{need}/suggestions")) == before  # nothing written
    # a need that is not published has nothing to pair: back to its page
    ok(coord_api.delete(f"/api/needs/{needs['N3']}"))
    r = login(api, "coord").get(f"/needs/{needs['N3']}/pair")
    assert r.status_code == 303 and r.headers["location"] == f"/needs/{needs['N3']}"
