"""事前打ち合わせ as records (#16): a confirmed pairing's meetings, for its three parties.

Through the real app over HTTP: who sees and writes them, the stages they move (one
history with the stage forms), the .ics file parsed back, the mail queued in the same
transaction, the year's figures, and bad input refused in Japanese with a code.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import Session, col, select

from service.mail.delivery import deliver_due
from service.meetings import ics
from service.meetings.models import Meeting
from service.models import AuditLog, User
from service.report import fiscal_year_bounds

from ..mailserver import SmtpServer
from .conftest import Server
from .helpers import clear_addresses, csrf_of, ok, outbox, post_form, seed
from .test_pages import login

JST = ZoneInfo("Asia/Tokyo")
ADDRESSES = {
    "coord": "coord@example.jp",
    "bousai": "bousai@example.jp",  # the need's department: told
    "kourei": "kourei@example.jp",  # another department: not told
    "npo1": "npo1@example.jp",  # staff of the paired group: told
    "npo2": "npo2@example.jp",  # staff of no group: not told
}


def day(offset: int) -> str:
    """A Japan-time date ``offset`` days from today, as the form takes it."""
    return (datetime.now(JST) + timedelta(days=offset)).strftime("%Y-%m-%d")


def meeting_body(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "date": day(10),
        "start": "14:00",
        "end": "15:30",
        "place": "市役所本庁舎 5階, 第2会議室; 奥",
        "parties": ["department", "group", "coordinator"],
        "participants": "防災危機管理室 山田\nわかば傾聴の会 佐藤",
        "notes": "防災訓練に高齢者の見守りを組み込めるか話し合う。",
    }
    body.update(over)
    return body


@pytest.fixture
def pair(api: Server) -> Iterator[dict[str, Any]]:
    """防災危機管理室's need N2 confirmed with its first suggested group, npo1 that group's
    staff; every user has an address (for the mail)."""
    coord = api.client("coord")
    needs, orgs = seed(coord)
    first = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))[0]
    ok(
        coord.post(
            f"/api/suggestions/{first['id']}/decision",
            json={"action": "confirm", "version": first["version"]},
        )
    )
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for user in session.exec(select(User)).all():
            user.email = ADDRESSES.get(user.username, "")
            if user.username == "npo1":
                user.organization_id = first["organization_id"]
            session.add(user)
        session.commit()
    yield {
        "id": first["id"],
        "need": needs["N2"],
        "others": [o for o in orgs.values() if o != first["organization_id"]],
        "coord": coord,
    }
    clear_addresses(api)


def create(client: httpx.Client, suggestion_id: int, **over: object) -> httpx.Response:
    return client.post(f"/api/suggestions/{suggestion_id}/meetings", json=meeting_body(**over))


def suggestion(api: Server, suggestion_id: int) -> dict[str, Any]:
    return ok(api.client("coord").get(f"/api/suggestions/{suggestion_id}"))


def history(api: Server, suggestion_id: int) -> list[str]:
    rows = ok(api.client("coord").get(f"/api/suggestions/{suggestion_id}/history"))
    return [h["action"] for h in rows]


def move_to(api: Server, meeting_id: int, when: datetime) -> None:
    """Put a meeting at ``when``: time has passed since it was set (the API refuses a past
    date), or a date ahead that must stay inside this fiscal year."""
    when = when.replace(second=0, microsecond=0)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        session.execute(
            update(Meeting)
            .where(col(Meeting.id) == meeting_id)
            .values(starts_at=when, ends_at=when + timedelta(hours=1))
        )
        session.commit()


def confirm_another(api: Server, pair: dict[str, Any], i: int = 0) -> int:
    """Another group paired with the same need by the coordinator (confirmed at once)."""
    paired = pair["coord"].post(
        f"/api/needs/{pair['need']}/pairings",
        json={"organization_id": pair["others"][i], "comment": "よく知っている団体"},
    )
    return int(ok(paired, 201)["id"])


# ---- creation and the stage ----------------------------------------------------------


def test_coordinator_sets_a_meeting_in_japan_time_and_the_pairing_moves(
    api: Server, pair: dict[str, Any]
) -> None:
    coord = pair["coord"]
    m = ok(create(coord, pair["id"]), 201)
    assert m["status"] == "scheduled" and m["outcome"] is None and m["version"] == 1
    assert m["starts_at"] == f"{day(10)}T14:00:00+09:00"
    assert m["ends_at"] == f"{day(10)}T15:30:00+09:00"
    assert m["parties"] == ["department", "group", "coordinator"]
    assert m["ics_path"] == f"/meetings/{m['id']}.ics"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        row = session.get(Meeting, m["id"])
        assert row is not None
        # stored in UTC: 14:00 in Tokyo is 05:00 UTC
        assert row.starts_at.tzinfo is not None and row.starts_at.utcoffset() == timedelta(0)
        assert row.starts_at.strftime("%H:%M") == "05:00"
        audits = session.exec(select(AuditLog).order_by(col(AuditLog.id))).all()
        created = [a for a in audits if a.action == "meeting_created"]
        assert len(created) == 1 and created[0].entity_id == m["id"]
        stage = [a for a in audits if a.action == "stage"]
        assert stage[-1].detail["stage"] == "meeting_arranged"
        assert stage[-1].detail["meeting_id"] == m["id"]
    # the stage moved through the stages' own history
    assert suggestion(api, pair["id"])["stage"] == "meeting_arranged"
    assert history(api, pair["id"]) == ["confirm", "meeting_arranged"]
    # a second meeting does not set the stage again
    ok(create(coord, pair["id"], date=day(20)), 201)
    assert history(api, pair["id"]) == ["confirm", "meeting_arranged"]
    listed = ok(coord.get(f"/api/suggestions/{pair['id']}/meetings"))
    assert [x["starts_at"][:10] for x in listed] == [day(10), day(20)]
    # the coordinator's list of pairings counts them and names the next one
    pairings = login(api, "coord").get("/pairings").text
    assert f'href="/suggestions/{pair["id"]}/meetings">事前打ち合わせ（2件）' in pairings
    next_day = datetime.fromisoformat(m["starts_at"])
    assert f"次回 {next_day:%Y年%m月%d日}" in pairings


def test_outcomes_move_the_pairing_and_keep_one_history(api: Server, pair: dict[str, Any]) -> None:
    coord = pair["coord"]
    m = ok(create(coord, pair["id"]), 201)
    # 継続協議: the stage stays
    m = ok(
        coord.patch(
            f"/api/meetings/{m['id']}",
            json={"outcome": "continued", "next_step": "来月もう一度", "version": m["version"]},
        )
    )
    assert m["outcome"] == "continued"
    assert suggestion(api, pair["id"])["stage"] == "meeting_arranged"
    # 見送り needs a reason, in Japanese and with a code; nothing is saved
    r = coord.patch(
        f"/api/meetings/{m['id']}", json={"outcome": "dropped", "version": m["version"]}
    )
    assert r.status_code == 422 and r.json()["code"] == "REASON_REQUIRED"
    assert "理由を入力してください" in r.json()["message"]
    assert r.json()["errors"][0]["field"] == "outcome_reason"
    assert ok(coord.get(f"/api/meetings/{m['id']}"))["version"] == m["version"]
    # 協働事業化へ: the pairing becomes 協働事業化
    m = ok(
        coord.patch(
            f"/api/meetings/{m['id']}",
            json={"outcome": "project", "next_step": "事業計画を作る", "version": m["version"]},
        )
    )
    assert suggestion(api, pair["id"])["stage"] == "project_started"
    assert history(api, pair["id"]) == ["confirm", "meeting_arranged", "project_started"]
    # the outcome is in the stages now: taken back there first, not rewritten here
    r = coord.patch(
        f"/api/meetings/{m['id']}", json={"outcome": "continued", "version": m["version"]}
    )
    assert r.status_code == 409 and r.json()["code"] == "OUTCOME_RECORDED"
    s = suggestion(api, pair["id"])
    ok(
        coord.post(
            f"/api/suggestions/{pair['id']}/stage/undo",
            json={"reason": "結果の記録を誤った", "version": s["version"]},
        )
    )
    m = ok(
        coord.patch(
            f"/api/meetings/{m['id']}", json={"outcome": "continued", "version": m["version"]}
        )
    )
    assert suggestion(api, pair["id"])["stage"] == "meeting_arranged"
    # another pairing: 見送り with its reason ends it, and no meeting can be set after
    other = confirm_another(api, pair)
    o = ok(create(coord, other, outcome="dropped", outcome_reason="団体の体制が整わなかった"), 201)
    assert o["outcome"] == "dropped"
    assert suggestion(api, other)["stage"] == "dropped"
    assert history(api, other) == ["confirm", "meeting_arranged", "dropped"]
    steps = ok(coord.get(f"/api/suggestions/{other}/history"))
    assert steps[-1]["comment"] == "団体の体制が整わなかった"
    ended = create(coord, other, date=day(30))
    assert ended.status_code == 409 and ended.json()["code"] == "PAIRING_ENDED"
    # the pairing's page badge says the meeting had happened
    assert "見送り（打ち合わせ後）" in login(api, "coord").get(f"/suggestions/{other}").text


def test_a_stage_taken_back_stays_back_until_the_meeting_is_set_again(
    api: Server, pair: dict[str, Any]
) -> None:
    coord = pair["coord"]
    m = ok(create(coord, pair["id"]), 201)
    s = suggestion(api, pair["id"])
    ok(
        coord.post(
            f"/api/suggestions/{pair['id']}/stage/undo",
            json={"reason": "まだ日程が仮だった", "version": s["version"]},
        )
    )
    m = ok(coord.patch(f"/api/meetings/{m['id']}", json={"notes": "議題", "version": 1}))
    assert suggestion(api, pair["id"])["stage"] is None
    ok(coord.patch(f"/api/meetings/{m['id']}", json={"date": day(11), "version": m["version"]}))
    assert suggestion(api, pair["id"])["stage"] == "meeting_arranged"
    assert history(api, pair["id"]) == [
        "confirm",
        "meeting_arranged",
        "stage_undone",
        "meeting_arranged",
    ]


# ---- who sees and who writes ---------------------------------------------------------


def test_each_role_sees_and_writes_only_what_it_may(api: Server, pair: dict[str, Any]) -> None:
    coord, bousai = pair["coord"], api.client("bousai")
    kourei, npo1, npo2 = api.client("kourei"), api.client("npo1"), api.client("npo2")
    sid = pair["id"]
    # the department proposes a date: not set yet, no stage, no mail
    proposal = ok(create(bousai, sid, date=day(12)), 201)
    assert proposal["status"] == "proposed"
    assert suggestion(api, sid)["stage"] is None and outbox(api) == []
    # the department may not record an outcome
    r = bousai.patch(
        f"/api/meetings/{proposal['id']}",
        json={"outcome": "project", "version": proposal["version"]},
    )
    assert r.status_code == 403
    proposal = ok(
        bousai.patch(
            f"/api/meetings/{proposal['id']}",
            json={"start": "10:00", "end": "", "version": proposal["version"]},
        )
    )
    assert proposal["starts_at"].endswith("T10:00:00+09:00")
    assert proposal["ends_at"].endswith("T11:00:00+09:00")  # an hour when no end is given
    # the coordinator's list of pairings shows the proposal waiting, until it is set
    assert "担当課からの日程案 1件" in login(api, "coord").get("/pairings").text
    # the coordinator's save sets it: the stage moves and mail goes out
    set_ = ok(coord.patch(f"/api/meetings/{proposal['id']}", json={"version": proposal["version"]}))
    assert set_["status"] == "scheduled"
    assert "担当課からの日程案" not in login(api, "coord").get("/pairings").text
    assert suggestion(api, sid)["stage"] == "meeting_arranged"
    assert sorted(r.to_address for r in outbox(api)) == ["bousai@example.jp", "npo1@example.jp"]
    # once set, the department changes nothing
    r = bousai.patch(f"/api/meetings/{set_['id']}", json={"notes": "x", "version": set_["version"]})
    assert r.status_code == 403
    path = f"/api/meetings/{set_['id']}"
    # the three parties read; the group writes nothing
    for client in (coord, bousai, npo1):
        assert ok(client.get(path))["id"] == set_["id"]
        assert len(ok(client.get(f"/api/suggestions/{sid}/meetings"))) == 1
        assert client.get(f"{path}/ics").status_code == 200
    assert create(npo1, sid).status_code == 403
    r = npo1.patch(path, json={"notes": "x", "version": set_["version"]})
    assert r.status_code == 403
    # another department and another group see nothing of it (404, as for a suggestion)
    for client in (kourei, npo2):
        assert client.get(path).status_code == 404
        assert client.get(f"{path}/ics").status_code == 404
        assert client.get(f"/api/suggestions/{sid}/meetings").status_code == 404
        assert create(client, sid).status_code == 404
        r = client.patch(path, json={"notes": "x", "version": set_["version"]})
        assert r.status_code == 404
    assert api.client().get(path).status_code == 401
    # a pairing not confirmed (turned down): its department cannot see it, the coordinator
    # cannot set one
    other = confirm_another(api, pair)
    s = suggestion(api, other)
    ok(
        coord.post(
            f"/api/suggestions/{other}/decision",
            json={"action": "reject", "reason_code": "地域外", "version": s["version"]},
        )
    )
    pending = other
    assert bousai.get(f"/api/suggestions/{pending}/meetings").status_code == 404
    r = create(coord, pending)
    assert r.status_code == 409 and r.json()["code"] == "NOT_CONFIRMED"
    # the pages follow the same rule
    pages = f"/suggestions/{sid}/meetings"
    for user in ("coord", "bousai", "npo1"):
        client = login(api, user)
        page = client.get(pages)
        assert page.status_code == 200 and "市役所本庁舎 5階" in page.text, user
        assert f'href="/meetings/{set_["id"]}.ics"' in page.text
        ics_page = client.get(f"/meetings/{set_['id']}.ics")
        assert ics_page.headers["content-type"].startswith("text/calendar")
        assert ("打ち合わせを設定する" in page.text) == (user == "coord")
        assert ("日程案を出す" in page.text) == (user == "bousai")
    for user in ("kourei", "npo2"):
        client = login(api, user)
        assert client.get(pages).status_code == 404
        assert client.get(f"/meetings/{set_['id']}.ics").status_code == 404
        assert client.get(f"/meetings/{set_['id']}/edit").status_code == 404
    # the group finds its meetings from its own page
    assert pages in login(api, "npo1").get("/my").text


def test_the_forms_set_and_change_a_meeting(api: Server, pair: dict[str, Any]) -> None:
    coord = login(api, "coord")
    page = f"/suggestions/{pair['id']}/meetings"
    form: dict[str, object] = {
        "date": "２０３０／０１／１５",  # full-width, as people type it
        "start": "１３：３０",
        "end": "",
        "place": "",
        "online_url": "https://meet.example.jp/abc-123",
        "parties": ["department", "group"],
        "participants": "山田、佐藤",
        "outcome": "",
    }
    r = post_form(coord, page, page, form)
    assert r.status_code == 303 and r.headers["location"].startswith(page)
    shown = coord.get(page).text
    assert "2030年01月15日（火）13:30〜14:30" in shown
    assert 'href="https://meet.example.jp/abc-123"' in shown
    assert "事前打ち合わせ" in coord.get(f"/suggestions/{pair['id']}").text
    m = ok(pair["coord"].get(f"/api/suggestions/{pair['id']}/meetings"))[0]
    edit = coord.get(f"/meetings/{m['id']}/edit")
    assert edit.status_code == 200 and 'value="2030-01-15"' in edit.text
    change = {
        "csrf_token": csrf_of(edit),
        "version": str(m["version"]),
        "date": "2030-01-16",
        "start": "13:30",
        "end": "15:00",
        "place": "市民活動センター",
        "online_url": "",
        "parties": ["department", "group", "coordinator"],
        "participants": "山田、佐藤",
        "notes": "",
        "outcome": "dropped",
        "outcome_reason": "",
        "next_step": "",
    }
    bad = coord.post(f"/meetings/{m['id']}/edit", data=change)
    # the form comes back with the reason and what was typed
    assert bad.status_code == 422 and "理由を入力してください" in bad.text
    assert 'value="市民活動センター"' in bad.text
    r = coord.post(f"/meetings/{m['id']}/edit", data={**change, "outcome": "continued"})
    assert r.status_code == 303
    after = ok(pair["coord"].get(f"/api/meetings/{m['id']}"))
    assert after["starts_at"] == "2030-01-16T13:30:00+09:00" and after["outcome"] == "continued"
    assert after["place"] == "市民活動センター" and after["online_url"] == ""


# ---- the calendar file -----------------------------------------------------------------


def parse_ics(raw: bytes) -> list[tuple[str, dict[str, str], str]]:
    """Content lines (name, parameters, value) of an iCalendar file, unfolded, TEXT
    unescaped (RFC 5545 3.1, 3.3.11)."""
    text = raw.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    physical = text.split("\r\n")[:-1]
    assert all(len(line.encode("utf-8")) <= 75 for line in physical)
    unfolded = text.replace("\r\n ", "").replace("\r\n\t", "")
    out = []
    for line in unfolded.split("\r\n")[:-1]:
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        unescaped, i = [], 0
        while i < len(value):
            if value[i] == "\\" and i + 1 < len(value):
                unescaped.append({"n": "\n", "N": "\n"}.get(value[i + 1], value[i + 1]))
                i += 2
            else:
                unescaped.append(value[i])
                i += 1
        out.append((name, dict(p.split("=", 1) for p in params), "".join(unescaped)))
    return out


def test_ics_folds_at_75_octets_without_cutting_a_character() -> None:
    line = "DESCRIPTION:" + "協働" * 60 + "abc"
    folded = ics.fold(line)
    pieces = folded.split("\r\n")
    assert len(pieces) > 2 and all(len(p.encode("utf-8")) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert folded.replace("\r\n ", "") == line
    assert ics.escape_text('a,b;c\\d\r\ne"') == 'a\\,b\\;c\\\\d\\ne"'


def test_the_ics_file_parses_back(api: Server, pair: dict[str, Any]) -> None:
    coord = pair["coord"]
    notes = "長いメモ。" * 40
    m = ok(
        create(
            coord,
            pair["id"],
            online_url="https://meet.example.jp/room?id=1",
            notes=notes,
            next_step="資料を送る; 来週, 確認\\済み",
        ),
        201,
    )
    for raw in (
        coord.get(f"/api/meetings/{m['id']}/ics").content,
        login(api, "npo1").get(f"/meetings/{m['id']}.ics").content,
    ):
        lines = parse_ics(raw)
        names = [n for n, _, _ in lines]
        assert names[:2] == ["BEGIN", "VERSION"] and names[-2:] == ["END", "END"]
        assert names.index("BEGIN", 1) < names.index("UID") < names.index("END")
        props = {n: v for n, _, v in lines if n not in ("BEGIN", "END")}
        assert [v for n, _, v in lines if n == "BEGIN"] == ["VCALENDAR", "VEVENT"]
        assert props["VERSION"] == "2.0" and props["PRODID"]
        assert props["UID"] == f"meeting-{m['id']}@127.0.0.1"
        start = datetime.fromisoformat(m["starts_at"]).astimezone(UTC)
        assert props["DTSTART"] == start.strftime("%Y%m%dT%H%M%SZ")
        assert props["DTSTART"].endswith("050000Z")  # 14:00 in Tokyo
        end = datetime.fromisoformat(m["ends_at"]).astimezone(UTC)
        assert props["DTEND"] == end.strftime("%Y%m%dT%H%M%SZ")
        stamp = datetime.strptime(props["DTSTAMP"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)
        need = ok(coord.get(f"/api/needs/{pair['need']}"))
        assert props["SUMMARY"] == f"事前打ち合わせ：{need['title']}（{m['organization_name']}）"
        assert props["LOCATION"] == "市役所本庁舎 5階, 第2会議室; 奥"
        assert props["URL"] == "https://meet.example.jp/room?id=1"
        assert "参加者：防災危機管理室 山田\nわかば傾聴の会 佐藤" in props["DESCRIPTION"]
        assert "次の段取り：資料を送る; 来週, 確認\\済み" in props["DESCRIPTION"]
        assert props["STATUS"] == "CONFIRMED" and props["SEQUENCE"] == "0"
    # a change keeps the UID and raises the sequence, so calendars update the event
    ok(coord.patch(f"/api/meetings/{m['id']}", json={"start": "15:00", "version": 1}))
    props = {n: v for n, _, v in parse_ics(coord.get(f"/api/meetings/{m['id']}/ics").content)}
    assert props["SEQUENCE"] == "1" and props["DTSTART"].endswith("060000Z")


# ---- mail ------------------------------------------------------------------------------


def test_setting_and_changing_a_meeting_queues_mail_to_the_parties(
    api: Server, pair: dict[str, Any]
) -> None:
    coord = pair["coord"]
    m = ok(create(coord, pair["id"]), 201)
    rows = outbox(api)
    assert sorted(r.to_address for r in rows) == ["bousai@example.jp", "npo1@example.jp"]
    assert {r.kind for r in rows} == {"meeting"}
    assert {r.subject for r in rows} == {"事前打ち合わせの日程が決まりました"}
    body = rows[0].body
    assert "14:00〜15:30" in body and "市役所本庁舎 5階" in body
    assert f"/suggestions/{pair['id']}/meetings" in body
    # notes only: nobody is told again
    m = ok(coord.patch(f"/api/meetings/{m['id']}", json={"notes": "議題", "version": 1}))
    assert len(outbox(api)) == 2
    # the group's staff turns the kind off on /account/mail
    npo1 = login(api, "npo1")
    settings = npo1.get("/account/mail").text
    assert 'value="meeting"' in settings and "事前打ち合わせの日程" in settings
    assert 'value="meeting"' in login(api, "bousai").get("/account/mail").text
    r = post_form(
        npo1,
        "/account/mail",
        "/account/mail",
        {"email": "npo1@example.jp", "kind": ["suggestion_confirmed"]},
    )
    assert r.status_code == 303
    # a new time: told again, as a change, but not the one who opted out
    ok(
        coord.patch(
            f"/api/meetings/{m['id']}",
            json={"start": "16:00", "end": "17:00", "version": m["version"]},
        )
    )
    changed = outbox(api)[2:]
    assert [r.to_address for r in changed] == ["bousai@example.jp"]
    assert changed[0].subject == "事前打ち合わせの日程が変わりました"
    assert "16:00〜17:00" in changed[0].body
    # a refused change queues nothing
    bad = coord.patch(f"/api/meetings/{m['id']}", json={"start": "25:00", "version": 3})
    assert bad.status_code == 422 and len(outbox(api)) == 3


def test_the_meeting_mail_reaches_a_real_smtp_server(
    api: Server, pair: dict[str, Any], smtp: SmtpServer
) -> None:
    ok(create(pair["coord"], pair["id"]), 201)
    done = deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    assert len(done.sent) == 2 and done.failed == []
    got = sorted(smtp.recorder.messages, key=lambda m: m[0])
    assert [rcpt for rcpt, _, _ in got] == [["bousai@example.jp"], ["npo1@example.jp"]]
    for _, msg, raw in got:
        assert msg["Subject"] == "事前打ち合わせの日程が決まりました"
        assert "事前打ち合わせ".encode() not in raw.split(b"\r\n\r\n", 1)[0]  # encoded header
        body = msg.get_content()
        weekday = "月火水木金土日"[datetime.fromisoformat(day(10)).weekday()]
        assert f"{day(10).replace('-', '年', 1).replace('-', '月')}日（{weekday}）" in body
        assert "14:00〜15:30" in body and "市役所本庁舎 5階" in body
        assert f"{api.settings.base_url}/suggestions/{pair['id']}/meetings" in body


# ---- the year's figures ----------------------------------------------------------------


def test_the_report_counts_the_meetings_held_this_fiscal_year(
    api: Server, pair: dict[str, Any]
) -> None:
    coord = pair["coord"]
    now = datetime.now(UTC)
    fy = now.astimezone(JST).year if now.astimezone(JST).month >= 4 else now.year - 1
    start, end = fiscal_year_bounds(fy)
    earlier = start + (now - start) / 2  # in this fiscal year, and past
    later = now + (end - now) / 2  # in this fiscal year, still ahead
    other = confirm_another(api, pair)
    held = [ok(create(coord, pair["id"]), 201) for _ in range(3)]
    held.append(ok(create(coord, other), 201))
    upcoming = ok(create(coord, pair["id"], date=day(3)), 201)
    last_year = ok(create(coord, other, date=day(5)), 201)
    ok(create(api.client("bousai"), pair["id"], date=day(4)), 201)  # a proposal: not counted
    for m in held:
        move_to(api, m["id"], earlier)
    move_to(api, last_year["id"], start - timedelta(days=10))
    move_to(api, upcoming["id"], later)
    outcomes = [("continued", ""), ("project", ""), (None, ""), ("dropped", "計画外")]
    for m, (outcome, reason) in zip(held, outcomes, strict=True):
        if outcome:
            ok(
                coord.patch(
                    f"/api/meetings/{m['id']}",
                    json={"outcome": outcome, "outcome_reason": reason, "version": m["version"]},
                )
            )
    figures = ok(coord.get(f"/api/reports/{fy}"))["meetings_held"]
    assert figures == {
        "held": 4,
        "upcoming": 1,
        "cancelled": 0,
        "outcomes": {"project": 1, "continued": 1, "dropped": 1, "none": 1},
    }
    assert upcoming["status"] == "scheduled"
    before = ok(coord.get(f"/api/reports/{fy - 1}"))["meetings_held"]
    assert before["held"] == 1 and before["outcomes"]["none"] == 1
    book = load_workbook(io.BytesIO(coord.get(f"/api/reports/{fy}/xlsx").content))
    rows = {r[0]: r[1] for r in book["概要"].iter_rows(values_only=True)}
    assert rows["開催した事前打ち合わせ（記録）"] == 4 and rows["　うち見送り"] == 1
    assert rows["予定の事前打ち合わせ（記録）"] == 1
    page = login(api, "coord").get(f"/dashboard?fy={fy}").text
    assert 'data-metric="meetings_held"><dt>開催した打ち合わせ</dt><dd><span class="num">4<' in page
    assert 'data-metric="held_project"><dt>うち協働事業化へ</dt><dd><span class="num">1<' in page


# ---- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "code", "field", "words"),
    [
        ({"date": day(-1)}, "PAST_DATE", "date", "過去の日時"),
        ({"date": "2026-13-40"}, "BAD_DATE", "date", "日付は"),
        ({"date": "来週の火曜"}, "BAD_DATE", "date", "日付は"),
        ({"start": "20:61"}, "BAD_TIME", "start", "開始時刻は"),
        ({"end": "13:00"}, "BAD_TIME", "end", "終了時刻は開始時刻より後"),
        ({"place": ""}, "PLACE_REQUIRED", "place", "場所か"),
        ({"online_url": "javascript:alert(1)"}, "BAD_URL", "online_url", "https://"),
        ({"place": "会議室\n2"}, "BAD_TEXT", "place", "改行"),
        ({"outcome": "dropped"}, "REASON_REQUIRED", "outcome_reason", "理由を入力"),
        ({"outcome": "maybe"}, "VALIDATION_ERROR", "outcome", "結果は"),
        ({"date": None}, "VALIDATION_ERROR", "date", "日付"),
    ],
)
def test_bad_input_is_refused_in_japanese_with_a_code(
    api: Server, pair: dict[str, Any], over: dict[str, object], code: str, field: str, words: str
) -> None:
    body = meeting_body(**over)
    if over.get("date", "") is None:
        del body["date"]
    r = pair["coord"].post(f"/api/suggestions/{pair['id']}/meetings", json=body)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["code"] == code
    text = answer["message"] + " ".join(e["message"] for e in answer["errors"])
    assert words in text
    assert field in [e["field"] for e in answer["errors"]]
    # nothing was written: no meeting, no stage, no mail
    assert ok(pair["coord"].get(f"/api/suggestions/{pair['id']}/meetings")) == []
    assert suggestion(api, pair["id"])["stage"] is None and outbox(api) == []


def test_a_stale_change_is_a_conflict(api: Server, pair: dict[str, Any]) -> None:
    coord = pair["coord"]
    m = ok(create(coord, pair["id"]), 201)
    ok(coord.patch(f"/api/meetings/{m['id']}", json={"notes": "一人目", "version": 1}))
    r = coord.patch(f"/api/meetings/{m['id']}", json={"notes": "二人目", "version": 1})
    assert r.status_code == 409 and r.json()["code"] == "STALE_VERSION"
    assert ok(coord.get(f"/api/meetings/{m['id']}"))["notes"] == "一人目"
