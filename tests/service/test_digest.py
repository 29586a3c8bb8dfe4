"""The coordinator's weekly digest: the figures from the real queue, interests and deadlines;
once per ISO week (Japan time); queued by ``python -m service digest`` and read back from
a real SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from service.deadlines import today_jst
from service.mail.delivery import deliver_due
from service.mail.digest import queue_digest, week_key
from service.mail.models import MailOutbox, MailPreference
from service.models import Interest, Suggestion, User, utcnow

from ..mailserver import SmtpServer
from .conftest import Server
from .helpers import clear_addresses, need_payload, ok, seed

BASE = "https://kyodo.example.jp"
ADDRESSES = {"coord": "coord@example.jp", "bousai": "bousai@example.jp"}


@pytest.fixture
def office(api: Server) -> Iterator[dict[str, Any]]:
    """Seeded and ranked; the oldest waiting suggestion 9 days old; npo1 staff of a group;
    one 関心あり today and one 10 days ago; N1's deadline in 5 days, N3's in 20."""
    coord = api.client("coord")
    needs, orgs = seed(coord)
    ranked = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))
    today = today_jst()
    ok(coord.patch(f"/api/needs/{needs['N1']}", json={"deadline": str(today + timedelta(5))}))
    ok(coord.patch(f"/api/needs/{needs['N3']}", json={"deadline": str(today + timedelta(20))}))
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for user in session.exec(select(User)).all():
            user.email = ADDRESSES.get(user.username, "")
            if user.username == "npo1":
                user.organization_id = orgs["P3"]
            session.add(user)
        oldest = session.get(Suggestion, ranked[0]["id"])
        assert oldest is not None
        oldest.created_at = utcnow() - timedelta(days=9)
        session.add(oldest)
        npo1 = session.exec(select(User).where(User.username == "npo1")).one()
        session.add(
            Interest(
                need_id=needs["N3"],
                organization_id=orgs["P5"],
                user_id=npo1.id,
                created_at=utcnow() - timedelta(days=10),
            )
        )
        session.commit()
    ok(api.client("npo1").post(f"/api/needs/{needs['N2']}/interest", json={"comment": ""}), 201)
    yield {"coord": coord, "needs": needs, "first": ranked[0], "today": today}
    clear_addresses(api)


def outbox(api: Server) -> list[MailOutbox]:
    """The digests queued (bousai also got the 関心あり mail of its need)."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(select(MailOutbox).order_by(col(MailOutbox.id))).all()
    assert {r.kind for r in rows} <= {"digest", "interest"}
    return [r for r in rows if r.kind == "digest"]


def digest(api: Server, now: datetime | None = None) -> int:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return queue_digest(session, base_url=BASE, now=now)


def test_the_digest_reports_the_week_once(api: Server, office: dict[str, Any]) -> None:
    queue = ok(office["coord"].get("/api/review-queue", params={"limit": 1}))
    assert queue["total"] > 0
    assert digest(api) == 1
    [row] = outbox(api)
    today = office["today"]
    assert (row.kind, row.to_address) == ("digest", "coord@example.jp")  # coordinators only
    assert row.dedup_key.startswith(f"digest:{week_key(today)}:")
    assert row.subject == f"協働マッチング 週のまとめ（{today.month}月{today.day}日）"
    body = row.body
    assert f"確認待ちの提案：{queue['total']}件" in body
    assert (
        "いちばん長く待っている提案：9日（そなえ隊 ×「子どもの防災教育」、防災危機管理室）" in body
    )
    assert f"{BASE}/queue\n" in body
    # this week's interest is counted, the one from 10 days ago is not
    assert "の「関心あり」：1件\n  ・そなえ隊 →「子どもの防災教育」（防災危機管理室）" in body
    # N1 (5 days) is listed, N3 (20 days) is not
    assert "募集期限が14日以内の協働の種：1件\n" in body
    assert "（あと5日）「独居高齢者の孤立防止」（高齢福祉課）" in body
    assert "放置竹林" not in body
    # again in the same week: nothing; the next week: a new one
    assert digest(api) == 0
    assert digest(api, now=utcnow() + timedelta(days=7)) == 1
    assert len(outbox(api)) == 2


def test_the_week_turns_at_midnight_in_japan_and_an_opt_out_is_kept(
    api: Server, office: dict[str, Any]
) -> None:
    sunday_night = datetime(2026, 12, 6, 14, 59, tzinfo=UTC)  # Sun 23:59 JST
    monday = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)  # Mon 00:00 JST, still Sunday in UTC
    assert today_jst(sunday_night) == date(2026, 12, 6) and week_key(date(2026, 12, 6)) == (
        "2026-W49"
    )
    assert today_jst(monday) == date(2026, 12, 7) and week_key(date(2026, 12, 7)) == "2026-W50"
    assert digest(api, now=sunday_night) == 1
    assert digest(api, now=monday) == 1  # a new ISO week in Japan
    with Session(api.engine) as session:  # type: ignore[arg-type]
        coord = session.exec(select(User).where(User.username == "coord")).one()
        session.add(MailPreference(user_id=coord.id, kind="digest"))
        session.commit()
    assert digest(api, now=monday + timedelta(days=7)) == 0
    assert len(outbox(api)) == 2


def test_the_digest_command_queues_and_the_worker_delivers(
    api: Server, office: dict[str, Any], smtp: SmtpServer
) -> None:
    # a published need with no deadline adds nothing to the expiring list
    ok(office["coord"].post("/api/needs", json=need_payload(0, key="N9")), 201)
    env = {**os.environ, "DATABASE_URL": api.settings.database_url, "KYODO_BASE_URL": BASE}
    run = subprocess.run(
        [sys.executable, "-m", "service", "digest"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0 and "週のまとめ: 1件を送信待ちに入れました" in run.stdout, run.stderr
    again = subprocess.run(
        [sys.executable, "-m", "service", "digest"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert "週のまとめ: 0件" in again.stdout, again.stderr
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    [(rcpt, msg, _)] = [m for m in smtp.recorder.messages if m[0] == ["coord@example.jp"]]
    assert rcpt == ["coord@example.jp"] and msg["Subject"].startswith("協働マッチング 週のまとめ")
    content = msg.get_content()
    assert "募集期限が14日以内の協働の種：1件" in content and f"{BASE}/queue\n" in content
