"""Every route of the real app × every role, from ``app.routes`` itself: a gate, not a sample.

ROUTES below says who may use each route; a route the app has and the table lacks (or
the reverse) fails ``test_every_route_has_a_rule``, so a new route must be classified.
``test_no_role_gets_past_a_route_it_is_not_allowed`` then calls every route as anonymous,
the coordinator, 防災危機管理室, 高齢福祉課 and a group, with path parameters filled from
seeded data (a published need of 防災, a draft of 高齢福祉課, a group's own organisation
and another one, a suggestion, a registration request, an invitation, a user) and page
forms posted with a valid CSRF token, so that a refusal is the authorization's and not
the CSRF check's. It asserts:

- nobody gets a 5xx;
- a role the table does not allow gets neither a 2xx nor a redirect other than to /login;
- a role the table allows is not refused (401/403, or sent to /login), and gets the
  page (200, or a redirect on to its own page) from every GET;
- nobody but the coordinator and 高齢福祉課 ever reads the draft's marker, on any route.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlmodel import Session

from service.models import TrainingRun

from ..serving import TLS
from .conftest import PASSWORD, Server
from .helpers import csrf_of, need_payload, ok, org_payload, page_login, post_form, seed

ROLES = ("anon", "coord", "bousai", "kourei", "npo1")
MARKER = "DRAFTMARK7F3"  # in the draft's title: only the coordinator and 高齢福祉課 may read it

# Who may use a route. "public": anyone, no login; "user": anyone logged in;
# "coord": the coordinator; "dept": a department, for an object of its own section;
# "dept:needs": a department, exporting needs only; "npo": a group (objects it may see);
# "npo:own": a group, for its own organisation only; "npo*": a group, on any need;
# "npo:party": a group, for a pairing it is the group of (``owner["group:<label>"]``; the
# matrix's pairing is another group's, so npo1 is refused there).
# A draft is never anyone's but the coordinator's and its section's, whatever the route says.
ROUTES: dict[tuple[str, str], str] = {
    # the JSON API
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/api/health"): "public",
    ("POST", "/api/auth/token"): "public",
    ("POST", "/api/auth/logout"): "user",
    ("GET", "/api/auth/me"): "user",
    ("GET", "/api/needs"): "user",
    ("POST", "/api/needs"): "coord dept",
    ("GET", "/api/needs/{need_id}"): "coord dept npo",
    ("PATCH", "/api/needs/{need_id}"): "coord dept",
    ("DELETE", "/api/needs/{need_id}"): "coord dept",
    ("GET", "/api/needs/{need_id}/suggestions"): "coord dept",
    ("GET", "/api/needs/{need_id}/similar"): "coord dept",
    ("POST", "/api/needs/{need_id}/interest"): "npo",
    # idempotent: 204 whatever the need, and only ever removes the group's own interest
    ("DELETE", "/api/needs/{need_id}/interest"): "npo*",
    ("GET", "/api/needs/{need_id}/interests"): "coord dept",
    ("POST", "/api/needs/{need_id}/pairings"): "coord",
    ("POST", "/api/needs/{need_id}/proposals"): "dept",
    ("GET", "/api/organizations"): "user",
    ("POST", "/api/organizations"): "coord npo",
    ("GET", "/api/organizations/{org_id}"): "user",
    ("PATCH", "/api/organizations/{org_id}"): "coord npo:own",
    ("DELETE", "/api/organizations/{org_id}"): "coord npo:own",
    ("GET", "/api/organizations/{org_id}/suggestions"): "coord npo:own",
    ("GET", "/api/review-queue"): "coord",
    ("GET", "/api/suggestions/{suggestion_id}"): "coord dept",
    ("GET", "/api/suggestions/{suggestion_id}/history"): "coord dept",
    ("POST", "/api/suggestions/{suggestion_id}/decision"): "coord",
    ("POST", "/api/suggestions/{suggestion_id}/stage"): "coord",
    ("POST", "/api/suggestions/{suggestion_id}/stage/undo"): "coord",
    # 事前打ち合わせ (the department proposes dates, and changes its own proposals)
    ("GET", "/api/suggestions/{suggestion_id}/meetings"): "coord dept npo:party",
    ("POST", "/api/suggestions/{suggestion_id}/meetings"): "coord dept",
    ("GET", "/api/meetings/{meeting_id}"): "coord dept npo:party",
    ("PATCH", "/api/meetings/{meeting_id}"): "coord dept",
    ("GET", "/api/meetings/{meeting_id}/ics"): "coord dept npo:party",
    # calling a meeting off (the department: a date it proposed)
    ("POST", "/api/meetings/{meeting_id}/cancel"): "coord dept",
    ("POST", "/api/users"): "coord",
    ("POST", "/api/invitations"): "coord",
    ("POST", "/api/index/refit"): "coord",
    ("GET", "/api/index"): "coord",
    ("POST", "/api/model/train"): "coord",
    ("GET", "/api/model/training"): "coord",
    ("GET", "/api/model/training/{run_id}"): "coord",
    ("GET", "/api/models"): "coord",
    ("POST", "/api/import/{kind}"): "coord",
    ("GET", "/api/export/{kind}"): "coord dept:needs",
    ("GET", "/api/reports/{fiscal_year}"): "coord",
    ("GET", "/api/reports/{fiscal_year}/xlsx"): "coord",
    # the pages
    ("GET", "/"): "user",  # anonymous: to /login
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "user",
    ("GET", "/invite/{token}"): "public",
    ("POST", "/invite/{token}"): "public",
    ("GET", "/queue"): "coord",
    ("POST", "/queue/decide"): "coord",
    ("POST", "/suggestions/{suggestion_id}/decide"): "coord",
    ("GET", "/suggestions/{suggestion_id}"): "coord dept",
    ("POST", "/suggestions/{suggestion_id}/stage"): "coord",
    ("GET", "/suggestions/{suggestion_id}/drop"): "coord",
    ("POST", "/suggestions/{suggestion_id}/stage/undo"): "coord",
    ("POST", "/needs/{need_id}/pair"): "coord",
    ("GET", "/pairings"): "coord",
    ("GET", "/needs/{need_id}/pair"): "coord",
    ("GET", "/needs/{need_id}/propose"): "dept",
    ("POST", "/needs/{need_id}/propose"): "dept",
    ("GET", "/needs/new"): "coord dept",
    ("POST", "/needs/new"): "coord dept",
    ("GET", "/needs/{need_id}/edit"): "coord dept",
    ("POST", "/needs/{need_id}/edit"): "coord dept",
    ("POST", "/needs/{need_id}/withdraw"): "coord dept",
    ("POST", "/needs/{need_id}/interest"): "npo",
    ("GET", "/needs"): "user",
    ("GET", "/needs/{need_id}"): "coord dept npo",
    ("GET", "/my"): "dept npo",
    ("GET", "/orgs/new"): "coord",  # and a group without an organisation (npo1 has one)
    ("POST", "/orgs/new"): "coord",
    ("GET", "/orgs/{org_id}/edit"): "coord npo:own",
    ("POST", "/orgs/{org_id}/edit"): "coord npo:own",
    ("GET", "/orgs"): "coord dept",
    ("GET", "/orgs/{org_id}"): "user",
    ("POST", "/orgs/{org_id}/withdraw"): "coord npo:own",
    ("GET", "/dashboard"): "coord",
    ("GET", "/dashboard/{fy}.xlsx"): "coord",
    ("GET", "/models"): "coord",
    ("POST", "/models/train"): "coord",
    ("GET", "/users"): "coord",
    ("POST", "/users/invite"): "coord",
    ("POST", "/users/{user_id}/active"): "coord",
    ("POST", "/users/unlock"): "coord",
    ("POST", "/users/{user_id}/reset"): "coord",
    ("GET", "/account"): "user",
    ("POST", "/account"): "user",
    ("GET", "/account/mail"): "user",
    ("POST", "/account/mail"): "user",
    ("GET", "/files"): "coord",
    ("POST", "/files/import"): "coord",
    ("POST", "/files/import/{upload_id}"): "coord",
    ("GET", "/files/export/{kind}.{fmt}"): "coord dept:needs",
    ("GET", "/public/needs"): "public",
    ("GET", "/public/needs.csv"): "public",
    ("GET", "/public/needs.json"): "public",
    ("GET", "/public/needs.atom"): "public",
    ("GET", "/public/needs/{need_id}"): "public",
    ("POST", "/public/needs/{need_id}/register"): "public",
    ("GET", "/public/needs/{need_id}/registered"): "public",
    ("GET", "/registrations"): "coord",
    ("POST", "/registrations/{request_id}/approve"): "coord",
    ("POST", "/registrations/{request_id}/decline"): "coord",
    ("GET", "/mail"): "coord",
    ("GET", "/audit"): "coord",
    ("GET", "/audit.csv"): "coord",
    ("GET", "/suggestions/{suggestion_id}/meetings"): "coord dept npo:party",
    ("POST", "/suggestions/{suggestion_id}/meetings"): "coord dept",
    ("GET", "/meetings/{meeting_id}/edit"): "coord dept",
    ("POST", "/meetings/{meeting_id}/edit"): "coord dept",
    ("GET", "/meetings/{meeting_id}.ics"): "coord dept npo:party",
    ("POST", "/meetings/{meeting_id}/cancel"): "coord dept",
    # the 分野別発表会 planner
    ("GET", "/api/events"): "coord",
    ("POST", "/api/events"): "coord",
    ("GET", "/api/events/{event_id}"): "coord",
    ("POST", "/api/events/{event_id}/needs"): "coord",
    ("DELETE", "/api/events/{event_id}/needs/{need_id}"): "coord",
    ("POST", "/api/events/{event_id}/groups"): "coord",
    ("DELETE", "/api/events/{event_id}/groups/{org_id}"): "coord",
    ("GET", "/events"): "coord",
    ("GET", "/events/new"): "coord",
    ("POST", "/events/new"): "coord",
    ("GET", "/events/{event_id}"): "coord",
    ("POST", "/events/{event_id}/edit"): "coord",
    ("POST", "/events/{event_id}/propose"): "coord",
    ("POST", "/events/{event_id}/needs"): "coord",
    ("POST", "/events/{event_id}/needs/{need_id}/remove"): "coord",
    ("POST", "/events/{event_id}/groups"): "coord",
    ("POST", "/events/{event_id}/groups/{org_id}/remove"): "coord",
    ("GET", "/events/{event_id}/invitations.{fmt}"): "coord",
    ("GET", "/events/{event_id}/programme"): "coord",
    ("POST", "/events/{event_id}/invite"): "coord",
    ("POST", "/events/{event_id}/attendance"): "coord",
}
# the routes that end a session or change what later calls see: run last, on fresh logins
LAST = ("logout", "withdraw", "active", "approve", "decline", "undo", "DELETE")


def app_routes(app: object) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, but static files and HEAD."""
    out = set()
    for route in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        if path.startswith("/static"):
            continue
        out |= {(m, path) for m in (route.methods or ()) if m != "HEAD"}
    return out


