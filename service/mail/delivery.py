"""The worker: sends the outbox's due rows through SMTP, with retry and backoff.

A row is claimed before it is sent (one UPDATE … WHERE sent_at IS NULL AND the row is
unclaimed or its claim is stale; a row counts as claimed only if that UPDATE changed it),
so two workers never send the same row. A failure releases the claim, counts the attempt,
keeps the error and waits 1, 2, 4 … minutes (at most an hour) before the next try.
Without ``smtp_host`` (demo mode) nothing is sent and nothing connects. ``start_worker``
runs ``deliver_due`` every ``mail_interval`` seconds in a thread of the server (``serve``
with ``KYODO_DELIVER_MAIL``); the claims make it safe beside other workers.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, or_, select

from ..config import Settings
from ..models import utcnow
from .models import SECRET_KINDS, SECRET_REMOVED, MailOutbox

log = logging.getLogger(__name__)

SENDER_NAME = "協働マッチング"
# a claim older than this is taken to belong to a worker that died while sending
CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
SMTP_TIMEOUT = 30


@dataclass
class Delivery:
    """What one run did: ids sent, ids that failed (and will be retried)."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4 … minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def compose(row: MailOutbox, *, sender: str) -> EmailMessage:
    """A plain-text UTF-8 message; the Subject and the sender's name are MIME-encoded."""
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = Address(display_name=SENDER_NAME, addr_spec=sender)
    msg["To"] = row.to_address
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(row.body, charset="utf-8", cte="base64")
    return msg


def _claim(session: Session, *, now: datetime, limit: int) -> list[MailOutbox]:
    due = session.exec(
        select(MailOutbox.id)
        .where(col(MailOutbox.sent_at).is_(None), col(MailOutbox.next_attempt_at) <= now)
        .where(
            or_(
                col(MailOutbox.claimed_at).is_(None),
                col(MailOutbox.claimed_at) < now - CLAIM_TIMEOUT,
            )
        )
        .order_by(col(MailOutbox.id))
        .limit(limit)
    ).all()
    claimed = []
    for row_id in due:
        result = cast(
            CursorResult[Any],
            session.execute(
                update(MailOutbox)
                .where(col(MailOutbox.id) == row_id, col(MailOutbox.sent_at).is_(None))
                .where(
                    or_(
                        col(MailOutbox.claimed_at).is_(None),
                        col(MailOutbox.claimed_at) < now - CLAIM_TIMEOUT,
                    )
                )
                .values(claimed_at=now)
            ),
        )
        session.commit()  # the claim is visible to every other worker at once
        if result.rowcount == 1:
            row = session.get(MailOutbox, row_id, populate_existing=True)
            assert row is not None
            claimed.append(row)
    return claimed


def _failed(session: Session, row: MailOutbox, error: str, now: datetime) -> None:
    attempts = row.attempts + 1
    session.execute(
        update(MailOutbox)
        .where(col(MailOutbox.id) == row.id)
        .values(
            attempts=attempts,
            next_attempt_at=now + backoff(attempts),
            last_error=error[:1000],
            claimed_at=None,
        )
    )
    session.commit()


def _sent(session: Session, row: MailOutbox, now: datetime) -> None:
    secret = {"body": SECRET_REMOVED} if row.kind in SECRET_KINDS else {}
    session.execute(
        update(MailOutbox)
        .where(col(MailOutbox.id) == row.id)
        .values(sent_at=now, claimed_at=None, last_error="", **secret)
    )
    session.commit()


def _connect(settings: Settings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
    try:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    except (smtplib.SMTPException, OSError):
        smtp.close()
        raise
    return smtp


def deliver_due(
    engine: Engine, *, settings: Settings, now: datetime | None = None, limit: int = 100
) -> Delivery:
    """Send the rows due at ``now`` (at most ``limit``); nothing at all in demo mode."""
    out = Delivery()
    if not settings.smtp_host:
        return out
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        rows = _claim(session, now=now, limit=limit)
        if not rows:
            return out
        try:
            smtp = _connect(settings)
        except (smtplib.SMTPException, OSError) as exc:
            for row in rows:
                _failed(session, row, f"接続できません: {exc!r}", now)
                out.failed.append(row.id or 0)
            return out
        with smtp:
            for row in rows:
                assert row.id is not None
                try:
                    smtp.send_message(compose(row, sender=settings.mail_from))
                except (smtplib.SMTPException, OSError, ValueError) as exc:
                    _failed(session, row, repr(exc), now)
                    out.failed.append(row.id)
                    continue
                _sent(session, row, now)
                out.sent.append(row.id)
    return out


class MailWorker(threading.Event):
    """Set to stop the delivery thread (``start_worker``); ``stop`` also waits for it."""

    thread: threading.Thread

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the run in progress, and wait for it: the server then closes the
        database's connections, and a run still going would have kept one open."""
        self.set()
        self.thread.join(timeout)


def start_worker(
    engine: Engine, *, settings: Settings, before: Callable[[], None] | None = None
) -> MailWorker | None:
    """Deliver what is due every ``settings.mail_interval`` seconds in a daemon thread
    until the returned event is set, calling ``before`` first each time (the server stores
    fresh suggestions there, which queues the mail of a just-published need); None (no
    thread) without ``deliver_mail`` or without an SMTP host (demo mode only queues)."""
    if not settings.deliver_mail or not settings.smtp_host:
        return None
    stop = MailWorker()

    def run() -> None:
        while not stop.is_set():
            if before is not None:
                try:
                    before()
                except Exception:  # a failed refresh must not stop the mail (as warm_up)
                    log.exception("the refresh before sending mail failed")
            try:
                done = deliver_due(engine, settings=settings)
            except SQLAlchemyError:  # the database is down: the rows wait, try again later
                log.exception("mail delivery could not read the outbox")
            else:
                if done.sent or done.failed:
                    log.info("mail: sent %d, failed %d", len(done.sent), len(done.failed))
            stop.wait(settings.mail_interval)

    stop.thread = threading.Thread(target=run, name="kyodo-mail", daemon=True)
    stop.thread.start()
    return stop
