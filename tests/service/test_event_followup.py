"""分野別発表会, before and after (#16): the invitations go through the mail outbox (one
per group and user, a user who turned the kind off skipped, a group without a user at
its contact address, sent once, read back from a real SMTP server); at the event the
coordinator records who came and the needs each group showed interest in, which become
関心あり (the department is mailed) and mark the suggestion as met on the queue and the
pairing; taking a record back takes back the 関心あり it made, not the group's own.

Through the real app over HTTP (the pages' forms with their CSRF token); "today" is fixed
through the app's ``get_today`` dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from service.deps import get_today
from service.events.models import EventGroup, EventInterest
from service.mail.delivery import deliver_due
from service.mail.models import MailOutbox, MailPreference
from service.models import AuditLog, Interest, Organization, User

from ..mailserver import SmtpServer
from .conftest import Server
from .helpers import ok, post_form, seed
from .test_pages import login

TODAY = date(2026, 12, 10)
HELD_ON = date(2027, 2, 14)
ADDRESSES = {"npo1": "npo1@example.jp", "npo2": "npo2@example.jp", "kourei": "kourei@example.jp"}
CONTACT = "takenoko@example.jp"  # P5's registered contact address (P5 has no user)
SENT = ">招待メール送信済み</span>"  # a group's badges on the event's page
UNSENT = '<span class="badge warn">招待メール未送信</span>'


def set_today(api: Server, day: date) -> None:
    api.app.dependency_overrides[get_today] = lambda: day  # type: ignore[attr-defined]


@pytest.fixture
def event(api: Server) -> Iterator[dict[str, Any]]:
    """An event on 14 Feb presenting N1 (高齢福祉課) and N3, inviting P1 (npo1's group),
    P2 (npo2's, who turned event mail off), P3 (no user, no address) and P5 (no user, a
    contact address); "today" is 10 Dec."""
    set_today(api, TODAY)
    coord = api.client("coord")
    needs, orgs = seed(coord)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for user in session.exec(select(User)).all():
            user.email = ADDRESSES.get(user.username, "")
            user.organization_id = {"npo1": orgs["P1"], "npo2": orgs["P2"]}.get(user.username)
            session.add(user)
        p5 = session.get(Organization, orgs["P5"])
        assert p5 is not None
        p5.contact_email, p5.contact_name = CONTACT, "竹田 次郎"
        session.add(p5)
        npo2 = session.exec(select(User).where(User.username == "npo2")).one()
        session.add(MailPreference(user_id=npo2.id or 0, kind="event"))
        session.commit()
    body = {"title": "福祉と環境の協働発表会", "held_on": HELD_ON.isoformat(), "fields": [1, 7]}
    made = ok(coord.post("/api/events", json=body), 201)
    eid = made["id"]
    for n in made["needs"]:  # exactly the lists under test
        ok(coord.delete(f"/api/events/{eid}/needs/{n['need_id']}"))
    for g in made["groups"]:
        ok(coord.delete(f"/api/events/{eid}/groups/{g['organization_id']}"))
    for key in ("N1", "N3"):
        ok(coord.post(f"/api/events/{eid}/needs", json={"need_id": needs[key]}))
    for key in ("P1", "P2", "P3", "P5"):
        ok(coord.post(f"/api/events/{eid}/groups", json={"organization_id": orgs[key]}))
    yield {"id": eid, "needs": needs, "orgs": orgs, "coord": coord}
    api.app.dependency_overrides.pop(get_today, None)  # type: ignore[attr-defined]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for user in session.exec(select(User)).all():
            user.email, user.organization_id = "", None
            session.add(user)
        session.commit()


def outbox(api: Server, kind: str = "event") -> list[MailOutbox]:
    """The outbox's mail of ``kind`` (publishing the toy needs queues ``new_need`` mail)."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return list(
            session.exec(
                select(MailOutbox).where(MailOutbox.kind == kind).order_by(col(MailOutbox.id))
            ).all()
        )


def audits(api: Server, action: str) -> list[AuditLog]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return list(
            session.exec(
                select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
            ).all()
        )


def invite(page: httpx.Client, eid: int) -> httpx.Response:
    return post_form(page, f"/events/{eid}", f"/events/{eid}/invite", {})


