"""Passwords (argon2id) and bearer tokens (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, func, select

from .errors import DomainError
from .models import ApiToken, AuditLog, User

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
# verifying against a throw-away hash when the user is unknown keeps timing the same
_DUMMY_HASH = _hasher.hash("kyodo-match-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# after this many failed logins within the window, a login is refused until it has passed
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


class TooManyAttempts(DomainError):
    status = 429
    default_code = "TOO_MANY_ATTEMPTS"


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user, if the password is right; a failed attempt is written to the audit log,
    and after ``MAX_FAILURES`` of them within ``LOCKOUT`` the login is refused for a while
    (counted in the database, so every server process agrees)."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    since = datetime.now(UTC) - LOCKOUT
    failures = session.exec(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.action == "login_failed", AuditLog.entity == "user")
        .where(AuditLog.entity_id == user.id, col(AuditLog.at) >= since)
    ).one()
    if failures >= MAX_FAILURES:
        raise TooManyAttempts(
            "ログインの失敗が続いたため、しばらくログインできません。"
            f"{LOCKOUT.seconds // 60}分ほど待ってからもう一度試すか、"
            "市民自治推進課に連絡してください。"
        )
    if not user.is_active or not verify_password(user.password_hash, password):
        session.add(AuditLog(action="login_failed", entity="user", entity_id=user.id))
        session.commit()
        return None
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl_hours: int) -> str:
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    now = datetime.now(UTC)
    session.add(
        ApiToken(
            user_id=user.id, token_hash=_digest(token), expires_at=now + timedelta(hours=ttl_hours)
        )
    )
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


def revoke_token(session: Session, token: str) -> None:
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is not None:
        session.delete(row)
        session.commit()
