"""E-mail through the outbox, read back from a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from service import reviews
from service.mail import service as mail
from service.mail.delivery import backoff, deliver_due
from service.mail.models import MailOutbox, MailPreference
from service.models import Suggestion, User, utcnow
from service.schemas import DecisionIn

from ..mailserver import SmtpServer
from ..serving import TLS
from .conftest import PASSWORD, Server
from .helpers import clear_addresses, ok, outbox, page_login, post_form, seed

ADDRESSES = {
    "coord": "coord@example.jp",
    "bousai": "bousai@example.jp",  # the need's department: told
    "kourei": "kourei@example.jp",  # another department: not told
    "npo1": "npo1@example.jp",  # staff of the confirmed group: told
    "npo2": "npo2@example.jp",  # staff of no group: not told
}
SUBJECT = "協働の種の組み合わせが承認されました"


@pytest.fixture
def pair(api: Server) -> Iterator[dict[str, Any]]:
    """Users with addresses, npo1 staff of the group suggested first for N2 (防災危機管理室)."""
    coord = api.client("coord")
    needs, _ = seed(coord)
    first = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))[0]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for user in session.exec(select(User)).all():
            user.email = ADDRESSES.get(user.username, "")
            if user.username == "npo1":
                user.organization_id = first["organization_id"]
            session.add(user)
        session.commit()
        ids = {u.username: u.id for u in session.exec(select(User)).all()}
    yield {"need": needs["N2"], "suggestion": first, "coord": coord, "ids": ids}
    clear_addresses(api)


def confirm(coord: httpx.Client, suggestion: dict[str, Any]) -> httpx.Response:
    return coord.post(
        f"/api/suggestions/{suggestion['id']}/decision",
        json={"action": "confirm", "version": suggestion["version"]},
    )


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(20) == timedelta(hours=1)


def test_confirmation_queues_mail_with_its_cause(
    api: Server, pair: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = pair["suggestion"]
    # a decision on a stale read fails, and queues nothing
    stale = pair["coord"].post(
        f"/api/suggestions/{s['id']}/decision", json={"action": "confirm", "version": 99}
    )
    assert stale.status_code == 409 and outbox(api) == []
    # a decision that fails after the mail was queued takes the mail with it
    seen: list[int] = []

    def failing_audit(session: Session, *args: object, **kwargs: object) -> None:
        seen.append(len(session.exec(select(MailOutbox)).all()))
        raise RuntimeError("audit failed")

    monkeypatch.setattr(reviews, "audit", failing_audit)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        coordinator = session.get(User, pair["ids"]["coord"])
        assert coordinator is not None
        data = DecisionIn(action="confirm", version=s["version"])
        with pytest.raises(RuntimeError):
            reviews.decide(session, s["id"], data, user=coordinator, base_url="http://x")
        session.rollback()
    assert seen == [2]  # queued inside the transaction …
    assert outbox(api) == []  # … and gone with it
    monkeypatch.undo()
    # the confirmation itself: one row for each told user, nobody else
    ok(confirm(pair["coord"], s))
    rows = outbox(api)
    ids = pair["ids"]
    assert sorted((r.to_address, r.user_id) for r in rows) == [
        ("bousai@example.jp", ids["bousai"]),
        ("npo1@example.jp", ids["npo1"]),
    ]
    assert {r.kind for r in rows} == {"suggestion_confirmed"}
    assert {r.subject for r in rows} == {SUBJECT}
    assert all(r.sent_at is None and r.attempts == 0 for r in rows)
    # the same notification is not queued twice
    with Session(api.engine) as session:  # type: ignore[arg-type]
        sug, coordinator = session.get(Suggestion, s["id"]), session.get(User, ids["coord"])
        assert sug is not None and coordinator is not None
        need, dept, org = reviews.load(session, s["id"], user=coordinator)[1:]
        decision_id = int(rows[0].dedup_key.split(":")[1])
        again = mail.notify_confirmation(
            session,
            suggestion=sug,
            need=need,
            department=dept,
            org=org,
            decision_id=decision_id,
            base_url="http://x",
        )
        session.commit()
    assert again == [] and len(outbox(api)) == 2


def test_delivery_sends_japanese_mime_once(
    api: Server, pair: dict[str, Any], smtp: SmtpServer
) -> None:
    ok(confirm(pair["coord"], pair["suggestion"]))
    settings = smtp.settings(api.settings)
    done = deliver_due(api.engine, settings=settings)  # type: ignore[arg-type]
    assert len(done.sent) == 2 and done.failed == []
    got = smtp.recorder.messages
    assert sorted(rcpt for rcpt, _, _ in got) == [["bousai@example.jp"], ["npo1@example.jp"]]
    base = api.settings.base_url
    for rcpt, msg, raw in got:
        assert b"=?utf-8?" in raw.lower() and SUBJECT.encode() not in raw  # encoded on the wire
        assert msg["Subject"] == SUBJECT
        assert msg["From"].addresses[0].display_name == "協働マッチング"
        assert msg["From"].addresses[0].addr_spec == settings.mail_from
        assert msg.get_content_type() == "text/plain"
        assert msg.get_content_charset() == "utf-8"
        body = msg.get_content()
        assert "子どもの防災教育" in body
        if rcpt == ["npo1@example.jp"]:
            assert f"{base}/needs/{pair['need']}\n" in body
        else:
            assert f"{base}/suggestions/{pair['suggestion']['id']}\n" in body
    assert all(r.sent_at is not None for r in outbox(api))
    # a second run sends nothing again
    assert deliver_due(api.engine, settings=settings).sent == []  # type: ignore[arg-type]
    assert len(smtp.recorder.messages) == 2


def test_smtp_down_loses_nothing_and_sends_once(api: Server, pair: dict[str, Any]) -> None:
    ok(confirm(pair["coord"], pair["suggestion"]))
    smtp = SmtpServer()  # its port, nothing listening yet
    settings = smtp.settings(api.settings)
    t0 = utcnow()
    done = deliver_due(api.engine, settings=settings, now=t0)  # type: ignore[arg-type]
    assert done.sent == [] and len(done.failed) == 2
    rows = outbox(api)
    assert all(r.attempts == 1 and r.sent_at is None and r.last_error for r in rows)
    assert all(r.next_attempt_at == t0 + timedelta(minutes=1) for r in rows)
    # not due yet: not tried
    early = deliver_due(api.engine, settings=settings, now=t0 + timedelta(seconds=30))  # type: ignore[arg-type]
    assert early.failed == [] and all(r.attempts == 1 for r in outbox(api))
    t1 = t0 + timedelta(minutes=1)
    assert len(deliver_due(api.engine, settings=settings, now=t1).failed) == 2  # type: ignore[arg-type]
    assert all(
        r.attempts == 2 and r.next_attempt_at == t1 + timedelta(minutes=2) for r in outbox(api)
    )
    smtp.start()
    try:
        t2 = t1 + timedelta(minutes=2)
        assert len(deliver_due(api.engine, settings=settings, now=t2).sent) == 2  # type: ignore[arg-type]
        assert deliver_due(api.engine, settings=settings, now=t2 + timedelta(hours=2)).sent == []  # type: ignore[arg-type]
    finally:
        smtp.stop()
    assert sorted(rcpt for rcpt, _, _ in smtp.recorder.messages) == [
        ["bousai@example.jp"],
        ["npo1@example.jp"],
    ]
    assert all(r.sent_at == t2 and r.last_error == "" for r in outbox(api))


def test_a_claimed_row_is_left_to_its_worker(
    api: Server, pair: dict[str, Any], smtp: SmtpServer
) -> None:
    ok(confirm(pair["coord"], pair["suggestion"]))
    t0 = utcnow()
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(select(MailOutbox)).all()
        for row in rows:
            row.claimed_at = t0  # another worker is sending them
            session.add(row)
        session.commit()
    settings = smtp.settings(api.settings)
    assert deliver_due(api.engine, settings=settings, now=t0).sent == []  # type: ignore[arg-type]
    assert smtp.recorder.messages == []
    # a claim older than ten minutes belonged to a worker that died: taken over
    late = deliver_due(api.engine, settings=settings, now=t0 + timedelta(minutes=11))  # type: ignore[arg-type]
    assert len(late.sent) == 2 and len(smtp.recorder.messages) == 2


def test_opted_out_user_gets_nothing(api: Server, pair: dict[str, Any], smtp: SmtpServer) -> None:
    client = page_login(api.url, "npo1", PASSWORD)
    try:
        page = client.get("/account/mail")
        assert page.status_code == 200 and 'value="npo1@example.jp"' in page.text
        # a group's staff is offered the kinds a group gets, not the departments' ones
        assert 'value="suggestion_confirmed"' in page.text and 'value="interest"' not in page.text
        r = post_form(client, "/account/mail", "/account/mail", {"email": "npo1@example.jp"})
        assert r.status_code == 303
        bad = post_form(client, "/account/mail", "/account/mail", {"email": "not an address"})
        assert bad.status_code == 422 and "形式" in bad.text
    finally:
        client.close()
    with Session(api.engine) as session:  # type: ignore[arg-type]
        prefs = session.exec(select(MailPreference)).all()
        # every kind a group may turn off is off (the form sent none ticked)
        assert sorted((p.user_id, p.kind) for p in prefs) == [
            (pair["ids"]["npo1"], "event"),
            (pair["ids"]["npo1"], "meeting"),
            (pair["ids"]["npo1"], "new_need"),
            (pair["ids"]["npo1"], "suggestion_confirmed"),
        ]
    ok(confirm(pair["coord"], pair["suggestion"]))
    assert [r.to_address for r in outbox(api)] == ["bousai@example.jp"]
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    assert [rcpt for rcpt, _, _ in smtp.recorder.messages] == [["bousai@example.jp"]]


def test_demo_mode_never_connects(
    api: Server, pair: dict[str, Any], smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(confirm(pair["coord"], pair["suggestion"]))

    def no_smtp(*args: object, **kwargs: object) -> None:
        raise AssertionError("demo mode connected to an SMTP server")

    monkeypatch.setattr(smtplib, "SMTP", no_smtp)
    demo = smtp.settings(api.settings).model_copy(update={"smtp_host": ""})
    done = deliver_due(api.engine, settings=demo)  # type: ignore[arg-type]
    assert done.sent == [] and done.failed == []
    assert smtp.recorder.messages == []
    assert all(r.sent_at is None and r.attempts == 0 for r in outbox(api))


def test_outbox_page_is_for_the_coordinator(api: Server, pair: dict[str, Any]) -> None:
    ok(confirm(pair["coord"], pair["suggestion"]))
    for name in ("bousai", "npo1"):
        client = page_login(api.url, name, PASSWORD)
        try:
            assert client.get("/mail").status_code == 403
        finally:
            client.close()
    with httpx.Client(verify=TLS, base_url=api.url) as anon:
        assert anon.get("/mail").status_code == 303
    client = page_login(api.url, "coord", PASSWORD)
    try:
        page = client.get("/mail")
        assert page.status_code == 200
        assert page.text.count(f"<h2>{SUBJECT}</h2>") == 2
        assert "bousai@example.jp" in page.text and "npo1@example.jp" in page.text
        assert "デモモード" in page.text  # no SMTP host in the test server's settings
        assert "送信待ち" in page.text
        sent = client.get("/mail", params={"state": "sent"})
        assert sent.status_code == 200 and f"<h2>{SUBJECT}</h2>" not in sent.text
    finally:
        client.close()


def test_a_reset_link_is_mailed_and_not_kept(
    api: Server, pair: dict[str, Any], smtp: SmtpServer
) -> None:
    client = page_login(api.url, "coord", PASSWORD)
    try:
        target = pair["ids"]["kourei"]
        page = post_form(client, "/users", f"/users/{target}/reset", {})
        assert page.status_code == 200
    finally:
        client.close()
    match = re.search(r'value="[^"]*(/invite/[^"]+)"', page.text)
    assert match, "no reset link on the page"
    path = match.group(1)
    rows = outbox(api)
    assert [(r.kind, r.to_address, r.user_id) for r in rows] == [
        ("password_reset", "kourei@example.jp", target)
    ]
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    [(rcpt, msg, _)] = smtp.recorder.messages
    assert rcpt == ["kourei@example.jp"] and msg["Subject"] == "パスワード再設定のご案内"
    assert f"{api.settings.base_url}{path}\n" in msg.get_content()
    # once sent, the secret link is no longer kept in the outbox
    [row] = outbox(api)
    assert row.sent_at is not None and path not in row.body and "/invite/" not in row.body


def test_interest_is_mailed_to_the_need_department(
    api: Server, pair: dict[str, Any], smtp: SmtpServer
) -> None:
    npo = api.client("npo1")
    body = {"comment": "ぜひ一緒に"}
    ok(npo.post(f"/api/needs/{pair['need']}/interest", json=body), 201)
    ok(npo.post(f"/api/needs/{pair['need']}/interest", json=body), 201)  # said again: no mail
    rows = outbox(api)
    assert [(r.kind, r.to_address) for r in rows] == [("interest", "bousai@example.jp")]
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    [(rcpt, msg, _)] = smtp.recorder.messages
    assert rcpt == ["bousai@example.jp"]
    assert msg["Subject"] == "協働の種に「関心あり」が届きました"
    content = msg.get_content()
    assert "ぜひ一緒に" in content and f"/needs/{pair['need']}\n" in content


def test_the_mail_command_sends_once(api: Server, pair: dict[str, Any], smtp: SmtpServer) -> None:
    ok(confirm(pair["coord"], pair["suggestion"]))

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": api.settings.database_url, **extra}
        return subprocess.run(
            [sys.executable, "-m", "service", "mail", "--once"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    demo = run(KYODO_SMTP_HOST="")
    assert demo.returncode == 0 and "デモモード" in demo.stdout, demo.stderr
    assert smtp.recorder.messages == []
    smtp_env = {"KYODO_SMTP_HOST": "127.0.0.1", "KYODO_SMTP_PORT": str(smtp.port)}
    sent = run(**smtp_env, KYODO_SMTP_STARTTLS="false")
    assert sent.returncode == 0 and "メール: 送信 2件・失敗 0件" in sent.stdout, sent.stderr
    assert len(smtp.recorder.messages) == 2


def test_a_burst_of_100_survives_an_outage(api: Server) -> None:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for i in range(100):
            mail.queue_mail(
                session,
                kind="suggestion_confirmed",
                to=f"user{i}@example.jp",
                subject=SUBJECT,
                body=f"{i}",
                dedup_key=f"burst:{i}",
            )
        session.commit()
    smtp = SmtpServer()
    settings = smtp.settings(api.settings)
    t0 = utcnow()
    assert len(deliver_due(api.engine, settings=settings, now=t0).failed) == 100  # type: ignore[arg-type]
    smtp.start()
    try:
        later = t0 + timedelta(minutes=1)
        assert len(deliver_due(api.engine, settings=settings, now=later).sent) == 100  # type: ignore[arg-type]
        assert deliver_due(api.engine, settings=settings, now=later).sent == []  # type: ignore[arg-type]
    finally:
        smtp.stop()
    received = sorted(rcpt[0] for rcpt, _, _ in smtp.recorder.messages)
    assert received == sorted(f"user{i}@example.jp" for i in range(100))
