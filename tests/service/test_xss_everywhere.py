"""Hostile text in every free-text field, checked on every page and in every export.

A need, a group's organisation, a decision's and a stage's comment, a group's interest,
a department's note on a group it proposes, a user's display name, an invitation's
address, registration requests (one declined with a reason) and the search box all carry
script tags, an attribute breakout, a ``javascript:`` URL, template syntax and a formula.
Then every GET route the route matrix (test_route_matrix.ROUTES) lets a role see is
loaded as that role, with every seeded object: an HTML answer must carry a
Content-Security-Policy and show the payloads only as text; a CSV or XLSX export must
hold no cell a spreadsheet would evaluate.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, timedelta
from html.parser import HTMLParser

import httpx
import pytest
from openpyxl import load_workbook

from service.deadlines import today_jst

from ..serving import TLS
from .conftest import Server
from .helpers import csrf_of, need_payload, ok, org_payload, post_form, seed
from .test_route_matrix import ROLES, ROUTES, World, allowed, app_routes, fillings

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
TEMPLATE = "{{7*191}}"  # 1337 on the page would mean a template ran it
FORMULAS = ('=HYPERLINK("x")', "+1+1", "-1+1", "@SUM(1)")


def hostile(i: int, limit: int = 200) -> str:
    """The payloads, led by a formula (a different first character per field)."""
    return f"{FORMULAS[i % 4]}{TEMPLATE}{SCRIPT}{BREAKOUT} {JS_URL}"[:limit]


class Markup(HTMLParser):
    """What a browser would run on a page: inline scripts, event-handler attributes,
    ``javascript:`` URLs (the page's own markup, as a browser parses it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not dict(attrs).get("src"):
            self.found.append("<script> without src")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("<img src=x>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and re.sub(
                r"\s", "", value or ""
            ).lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")


def fiscal_year(today: date) -> int:
    return today.year if today.month >= 4 else today.year - 1


@pytest.fixture
def world(api: Server) -> World:
    coord, bousai, npo1 = api.client("coord"), api.client("bousai"), api.client("npo1")
    needs, orgs = seed(coord)
    need_fields = {
        f: hostile(i, 64 if f == "key" else 200)
        for i, f in enumerate(("key", "title", "description", "goal", "contact_name"))
    }
    need = ok(
        bousai.post(
            "/api/needs",
            json=need_payload(
                1, department=None, areas=["北区", hostile(1, 50)], forms=[hostile(2, 50)]
            )
            | need_fields,
        ),
        201,
    )
    org_fields = {
        f: hostile(i)
        for i, f in enumerate(
            ("key", "name", "legal_form", "activities", "offerings", "wishes", "contact_name")
        )
    }
    org_fields["key"] = hostile(0, 64)
    org = ok(
        npo1.post(
            "/api/organizations",
            json=org_payload(1, areas=[hostile(3, 50)], contact_phone="045-000-0000") | org_fields,
        ),
        201,
    )
    # the department proposes a group for its need, with a note to the coordinator
    ok(
        bousai.post(
            f"/api/needs/{need['id']}/proposals",
            json={"organization_id": orgs["P2"], "comment": hostile(2, 2000)},
        ),
        201,
    )
    # the group in the need's suggestions (by hand), confirmed with a comment, then a stage
    paired = ok(
        coord.post(
            f"/api/needs/{need['id']}/pairings",
            json={"organization_id": org["id"], "comment": hostile(1, 2000)},
        ),
        201,
    )
    ok(
        coord.post(
            f"/api/suggestions/{paired['id']}/stage",
            json={"stage": "meeting_arranged", "comment": hostile(2), "version": paired["version"]},
        )
    )
    # a meeting of that pairing, every free-text field hostile, and a date 防災 proposed
    meeting = ok(
        coord.post(
            f"/api/suggestions/{paired['id']}/meetings",
            json={
                "date": (date.today() + timedelta(days=20)).isoformat(),
                "start": "14:00",
                "place": hostile(0),
                "participants": hostile(1, 1000),
                "notes": hostile(2, 5000),
                "outcome": "continued",
                "outcome_reason": hostile(3, 1000),
                "next_step": hostile(1, 1000),
            },
        ),
        201,
    )
    proposal = ok(
        bousai.post(
            f"/api/suggestions/{paired['id']}/meetings",
            json={
                "date": (date.today() + timedelta(days=21)).isoformat(),
                "start": "10:00",
                "online_url": "https://meet.example.jp/x?a=1&b='onmouseover=alert(1)//",
                "participants": hostile(2, 1000),
                "notes": hostile(3, 5000),
            },
        ),
        201,
    )
    # a third meeting, called off with a hostile reason (the list and the .ics show it)
    called_off = ok(
        coord.post(
            f"/api/suggestions/{paired['id']}/meetings",
            json={"date": (date.today() + timedelta(days=22)).isoformat(), "start": "9:00"}
            | {"place": "本庁舎"},
        ),
        201,
    )
    ok(
        coord.post(
            f"/api/meetings/{called_off['id']}/cancel",
            json={"reason": hostile(0, 1000), "version": called_off["version"]},
        )
    )
    other = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))  # 防災's toy need
    pending = next(s for s in other if s["status"] == "pending")
    ok(
        coord.post(
            f"/api/suggestions/{pending['id']}/decision",
            json={
                "action": "reject",
                "reason_code": "その他",
                "comment": hostile(3),
                "version": pending["version"],
            },
        )
    )
    ok(npo1.post(f"/api/needs/{need['id']}/interest", json={"comment": hostile(0)}), 201)
    # a user whose display name is hostile (the coordinator's user list shows it)
    user = coord.post(
        "/api/users",
        json={
            "username": f"xss{uuid.uuid4().hex[:8]}",
            "password": "long-password-1",
            "role": "department",
            "department": "防災危機管理室",
            "display_name": hostile(1, 100),
        },
    )
    assert user.status_code in (201, 422), user.text
    # an invitation mailed to an address that is markup (the outbox page /mail shows it)
    ok(coord.post("/api/invitations", json={"role": "npo", "email": f"{SCRIPT}@example.jp"}), 201)
    # registration requests from the public form: one waits, one is declined with a reason
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30)
    api.clients.append(anon)
    form: dict[str, object] = {
        "group_name": hostile(0),
        "contact_name": hostile(1, 100),
        "email": "xss@example.org",
        "profile": hostile(2, 1000),
        "area": hostile(3, 100),
    }
    for _ in range(2):
        page = f"/public/needs/{need['id']}"
        r = post_form(anon, page, f"{page}/register", form)
        assert r.status_code == 303, r.text
    with api.engine.connect() as conn:  # type: ignore[attr-defined]
        request_id = conn.exec_driver_sql("SELECT max(id) FROM registration_request").scalar()
    world = World(
        api,
        {},
        {
            "need": "bousai",
            "suggestion": "bousai",
            "rejected": "bousai",
            "own_org": "npo1",
            "meeting": "bousai",
            "proposal": "bousai",
            # the group of the pairing (and so a party to its meetings)
            "group:suggestion": "npo1",
            "group:meeting": "npo1",
            "group:proposal": "npo1",
        },
    )
    r = post_form(
        world.page("coord")[0],
        "/registrations",
        f"/registrations/{request_id}/decline",
        {"reason": hostile(1)},
    )
    assert r.status_code == 303, r.text
    # a 分野別発表会 whose name and keywords are hostile, presenting the hostile need and
    # inviting the hostile group (the detail page, the list and the invitation list show them),
    # held today: its invitations are sent (the hostile name in their subject, on /mail) and
    # the hostile group's interest in the hostile need is recorded there (the attendance
    # form, and 発表会で対面 on the pairing, show them)
    held_on = today_jst().isoformat()
    event = ok(
        coord.post(
            "/api/events",
            json={"title": hostile(2), "held_on": held_on, "fields": [8], "keywords": hostile(3)},
        ),
        201,
    )
    ok(coord.post(f"/api/events/{event['id']}/needs", json={"need_id": need["id"]}))
    ok(coord.post(f"/api/events/{event['id']}/groups", json={"organization_id": org["id"]}))
    event_page = f"/events/{event['id']}"
    r = post_form(world.page("coord")[0], event_page, f"{event_page}/invite", {})
    assert r.status_code == 303, r.text
    recorded = {"attended": str(org["id"]), "interest": f"{org['id']}:{need['id']}"}
    r = post_form(world.page("coord")[0], event_page, f"{event_page}/attendance", recorded)
    assert r.status_code == 303, r.text
    fy = str(fiscal_year(date.today()))
    world.ids = {
        "need_id": [("need", str(need["id"]))],
        "org_id": [("own_org", str(org["id"])), ("org", str(orgs["P1"]))],
        "suggestion_id": [("suggestion", str(paired["id"])), ("rejected", str(pending["id"]))],
        "kind": [(k, k) for k in ("needs", "organizations", "suggestions", "decisions")],
        "fmt": [("csv", "csv"), ("xlsx", "xlsx")],
        "fiscal_year": [("fy", fy)],
        "fy": [("fy", fy)],
        "token": [("token", SCRIPT)],
        "meeting_id": [("meeting", str(meeting["id"])), ("proposal", str(proposal["id"]))],
        "event_id": [("event", str(event["id"]))],
    }
    world.ids["kind"].append(("pairings", "pairings"))
    return world


