"""募集期限 and the pace of review: an expired need leaves every page a group or the public
sees and the review queue, stays (期限切れ) for the city, and comes back when extended; a
reminder 7 days before; the queue's waiting days; the dashboard's medians.

"Today" is fixed through the app's ``get_today`` dependency (the day in Japan), so the
dates below are exact whatever the clock says.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, col, select

from service.deadlines import days_waited, is_open, queue_reminders, today_jst
from service.deps import get_today
from service.mail.models import MailKind, MailOutbox
from service.models import (
    AuditLog,
    Decision,
    Department,
    Need,
    Organization,
    Suggestion,
    User,
)

from .conftest import PASSWORD, Server
from .helpers import ok, page_login, post_form, seed

JST = ZoneInfo("Asia/Tokyo")
TODAY = date(2026, 12, 10)
N1 = "独居高齢者の孤立防止"  # 高齢福祉課 (user kourei)
N2 = "子どもの防災教育"  # 防災危機管理室


def t(text: str) -> datetime:
    """A JST wall time as the UTC instant the service stores."""
    return datetime.fromisoformat(text).replace(tzinfo=JST).astimezone(UTC)


@pytest.fixture
def today(api: Server) -> Iterator[date]:
    api.app.dependency_overrides[get_today] = lambda: TODAY  # type: ignore[attr-defined]
    yield TODAY
    api.app.dependency_overrides.pop(get_today, None)  # type: ignore[attr-defined]


def _login(api: Server, user: str) -> httpx.Client:
    client = page_login(api.url, user, PASSWORD)
    api.clients.append(client)
    return client


def _set_user(api: Server, username: str, **values: object) -> None:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        user = session.exec(select(User).where(User.username == username)).one()
        for name, value in values.items():
            setattr(user, name, value)
        session.add(user)
        session.commit()


def _public_titles(anon: httpx.Client) -> dict[str, set[str]]:
    """The need titles each public output carries."""
    page = anon.get("/public/needs").text
    rows = csv.DictReader(io.StringIO(anon.get("/public/needs.csv").content.decode("utf-8-sig")))
    data = anon.get("/public/needs.json").json()
    items = data["needs"] if isinstance(data, dict) else data
    atom = anon.get("/public/needs.atom").text
    return {
        "page": {title for title in (N1, N2) if title in page},
        "csv": {row.get("title") or row.get("件名") or "" for row in rows},
        "json": {item["title"] for item in items},
        "atom": {title for title in (N1, N2) if title in atom},
    }


def _suited(page: str) -> str:
    return page.split("あなたの団体に合う協働の種")[1].split("</section>")[0]


def _visible_to_groups_and_queue(
    api: Server, coord_api: httpx.Client, npo: httpx.Client, coord: httpx.Client, need_id: int
) -> dict[str, bool]:
    queue_api = ok(coord_api.get("/api/review-queue", params={"need_id": need_id}))
    queue_page = coord.get("/queue", params={"department": "高齢福祉課"}).text
    anon = api.client()
    return {
        "public": all(N1 in titles for titles in _public_titles(anon).values()),
        "public_page": anon.get(f"/public/needs/{need_id}").status_code == 200,
        "queue_api": queue_api["total"] > 0,
        "queue_page": f'id="need-{need_id}"' in queue_page,
        "suited": N1 in _suited(npo.get("/my").text),
        "npo_list": N1 in npo.get("/needs").text,
        "npo_page": npo.get(f"/needs/{need_id}").status_code == 200,
    }


def test_an_expired_need_leaves_the_public_groups_and_queue_and_comes_back(
    api: Server, today: date
) -> None:
    coord_api = api.client("coord")
    needs, orgs = seed(coord_api)
    _set_user(api, "npo1", organization_id=orgs["P1"])
    npo, coord, kourei = _login(api, "npo1"), _login(api, "coord"), _login(api, "kourei")
    n1 = needs["N1"]
    # the deadline day itself is still open (through 24:00 JST)
    ok(coord_api.patch(f"/api/needs/{n1}", json={"deadline": today.isoformat()}))
    ok(coord_api.patch(f"/api/needs/{needs['N2']}", json={"deadline": today.isoformat()}))
    seen = _visible_to_groups_and_queue(api, coord_api, npo, coord, n1)
    assert seen == dict.fromkeys(seen, True)
    assert "期限切れ" not in coord.get(f"/needs/{n1}").text
    assert "期限切れ" not in kourei.get("/my").text
    assert ok(coord_api.get(f"/api/needs/{n1}"))["expired"] is False

    # the day after: gone from every page a group or the public sees, and from the queue
    ok(coord_api.patch(f"/api/needs/{n1}", json={"deadline": (today - timedelta(1)).isoformat()}))
    seen = _visible_to_groups_and_queue(api, coord_api, npo, coord, n1)
    assert seen == dict.fromkeys(seen, False)
    titles = _public_titles(api.client())
    assert all(N1 not in found and N2 in found for found in titles.values()), titles
    # kept, and shown as 期限切れ to the coordinator and the need's department
    assert ok(coord_api.get(f"/api/needs/{n1}"))["expired"] is True
    detail = coord.get(f"/needs/{n1}").text
    assert "期限切れ" in detail and "2026年12月09日" in detail
    coord_list = coord.get("/needs", params={"department": "高齢福祉課"}).text
    assert N1 in coord_list and "期限切れ" in coord_list
    mine = kourei.get("/my").text
    assert N1 in mine and "期限切れ" in mine
    assert "期限切れ" in kourei.get(f"/needs/{n1}").text

    # the department extends it on its form: back everywhere, and the change is audited
    need = ok(coord_api.get(f"/api/needs/{n1}"))
    form = {
        "title": need["title"],
        "description": need["description"],
        "goal": need["goal"],
        "fields": need["fields"],
        "areas": "、".join(need["areas"]),
        "forms": need["forms"],
        "contact_name": need["contact_name"] or "",
        "status": need["status"],
        "deadline": "2027-01-31",
    }
    edit = f"/needs/{n1}/edit"
    assert 'type="date"' in kourei.get(edit).text
    r = post_form(kourei, edit, edit, form)
    assert r.status_code == 303, r.text
    assert ok(coord_api.get(f"/api/needs/{n1}"))["deadline"] == "2027-01-31"
    seen = _visible_to_groups_and_queue(api, coord_api, npo, coord, n1)
    assert seen == dict.fromkeys(seen, True)
    assert "期限切れ" not in kourei.get("/my").text
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(
            select(AuditLog)
            .where(AuditLog.entity == "need", AuditLog.entity_id == n1)
            .order_by(col(AuditLog.id))
        ).all()
    assert rows[-1].action == "update" and rows[-1].detail["deadline"] == "2027-01-31"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        kourei_id = session.exec(select(User.id).where(User.username == "kourei")).one()
    assert rows[-1].user_id == kourei_id


def test_the_day_in_japan_decides() -> None:
    # 2026-12-10 23:59 JST is 14:59 UTC: still the 10th; a minute later it is the 11th
    assert today_jst(datetime(2026, 12, 10, 14, 59, tzinfo=UTC)) == date(2026, 12, 10)
    assert today_jst(datetime(2026, 12, 10, 15, 0, tzinfo=UTC)) == date(2026, 12, 11)
    need = Need(key="x", department_id=1, title="x", description="x", deadline=TODAY)
    assert is_open(need, TODAY) and not is_open(need, TODAY + timedelta(1))
    assert is_open(Need(key="y", department_id=1, title="y", description="y"), date(2100, 1, 1))
    # waiting days count Japan-time calendar days
    assert days_waited(t("2026-12-10T00:10"), TODAY) == 0
    assert days_waited(t("2026-12-09T23:50"), TODAY) == 1


def test_a_reminder_is_queued_once_seven_days_before(api: Server) -> None:
    coord_api = api.client("coord")
    needs, _ = seed(coord_api)
    n1 = needs["N1"]
    _set_user(api, "kourei", email="kourei@example.jp")
    try:

        def remind(day: date) -> list[MailOutbox]:
            with Session(api.engine) as session:  # type: ignore[arg-type]
                queue_reminders(session, today=day, base_url="https://kyodo.example.jp")
                return list(session.exec(select(MailOutbox).order_by(col(MailOutbox.id))).all())

        deadline = TODAY + timedelta(days=8)
        ok(coord_api.patch(f"/api/needs/{n1}", json={"deadline": deadline.isoformat()}))
        assert remind(TODAY) == []  # 8 days before: not yet
        mails = remind(TODAY + timedelta(1))  # 7 days before
        assert len(mails) == 1
        mail = mails[0]
        assert mail.kind == MailKind.deadline_reminder and mail.to_address == "kourei@example.jp"
        assert mail.subject == "募集期限が近づいています"
        assert N1 in mail.body and f"https://kyodo.example.jp/needs/{n1}/edit" in mail.body
        assert "2026年12月18日" in mail.body
        assert len(remind(TODAY + timedelta(1))) == 1  # again: nothing twice
        assert len(remind(TODAY + timedelta(3))) == 1  # nor on the days after
        # extended: the new deadline gets its own reminder, 7 days before it
        later = TODAY + timedelta(days=30)
        ok(coord_api.patch(f"/api/needs/{n1}", json={"deadline": later.isoformat()}))
        assert len(remind(TODAY + timedelta(days=22))) == 1
        assert len(remind(TODAY + timedelta(days=23))) == 2
        # a draft: no reminder
        ok(coord_api.patch(f"/api/needs/{needs['N2']}", json={"deadline": "2026-12-20"}))
        ok(coord_api.patch(f"/api/needs/{needs['N2']}", json={"status": "draft"}))
        _set_user(api, "bousai", email="bousai@example.jp")
        assert len(remind(date(2026, 12, 14))) == 2
    finally:
        _set_user(api, "kourei", email="")
        _set_user(api, "bousai", email="")


def test_the_queue_shows_how_long_each_suggestion_has_waited(api: Server, today: date) -> None:
    coord_api = api.client("coord")
    seed(coord_api)
    coord = _login(api, "coord")
    coord.get("/queue")  # makes the suggestions
    created = {
        "2026-11-30T10:00": "10日待ち",
        "2026-12-09T23:50": "1日待ち",
        "2026-12-10T00:10": "0日待ち",
    }
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(
            select(Suggestion)
            .where(col(Suggestion.rank).is_not(None))
            .order_by(col(Suggestion.need_id), col(Suggestion.rank))
        ).all()
        assert len(rows) >= len(created)
        expected = {}
        for s, (at, label) in zip(rows, created.items(), strict=False):
            s.created_at = t(at)
            session.add(s)
            expected[s.id] = label
        session.commit()
    page = coord.get("/queue").text
    for s_id, label in expected.items():
        card = page.split(f'id="s-{s_id}"')[1].split("</header>")[0]
        assert label in card, (s_id, label)


def test_the_dashboard_gives_the_median_days_to_a_decision_and_a_meeting(api: Server) -> None:
    with Session(api.engine) as s:  # type: ignore[arg-type]
        coord = s.exec(select(User).where(User.username == "coord")).one()
        dept = s.exec(select(Department).where(Department.name == "高齢福祉課")).one()
        orgs = [Organization(key=f"o{i}", name=f"o{i}", activities="…") for i in range(2)]
        s.add_all(orgs)
        s.flush()

        def need(key: str, at: str) -> Need:
            row = Need(
                key=key,
                department_id=dept.id,
                title=key,
                description="…",
                created_at=t(at),
                updated_at=t(at),
            )
            s.add(row)
            s.flush()
            return row

        def suggestion(n: Need, o: Organization) -> Suggestion:
            row = Suggestion(
                need_id=n.id, organization_id=o.id, rank=1, score=0.5, index_version="x",
                model_version="x", created_at=n.created_at, updated_at=n.created_at,
            )  # fmt: skip
            s.add(row)
            s.flush()
            return row

        a = need("a", "2025-06-01T09:00")
        b = need("b", "2025-06-01T18:00")
        old = need("old", "2025-03-01T09:00")  # decided in fiscal 2024: not counted in 2025
        a1, b1, b2, old1 = (
            suggestion(a, orgs[0]),
            suggestion(b, orgs[0]),
            suggestion(b, orgs[1]),
            suggestion(old, orgs[0]),
        )
        for sug, action, at in [
            (old1, "confirm", "2025-03-05T10:00"),
            (b2, "reject", "2025-06-15T10:00"),  # written first, but not b's first decision
            (a1, "confirm", "2025-06-03T23:00"),  # 2 days
            (a1, "meeting_arranged", "2025-06-11T10:00"),  # 10 days
            (b1, "confirm", "2025-06-07T08:00"),  # 6 days
            (b1, "meeting_arranged", "2025-06-08T10:00"),  # taken back: does not count
            (b1, "stage_undone", "2025-06-09T10:00"),
            (b1, "meeting_arranged", "2025-06-21T10:00"),  # 20 days
        ]:
            s.add(Decision(suggestion_id=sug.id, action=action, user_id=coord.id, created_at=t(at)))
        s.commit()
    coord_api = api.client("coord")
    pace = ok(coord_api.get("/api/reports/2025"))["pace"]
    assert pace == {
        "to_decision": {"median_days": 4.0, "needs": 2},
        "to_meeting": {"median_days": 15.0, "needs": 2},
    }
    assert ok(coord_api.get("/api/reports/2024"))["pace"]["to_decision"] == {
        "median_days": 4.0,
        "needs": 1,
    }
    page = _login(api, "coord")

    def figure(fy: int, key: str) -> str:
        text = page.get("/dashboard", params={"fy": fy}).text
        return text.split(f'data-metric="pace_{key}"')[1].split("</div>")[0]

    assert '<span class="num">4</span> 日' in figure(2025, "to_decision")
    assert "2 件" in figure(2025, "to_decision")
    assert '<span class="num">15</span> 日' in figure(2025, "to_meeting")
    none = figure(2023, "to_meeting")
    assert '<span class="num">—</span>' in none and "0 件" in none
