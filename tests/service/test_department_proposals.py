"""A department proposes a group for its own need: the pairing enters the coordinator's
review queue, marked as the department's proposal, survives every refresh of the
stored suggestions, and is decided like any suggestion."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlmodel import Session, col, select

from service.deadlines import today_jst
from service.models import BY_DEPARTMENT, AuditLog, Suggestion

from .conftest import PASSWORD, Server
from .helpers import csrf_of, need_payload, ok, page_login, seed
from .test_empty_tables import stray_headers

NOTE = "昨年度の防災訓練で一緒に活動し、地域の子ども会とつながりのある団体です。"


def login(api: Server, user: str) -> httpx.Client:
    client = page_login(api.url, user, PASSWORD)
    api.clients.append(client)
    return client


def propose_on_page(
    client: httpx.Client, need_id: int, org_id: int, comment: str
) -> httpx.Response:
    page = client.get(f"/needs/{need_id}/propose")
    assert page.status_code == 200, page.text
    assert 'id="propose-q"' in page.text and "この協働の種に団体を提案する" in page.text
    assert f'<form method="post" action="/needs/{need_id}/propose">' in page.text
    return client.post(
        f"/needs/{need_id}/propose",
        data={"csrf_token": csrf_of(page), "organization_id": str(org_id), "comment": comment},
    )


def stored(api: Server, need_id: int, org_id: int) -> Suggestion:
    with Session(api.engine) as s:  # type: ignore[arg-type]
        return s.exec(
            select(Suggestion).where(
                Suggestion.need_id == need_id, Suggestion.organization_id == org_id
            )
        ).one()


def test_a_departments_proposal_enters_the_queue_marked_and_is_decided_there(
    api: Server,
) -> None:
    coord_api = api.client("coord")
    needs, orgs = seed(coord_api)
    need, org = needs["N2"], orgs["P3"]  # 防災危機管理室's need
    bousai = login(api, "bousai")
    # the department's need page offers the proposal
    assert f'href="/needs/{need}/propose"' in bousai.get(f"/needs/{need}").text
    # the picker searches the groups like the coordinator's
    name = ok(coord_api.get(f"/api/organizations/{org}"))["name"]
    found = bousai.get(f"/needs/{need}/propose", params={"q": name})
    assert found.status_code == 200 and name in found.text
    assert not stray_headers(found.text)
    # the pair is no suggestion yet (if the ranking stored one, it is taken away)
    with Session(api.engine) as s:  # type: ignore[arg-type]
        for row in s.exec(
            select(Suggestion).where(Suggestion.need_id == need, Suggestion.organization_id == org)
        ):
            s.delete(row)
        s.commit()
    r = propose_on_page(bousai, need, org, NOTE)
    assert r.status_code == 303 and r.headers["location"] == f"/needs/{need}?msg=proposed"
    row = stored(api, need, org)
    assert (row.status, row.rank, row.model_version) == ("pending", None, BY_DEPARTMENT)
    assert row.reasons["proposal"] == {"department": "防災危機管理室", "comment": NOTE}
    assert row.reasons.get("terms") is not None  # the reasons the ranker would give
    with Session(api.engine) as s:  # type: ignore[arg-type]
        assert s.exec(
            select(AuditLog).where(col(AuditLog.action) == "propose", AuditLog.entity_id == row.id)
        ).one()
    # the department sees it among the groups being considered, marked
    page = bousai.get(f"/needs/{need}?msg=proposed").text
    assert "団体を提案しました" in page and "担当課からの提案" in page
    # the coordinator's queue holds it first for the need, with the department's note,
    # through a refit and the refresh that follows
    queue = ok(coord_api.get("/api/review-queue", params={"need_id": need, "limit": 100}))
    mine = [s for s in queue["items"] if s["organization_id"] == org]
    assert mine and mine[0]["model_version"] == BY_DEPARTMENT and mine[0]["rank"] is None
    coord = login(api, "coord")
    text = coord.get("/queue").text
    assert "防災危機管理室からの提案" in text and NOTE in text
    block = text[text.index(f'id="s-{row.id}"') :]
    assert "担当課からの提案" in block[:600]
    refit = coord_api.post("/api/index/refit")
    assert refit.status_code < 300, refit.text
    assert "防災危機管理室からの提案" in coord.get("/queue").text
    again = stored(api, need, org)
    assert (again.model_version, again.rank, again.reasons["proposal"]["comment"]) == (
        BY_DEPARTMENT,
        None,
        NOTE,
    )
    # the suggestion's page says where it came from
    assert "担当課からの提案" in coord.get(f"/suggestions/{row.id}").text
    # decided like any suggestion
    ok(
        coord_api.post(
            f"/api/suggestions/{row.id}/decision",
            json={"action": "confirm", "comment": "", "version": again.version},
        )
    )
    confirmed = bousai.get(f"/needs/{need}").text
    assert f'href="/suggestions/{row.id}"' in confirmed
    # the same group twice is refused, in the API and on the page
    twice = api.client("bousai").post(
        f"/api/needs/{need}/proposals", json={"organization_id": org, "comment": ""}
    )
    assert twice.status_code == 409 and twice.json()["code"] == "ALREADY_SUGGESTED"
    page_twice = propose_on_page(bousai, need, org, "")
    assert (
        page_twice.status_code == 409 and "すでにこの協働の種で検討されています" in page_twice.text
    )
    assert f'href="/needs/{need}"' in page_twice.text
    # and the picker shows it as considered, with no button for it
    picked = bousai.get(f"/needs/{need}/propose", params={"q": name}).text
    assert f'name="organization_id" value="{org}"' not in picked


def test_the_api_proposal_and_who_may_propose(api: Server) -> None:
    coord_api = api.client("coord")
    needs, _ = seed(coord_api)
    need = needs["N2"]
    candidates = login(api, "bousai").get(f"/needs/{need}/propose").text
    free = [int(v) for v in re.findall(r'name="organization_id" value="(\d+)"', candidates)]
    assert free, "no group to propose"
    made = api.client("bousai").post(
        f"/api/needs/{need}/proposals", json={"organization_id": free[0], "comment": "API"}
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["model_version"] == BY_DEPARTMENT and body["status"] == "pending"
    # another section's need is not found; a group and the coordinator may not propose
    for user, status in (("kourei", 404), ("npo1", 403), ("coord", 403)):
        r = api.client(user).post(
            f"/api/needs/{need}/proposals", json={"organization_id": free[-1], "comment": ""}
        )
        assert r.status_code == status, (user, r.text)
    assert login(api, "kourei").get(f"/needs/{need}/propose").status_code == 404
    # a draft and an expired need take no proposal
    draft = ok(
        api.client("bousai").post(
            "/api/needs", json=need_payload(1, key="DRAFT1", status="draft", department=None)
        ),
        201,
    )
    r = api.client("bousai").post(
        f"/api/needs/{draft['id']}/proposals", json={"organization_id": free[-1]}
    )
    assert r.status_code == 409 and r.json()["code"] == "NEED_NOT_PUBLISHED"
    bousai = login(api, "bousai")
    assert bousai.get(f"/needs/{draft['id']}/propose").headers["location"] == (
        f"/needs/{draft['id']}"
    )
    yesterday = (today_jst() - timedelta(days=1)).isoformat()
    ok(coord_api.patch(f"/api/needs/{need}", json={"deadline": yesterday}))
    r = api.client("bousai").post(
        f"/api/needs/{need}/proposals", json={"organization_id": free[-1]}
    )
    assert r.status_code == 409 and r.json()["code"] == "NEED_EXPIRED"
    assert 'href="/needs/' + str(need) + '/propose"' not in bousai.get(f"/needs/{need}").text
    # a bad body is a 422 in Japanese
    r = api.client("bousai").post(f"/api/needs/{need}/proposals", json={"comment": "x"})
    assert r.status_code == 422
