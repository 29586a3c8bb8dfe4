"""Each role's workflow end to end over HTTP: register, post, suggest, decide, move on."""

from __future__ import annotations

from sqlmodel import Session, select

from service.models import AuditLog, Decision

from .conftest import Server
from .helpers import need_payload, ok, org_payload, seed


def test_login_required_and_japanese_errors(api: Server) -> None:
    with api.client() as anon:
        r = anon.get("/api/needs")
        assert r.status_code == 401
        assert r.json()["code"] == "UNAUTHORIZED" and "ログイン" in r.json()["message"]
        bad = anon.post("/api/auth/token", data={"username": "coord", "password": "wrong-password"})
        assert bad.status_code == 401 and bad.json()["code"] == "BAD_CREDENTIALS"
        assert ok(anon.get("/api/health")) == {"status": "ok"}
    with api.client("bousai") as dept:
        me = ok(dept.get("/api/auth/me"))
        assert (me["role"], me["department"]) == ("department", "防災危機管理室")


def test_whole_workflow_for_every_role(api: Server) -> None:
    coord, dept, npo = api.client("coord"), api.client("bousai"), api.client("npo1")
    # an NPO registers its own profile and sees its own contact details
    mine = ok(npo.post("/api/organizations", json=org_payload(2, key=None)), 201)
    assert mine["contact"] is not None
    # the coordinator registers the others
    for i in (0, 1, 3, 4):
        ok(coord.post("/api/organizations", json=org_payload(i)), 201)
    # a department posts a need for its own section (the department is implied)
    body = need_payload(1)
    del body["department"]
    need = ok(dept.post("/api/needs", json=body), 201)
    assert need["department"] == "防災危機管理室" and need["contact_name"] == ""
    # the coordinator sees ranked suggestions with reasons; the group's profile is first
    suggestions = ok(coord.get(f"/api/needs/{need['id']}/suggestions"))
    assert suggestions[0]["organization_id"] == mine["id"]
    assert suggestions[0]["rank"] == 1 and suggestions[0]["status"] == "pending"
    assert suggestions[0]["reasons"]["terms"] and suggestions[0]["reasons"]["reasons"][
        0
    ].startswith("共通する語")
    assert [s["score"] for s in suggestions] == sorted(
        (s["score"] for s in suggestions), reverse=True
    )
    assert suggestions[0]["index_version"] and suggestions[0]["model_version"]
    # the department sees nothing before a confirmation
    assert ok(dept.get(f"/api/needs/{need['id']}/suggestions")) == []
    first = suggestions[0]
    confirmed = ok(
        coord.post(
            f"/api/suggestions/{first['id']}/decision",
            json={
                "action": "confirm",
                "comment": "防災教育の実績あり",
                "version": first["version"],
            },
        )
    )
    assert (confirmed["status"], confirmed["version"]) == ("confirmed", first["version"] + 1)
    if len(suggestions) > 1:
        second = suggestions[1]
        rejected = ok(
            coord.post(
                f"/api/suggestions/{second['id']}/decision",
                json={"action": "reject", "reason_code": "分野違い", "version": second["version"]},
            )
        )
        assert rejected["status"] == "rejected"
    # now the department sees the confirmed group, and only that one
    seen = ok(dept.get(f"/api/needs/{need['id']}/suggestions"))
    assert [s["id"] for s in seen] == [first["id"]]
    # 事前打ち合わせ設定 → 協働事業化, each step recorded with who and when
    step = ok(
        coord.post(
            f"/api/suggestions/{first['id']}/stage",
            json={"stage": "meeting_arranged", "version": confirmed["version"]},
        )
    )
    done = ok(
        coord.post(
            f"/api/suggestions/{first['id']}/stage",
            json={"stage": "project_started", "version": step["version"]},
        )
    )
    assert done["stage"] == "project_started"
    history = ok(coord.get(f"/api/suggestions/{first['id']}/history"))
    assert [h["action"] for h in history] == ["confirm", "meeting_arranged", "project_started"]
    assert {h["user"] for h in history} == {"coord"} and all(h["created_at"] for h in history)
    # the group sees the need suggested for it
    mine_suggested = ok(npo.get(f"/api/organizations/{mine['id']}/suggestions"))
    assert need["id"] in [s["need"]["id"] for s in mine_suggested]
    assert all(s["need"]["contact_name"] is None for s in mine_suggested)
    # everything was audited
    with Session(api.engine) as session:  # type: ignore[arg-type]
        actions = [(a.entity, a.action) for a in session.exec(select(AuditLog)).all()]
        assert ("need", "create") in actions and ("organization", "create") in actions
        assert ("suggestion", "decide") in actions and ("suggestion", "stage") in actions
        assert len(session.exec(select(Decision)).all()) >= 3


