"""Keys the service makes for itself and keeps in its database (``app_key``).

A key is made once, at random, the first time it is asked for, and every process that
shares the database reads the same one, so several workers (and a restart) agree without
a setting to manage. What is keyed with it cannot be reversed without the database: a
registration's sender address is kept as ``HMAC(key, address)``, not as a plain hash,
which anyone could reverse by hashing every IPv4 address (2³² of them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from .models import AppKey

__all__ = ["app_key", "keyed_hash"]


def app_key(session: Session, name: str) -> bytes:
    """The key ``name``, made (and committed) if it does not exist yet. Two processes
    making it at once agree: the second insert fails and reads the first one's."""
    row = session.get(AppKey, name)
    if row is None:
        session.add(AppKey(name=name, value=secrets.token_hex(32)))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        row = session.get(AppKey, name)
        assert row is not None
    return bytes.fromhex(row.value)


def keyed_hash(session: Session, name: str, text: str) -> str:
    """HMAC-SHA-256 of ``text`` with the key ``name``, as hex."""
    return hmac.new(app_key(session, name), text.encode("utf-8"), hashlib.sha256).hexdigest()
