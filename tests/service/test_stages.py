"""After a confirmation (#15): 見送り asks first and needs a reason; a stage set by mistake
is taken back by the coordinator with a reason (history, audit, dashboard); the badge
says whether a meeting had happened."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from service.models import AuditLog

from .conftest import Server
from .helpers import csrf_of, ok, seed
from .test_pages import login


def _confirmed(api: Server) -> dict:  # type: ignore[type-arg]
    coord = api.client("coord")
    needs, _ = seed(coord)
    s = ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))[0]
    return ok(
        coord.post(
            f"/api/suggestions/{s['id']}/decision",
            json={"action": "confirm", "version": s["version"]},
        )
    )


def _figures(page: str) -> dict[str, str]:
    return dict(
        re.findall(r'data-metric="(\w+)"><dt>[^<]*</dt><dd><span class="num">([^<]+)</span>', page)
    )


def test_ending_a_pairing_asks_first_and_needs_a_reason(api: Server) -> None:
    s = _confirmed(api)
    coord = login(api, "coord")
    pairings = coord.get("/pairings").text
    # 見送り is a link to a page that asks, not a button that ends the pairing at once
    assert f'href="/suggestions/{s["id"]}/drop"' in pairings
    assert 'value="dropped"' not in pairings
    ask = coord.get(f"/suggestions/{s['id']}/drop")
    assert ask.status_code == 200 and "この組み合わせを見送りますか" in ask.text
    assert "事前打ち合わせの前" in ask.text and 'name="comment"' in ask.text
    form = {
        "stage": "dropped",
        "version": str(s["version"]),
        "csrf_token": csrf_of(ask),
        "return": f"/suggestions/{s['id']}",
    }
    r = coord.post(f"/suggestions/{s['id']}/stage", data=form)
    assert r.status_code == 422 and "理由を入力してください" in r.text
    # the API asks the same
    api_r = api.client("coord").post(
        f"/api/suggestions/{s['id']}/stage", json={"stage": "dropped", "version": s["version"]}
    )
    assert api_r.status_code == 422 and api_r.json()["code"] == "REASON_REQUIRED"
    r = coord.post(f"/suggestions/{s['id']}/stage", data={**form, "comment": "予算がつかなかった"})
    assert r.status_code == 303
    assert "見送り（打ち合わせ前）" in coord.get("/pairings").text
    assert "見送り（打ち合わせ前）" in coord.get(f"/suggestions/{s['id']}").text


def test_a_stage_set_by_mistake_is_taken_back_with_a_reason(api: Server) -> None:
    s = _confirmed(api)
    coord_api = api.client("coord")
    nothing = coord_api.post(
        f"/api/suggestions/{s['id']}/stage/undo", json={"reason": "誤り", "version": s["version"]}
    )
    assert nothing.status_code == 409 and nothing.json()["code"] == "NO_STAGE"
    met = ok(
        coord_api.post(
            f"/api/suggestions/{s['id']}/stage",
            json={"stage": "meeting_arranged", "version": s["version"]},
        )
    )
    coord = login(api, "coord")
    assert _figures(coord.get("/dashboard").text)["meetings"] == "1"
    page = coord.get(f"/suggestions/{s['id']}")
    assert "記録した段階を取り消す" in page.text
    # a department may not, and a reason is required
    dept = api.client("bousai").post(
        f"/api/suggestions/{s['id']}/stage/undo", json={"reason": "x", "version": met["version"]}
    )
    assert dept.status_code in (403, 404)
    r = coord.post(
        f"/suggestions/{s['id']}/stage/undo",
        data={"version": str(met["version"]), "reason": "", "csrf_token": csrf_of(page)},
    )
    assert r.status_code == 422
    r = coord.post(
        f"/suggestions/{s['id']}/stage/undo",
        data={
            "version": str(met["version"]),
            "reason": "別の団体と取り違えた",
            "csrf_token": csrf_of(page),
        },
    )
    assert r.status_code == 303
    now = ok(coord_api.get(f"/api/suggestions/{s['id']}"))
    assert now["stage"] is None and now["status"] == "confirmed"
    history = ok(coord_api.get(f"/api/suggestions/{s['id']}/history"))
    assert [h["action"] for h in history] == ["confirm", "meeting_arranged", "stage_undone"]
    assert history[-1]["comment"] == "別の団体と取り違えた"
    assert "段階の取り消し" in coord.get(f"/suggestions/{s['id']}").text
    # the meeting taken back no longer counts
    assert _figures(coord.get("/dashboard").text)["meetings"] == "0"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        row = session.exec(select(AuditLog).where(AuditLog.action == "stage_undone")).one()
        assert row.detail == {"undone": "meeting_arranged", "stage": None}
    # a real meeting, then the end: the badge says after the meeting
    met = ok(
        coord_api.post(
            f"/api/suggestions/{s['id']}/stage",
            json={"stage": "meeting_arranged", "version": now["version"]},
        )
    )
    ok(
        coord_api.post(
            f"/api/suggestions/{s['id']}/stage",
            json={"stage": "dropped", "version": met["version"], "comment": "団体の体制"},
        )
    )
    assert "見送り（打ち合わせ後）" in coord.get("/pairings").text
    assert _figures(coord.get("/dashboard").text)["meetings"] == "1"
