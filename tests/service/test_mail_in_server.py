"""The outbox sent from inside the server (``KYODO_DELIVER_MAIL``): a mail queued while a
real server runs reaches a real SMTP server (aiosmtpd) without ``python -m service mail``;
off by default, and never in demo mode (no SMTP host)."""

from __future__ import annotations

import time

from sqlmodel import Session, select

from service.config import Settings
from service.mail import service as mail
from service.mail.delivery import start_worker
from service.mail.models import MailOutbox
from service.mail.new_needs import SUBJECT
from service.main import create_app
from service.models import User

from ..mailserver import SmtpServer
from ..serving import serve
from .conftest import Server
from .helpers import need_payload, ok, seed


def queue(api: Server, n: int) -> None:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        mail.queue_mail(
            session,
            kind="suggestion_confirmed",
            to=f"user{n}@example.jp",
            subject="協働の種の組み合わせが承認されました",
            body=f"本文 {n}",
            dedup_key=f"in-server:{n}",
        )
        session.commit()


def received(smtp: SmtpServer, count: int, seconds: float = 20) -> list[str]:
    deadline = time.monotonic() + seconds
    while len(smtp.recorder.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return sorted(rcpt[0] for rcpt, _, _ in smtp.recorder.messages)


def test_the_running_server_delivers_what_is_queued(api: Server, smtp: SmtpServer) -> None:
    assert api.app.state.mail_worker is None  # type: ignore[attr-defined]  # off by default
    queue(api, 1)  # queued before the server starts
    settings = smtp.settings(api.settings).model_copy(
        update={"deliver_mail": True, "mail_interval": 1, "warm_up": False}
    )
    app = create_app(settings)
    with serve(app):
        assert app.state.mail_worker is not None
        assert received(smtp, 1) == ["user1@example.jp"]
        queue(api, 2)  # and one queued while it runs
        assert received(smtp, 2) == ["user1@example.jp", "user2@example.jp"]
        time.sleep(1.5)  # a few more runs: nothing is sent twice
    assert app.state.mail_worker.is_set()  # stopped with the server
    # and waited for, before the server closed the database's connections
    assert not app.state.mail_worker.thread.is_alive()
    assert len(smtp.recorder.messages) == 2
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = session.exec(select(MailOutbox)).all()
    assert len(rows) == 2 and all(r.sent_at is not None for r in rows)


def test_a_published_need_is_mailed_with_no_one_reading_its_suggestions(
    api: Server, smtp: SmtpServer
) -> None:
    """The sender's run first stores fresh suggestions: a need published through the API
    reaches the best group's staff without a page that ranks being opened."""
    coord = api.client("coord")
    needs, _ = seed(coord)
    best = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))[0]["organization_id"]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        npo1 = session.exec(select(User).where(User.username == "npo1")).one()
        npo1.email, npo1.organization_id = "npo1@example.jp", best
        session.add(npo1)
        session.commit()
    settings = smtp.settings(api.settings).model_copy(
        update={"deliver_mail": True, "mail_interval": 1, "warm_up": False}
    )
    app = create_app(settings)
    try:
        with serve(app) as url:
            new = ok(
                coord.post(f"{url}/api/needs", json=need_payload(1, key="N2s")),
                201,
            )["id"]
            assert received(smtp, 1, seconds=60) == ["npo1@example.jp"]
    finally:
        with Session(api.engine) as session:  # type: ignore[arg-type]
            npo1 = session.exec(select(User).where(User.username == "npo1")).one()
            npo1.email = ""
            session.add(npo1)
            session.commit()
    [(_, msg, _)] = smtp.recorder.messages
    assert msg["Subject"] == SUBJECT and f"/needs/{new}\n" in msg.get_content()


def test_demo_mode_starts_no_sender() -> None:
    demo = Settings(database_url="sqlite://", deliver_mail=True)  # no SMTP host
    assert start_worker(None, settings=demo) is None  # type: ignore[arg-type]
    off = demo.model_copy(update={"smtp_host": "127.0.0.1", "deliver_mail": False})
    assert start_worker(None, settings=off) is None  # type: ignore[arg-type]