def test_invitations_go_through_the_outbox_once_per_group(
    api: Server, event: dict[str, Any]
) -> None:
    eid, needs, orgs = event["id"], event["needs"], event["orgs"]
    page = login(api, "coord")
    before = page.get(f"/events/{eid}")
    assert "招待のメールを送る（未送信の4団体）" in before.text
    assert before.text.count(UNSENT) == 4

    # only the coordinator sends them
    refused = post_form(login(api, "kourei"), "/account", f"/events/{eid}/invite", {})
    assert refused.status_code == 403 and outbox(api) == []

    r = invite(page, eid)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/events/{eid}?msg=invited&groups=2&mails=2&missed=2#invite"
    shown = page.get(r.headers["location"]).text
    assert "招待のメールを2団体あて（2通）、送信待ちに入れました。" in shown
    assert "2団体には送れるメールアドレスがありません" in shown
    assert shown.count(SENT) == 2 and shown.count(UNSENT) == 2
    assert "招待のメールを送る（未送信の2団体）" in shown
    rows = outbox(api)
    assert [(r.kind, r.to_address) for r in rows] == [
        ("event", "npo1@example.jp"),  # P1's staff member
        ("event", CONTACT),  # P5 has no user: its contact address
    ]  # not npo2 (turned event mail off), not P3 (no address at all)
    assert rows[0].user_id is not None and rows[1].user_id is None
    assert {r.subject for r in rows} == {"分野別発表会「福祉と環境の協働発表会」のご案内"}
    assert rows[1].body.startswith("竹田 次郎 さま\n\n")
    for row in rows:
        assert "開催日：2027年2月14日" in row.body
        assert "・独居高齢者の孤立防止（高齢福祉課）" in row.body
        assert f"{api.settings.base_url}/public/needs/{needs['N1']}\n" in row.body
        assert f"{api.settings.base_url}/public/needs/{needs['N3']}\n" in row.body
    assert "ふれあいの会 さまの活動に特に合いそうなもの：独居高齢者の孤立防止" in rows[0].body
    [sent] = audits(api, "invite")
    assert sent.entity_id == eid and sent.detail == {
        "groups": [orgs["P1"], orgs["P5"]],
        "mails": 2,
        "not_reached": 2,
    }

    # sending again tells nobody twice; once npo2 turns the kind back on, npo2 is told
    again = invite(page, eid)
    assert "groups=0&mails=0&missed=2" in again.headers["location"]
    assert len(outbox(api)) == 2
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for pref in session.exec(select(MailPreference)).all():
            session.delete(pref)
        session.commit()
    third = invite(page, eid)
    assert "groups=1&mails=1&missed=1" in third.headers["location"]
    assert [r.to_address for r in outbox(api)][2:] == ["npo2@example.jp"]
    assert len(audits(api, "invite")) == 3

    # the settings page offers the kind to a group's user
    assert "分野別発表会に招待されたとき" in login(api, "npo1").get("/account/mail").text

    # once the day is past nothing more is sent
    set_today(api, HELD_ON + timedelta(days=1))
    late = invite(page, eid)
    assert late.status_code == 422 and "開催日を過ぎた発表会の招待は送れません。" in late.text
    assert len(outbox(api)) == 3


def test_the_invitation_reaches_a_real_smtp_server(api: Server, event: dict[str, Any]) -> None:
    smtp = SmtpServer()
    smtp.start()
    try:
        invite(login(api, "coord"), event["id"])
        done = deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    finally:
        smtp.stop()
    assert done.failed == [] and {r.id for r in outbox(api)} <= set(done.sent)
    subject = "分野別発表会「福祉と環境の協働発表会」のご案内"
    got = sorted(
        (rcpt[0], msg.get_content())
        for rcpt, msg, _ in smtp.recorder.messages
        if msg["Subject"] == subject
    )
    assert [to for to, _ in got] == ["npo1@example.jp", CONTACT]
    assert all("・独居高齢者の孤立防止（高齢福祉課）" in body for _, body in got)
    assert all(r.sent_at is not None for r in outbox(api))


def record(
    page: httpx.Client, eid: int, attended: list[int], pairs: list[tuple[int, int]]
) -> httpx.Response:
    return post_form(
        page,
        f"/events/{eid}",
        f"/events/{eid}/attendance",
        {"attended": [str(a) for a in attended], "interest": [f"{o}:{n}" for o, n in pairs]},
    )


def interests(api: Server) -> dict[tuple[int, int], Interest]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return {(i.organization_id, i.need_id): i for i in session.exec(select(Interest)).all()}


def attendance(api: Server, eid: int) -> dict[int, bool | None]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(select(EventGroup).where(EventGroup.event_id == eid)).all()
        return {g.organization_id: g.attended for g in rows}


def queue_card(page: httpx.Client, need_id: int, org_name: str) -> str:
    """The header of ``org_name``'s card in the queue's block of need ``need_id``."""
    text = page.get("/queue").text
    block = re.search(rf'<section class="need-block" id="need-{need_id}".*?</section>', text, re.S)
    assert block, need_id
    for header in re.findall(r"<header>.*?</header>", block.group(0), re.S):
        if f">{org_name}</a></h3>" in header:
            return str(header)
    raise AssertionError(f"no card of {org_name} for need {need_id}")


