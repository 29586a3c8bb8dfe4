"""Bulk review in /queue: the coordinator ticks several suggestions and decides them
together (one comment; one reason to reject), each with its own decision, audit row and
mail, all or nothing; over real HTTP against the real app and database."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from service.mail.models import MailOutbox
from service.models import AuditLog, Decision, Need, Organization, Suggestion, SuggestionStatus
from service.models import User as AppUser

from .conftest import PASSWORD, Server
from .helpers import clear_addresses, csrf_of, page_login, seed

PICK = re.compile(r'name="pick" value="(\d+):(\d+)"')
ADDRESSES = {"bousai": "bousai@example.jp", "kourei": "kourei@example.jp"}


def login(api: Server, user: str) -> httpx.Client:
    client = page_login(api.url, user, PASSWORD)
    api.clients.append(client)
    return client


@pytest.fixture
def queue(api: Server) -> Iterator[dict[str, Any]]:
    """Seeded needs and groups, department users with addresses (so confirmations queue
    mail), the coordinator logged in on the page, and the queue's first three picks."""
    needs, _ = seed(api.client("coord"))
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for user in session.exec(select(AppUser)).all():
            user.email = ADDRESSES.get(user.username, "")
            session.add(user)
        session.commit()
    coord = login(api, "coord")
    page = coord.get("/queue")
    assert page.status_code == 200
    picks = [(int(s), int(v)) for s, v in PICK.findall(page.text)]
    assert len(picks) >= 4
    yield {"coord": coord, "page": page, "picks": picks, "needs": needs}
    clear_addresses(api)


def bulk(
    client: httpx.Client, token: str, picks: list[tuple[int, int]], **fields: str
) -> httpx.Response:
    data: dict[str, str | list[str]] = {"csrf_token": token, "return": "/queue", **fields}
    data["pick"] = [f"{sid}:{version}" for sid, version in picks]
    return client.post("/queue/decide", data=data)


def stored(api: Server) -> tuple[list[Decision], list[AuditLog], list[MailOutbox]]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        decisions = list(session.exec(select(Decision).order_by(col(Decision.id))).all())
        audits = list(session.exec(select(AuditLog).where(AuditLog.entity == "suggestion")).all())
        mails = list(session.exec(select(MailOutbox)).all())
    return decisions, audits, mails


def reasons_of(api: Server, ids: list[int]) -> dict[int, dict[str, Any]]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return {sid: dict(session.get(Suggestion, sid).reasons) for sid in ids}  # type: ignore[union-attr]


def test_confirming_three_selected_gives_each_its_decision_audit_and_mail(
    api: Server, queue: dict[str, Any]
) -> None:
    coord, picks = queue["coord"], queue["picks"][:3]
    ids = [sid for sid, _ in picks]
    before = reasons_of(api, ids)
    assert len({str(r.get("reasons")) for r in before.values()}) == 3  # three different texts
    r = bulk(coord, csrf_of(queue["page"]), picks, action="confirm", comment="まとめて確認済み")
    assert r.status_code == 303 and r.headers["location"] == "/queue?msg=bulk_confirmed"
    assert "選んだ提案をまとめて承認しました。" in coord.get(r.headers["location"]).text
    decisions, audits, mails = stored(api)
    assert sorted(d.suggestion_id for d in decisions) == sorted(ids)
    assert {(d.action, d.comment, d.reason_code) for d in decisions} == {
        ("confirm", "まとめて確認済み", None)
    }
    assert sorted((a.entity_id, a.action) for a in audits) == sorted((i, "decide") for i in ids)
    # each confirmation queued its own mail (the department's user has an address)
    mailed = {int(m.dedup_key.split(":")[1]) for m in mails}
    assert mailed == {d.id for d in decisions}
    assert all(m.dedup_key.startswith("suggestion_confirmed:") for m in mails)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        statuses = {sid: session.get(Suggestion, sid).status for sid in ids}  # type: ignore[union-attr]
        rest = session.get(Suggestion, queue["picks"][3][0])
        assert rest is not None and rest.status == SuggestionStatus.pending  # not ticked
    assert set(statuses.values()) == {SuggestionStatus.confirmed}
    # each keeps its own stored reasons, and its page still shows them
    assert reasons_of(api, ids) == before
    for sid in ids:
        page = coord.get(f"/suggestions/{sid}")
        assert page.status_code == 200
        shown = re.search(r'<ul class="reasons">(.*?)</ul>', page.text, re.S)
        assert shown
        lines = re.findall(r"<li>(.*?)</li>", shown.group(1), re.S)
        assert lines and lines == [html.escape(x, quote=True) for x in before[sid]["reasons"]]
        assert "まとめて確認済み" in page.text  # the comment, in its history