@dataclass
class World:
    api: Server
    ids: dict[str, list[tuple[str, str]]]  # path parameter -> [(label, value)]
    owner: dict[str, str]  # object label -> the user whose section or group owns it
    pages: dict[str, httpx.Client] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)

    def page(self, user: str, fresh: bool = False) -> tuple[httpx.Client, str]:
        """A page client (session cookie; anonymous: the pre-login cookie) and its token."""
        if fresh or user not in self.pages:
            if user == "anon":
                client = httpx.Client(verify=TLS, base_url=self.api.url, timeout=30)
                token = csrf_of(client.get("/login"))
            else:
                client = page_login(self.api.url, user, PASSWORD)
                token = csrf_of(client.get("/account"))
            self.api.clients.append(client)
            if fresh:
                return client, token
            self.pages[user], self.csrf[user] = client, token
        return self.pages[user], self.csrf[user]

    def bearer(self, user: str, fresh: bool = False) -> httpx.Client:
        if user == "anon":
            return self.api.client()
        if not fresh:
            return self.api.client(user)
        r = httpx.post(
            f"{self.api.url}/api/auth/token", data={"username": user, "password": PASSWORD}
        )
        client = httpx.Client(
            verify=TLS,
            base_url=self.api.url,
            headers={"Authorization": f"Bearer {ok(r)['access_token']}"},
            timeout=30,
        )
        self.api.clients.append(client)
        return client


