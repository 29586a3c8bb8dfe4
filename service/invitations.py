"""Invitations: the coordinator sends a one-time link; whoever opens it chooses a login.

Nobody signs up unasked: a city's staff and the groups it works with are known to the
coordinator, who invites them (a group's staff member then registers the group's profile).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from .audit import audit
from .errors import Conflict, Invalid, NotFound, PermissionDenied
from .models import Department, Invitation, Organization, Role, User, utcnow
from .needs import department_named
from .schemas import UserCreate
from .users import create_user

INVITATION_DAYS = 14


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def create_invitation(
    session: Session,
    *,
    by: User,
    role: Role,
    display_name: str = "",
    department: str | None = None,
    organization_id: int | None = None,
) -> tuple[Invitation, str]:
    """A new invitation and its secret (shown once, never stored)."""
    if by.role != Role.coordinator:
        raise PermissionDenied("利用者を招待できるのはコーディネーターだけです。")
    department_id = None
    if role == Role.department:
        if not department or not department.strip():
            raise Invalid(
                "市の職員を招待するときは担当課を指定してください。", code="DEPARTMENT_REQUIRED"
            )
        department_id = department_named(session, department.strip(), create=True).id
    if organization_id is not None and (
        role != Role.npo or session.get(Organization, organization_id) is None
    ):
        raise Invalid(
            "団体の利用者には、登録済みの団体を指定してください。", code="BAD_ORGANIZATION"
        )
    token = secrets.token_urlsafe(24)
    assert by.id is not None
    invitation = Invitation(
        token_hash=_digest(token),
        role=role,
        display_name=display_name.strip()[:100],
        department_id=department_id,
        organization_id=organization_id,
        created_by=by.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    session.flush()
    audit(session, by, "invite", "invitation", invitation.id, role=role)
    session.commit()
    return invitation, token


def open_invitation(session: Session, token: str) -> Invitation:
    """The invitation a link names, if it can still be used."""
    invitation = session.exec(
        select(Invitation).where(Invitation.token_hash == _digest(token))
    ).first()
    if invitation is None:
        raise NotFound("招待")
    if invitation.used_at is not None:
        raise Conflict(
            "この招待は既に使われています。ログインしてください。", code="INVITATION_USED"
        )
    if _aware(invitation.expires_at) <= utcnow():
        raise Conflict(
            "この招待の有効期限が切れています。コーディネーターに再発行を依頼してください。",
            code="INVITATION_EXPIRED",
        )
    return invitation


def department_of(session: Session, invitation: Invitation) -> str | None:
    dept = session.get(Department, invitation.department_id) if invitation.department_id else None
    return dept.name if dept else None


def accept_invitation(
    session: Session, token: str, *, username: str, password: str, display_name: str = ""
) -> User:
    """Create the invited user; the invitation is used up in the same transaction."""
    invitation = open_invitation(session, token)
    data = UserCreate(
        username=username,
        password=password,
        role=Role(invitation.role),
        display_name=display_name or invitation.display_name,
        department=department_of(session, invitation),
        organization_id=invitation.organization_id,
    )
    # claim the invitation first: of two people opening one link at once, one gets it
    claimed = session.execute(
        update(Invitation)
        .where(col(Invitation.id) == invitation.id)
        .where(col(Invitation.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict(
            "この招待は既に使われています。ログインしてください。", code="INVITATION_USED"
        )
    user = create_user(session, data, by=None)  # commits the claim with the user
    used = session.get(Invitation, invitation.id)
    assert used is not None
    used.used_by = user.id
    session.add(used)
    audit(session, user, "accept", "invitation", used.id, username=user.username)
    session.commit()
    return user
