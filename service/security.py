"""Passwords (argon2id), logins (throttled: ``throttle``) and tokens (random, stored as
SHA-256; API bearer tokens and page sessions kept apart)."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from . import throttle
from .errors import Invalid
from .models import ApiToken, TokenKind, User
from .privacy import service as privacy

# argon2id with RFC 9106's second recommended work (64 MiB, 3 passes) in one lane: with
# the default 4 lanes one hash runs on several threads, so the hashing slots
# (``throttle.HASH_SLOTS``, one core left free) did not bound the cores a flood of guesses
# takes (benchmarks/login_flood.py: a user's p95 343 ms under 16 threads, 4 lanes)
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)
MIN_PASSWORD_LENGTH = 10
# verifying against a throw-away hash when the user is unknown keeps timing the same
_DUMMY_HASH = _hasher.hash("kyodo-match-dummy-password")


# passwords people pick first (long enough for the length rule, and the first ones a
# guesser tries); compared after lower-casing and NFKC
COMMON_PASSWORDS = frozenset(
    """
    1234567890 0123456789 12345678910 1234512345 1111111111 0000000000 1234567891
    qwertyuiop qwertyuiop1 asdfghjkl1 1q2w3e4r5t 1qaz2wsx3edc qwerty1234 qwerty12345
    password12 password123 password1234 passw0rd123 p@ssw0rd123 iloveyou123
    abcdefghij abc1234567 abcd123456 aaaaaaaaaa letmein123 welcome123 admin12345
    administrator kyodomatch kyodo-match
    """.split()
)
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff]")
_MARKUP = re.compile("[<>&\"'`]")


def check_password(password: str, *, username: str = "") -> None:
    """Refuse a password that is too short, among the most common, one character
    repeated, or the login name itself (``Invalid`` ``WEAK_PASSWORD``, in Japanese)."""
    key = unicodedata.normalize("NFKC", password).lower()
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > 200:
        reason = f"{MIN_PASSWORD_LENGTH}文字以上（200文字以内）にしてください"
    elif key in COMMON_PASSWORDS or len(set(key)) <= 2:
        reason = "よく使われていて推測されやすいものは使えません"
    elif username and unicodedata.normalize("NFKC", username).lower() in key:
        reason = "ユーザー名を含むものは使えません"
    else:
        return
    raise Invalid(f"パスワードは{reason}。", code="WEAK_PASSWORD")


def _hidden(text: str) -> bool:
    """Whether ``text`` has a control, zero-width or other invisible format character."""
    return bool(_ZERO_WIDTH.search(text)) or any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text
    )


def clean_username(username: str) -> str:
    """A login name in one form (NFKC, trimmed): no zero-width or control characters or
    markup, so two names that look the same are the same name (``Invalid``
    ``BAD_USERNAME``)."""
    name = unicodedata.normalize("NFKC", username).strip()
    if _hidden(name) or _MARKUP.search(name) or any(c.isspace() for c in name):
        raise Invalid(
            "ユーザー名に空白・見えない文字・記号（< > & \" ' `）は使えません。",
            code="BAD_USERNAME",
        )
    if not 3 <= len(name) <= 100:
        raise Invalid("ユーザー名は3文字以上100文字以内にしてください。", code="BAD_USERNAME")
    return name


def clean_display_name(display_name: str) -> str:
    """A display name (may be empty) by the login name's rules: NFKC, trimmed, no
    control or zero-width characters and no ``< >`` (``Invalid`` ``BAD_DISPLAY_NAME``)."""
    name = unicodedata.normalize("NFKC", display_name).strip()
    if _hidden(name) or "<" in name or ">" in name:
        message = "表示名に見えない文字・制御文字・記号（< >）は使えません。"
    elif len(name) > 100:
        message = "表示名は100文字以内にしてください。"
    else:
        return name
    raise Invalid(
        message,
        code="BAD_DISPLAY_NAME",
        errors=[{"field": "display_name", "code": "BAD_DISPLAY_NAME", "message": message}],
    )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    session: Session, username: str, password: str, address: str, *, via: str = "api"
) -> User | None:
    """The user, if the password is right. Every attempt is counted per name × address
    and per address before the password is checked (``throttle``: past a limit,
    ``TooManyAttempts`` for known and unknown names alike); the check itself waits for a
    hashing slot. Every outcome is written to the audit log (``privacy.service``): the
    login, or the failure with the name tried (never the password) and ``address``."""
    try:
        attempt = throttle.reserve(session, username, address)
        # end the counting's read transaction: a login waiting for a hashing slot must
        # not hold one of the pool's connections (16 waiting guesses held them all, and
        # every other request queued for a connection behind the hashes)
        session.rollback()
        with throttle.hashing_slot():
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                verify_password(_DUMMY_HASH, password)
                right = False
            else:
                right = user.is_active and verify_password(user.password_hash, password)
    except (throttle.TooManyAttempts, throttle.LoginBusy) as exc:
        session.rollback()
        reason = "throttled" if isinstance(exc, throttle.TooManyAttempts) else "busy"
        privacy.login_refused(session, username, address=address, via=via, reason=reason)
        raise
    if not right:
        if user is None:
            reason = "unknown_user"
        else:
            reason = "password" if user.is_active else "inactive"
        privacy.login_failed(session, username, user=user, address=address, via=via, reason=reason)
        return None
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash):  # made with other work or lanes
        with throttle.hashing_slot():
            user.password_hash = hash_password(password)
        session.add(user)
    throttle.succeeded(session, attempt)
    privacy.logged_in(session, user, address=address, via=via)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, user: User, ttl_hours: int, kind: TokenKind = TokenKind.api
) -> str:
    """A new secret for ``user``: an API bearer token, or a page session's cookie."""
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    now = datetime.now(UTC)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_digest(token),
            kind=kind,
            expires_at=now + timedelta(hours=ttl_hours),
        )
    )
    session.commit()
    return token


def user_for_token(session: Session, token: str, kind: TokenKind = TokenKind.api) -> User | None:
    """The active user a live token of ``kind`` belongs to (a session cookie is not an
    API token)."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.kind != kind:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


def revoke_token(session: Session, token: str, *, address: str = "", via: str = "api") -> None:
    """End a session or API token (a logout, written to the audit log with ``address``)."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is not None:
        session.delete(row)
        privacy.logged_out(session, row.user_id, address=address, via=via)  # commits both
