"""「あなたの団体に合いそうな協働の種が公開されました」: when a just-published need's suggestions
are stored, the staff of the groups at its top are told once (real server, real ranking,
the outbox read back, one mail read back from a real SMTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from service.mail.delivery import deliver_due
from service.mail.models import MailPreference
from service.mail.new_needs import MIN_SCORE, SUBJECT, TOP
from service.models import Need, Suggestion, User, utcnow

from ..mailserver import SmtpServer
from .conftest import Server
from .helpers import clear_addresses, need_payload, ok, outbox, seed

ADDRESSES = {"npo1": "npo1@example.jp", "npo2": "npo2@example.jp", "bousai": "b@example.jp"}


@pytest.fixture
def groups(api: Server) -> Iterator[dict[str, Any]]:
    """Everything seeded and ranked; npo1 staff of the best group for 子どもの防災教育 (N2),
    npo2 staff of a group not suggested for it; both with addresses."""
    coord = api.client("coord")
    needs, orgs = seed(coord)
    ranked = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))
    best = ranked[0]["organization_id"]
    last = max(set(orgs.values()) - {s["organization_id"] for s in ranked})
    assert ranked[0]["score"] >= MIN_SCORE
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for user in session.exec(select(User)).all():
            user.email = ADDRESSES.get(user.username, "")
            user.organization_id = {"npo1": best, "npo2": last}.get(user.username)
            session.add(user)
        session.commit()
        ids = {u.username: u.id for u in session.exec(select(User)).all()}
    yield {"coord": coord, "needs": needs, "best": best, "last": last, "ids": ids}
    clear_addresses(api)


def suits(api: Server, need_id: int, org_id: int) -> bool:
    """Whether the stored suggestions put the group in the need's mail-worthy top."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        s = session.exec(
            select(Suggestion).where(
                Suggestion.need_id == need_id, Suggestion.organization_id == org_id
            )
        ).first()
    return s is not None and s.rank is not None and s.rank <= TOP and s.score >= MIN_SCORE


def test_a_new_need_is_mailed_to_the_groups_at_its_top_once(
    api: Server, groups: dict[str, Any], smtp: SmtpServer
) -> None:
    coord = groups["coord"]
    assert outbox(api) == []  # the needs ranked before the staff had addresses: no mail
    new = ok(coord.post("/api/needs", json=need_payload(1, key="N2b")), 201)["id"]
    assert outbox(api) == []  # publishing ranks nothing in the request …
    ok(coord.get(f"/api/needs/{new}/suggestions"))  # … storing the suggestions queues
    assert suits(api, new, groups["best"]) and not suits(api, new, groups["last"])
    rows = outbox(api)
    assert [(r.kind, r.to_address, r.user_id) for r in rows] == [
        ("new_need", "npo1@example.jp", groups["ids"]["npo1"])
    ]
    assert rows[0].subject == SUBJECT and rows[0].dedup_key.startswith(f"new_need:{new}:")
    # stored again after another change (a new ranking version): nothing twice
    ok(coord.patch(f"/api/needs/{groups['needs']['N1']}", json={"goal": "見守りの輪を広げる"}))
    ok(coord.get(f"/api/needs/{new}/suggestions"))
    ok(coord.patch(f"/api/needs/{new}", json={"goal": "子どもが自分の身を守れるように"}))
    ok(coord.get(f"/api/needs/{new}/suggestions"))
    assert len(outbox(api)) == 1
    # read back from a real SMTP server
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    [(rcpt, msg, _)] = smtp.recorder.messages
    body = msg.get_content()
    assert rcpt == ["npo1@example.jp"] and msg["Subject"] == SUBJECT
    assert "子どもの防災教育" in body and "防災危機管理室が公開しました" in body
    assert f"{api.settings.base_url}/needs/{new}\n" in body and "関心あり" in body


def test_a_draft_tells_nobody_until_published_and_an_opt_out_is_kept(
    api: Server, groups: dict[str, Any]
) -> None:
    coord = groups["coord"]
    draft = need_payload(1, key="N2c", status="draft")
    new = ok(coord.post("/api/needs", json=draft), 201)["id"]
    ok(coord.get(f"/api/needs/{groups['needs']['N1']}/suggestions"))  # a refresh
    assert outbox(api) == []  # a draft is not ranked, nobody hears of it
    with Session(api.engine) as session:  # type: ignore[arg-type]
        session.add(MailPreference(user_id=groups["ids"]["npo1"], kind="new_need"))
        session.commit()
    ok(coord.patch(f"/api/needs/{new}", json={"status": "published"}))
    ok(coord.get(f"/api/needs/{new}/suggestions"))
    assert suits(api, new, groups["best"])
    assert outbox(api) == []  # npo1 turned this kind off


def test_an_old_need_ranked_late_is_not_news(api: Server, groups: dict[str, Any]) -> None:
    coord = groups["coord"]
    new = ok(coord.post("/api/needs", json=need_payload(1, key="N2d")), 201)["id"]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        need = session.get(Need, new)
        assert need is not None
        need.updated_at = utcnow() - timedelta(days=15)
        session.add(need)
        session.commit()
    ok(coord.get(f"/api/needs/{new}/suggestions"))
    assert suits(api, new, groups["best"]) and outbox(api) == []


def test_a_department_proposal_before_the_ranking_does_not_hide_the_news(
    api: Server, groups: dict[str, Any]
) -> None:
    """A group the department proposed at once is a person's pick, not a ranking: the
    need is still ranked for the first time, and the best group still hears of it."""
    bousai = api.client("bousai")
    new = ok(bousai.post("/api/needs", json=need_payload(1, key="N2p")), 201)["id"]
    proposal = {"organization_id": groups["last"], "comment": "地域で顔見知りです"}
    ok(bousai.post(f"/api/needs/{new}/proposals", json=proposal), 201)
    ok(groups["coord"].get(f"/api/needs/{new}/suggestions"))
    assert suits(api, new, groups["best"])
    assert [(r.kind, r.to_address) for r in outbox(api)] == [("new_need", "npo1@example.jp")]