@pytest.fixture
def world(api: Server) -> Iterator[World]:
    coord = api.client("coord")
    needs, orgs = seed(coord)
    own = ok(api.client("npo1").post("/api/organizations", json=org_payload(2, key="OWN")), 201)
    draft = ok(
        api.client("kourei").post(
            "/api/needs",
            json=need_payload(
                0, key="KD1", title=f"下書き {MARKER}", department=None, status="draft"
            ),
        ),
        201,
    )
    assert draft["status"] == "draft" and draft["department"] == "高齢福祉課"
    bousai_need = needs["N2"]
    suggestion = ok(coord.get(f"/api/needs/{bousai_need}/suggestions"))[0]
    ok(
        coord.post(
            f"/api/suggestions/{suggestion['id']}/decision",
            json={"action": "confirm", "version": suggestion["version"]},
        )
    )
    # a date 防災危機管理室 proposed for the pairing (a proposal: the section may change it)
    when = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    meeting = ok(
        api.client("bousai").post(
            f"/api/suggestions/{suggestion['id']}/meetings",
            json={"date": when, "start": "10:00", "place": "本庁舎 会議室"},
        ),
        201,
    )
    assert meeting["status"] == "proposed"
    victim = ok(
        coord.post(
            "/api/users",
            json={
                "username": f"victim{uuid.uuid4().hex[:8]}",
                "password": "long-password-1",
                "role": "npo",
            },
        ),
        201,
    )
    invitation = ok(coord.post("/api/invitations", json={"role": "npo"}), 201)
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30)
    api.clients.append(anon)
    form: dict[str, object] = {
        "group_name": "テストの会",
        "contact_name": "山田",
        "email": "yamada@example.org",
        "profile": "地域の見守り",
    }
    r = post_form(
        anon, f"/public/needs/{bousai_need}", f"/public/needs/{bousai_need}/register", form
    )
    assert r.status_code == 303, r.text
    with api.engine.connect() as conn:  # type: ignore[attr-defined]
        request_id = conn.exec_driver_sql("SELECT max(id) FROM registration_request").scalar()
    held_on = (date.today() + timedelta(days=60)).isoformat()
    event = ok(
        coord.post(
            "/api/events", json={"title": "防災の発表会", "held_on": held_on, "fields": [8]}
        ),
        201,
    )
    with Session(api.engine) as session:  # type: ignore[arg-type]
        ended = TrainingRun(state="done", slot=None, finished_at=datetime.now(UTC))
        session.add(ended)
        session.commit()
        run_id = ended.id
    ids = {
        "run_id": [("run", str(run_id))],
        "need_id": [("bousai_need", str(bousai_need)), ("kourei_draft", str(draft["id"]))],
        "org_id": [("org", str(orgs["P1"])), ("own_org", str(own["id"]))],
        "suggestion_id": [("suggestion", str(suggestion["id"]))],
        "request_id": [("request", str(request_id))],
        "meeting_id": [("meeting", str(meeting["id"]))],
        "event_id": [("event", str(event["id"]))],
        "user_id": [("victim", str(victim["id"]))],
        "token": [("invitation", invitation["path"].rsplit("/", 1)[1])],
        "upload_id": [("upload", "1")],
        "kind": [("needs", "needs"), ("organizations", "organizations")],
        "fmt": [("csv", "csv")],
        "fiscal_year": [("fy", "2025")],
        "fy": [("fy", "2025")],
    }
    owner = {
        "bousai_need": "bousai",
        "kourei_draft": "kourei",
        "suggestion": "bousai",
        "meeting": "bousai",
    }
    owner["own_org"] = "npo1"
    yield World(api, ids, owner)