def test_revised_decision_keeps_history(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    s = ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))[0]
    c = ok(
        coord.post(
            f"/api/suggestions/{s['id']}/decision",
            json={"action": "confirm", "version": s["version"]},
        )
    )
    r = ok(
        coord.post(
            f"/api/suggestions/{s['id']}/decision",
            json={
                "action": "reject",
                "reason_code": "体制不足",
                "comment": "人手が足りない",
                "version": c["version"],
            },
        )
    )
    assert r["status"] == "rejected"
    history = ok(coord.get(f"/api/suggestions/{s['id']}/history"))
    assert [(h["action"], h["reason_code"]) for h in history] == [
        ("confirm", None),
        ("reject", "体制不足"),
    ]


def test_reject_needs_a_reason_and_stages_follow_rules(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    s = ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))[0]
    r = coord.post(
        f"/api/suggestions/{s['id']}/decision", json={"action": "reject", "version": s["version"]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason_code"
    r = coord.post(
        f"/api/suggestions/{s['id']}/stage",
        json={"stage": "meeting_arranged", "version": s["version"]},
    )
    assert r.status_code == 409 and r.json()["code"] == "NOT_CONFIRMED"
    c = ok(
        coord.post(
            f"/api/suggestions/{s['id']}/decision",
            json={"action": "confirm", "version": s["version"]},
        )
    )
    r = coord.post(
        f"/api/suggestions/{s['id']}/stage",
        json={"stage": "project_started", "version": c["version"]},
    )
    assert r.status_code == 409 and r.json()["code"] == "INVALID_TRANSITION"
    m = ok(
        coord.post(
            f"/api/suggestions/{s['id']}/stage",
            json={"stage": "meeting_arranged", "version": c["version"]},
        )
    )
    r = coord.post(
        f"/api/suggestions/{s['id']}/decision",
        json={"action": "reject", "reason_code": "その他", "version": m["version"]},
    )
    assert r.status_code == 409 and r.json()["code"] == "STAGE_LOCKED"


def test_review_queue_best_first_with_filters(api: Server) -> None:
    coord = api.client("coord")
    _needs, _ = seed(coord)
    page = ok(coord.get("/api/review-queue", params={"limit": 100}))
    scores = [s["score"] for s in page["items"]]
    assert page["total"] == len(page["items"]) > 3
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    only = ok(coord.get("/api/review-queue", params={"department": "環境政策課"}))
    assert only["total"] > 0 and {s["department"] for s in only["items"]} == {"環境政策課"}
    first = page["items"][0]
    ok(
        coord.post(
            f"/api/suggestions/{first['id']}/decision",
            json={"action": "confirm", "version": first["version"]},
        )
    )
    after = ok(coord.get("/api/review-queue", params={"limit": 100}))
    assert (
        first["id"] not in [s["id"] for s in after["items"]] and after["total"] == page["total"] - 1
    )
    paged = ok(coord.get("/api/review-queue", params={"limit": 2, "offset": 1}))
    assert [s["id"] for s in paged["items"]] == [s["id"] for s in after["items"][1:3]]


def test_area_limited_group_ranks_below_local_one(api: Server) -> None:
    coord = api.client("coord")
    needs, orgs = seed(coord)
    ranked = [s["organization_id"] for s in ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))]
    assert ranked.index(orgs["P1"]) < ranked.index(orgs["P2"])


def test_similar_needs_from_other_departments(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    twin = ok(
        coord.post(
            "/api/needs",
            json=need_payload(
                0, key="N9", department="地域福祉課", title="一人暮らし高齢者の見守り"
            ),
        ),
        201,
    )
    similar = ok(coord.get(f"/api/needs/{needs['N1']}/similar"))
    assert similar[0]["need"]["id"] == twin["id"] and similar[0]["score"] > 0.5
    # the need's page shows it to the coordinator
    from .test_pages import login

    page = login(api, "coord").get(f"/needs/{needs['N1']}").text
    section = page.split("似ている協働の種")[1].split("</section>")[0]
    assert f'href="/needs/{twin["id"]}">一人暮らし高齢者の見守り</a>' in section
    assert "放置竹林の整備" not in section


def test_the_api_takes_bearer_tokens_only_never_a_cookie(api: Server) -> None:
    from .conftest import TOKENS

    with api.client() as anon:
        anon.cookies.set("kyodo_session", TOKENS["coord"])
        r = anon.get("/api/needs")
        assert r.status_code == 401
    # logout revokes exactly the token it was called with
    login = api.client().post(
        "/api/auth/token", data={"username": "npo2", "password": "test-password-1234"}
    )
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client().post("/api/auth/logout", headers=headers).status_code == 204
    assert api.client().get("/api/auth/me", headers=headers).status_code == 401
    assert api.client("npo2").get("/api/auth/me").status_code == 200
    # (the probe: a lowercase scheme authenticated, answered 204, and revoked nothing)
    second = api.client().post(
        "/api/auth/token", data={"username": "npo2", "password": "test-password-1234"}
    )
    lower = {"Authorization": f"bearer {second.json()['access_token']}"}
    assert api.client().get("/api/auth/me", headers=lower).status_code == 200
    assert api.client().post("/api/auth/logout", headers=lower).status_code == 204
    assert api.client().get("/api/auth/me", headers=lower).status_code == 401