def check_html(r: httpx.Response, where: str) -> list[str]:
    parser = Markup()
    parser.feed(r.text)
    problems = [f"{where}: {found}" for found in parser.found]
    if "<script>alert" in r.text:
        problems.append(f"{where}: raw <script>alert")
    if "1337" in r.text:
        problems.append(f"{where}: a template evaluated {TEMPLATE}")
    if "script-src" not in r.headers.get("content-security-policy", ""):
        problems.append(f"{where}: no Content-Security-Policy")
    return problems


def cells(r: httpx.Response) -> list[str]:
    """Every text cell of a CSV or XLSX answer (a formula cell as its formula)."""
    kind = r.headers.get("content-type", "")
    if "csv" in kind:
        return [c for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) for c in row]
    book = load_workbook(io.BytesIO(r.content))
    return [
        str(c.value) if c.data_type != "f" else f"={c.value}"
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]


def test_no_payload_runs_on_any_page_or_in_any_export(world: World) -> None:
    problems: list[str] = []
    pages = exports = neutralised = 0
    for method, path in sorted(app_routes(world.api.app)):
        if method != "GET":
            continue
        for objects, url in fillings(world, path):
            for user in ROLES:
                if not allowed(ROUTES[(method, path)], user, objects, world.owner):
                    continue
                client = world.bearer(user) if path.startswith("/api/") else world.page(user)[0]
                r = client.get(url)
                kind = r.headers.get("content-type", "")
                where = f"{user} GET {url} ({r.status_code})"
                if r.status_code >= 500:
                    problems.append(where)
                elif "text/html" in kind:
                    pages += 1
                    problems += check_html(r, where)
                elif "csv" in kind or "spreadsheet" in kind:
                    exports += 1
                    text = cells(r)
                    problems += [
                        f"{where}: live {c[:40]!r}" for c in text if c[:1] in tuple("=+-@")
                    ]
                    neutralised += sum(c.startswith("'") and "alert(1)" in c for c in text)
    assert not problems, "\n".join(problems)
    assert pages >= 60 and exports >= 10 and neutralised >= 20, (pages, exports, neutralised)
    print(f"{pages} page loads, {exports} exports ({neutralised} payload cells) checked")


