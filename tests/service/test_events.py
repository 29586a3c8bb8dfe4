"""分野別発表会 planner (#16): only the coordinator plans; the proposal made from the
stored rankings of the bundled corpus is non-empty, on the theme and keeps its promises
(no group invited for nothing, every need with a good match covered, each reason read
from the suggestion); edits persist and are audited; the invitation list is a CSV for
Excel; bad input is a 422 with a Japanese message and a code.

"Today" is fixed through the app's ``get_today`` dependency (the day in Japan).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlmodel import Session, col, select

from corpus import load_corpus
from service import loader
from service.deps import get_today
from service.events.lists import INVITATION_HEADER, NO_FIT
from service.events.models import MatchingEvent
from service.events.service import RULES
from service.models import AuditLog, Need, NeedStatus, Suggestion, SuggestionStatus

from .conftest import Server
from .helpers import csrf_of, ok, post_form, seed
from .test_pages import anon, login

TODAY = date(2026, 12, 10)
HELD_ON = "2027-02-14"


@pytest.fixture
def today(api: Server) -> Iterator[date]:
    api.app.dependency_overrides[get_today] = lambda: TODAY  # type: ignore[attr-defined]
    yield TODAY
    api.app.dependency_overrides.pop(get_today, None)  # type: ignore[attr-defined]


@pytest.fixture
def corpus(api: Server, today: date) -> Server:
    """The bundled corpus (part c) in the database, as the demo loads it."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        needs, orgs, _ = load_corpus(("c",))
        loader.import_organizations(session, orgs, user=None)
        loader.import_needs(session, needs, user=None)
    return api