def allowed(spec: str, user: str, objects: list[str], owner: dict[str, str]) -> bool:
    """Whether ``spec`` (a ROUTES value) lets ``user`` use the route on ``objects``."""
    tokens = set(spec.split())
    if user == "npo1" and "npo*" in tokens:
        return True
    if "kourei_draft" in objects and user not in ("coord", "kourei"):
        return False
    owners = {owner[o] for o in objects if o in owner}
    if "public" in tokens or (user != "anon" and "user" in tokens):
        return True
    if user == "coord":
        return "coord" in tokens
    if user in ("bousai", "kourei"):
        if "dept:needs" in tokens and "needs" in objects:
            return True
        return "dept" in tokens and owners <= {user}
    if user == "npo1":
        party = "npo:party" in tokens and any(owner.get(f"group:{o}") == user for o in objects)
        return "npo" in tokens or party or ("npo:own" in tokens and "own_org" in objects)
    return False


def fillings(world: World, path: str) -> list[tuple[list[str], str]]:
    """The path with its parameters filled, once per combination of seeded objects."""
    out: list[tuple[list[str], str]] = [([], path)]
    for param, choices in world.ids.items():
        if "{" + param + "}" not in path:
            continue
        out = [
            ([*labels, label], filled.replace("{" + param + "}", value))
            for labels, filled in out
            for label, value in choices
        ]
    return out


