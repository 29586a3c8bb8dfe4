"""Login throttling: how many guesses a login name gets from one address, how many one
address gets in all, and how many password hashes the server computes at once.

- **Counted atomically.** An attempt is written (and committed) *before* the password is
  checked, then the attempts are counted: of any number of
  simultaneous guesses, at most ``PAIR_LIMIT`` reach the password check. Counting first
  and writing after (as before) let 30 parallel guesses through 19 times.
- **Per login name × address**, not per account: a stranger who types the coordinator's
  name five times locks that name *from the stranger's address* only, and the
  coordinator can lift any lock (``unlock``). One address is also limited across every
  name (``ADDRESS_LIMIT``): guessing many names from one place stops too.
- **Unknown names answer the same**: attempts are counted by the name typed, whether or
  not an account has it, so a 429 says nothing about who exists.
- **Bounded hashing.** argon2 is made to be slow; ``hashing_slot`` lets at most
  ``HASH_SLOTS`` hashes run at once (one core stays free for everybody else's
  requests) and answers 503 ``LOGIN_BUSY`` with Retry-After when a login has waited
  ``HASH_WAIT`` seconds for a slot.

Attempts are rows of ``login_attempt`` (so every server process agrees); a successful
login removes its own name × address rows, and rows older than ``WINDOW`` stop counting:
an address's old rows are deleted at its next attempt, and everybody's at any login at
most once every ``PURGE_EVERY`` seconds per process (``_purge``), so the rows of an
address that never comes back do not stay.
"""

from __future__ import annotations

import os
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlmodel import Session, col, delete, func, select

from .errors import DomainError
from .models import LoginAttempt

WINDOW = timedelta(minutes=15)
PAIR_LIMIT = 5
ADDRESS_LIMIT = 30
HASH_SLOTS = max(1, (os.cpu_count() or 2) - 1)
HASH_WAIT = 5.0
PURGE_EVERY = 60.0  # seconds between two purges of every address's old rows

_slots = threading.BoundedSemaphore(HASH_SLOTS)
_clock = time.monotonic  # tests move it on rather than sleeping
_purge_lock = threading.Lock()
_next_purge = 0.0


class TooManyAttempts(DomainError):
    status = 429
    default_code = "TOO_MANY_ATTEMPTS"
    retry_after = int(WINDOW.total_seconds())


class LoginBusy(DomainError):
    status = 503
    default_code = "LOGIN_BUSY"
    retry_after = 5


def login_key(username: str) -> str:
    """The name as attempts are counted: NFKC, trimmed, case-folded (ＡＤＭＩＮ, Admin and
    admin are one name to a guesser)."""
    return unicodedata.normalize("NFKC", username).strip().casefold()[:100]


def _window_start() -> datetime:
    return datetime.now(UTC) - WINDOW


def _purge(session: Session, since: datetime) -> None:
    """Delete every address's attempts older than the window, unless this process did so
    less than ``PURGE_EVERY`` seconds ago (one DELETE with a time condition)."""
    global _next_purge
    with _purge_lock:
        now = _clock()
        if now < _next_purge:
            return
        _next_purge = now + PURGE_EVERY
    session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < since))


def reserve(session: Session, username: str, address: str) -> LoginAttempt:
    """Write this attempt, then refuse it (``TooManyAttempts``) if it is past a limit.

    Each attempt is committed before it counts, and counts every committed attempt: of
    several simultaneous ones, the last to count sees them all, so no more than the limit
    ever pass (a burst may be refused a little early, never let through). A refused
    attempt is removed again: being refused does not extend a lock."""
    since = _window_start()
    _purge(session, since)  # everybody's old attempts, now and then
    # attempts past the window count no more: this address's are dropped as it comes back
    session.exec(
        delete(LoginAttempt)
        .where(col(LoginAttempt.address) == address[:64])
        .where(col(LoginAttempt.at) < since)
    )
    attempt = LoginAttempt(username_key=login_key(username), address=address[:64])
    session.add(attempt)
    session.commit()
    earlier = col(LoginAttempt.at) >= since
    pair = session.exec(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username_key == attempt.username_key)
        .where(LoginAttempt.address == attempt.address, earlier)
    ).one()
    from_address = session.exec(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.address == attempt.address, earlier)
    ).one()
    if pair > PAIR_LIMIT or from_address > ADDRESS_LIMIT:
        session.delete(attempt)
        session.commit()
        raise TooManyAttempts(
            "ログインの失敗が続いたため、しばらくログインできません。"
            f"{WINDOW.seconds // 60}分ほど待ってからもう一度試すか、"
            "市民自治推進課に連絡してください。"
        )
    return attempt


def succeeded(session: Session, attempt: LoginAttempt) -> None:
    """A right password: this name's failures from this address no longer count."""
    session.exec(
        delete(LoginAttempt)
        .where(col(LoginAttempt.username_key) == attempt.username_key)
        .where(col(LoginAttempt.address) == attempt.address)
    )
    session.commit()


@contextmanager
def hashing_slot() -> Iterator[None]:
    """Hold one of ``HASH_SLOTS`` while a password hash is computed."""
    if not _slots.acquire(timeout=HASH_WAIT):
        raise LoginBusy("ログインが混み合っています。少し待ってからもう一度お試しください。")
    try:
        yield
    finally:
        _slots.release()


@dataclass(frozen=True, slots=True)
class Lock:
    """A login name × address that cannot log in now."""

    username: str
    address: str
    failures: int
    last: datetime


def locks(session: Session) -> list[Lock]:
    """Every name × address at its limit within the window, the latest first (and every
    address at its own limit, with the name ``*``)."""
    since = _window_start()
    out: list[Lock] = []
    pairs = session.exec(
        select(
            LoginAttempt.username_key,
            LoginAttempt.address,
            func.count(),
            func.max(LoginAttempt.at),
        )
        .where(col(LoginAttempt.at) >= since)
        .group_by(col(LoginAttempt.username_key), col(LoginAttempt.address))
    ).all()
    out += [Lock(name, addr, n, last) for name, addr, n, last in pairs if n >= PAIR_LIMIT]
    addresses = session.exec(
        select(LoginAttempt.address, func.count(), func.max(LoginAttempt.at))
        .where(col(LoginAttempt.at) >= since)
        .group_by(col(LoginAttempt.address))
    ).all()
    out += [Lock("*", addr, n, last) for addr, n, last in addresses if n >= ADDRESS_LIMIT]
    return sorted(out, key=lambda lock: (lock.last, lock.username, lock.address), reverse=True)


def unlock(session: Session, username: str, address: str) -> int:
    """Lift a lock (``username`` ``*``: the address's own); returns the attempts removed.
    The caller audits it."""
    query = delete(LoginAttempt).where(col(LoginAttempt.address) == address)
    if username != "*":
        query = query.where(col(LoginAttempt.username_key) == login_key(username))
    result = session.exec(query)
    session.commit()
    return int(result.rowcount or 0)


def client_address(request: Request) -> str:
    """The address attempts are counted by: the peer's, as the ASGI server reports it
    (behind a TLS proxy, run ``serve`` with the proxy's address in ``--forwarded-allow-ips``
    so that the client's own address is reported, not the proxy's)."""
    return request.client.host if request.client else "unknown"