def eligible(api: Server, need_ids: list[int]) -> dict[int, dict[int, float]]:
    """Each need's candidates as the planner's rules define them, read from the stored
    suggestions (current ranking or confirmed, not turned down): its best ``top_k`` at
    or above ``min_score``."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(
            select(Suggestion)
            .where(col(Suggestion.need_id).in_(need_ids))
            .where(
                (col(Suggestion.rank).is_not(None))
                | (Suggestion.status == SuggestionStatus.confirmed)
            )
            .where(Suggestion.status != SuggestionStatus.rejected)
        ).all()
    out: dict[int, dict[int, float]] = {}
    for n in need_ids:
        ranked = sorted(
            ((s.score, -s.organization_id) for s in rows if s.need_id == n), reverse=True
        )
        out[n] = {-o: score for score, o in ranked if score >= RULES.min_score}
        out[n] = dict(list(out[n].items())[: RULES.top_k])
    return out


def test_only_the_coordinator_plans_events(api: Server, today: date) -> None:
    coord = api.client("coord")
    seed(coord)
    body = {"title": "防災の発表会", "held_on": HELD_ON, "fields": [8]}
    event = ok(coord.post("/api/events", json=body), 201)
    for user in ("bousai", "kourei", "npo1"):
        client = api.client(user)
        for method, url, payload in (
            ("GET", "/api/events", None),
            ("POST", "/api/events", body),
            ("POST", "/api/events", {}),  # refused before the input is read
            ("GET", f"/api/events/{event['id']}", None),
            ("POST", f"/api/events/{event['id']}/groups", {"organization_id": 1}),
            ("DELETE", f"/api/events/{event['id']}/needs/1", None),
        ):
            r = client.request(method, url, json=payload)
            assert r.status_code == 403, (user, method, url, r.text)
            assert r.json()["code"] == "FORBIDDEN" and "コーディネーター" in r.json()["message"]
        page = login(api, user)
        for url in ("/events", "/events/new", f"/events/{event['id']}"):
            assert page.get(url).status_code == 403, (user, url)
        r = page.get(f"/events/{event['id']}/invitations.csv")
        assert r.status_code == 403 and "text/html" in r.headers["content-type"]
        token_page = page.get("/account")
        r = post_form(page, "/account", f"/events/{event['id']}/propose", {})
        assert r.status_code == 403 and token_page.status_code == 200
    assert anon(api).get("/events").headers["location"].startswith("/login")
    assert api.client().get("/api/events").status_code == 401
    assert len(ok(coord.get("/api/events"))) == 1  # nothing was added by the refused posts
    # the coordinator's menu links to the planner; the others' menus do not
    assert 'href="/events"' in login(api, "coord").get("/queue").text
    assert 'href="/events"' not in login(api, "bousai").get("/my").text


def test_the_proposal_on_the_corpus_keeps_its_promises(corpus: Server) -> None:
    coord = corpus.client("coord")
    event = ok(
        coord.post(
            "/api/events",
            json={"title": "子ども・子育ての協働発表会", "held_on": HELD_ON, "fields": [13]},
        ),
        201,
    )
    needs = {n["need_id"]: n for n in event["needs"]}
    groups = event["groups"]
    assert needs and groups, event
    assert len(needs) <= RULES.max_needs and len(groups) <= RULES.max_groups
    with Session(corpus.engine) as session:  # type: ignore[arg-type]
        stored = {n.id: n for n in session.exec(select(Need)).all()}
    on_theme = [
        i for i, n in stored.items() if "|13|" in n.fields and n.status == NeedStatus.published
    ]
    assert set(needs) <= set(on_theme)  # every need presented is on the theme
    assert len(needs) == min(len(on_theme), RULES.max_needs)
    edges = eligible(corpus, list(needs))
    # no group invited for nothing: each suits a presented need as one of its candidates
    for g in groups:
        assert g["fits"], g
        assert any(g["organization_id"] in edges[f["need_id"]] for f in g["fits"]), g
        for f in g["fits"]:
            assert f["need_id"] in needs and f["score"] >= RULES.min_score
            assert f["text"].startswith(f"{stored[f['need_id']].title}に合う：")
            assert re.search("共通する語「|活動分野が一致|地域", f["text"]), f["text"]
    # coverage: every presented need with a candidate has an invited group among them
    invited = {g["organization_id"] for g in groups}
    uncovered = [n for n, cands in edges.items() if cands and not invited & set(cands)]
    assert uncovered == []
    assert sum(bool(c) for c in edges.values()) >= 1
    # a second group of the same need is invited only while the need has fewer than 3
    assert len(invited) <= RULES.per_need * len(needs)
    # the page shows the same lists, with the reasons
    page = login(corpus, "coord").get(f"/events/{event['id']}")
    assert page.status_code == 200
    assert all(g["name"] in page.text for g in groups)
    assert groups[0]["fits"][0]["text"].split("：")[0] in page.text


def test_a_keyword_theme_uses_the_japanese_aware_search(corpus: Server) -> None:
    coord = corpus.client("coord")
    # 子供 (another spelling) finds the needs written with 子ども / こども too
    found = ok(coord.get("/api/needs", params={"q": "子供", "status": "published", "limit": 100}))
    event = ok(
        coord.post(
            "/api/events", json={"title": "子どもの会", "held_on": HELD_ON, "keywords": "子供"}
        ),
        201,
    )
    ids = {n["need_id"] for n in event["needs"]}
    assert ids and ids <= {n["id"] for n in found["items"]}
    assert len(ids) == min(found["total"], RULES.max_needs)
    assert event["theme"] == "子供" and event["fields"] == []


def test_edits_persist_and_are_audited(corpus: Server) -> None:
    coord = corpus.client("coord")
    event = ok(
        coord.post(
            "/api/events",
            json={"title": "環境の発表会", "held_on": HELD_ON, "fields": [7], "keywords": "竹林"},
        ),
        201,
    )
    eid = event["id"]
    page = login(corpus, "coord")
    gone_need = event["needs"][0]["need_id"]
    gone_group = event["groups"][0]["organization_id"]
    r = post_form(page, f"/events/{eid}", f"/events/{eid}/needs/{gone_need}/remove", {})
    assert r.status_code == 303
    r = post_form(page, f"/events/{eid}", f"/events/{eid}/groups/{gone_group}/remove", {})
    assert r.status_code == 303
    # add a need and a group found with the page's search boxes
    found = page.get(f"/events/{eid}", params={"need_q": "高齢者"})
    need_id = int(re.search(r'name="need_id" value="(\d+)"', found.text).group(1))  # type: ignore[union-attr]
    r = post_form(page, f"/events/{eid}", f"/events/{eid}/needs", {"need_id": need_id})
    assert r.status_code == 303 and "msg=need_added" in r.headers["location"]
    found = page.get(f"/events/{eid}", params={"org_q": "こども"})  # 子ども / 子供 too
    org_id = int(re.search(r'name="organization_id" value="(\d+)"', found.text).group(1))  # type: ignore[union-attr]
    assert org_id not in {g["organization_id"] for g in event["groups"]}
    r = post_form(page, f"/events/{eid}", f"/events/{eid}/groups", {"organization_id": org_id})
    assert r.status_code == 303
    again = post_form(page, f"/events/{eid}", f"/events/{eid}/groups", {"organization_id": org_id})
    assert "msg=unchanged" in again.headers["location"]
    r = post_form(
        page,
        f"/events/{eid}",
        f"/events/{eid}/edit",
        {
            "title": "環境・里山の発表会",
            "held_on": "2027-03-01",
            "fields": ["7", "5"],
            "keywords": "",
        },
    )
    assert r.status_code == 303
    after = ok(coord.get(f"/api/events/{eid}"))
    needs = {n["need_id"]: n for n in after["needs"]}
    groups = {g["organization_id"]: g for g in after["groups"]}
    assert gone_need not in needs and gone_group not in groups
    assert needs[need_id]["source"] == "手動で追加" and groups[org_id]["source"] == "手動で追加"
    assert len(needs) == len(event["needs"]) and len(groups) == len(event["groups"])
    assert (after["title"], after["held_on"], after["fields"]) == (
        "環境・里山の発表会",
        "2027-03-01",
        [5, 7],
    )
    with Session(corpus.engine) as session:  # type: ignore[arg-type]
        actions = session.exec(
            select(AuditLog.action, AuditLog.detail)
            .where(AuditLog.entity == "matching_event", AuditLog.entity_id == eid)
            .order_by(col(AuditLog.id))
        ).all()
    assert [a for a, _ in actions] == [
        "create",
        "remove_need",
        "remove_group",
        "add_need",
        "add_group",
        "update",
    ]
    assert actions[3][1] == {"need_id": need_id} and actions[4][1] == {"organization_id": org_id}
    # the invitation list follows the edits: the added group, by hand, with its reasons
    rows = list(
        csv.reader(
            io.StringIO(page.get(f"/events/{eid}/invitations.csv").content.decode("utf-8-sig"))
        )
    )
    added = next(row for row in rows[1:] if row[3] == groups[org_id]["name"])
    assert added[9] == "手動で追加"
    assert added[8] == (" ／ ".join(f["text"] for f in groups[org_id]["fits"]) or NO_FIT)
    assert {row[3] for row in rows[1:]} == {g["name"] for g in groups.values()}
    # 提案し直す: the theme's proposal replaces the hand edits
    r = post_form(page, f"/events/{eid}", f"/events/{eid}/propose", {})
    assert r.status_code == 303
    proposed = ok(coord.get(f"/api/events/{eid}"))
    assert {g["source"] for g in proposed["groups"]} == {"提案"}
    assert org_id not in {g["organization_id"] for g in proposed["groups"]}


def test_the_invitation_list_is_a_csv_for_excel(corpus: Server) -> None:
    coord = corpus.client("coord")
    event = ok(
        coord.post(
            "/api/events", json={"title": "=防災の発表会", "held_on": HELD_ON, "fields": [8, 9]}
        ),
        201,
    )
    r = login(corpus, "coord").get(f"/events/{event['id']}/invitations.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert (
        rows[0]
        == INVITATION_HEADER
        == [
            "発表会",
            "開催日",
            "団体ID",
            "団体名",
            "担当者名",
            "メールアドレス",
            "電話番号",
            "活動地域",
            "招待の理由",
            "追加の方法",
        ]
    )
    body = rows[1:]
    assert len(body) == len(event["groups"]) >= 1
    assert {row[3] for row in body} == {g["name"] for g in event["groups"]}
    for row, group in zip(body, event["groups"], strict=True):
        assert row[0] == "'=防災の発表会"  # a title that starts like a formula stays text
        assert row[1] == HELD_ON and row[9] == "提案"
        assert row[8] == " ／ ".join(f["text"] for f in group["fits"])
    xlsx = login(corpus, "coord").get(f"/events/{event['id']}/invitations.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert login(corpus, "coord").get(f"/events/{event['id']}/invitations.pdf").status_code == 404


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"title": "発表会", "held_on": HELD_ON}, "NO_THEME", "活動分野かキーワード"),
        ({"title": "発表会", "held_on": HELD_ON, "keywords": " 、 "}, "NO_THEME", "テーマ"),
        ({"title": "発表会", "held_on": "2027-02-30", "fields": [1]}, "BAD_DATE", "開催日"),
        ({"title": "発表会", "held_on": "来週", "fields": [1]}, "BAD_DATE", "正しい日付"),
        ({"title": "発表会", "held_on": "2026-12-09", "fields": [1]}, "BAD_DATE", "過去"),
        ({"title": "", "held_on": HELD_ON, "fields": [1]}, "REQUIRED", "名前は必須"),
        ({"title": "発表会", "held_on": HELD_ON, "fields": [21]}, "BAD_FIELD", "1〜20"),
        ({"title": "", "held_on": "x", "fields": []}, "INVALID_EVENT", "確かめて"),
    ],
)
def test_bad_input_is_a_422_in_japanese_with_a_code(
    api: Server, today: date, body: dict[str, object], code: str, words: str
) -> None:
    r = api.client("coord").post("/api/events", json=body)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["code"] == code
    assert words in answer["message"] + "".join(e["message"] for e in answer["errors"])
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(MatchingEvent)).all() == []


def test_the_new_event_form_explains_bad_input_and_makes_one_event(
    api: Server, today: date
) -> None:
    seed(api.client("coord"))
    page = login(api, "coord")
    form = page.get("/events/new")
    key = re.search(r'name="form_key" value="(W[0-9A-F]{10})"', form.text)
    assert key and "テーマ" in form.text
    data = {"title": "防災の発表会", "held_on": "2027/02/14", "form_key": key.group(1)}
    r = post_form(page, "/events/new", "/events/new", data)
    assert r.status_code == 422 and "NO_THEME" in r.text
    assert "活動分野かキーワードを一つ以上指定してください" in r.text
    assert 'value="防災の発表会"' in r.text  # what was typed is kept
    data["fields"] = "8"
    first = post_form(page, "/events/new", "/events/new", data)
    again = post_form(page, "/events/new", "/events/new", data)  # Back, then 送信 again
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    # the same form posted four times at once: still one event
    fresh = page.get("/events/new")
    data = {
        **data,
        "title": "防災の発表会（二回目）",
        "csrf_token": csrf_of(fresh),
        "form_key": re.search(r'name="form_key" value="([^"]+)"', fresh.text).group(1),  # type: ignore[union-attr]
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: page.post("/events/new", data=data), range(4)))
    assert {r.status_code for r in answers} == {303}
    assert len({r.headers["location"] for r in answers}) == 1
    events = ok(api.client("coord").get("/api/events"))
    assert len(events) == 2 and {e["held_on"] for e in events} == {HELD_ON}
    events = [e for e in events if e["title"] == "防災の発表会"]
    assert events[0]["theme"] == "災害救援"
    listing = page.get("/events").text
    assert "防災の発表会" in listing and "2027年02月14日" in listing


def test_a_pairing_turned_down_is_not_proposed(corpus: Server) -> None:
    coord = corpus.client("coord")
    need = ok(coord.get("/api/needs", params={"field": 7, "status": "published"}))["items"][0]
    ranked = ok(coord.get(f"/api/needs/{need['id']}/suggestions"))
    top, second = ranked[0], ranked[1]
    assert second["score"] >= RULES.min_score, ranked[:2]
    ok(
        coord.post(
            f"/api/suggestions/{top['id']}/decision",
            json={"action": "reject", "reason_code": "体制不足", "version": top["version"]},
        )
    )
    # the need's 課題ID as the keyword: an event about this need alone
    event = ok(
        coord.post(
            "/api/events", json={"title": "一件の会", "held_on": HELD_ON, "keywords": need["key"]}
        ),
        201,
    )
    assert [n["need_id"] for n in event["needs"]] == [need["id"]]
    invited = {g["organization_id"] for g in event["groups"]}
    assert top["organization_id"] not in invited
    assert second["organization_id"] in invited
    # invited by hand, the group turned down shows no reason to suit the need
    after = ok(
        coord.post(
            f"/api/events/{event['id']}/groups", json={"organization_id": top["organization_id"]}
        )
    )
    hand = next(g for g in after["groups"] if g["organization_id"] == top["organization_id"])
    assert hand["fits"] == [] and hand["source"] == "手動で追加"
