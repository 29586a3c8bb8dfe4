"""The audit log: one row per change, written in the same transaction as the change; and
one row per read of personal data (``VIEW``, ``EXPORT``: ``service.privacy``), which
says nothing changed (the matching index skips them)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from .models import AuditLog, User

VIEW = "view"
EXPORT = "export"
READ_ACTIONS = (VIEW, EXPORT)  # rows that record a reading, not a change


def audit(
    session: Session,
    user: User | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    **detail: Any,
) -> AuditLog:
    """Add an audit row to ``session`` (the caller commits it with the change)."""
    row = AuditLog(
        user_id=user.id if user else None,
        action=action,
        entity=entity,
        entity_id=entity_id,
        detail=detail,
    )
    session.add(row)
    return row
