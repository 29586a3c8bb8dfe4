"""Writing the privacy rows of the audit log: reads of personal data, logins, logouts.

Each function adds one ``audit_log`` row and commits it, so a row stands even when the
page that follows fails to draw. A read writes one row per page, answer or export (never
one per record), with ``rows`` (how many records with personal data it showed), ``ids``
(which ones, as ``"3,7,12"``, so the log can be searched by object) and ``where`` (the
page or API path, or the export's name and filter).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from ..audit import EXPORT, VIEW, audit
from ..models import AuditLog, User

LOGIN = "login"
LOGOUT = "logout"
LOGIN_FAILED = "login_failed"  # a wrong password, an unknown name, a stopped account
LOGIN_REFUSED = "login_refused"  # not checked: too many attempts, or no hashing slot


def _text(value: str, limit: int) -> str:
    """What a person typed, as it is kept in the log: no control or format characters
    (a NUL cannot be stored in PostgreSQL), at most ``limit`` characters."""
    return "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))[:limit]


def _read(
    session: Session,
    user: User,
    action: str,
    entity: str,
    *,
    rows: int,
    where: str,
    ids: Sequence[int] | None,
    entity_id: int | None,
    detail: dict[str, Any],
) -> None:
    if rows <= 0:
        return  # nothing personal was shown
    extra: dict[str, Any] = {"rows": rows, "where": _text(where, 300)}
    if ids is not None:
        extra["ids"] = ",".join(str(i) for i in ids)
    audit(session, user, action, entity, entity_id, **extra, **detail)
    # what the page is about to show stays loaded (not expired and read again row by row)
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def viewed(
    session: Session,
    user: User,
    entity: str,
    *,
    where: str,
    ids: Sequence[int] | None = None,
    rows: int | None = None,
    entity_id: int | None = None,
    **detail: Any,
) -> None:
    """``user`` saw personal data of ``ids`` (or of ``rows`` records) of ``entity`` on
    ``where``; ``entity_id`` when the page is about one object. No row when none."""
    count = rows if rows is not None else len(ids or ())
    _read(
        session,
        user,
        VIEW,
        entity,
        rows=count,
        where=where,
        ids=ids,
        entity_id=entity_id,
        detail=detail,
    )


def exported(
    session: Session,
    user: User,
    entity: str,
    *,
    where: str,
    ids: Sequence[int] | None = None,
    rows: int | None = None,
    entity_id: int | None = None,
    **detail: Any,
) -> None:
    """``user`` downloaded a file with personal data of ``ids`` (or of ``rows``
    records); ``detail`` names the export (kind, format, filter). No row when none."""
    count = rows if rows is not None else len(ids or ())
    _read(
        session,
        user,
        EXPORT,
        entity,
        rows=count,
        where=where,
        ids=ids,
        entity_id=entity_id,
        detail=detail,
    )


def _auth_row(
    session: Session, action: str, *, user_id: int | None, target: int | None, **detail: Any
) -> None:
    session.add(
        AuditLog(user_id=user_id, action=action, entity="user", entity_id=target, detail=detail)
    )
    session.commit()


def logged_in(session: Session, user: User, *, address: str, via: str) -> None:
    """A login that succeeded (``via``: ``page`` or ``api``), from ``address``."""
    _auth_row(session, LOGIN, user_id=user.id, target=user.id, address=address[:64], via=via)


def login_failed(
    session: Session,
    username: str,
    *,
    user: User | None,
    address: str,
    via: str,
    reason: str,
) -> None:
    """A login that was checked and failed: the name tried (never the password), the
    account it names if any (``reason``: ``password``, ``unknown_user``, ``inactive``)."""
    _auth_row(
        session,
        LOGIN_FAILED,
        user_id=None,  # who tried is not known; the account is the row's object
        target=user.id if user else None,
        username=_text(username, 100),
        address=address[:64],
        via=via,
        reason=reason,
    )


def login_refused(session: Session, username: str, *, address: str, via: str, reason: str) -> None:
    """A login refused before the password was checked (``reason``: ``throttled``,
    ``busy``)."""
    _auth_row(
        session,
        LOGIN_REFUSED,
        user_id=None,
        target=None,
        username=_text(username, 100),
        address=address[:64],
        via=via,
        reason=reason,
    )


def logged_out(session: Session, user_id: int, *, address: str, via: str) -> None:
    """A session or API token ended by its user."""
    _auth_row(session, LOGOUT, user_id=user_id, target=user_id, address=address[:64], via=via)