def test_the_payloads_are_shown_as_text(world: World) -> None:
    """The escaping is there (not the page leaving the field out): the need's page shows
    every payload as text, the template syntax literally."""
    need = world.ids["need_id"][0][1]
    for user in ("coord", "bousai", "npo1"):
        text = world.page(user)[0].get(f"/needs/{need}").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, user
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text, user
        assert TEMPLATE in text, user
    public = world.page("anon")[0].get(f"/public/needs/{need}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in public and TEMPLATE in public
    suggestion = world.ids["suggestion_id"][0][1]
    for user in ("coord", "bousai", "npo1"):  # the meetings' free text, to every party
        text = world.page(user)[0].get(f"/suggestions/{suggestion}/meetings").text
        assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7, user
        assert TEMPLATE in text, user
        assert (
            '中止の理由</dt><dd class="pre">=HYPERLINK(&#34;x&#34;){{7*191}}&lt;script&gt;' in text
        )
    edit = world.page("coord")[0].get(f"/meetings/{world.ids['meeting_id'][0][1]}/edit").text
    assert edit.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5
    queue = world.page("coord")[0].get("/queue").text  # the department's note
    assert "防災危機管理室からの提案</strong>: -1+1{{7*191}}&lt;script&gt;" in queue
    users = world.page("coord")[0].get("/users").text  # the hostile display name
    assert "+1+1{{7*191}}&lt;script&gt;alert(1)&lt;/script&gt;" in users
    event = world.ids["event_id"][0][1]
    # the event's name, its keywords, the group (and on the printable programme, the need)
    for url in ("/events", f"/events/{event}", f"/events/{event}/programme"):
        text = world.page("coord")[0].get(url).text
        assert "-1+1{{7*191}}&lt;script&gt;alert(1)&lt;/script&gt;" in text, url
        assert "@SUM(1){{7*191}}&lt;script&gt;alert(1)&lt;/script&gt;" in text, url
    programme = world.page("coord")[0].get(f"/events/{event}/programme").text
    assert "+1+1{{7*191}}&lt;script&gt;alert(1)&lt;/script&gt;" in programme  # need, group
    assert (
        check_html(
            world.page("coord")[0].get(f"/events/{event}/programme", params={"start": SCRIPT}),
            "programme with a hostile start",
        )
        == []
    )
    recorded = world.page("coord")[0].get(f"/events/{event}").text  # the attendance form
    assert "当日の記録を保存する" in recorded
    assert 'checked aria-label="+1+1{{7*191}}&lt;' in recorded
    pairing = world.page("coord")[0].get(f"/suggestions/{world.ids['suggestion_id'][0][1]}").text
    assert "分野別発表会「-1+1{{7*191}}&lt;script&gt;alert(1)&lt;/script&gt;" in pairing
    searched = world.page("coord")[0].get(
        f"/events/{event}", params={"need_q": SCRIPT, "org_q": BREAKOUT}
    )
    assert searched.status_code == 200 and check_html(searched, "event search") == []
    assert "「&lt;script&gt;alert(1)&lt;/script&gt;」に当たる" in searched.text


PAGES = [
    "/needs",
    "/orgs",
    "/queue",
    "/pairings",
    "/mail",
    "/public/needs",
    "/login",
    "/events",
    "/audit",
]


def test_reflected_query_parameters_are_escaped(api: Server) -> None:
    world = World(api, {}, {})
    for path in PAGES:
        user = "anon" if path.startswith(("/public", "/login")) else "coord"
        for query in ({"q": hostile(0)}, {"next": JS_URL}, {"page": BREAKOUT}, {"state": SCRIPT}):
            r = world.page(user)[0].get(path, params=query)
            assert r.status_code < 500 and "text/html" in r.headers["content-type"]
            assert check_html(r, f"{path}?{query}") == []


def test_the_stale_edit_page_shows_what_was_typed_and_what_is_saved_as_text(
    world: World,
) -> None:
    """The 409 page of a stale edit holds both sides: the typed form and the saved text."""
    need = world.ids["need_id"][0][1]
    org = world.ids["org_id"][0][1]
    version = re.compile(r'name="version" value="([^"]+)"')
    for user, page, other, fields in (
        ("bousai", f"/needs/{need}/edit", f"/api/needs/{need}", ("title", "description")),
        ("npo1", f"/orgs/{org}/edit", f"/api/organizations/{org}", ("name", "activities")),
    ):
        client = world.page(user)[0]
        form = client.get(page)
        read = version.search(form.text)
        assert read, page
        saved = {fields[0]: hostile(2), fields[1]: hostile(3) + " 保存済み"}
        ok(world.bearer("coord").patch(other, json=saved))
        typed = {fields[0]: hostile(1), fields[1]: hostile(0) + " 入力中"}
        r = client.post(
            page,
            data={"csrf_token": csrf_of(form), "version": read.group(1), "status": "published"}
            | typed,
        )
        assert r.status_code == 409, (page, r.text)
        assert check_html(r, f"{user} stale POST {page}") == []
        assert "保存済み" in r.text and "入力中" in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and TEMPLATE in r.text


def test_the_audit_log_filters_are_escaped(api: Server) -> None:
    """The audit page's free-text filter (a login name) and its other filters come back
    in the form as text; a login name tried with a payload shows in the log as text."""
    anon = World(api, {}, {}).page("anon")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/login").text)
    assert token
    tried = {"username": hostile(0, 100), "password": "x", "csrf_token": token.group(1)}
    assert anon.post("/login", data=tried).status_code == 401
    coord = World(api, {}, {}).page("coord")[0]
    for query in (
        {"user": hostile(1, 100)},
        {"since": BREAKOUT, "until": SCRIPT},
        {"entity": BREAKOUT, "action": SCRIPT, "object_id": JS_URL},
        {"action": "login_failed"},
    ):
        r = coord.get("/audit", params=query)
        assert r.status_code == 200 and check_html(r, f"/audit?{query}") == []
    assert (
        "+1+1{{7*191}}&lt;script&gt;alert(1)&lt;/script&gt;"
        in coord.get("/audit", params={"user": hostile(1, 100)}).text
    )
    assert "=HYPERLINK(&#34;x&#34;){{7*191}}&lt;script&gt;" in r.text  # the name tried