def test_one_stale_suggestion_stops_the_whole_batch_and_is_named(
    api: Server, queue: dict[str, Any]
) -> None:
    coord, picks = queue["coord"], queue["picks"][:3]
    token = csrf_of(queue["page"])
    stale_id, stale_version = picks[2]  # the last one: the first two were already written
    # another coordinator decides it first (a rejection: it queues no mail)
    r = coord.post(
        f"/suggestions/{stale_id}/decide",
        data={
            "action": "reject",
            "reason_code": "分野違い",
            "version": stale_version,
            "csrf_token": token,
        },
    )
    assert r.status_code == 303
    decisions_before, audits_before, _ = stored(api)
    r = bulk(coord, token, picks, action="confirm", comment="一緒に承認")
    assert r.status_code == 409
    with Session(api.engine) as session:  # type: ignore[arg-type]
        s = session.get(Suggestion, stale_id)
        assert s is not None
        org = session.get(Organization, s.organization_id)
        need = session.get(Need, s.need_id)
        assert org is not None and need is not None
        others = [session.get(Suggestion, sid) for sid, _ in picks[:2]]
    problem = re.search(r'<p class="error" role="alert" id="bulk-problem">(.*?)</p>', r.text)
    assert problem, r.text
    text = html.unescape(problem.group(1))
    assert f"「{need.title}」への「{org.name}」の提案" in text
    assert "他の人が判断または更新しました" in text and "どの提案も保存していません" in text
    # nothing was written: no decision, audit row or mail beyond the single rejection
    decisions, audits, mails = stored(api)
    assert [d.id for d in decisions] == [d.id for d in decisions_before]
    assert [a.id for a in audits] == [a.id for a in audits_before]
    assert mails == []
    assert all(o is not None and o.status == SuggestionStatus.pending for o in others)
    # the selection is kept (the stale one is left for the coordinator to look at again),
    # and so is the comment
    for sid, version in picks[:2]:
        assert re.search(rf'value="{sid}:{version}" id="pick-{sid}" form="bulk" checked', r.text)
    assert f'id="pick-{stale_id}" form="bulk" checked' not in r.text
    assert 'value="一緒に承認"' in r.text


def test_bulk_reject_needs_one_reason_and_records_it_on_each(
    api: Server, queue: dict[str, Any]
) -> None:
    coord, picks = queue["coord"], queue["picks"][:2]
    token = csrf_of(queue["page"])
    r = bulk(coord, token, picks, action="reject", reason_code="")
    assert r.status_code == 422 and "理由を選んでください" in r.text
    assert stored(api)[0] == []
    r = bulk(coord, token, picks, action="reject", reason_code="地域外", comment="遠い")
    assert r.status_code == 303 and r.headers["location"] == "/queue?msg=bulk_rejected"
    decisions, _, mails = stored(api)
    got = sorted((d.suggestion_id, d.action, d.reason_code, d.comment) for d in decisions)
    assert got == sorted((sid, "reject", "地域外", "遠い") for sid, _ in picks)
    assert mails == []  # a rejection tells no one


def test_the_batch_is_capped_and_may_not_be_empty(api: Server, queue: dict[str, Any]) -> None:
    coord = queue["coord"]
    token = csrf_of(queue["page"])
    r = bulk(coord, token, [], action="confirm")
    assert r.status_code == 422 and "まとめて判断する提案を選んでください" in r.text
    sid, version = queue["picks"][0]
    too_many = [(sid, version)] + [(10_000 + i, 1) for i in range(50)]
    r = bulk(coord, token, too_many, action="confirm")
    assert r.status_code == 422 and "50 件まで" in r.text
    assert stored(api)[0] == []


def test_csrf_is_required_and_only_the_coordinator_may(api: Server, queue: dict[str, Any]) -> None:
    picks = queue["picks"][:2]
    r = bulk(queue["coord"], "not-the-token", picks, action="confirm")
    assert r.status_code == 403
    for name in ("bousai", "npo1"):
        client = login(api, name)
        token = csrf_of(client.get("/account"))
        r = bulk(client, token, picks, action="confirm")
        assert r.status_code == 403, name
    assert stored(api)[0] == []
