"""A department sees, read-only, which groups are being considered for its own need
(name, area, fields, 確認待ち / 承認; not the groups turned down), without decision
controls and without the coordinator's comments; over real HTTP against the real app and
database."""

from __future__ import annotations

import re

import httpx
from sqlmodel import Session, select

from service.models import Organization, Suggestion

from .conftest import PASSWORD, Server
from .helpers import csrf_of, ok, org_payload, page_login, seed

SECRET_CONFIRM = "内部メモ・代表者と面識あり"
SECRET_REJECT = "内部メモ・過去に連絡が途絶えた"


def login(api: Server, user: str) -> httpx.Client:
    client = page_login(api.url, user, PASSWORD)
    api.clients.append(client)
    return client


def considered_table(page: str) -> str:
    match = re.search(r"<h2>検討されている団体</h2>(.*?)</section>", page, re.S)
    assert match, "no 検討されている団体 section"
    return match.group(1)


def test_the_department_sees_the_groups_considered_for_its_need_read_only(api: Server) -> None:
    coord_api = api.client("coord")
    needs, _ = seed(coord_api)
    # a second 北区 見守り group, so that the need has a third suggestion
    ok(
        coord_api.post("/api/organizations", json=org_payload(0, key="P9", name="北区見守り隊")),
        201,
    )
    need_id = needs["N1"]  # 高齢福祉課: kourei's department
    current = ok(coord_api.get(f"/api/needs/{need_id}/suggestions"))
    assert len(current) >= 3
    confirmed, rejected, pending = current[0], current[1], current[2:]
    coord = login(api, "coord")
    token = csrf_of(coord.get("/queue"))
    for s, data in (
        (confirmed, {"action": "confirm", "comment": SECRET_CONFIRM}),
        (rejected, {"action": "reject", "reason_code": "分野違い", "comment": SECRET_REJECT}),
    ):
        r = coord.post(
            f"/suggestions/{s['id']}/decide",
            data={**data, "version": s["version"], "csrf_token": token},
        )
        assert r.status_code == 303
    page = login(api, "kourei").get(f"/needs/{need_id}")
    assert page.status_code == 200
    table = considered_table(page.text)
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    shown = [confirmed, *pending]  # a group the coordinator turned down is not listed
    assert len(rows) == len(shown)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        turned_down = session.get(Organization, rejected["organization_id"])
        assert turned_down is not None and turned_down.name not in table
        for s, row in zip(shown, rows, strict=True):
            org = session.get(Organization, s["organization_id"])
            assert org is not None
            assert org.name in row
            for area in org.areas.strip("|").split("|"):
                assert area and area in row
            assert 'class="badge field' in row  # its 活動分野
        assert len(session.exec(select(Suggestion)).all()) >= len(current)
    # the status of each, in the department's words
    assert "承認" in rows[0] and f'href="/suggestions/{confirmed["id"]}"' in rows[0]
    assert all("確認待ち" in row and "/suggestions/" not in row for row in rows[1:])
    assert "見送り" not in table
    assert len(pending) == len(rows) - 1
    # read-only: no decision controls, and the coordinator's comments stay inside
    assert "/decide" not in page.text and 'name="pick"' not in page.text
    assert 'name="action"' not in page.text and 'name="reason_code"' not in page.text
    assert SECRET_CONFIRM not in page.text and SECRET_REJECT not in page.text


def test_a_group_does_not_get_the_list(api: Server) -> None:
    needs, _ = seed(api.client("coord"))
    # another department does not see the need at all; a group sees it, not the list
    assert login(api, "bousai").get(f"/needs/{needs['N1']}").status_code == 404
    page = login(api, "npo1").get(f"/needs/{needs['N1']}")
    assert page.status_code == 200 and "独居高齢者の孤立防止" in page.text
    assert "検討されている団体" not in page.text and "確認待ち" not in page.text