def test_attendance_and_interest_feed_the_pipeline(api: Server, event: dict[str, Any]) -> None:
    eid, needs, orgs = event["id"], event["needs"], event["orgs"]
    p1, p2, p3, p5 = (orgs[k] for k in ("P1", "P2", "P3", "P5"))
    n1, n3 = needs["N1"], needs["N3"]
    page = login(api, "coord")
    ok(api.client("npo2").post(f"/api/needs/{n3}/interest", json={"comment": "竹林なら"}), 201)
    assert outbox(api, "interest") == []  # npo2's 関心あり: 環境政策課 has no user with an address

    # not before the day
    early = record(page, eid, [p1], [(p1, n1)])
    assert early.status_code == 422 and "当日の記録は開催日から付けられます。" in early.text
    assert "開催日（2027年2月14日）から記録できます。" in page.get(f"/events/{eid}").text

    set_today(api, HELD_ON)
    form = page.get(f"/events/{eid}").text
    assert 'aria-label="ふれあいの会が独居高齢者の孤立防止に関心あり"' in form
    # refused: an interest without attendance, a group not invited, a need not presented
    for attended, pairs, message in (
        ([p2], [(p1, n1)], "出席した団体だけです"),
        ([orgs["P4"]], [], "招待していない団体は記録できません。"),
        ([p1], [(p1, needs["N2"])], "この発表会で発表していない協働の種です。"),
    ):
        r = record(page, eid, attended, pairs)
        assert r.status_code == 422 and message in r.text, r.text
    bad = post_form(page, f"/events/{eid}", f"/events/{eid}/attendance", {"interest": "x:1"})
    assert bad.status_code == 422 and "関心ありの記録を読み取れません。" in bad.text
    assert set(interests(api)) == {(p2, n3)} and set(attendance(api, eid).values()) == {None}
    assert audits(api, "record") == []

    r = record(page, eid, [p1, p2], [(p1, n1), (p2, n3)])
    assert (
        r.status_code == 303 and r.headers["location"] == f"/events/{eid}?msg=recorded#attendance"
    )
    assert attendance(api, eid) == {p1: True, p2: True, p3: False, p5: False}
    got = interests(api)
    assert set(got) == {(p1, n1), (p2, n3)}
    made = got[(p1, n1)]
    assert (
        made.comment
        == "分野別発表会「福祉と環境の協働発表会」（2027年2月14日）で関心を示しました。"
    )
    assert got[(p2, n3)].comment == "竹林なら"  # the group's own, kept as it was
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(select(EventInterest).order_by(col(EventInterest.need_id))).all()
        coord_id = session.exec(select(User.id).where(User.username == "coord")).one()
    assert [(r.organization_id, r.need_id, r.made_interest) for r in rows] == [
        (p1, n1, True),
        (p2, n3, False),
    ]
    assert made.user_id == coord_id and all(r.recorded_by == coord_id for r in rows)
    # the department of N1 is told of the new 関心あり (N3's was the group's own, told then)
    told = outbox(api, "interest")
    assert [m.to_address for m in told] == ["kourei@example.jp"]
    assert "ふれあいの会 さまが、高齢福祉課の協働の種に「関心あり」を伝えました。" in told[0].body
    [rec] = audits(api, "record")
    assert rec.detail == {
        "attended": sorted([p1, p2]),
        "absent": sorted([p3, p5]),
        "added": sorted([[p1, n1], [p2, n3]]),
        "removed": [],
    }
    assert [a.detail.get("event_id") for a in audits(api, "interest")] == [None, eid]

    # the page shows what was recorded; the queue and the pairing show that the pair met
    shown = page.get(r.headers["location"]).text
    assert "当日の記録（出席と関心あり）を保存しました。" in shown
    assert re.search(rf'value="{p1}:{n1}" checked', shown)
    assert not re.search(rf'value="{p1}:{n3}" checked', shown)
    card = queue_card(page, n1, "ふれあいの会")
    assert "団体から関心あり" in card and "発表会で対面（2月14日）" in card
    assert "発表会で対面" not in queue_card(page, n1, "南区ふれあいクラブ")
    suggestion = re.search(r'href="/suggestions/(\d+)">ふれあいの会<', page.get("/queue").text)
    assert suggestion
    pairing = page.get(f"/suggestions/{suggestion.group(1)}").text
    assert "分野別発表会「福祉と環境の協働発表会」（2027年2月14日）で、この団体" in pairing

    # taking the records back takes back the 関心あり the event made, not the group's own
    again = record(page, eid, [p1], [])
    assert again.status_code == 303
    assert set(interests(api)) == {(p2, n3)}
    assert attendance(api, eid) == {p1: True, p2: False, p3: False, p5: False}
    assert "発表会で対面" not in queue_card(page, n1, "ふれあいの会")
    [undone] = audits(api, "uninterest")
    assert undone.entity_id == n1 and undone.detail == {"organization_id": p1, "event_id": eid}
    assert audits(api, "record")[-1].detail["removed"] == sorted([[p1, n1], [p2, n3]])
