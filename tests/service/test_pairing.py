"""Pairings the coordinator knows of but the ranking did not suggest: recorded, confirmed at
once, shown like any confirmed suggestion, and learned from."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from service.index import item_key
from service.training import stored_decisions

from .conftest import Server
from .helpers import ok, post_form, seed
from .test_pages import login


def _unsuggested(coord, need_id: int, orgs: dict[str, int]) -> int:  # type: ignore[no-untyped-def]
    suggested = {s["organization_id"] for s in ok(coord.get(f"/api/needs/{need_id}/suggestions"))}
    rest = sorted(set(orgs.values()) - suggested)
    assert rest, "every toy group is already suggested for this need"
    return rest[0]


def test_the_coordinator_pairs_a_group_the_ranking_missed(api: Server) -> None:
    coord = api.client("coord")
    needs, orgs = seed(coord)
    need = needs["N2"]  # 防災危機管理室's need
    org = _unsuggested(coord, need, orgs)
    fy = date.today().year - (date.today().month < 4)
    before = ok(coord.get(f"/api/reports/{fy}"))["totals"]
    made = ok(
        coord.post(
            f"/api/needs/{need}/pairings",
            json={"organization_id": org, "comment": "昨年の防災訓練で一緒に活動した団体"},
        ),
        201,
    )
    assert made["status"] == "confirmed" and made["rank"] is None
    assert made["model_version"] == "by-hand" and made["reasons"]["npo_id"] == item_key(org)
    history = ok(coord.get(f"/api/suggestions/{made['id']}/history"))
    assert [(h["action"], h["comment"]) for h in history] == [
        ("confirm", "昨年の防災訓練で一緒に活動した団体")
    ]
    # the need's department sees it among the confirmed groups, and its stage moves on
    seen = ok(api.client("bousai").get(f"/api/needs/{need}/suggestions"))
    assert [s["id"] for s in seen] == [made["id"]]
    moved = ok(
        coord.post(
            f"/api/suggestions/{made['id']}/stage",
            json={"stage": "meeting_arranged", "version": made["version"]},
        )
    )
    assert moved["stage"] == "meeting_arranged"
    # a refit and a refresh of the suggestions leave it as it is
    ok(coord.post("/api/index/refit"))
    again = {s["id"]: s for s in ok(coord.get(f"/api/needs/{need}/suggestions"))}
    assert again[made["id"]]["status"] == "confirmed"
    assert again[made["id"]]["model_version"] == "by-hand"
    # the year's report counts it as a pairing added by hand, not as a suggestion made
    after = ok(coord.get(f"/api/reports/{fy}"))["totals"]
    assert after["by_hand"] == before["by_hand"] + 1
    assert after["meetings"] == before["meetings"] + 1
    assert (after["suggestions_made"], after["confirmed"]) == (
        before["suggestions_made"],
        before["confirmed"],
    )
    # the pairings export says how each pairing came about, in Japanese
    rows = coord.get("/api/export/pairings").content.decode("utf-8-sig").splitlines()
    assert rows[0] == "課題ID,件名,担当課,団体ID,団体名,段階,経緯,更新日時"
    assert any(",事前打ち合わせ設定,手動で組み合わせ," in row for row in rows[1:])
    # retraining learns from it
    with Session(api.engine) as session:  # type: ignore[arg-type]
        decisions = stored_decisions(session)
    assert (item_key(need), item_key(org), "confirm") in {
        (d.need_id, d.npo_id, d.decision) for d in decisions
    }


def test_pairing_refuses_what_it_cannot_record(api: Server) -> None:
    coord = api.client("coord")
    needs, orgs = seed(coord)
    need = needs["N1"]
    suggested = ok(coord.get(f"/api/needs/{need}/suggestions"))[0]
    # already a suggestion: decide it there (its id is given)
    r = coord.post(
        f"/api/needs/{need}/pairings", json={"organization_id": suggested["organization_id"]}
    )
    assert r.status_code == 409 and r.json()["code"] == "ALREADY_SUGGESTED"
    assert r.json()["errors"][0]["suggestion_id"] == suggested["id"]
    org = _unsuggested(coord, need, orgs)
    # only the coordinator records pairings
    for who in ("kourei", "npo1"):
        r = api.client(who).post(f"/api/needs/{need}/pairings", json={"organization_id": org})
        assert r.status_code == 403, who
    assert (
        coord.post(f"/api/needs/{need}/pairings", json={"organization_id": 999_999}).status_code
        == 404
    )
    r = coord.post(f"/api/needs/{need}/pairings", json={"organization_id": org, "extra": 1})
    assert r.status_code == 422
    # a withdrawn need or group cannot be paired; nothing was written by any of the above
    ok(coord.delete(f"/api/needs/{needs['N3']}"))
    r = coord.post(f"/api/needs/{needs['N3']}/pairings", json={"organization_id": org})
    assert r.status_code == 409 and r.json()["code"] == "NEED_NOT_PUBLISHED"
    ok(coord.delete(f"/api/organizations/{org}"))
    r = coord.post(f"/api/needs/{need}/pairings", json={"organization_id": org})
    assert r.status_code == 409 and r.json()["code"] == "ORG_WITHDRAWN"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert not [d for d in stored_decisions(session) if d.npo_id == item_key(org)]


def test_the_need_page_pairs_a_group_and_opens_the_pairing(api: Server) -> None:
    coord_api = api.client("coord")
    needs, orgs = seed(coord_api)
    need = needs["N2"]
    org = _unsuggested(coord_api, need, orgs)
    coord = login(api, "coord")
    page = coord.get(f"/needs/{need}").text
    assert "提案にない団体を組み合わせる" in page and f'action="/needs/{need}/pair"' in page
    picker = coord.get(f"/needs/{need}/pair").text  # the search box's page, every group
    assert f'name="organization_id" value="{org}"' in picker
    r = post_form(coord, f"/needs/{need}", f"/needs/{need}/pair", {"organization_id": org})
    assert r.status_code == 303 and "msg=paired" in r.headers["location"]
    pairing = coord.get(r.headers["location"]).text
    assert "手動で組み合わせ" in pairing and "団体を組み合わせて承認しました" in pairing
    picker = coord.get(f"/needs/{need}/pair").text
    assert f'name="organization_id" value="{org}"' not in picker  # no longer offered
    page = coord.get(f"/needs/{need}").text
    assert '<span class="badge">手動</span>' in page
    # a group that is already suggested opens its suggestion instead
    suggested = ok(coord_api.get(f"/api/needs/{needs['N1']}/suggestions"))[0]
    r = post_form(
        coord,
        f"/needs/{needs['N1']}",
        f"/needs/{needs['N1']}/pair",
        {"organization_id": suggested["organization_id"]},
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/suggestions/{suggested['id']}?msg=already_suggested")
    # no group chosen: refused in Japanese, nothing written
    r = post_form(coord, f"/needs/{need}", f"/needs/{need}/pair", {"organization_id": ""})
    assert r.status_code == 422 and "団体を選んでください" in r.text
    # the department's page has no such form
    assert "提案にない団体を組み合わせる" not in login(api, "bousai").get(f"/needs/{need}").text