def call(world: World, user: str, method: str, path: str, url: str) -> httpx.Response:
    fresh = "logout" in path or (path == "/login" and user == "anon")
    if path.startswith("/api/"):
        return world.bearer(user, fresh).request(method, url, json={} if method != "GET" else None)
    client, token = world.page(user, fresh)
    if method == "GET":
        return client.get(url)
    data = {"csrf_token": token}
    if path != "/login":
        return client.request(method, url, data=data)
    # the answer to no credentials is a 401: log in for real (a new session, a new token)
    data |= {"username": "npo2" if user == "anon" else user, "password": PASSWORD}
    r = client.post(url, data=data)
    if not fresh:
        world.csrf[user] = csrf_of(client.get("/account"))
    return r


def test_every_route_has_a_rule(api: Server) -> None:
    routes = app_routes(api.app)
    assert routes - ROUTES.keys() == set(), "classify these new routes in ROUTES"
    assert ROUTES.keys() - routes == set(), "these routes are gone: drop them from ROUTES"
    assert len(routes) > 90


def test_no_role_gets_past_a_route_it_is_not_allowed(world: World) -> None:
    routes = sorted(
        app_routes(world.api.app),
        key=lambda mp: (any(w in mp[1] or w == mp[0] for w in LAST), mp[0] != "GET", mp),
    )
    problems: list[str] = []
    cells = 0
    for method, path in routes:
        spec = ROUTES[(method, path)]
        for objects, url in fillings(world, path):
            may = {u: allowed(spec, u, objects, world.owner) for u in ROLES}
            for user in sorted(ROLES, key=lambda u: may[u]):  # refusals first: nothing changed
                r = call(world, user, method, path, url)
                cells += 1
                where = r.headers.get("location", "")
                sent_to_login = where.startswith("/login") and "msg=logout" not in where
                got_in = r.status_code < 300 or (
                    r.status_code < 400 and not where.startswith("/login")
                )
                cell = f"{user} {method} {url} ({'allowed' if may[user] else 'refused'})"
                if r.status_code >= 500:
                    problems.append(f"{cell}: {r.status_code}")
                elif not may[user] and got_in:
                    problems.append(f"{cell}: got in with {r.status_code} {where}")
                elif may[user] and (r.status_code in (401, 403) or sent_to_login):
                    problems.append(f"{cell}: refused with {r.status_code} {where}")
                elif may[user] and method == "GET" and r.status_code not in (200, 303):
                    # a draft has no public page, not even for its own section
                    if not (path.startswith("/public/") and "kourei_draft" in objects):
                        problems.append(f"{cell}: {r.status_code} for a page it may see")
                if user not in ("coord", "kourei") and MARKER in r.text:
                    problems.append(f"{cell}: shows 高齢福祉課's draft")
    assert not problems, "\n".join(problems)
    assert cells >= 5 * len(ROUTES)
    print(f"{cells} role × route cells")
