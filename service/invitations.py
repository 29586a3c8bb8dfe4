"""Invitations: the coordinator sends a one-time link; whoever opens it chooses a login.

Nobody signs up unasked: a city's staff and the groups it works with are known to the
coordinator, who invites them (a group's staff member then registers the group's profile).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from .audit import audit
from .errors import Conflict, Invalid, NotFound, PermissionDenied
from .mail.service import clean_address, notify_invitation, notify_reset
from .models import ApiToken, Department, Invitation, Organization, Role, User, utcnow
from .needs import department_named
from .schemas import UserCreate
from .security import check_password, clean_display_name, hash_password
from .users import create_user, end_resets

INVITATION_DAYS = 14


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(
    session: Session,
    *,
    by: User,
    role: Role,
    display_name: str = "",
    department: str | None = None,
    organization_id: int | None = None,
    email: str = "",
    mail_base_url: str | None = None,
    note: str = "",
) -> tuple[Invitation, str]:
    """A new invitation and its secret (shown once, never stored). With ``email`` and
    ``mail_base_url`` the link is also mailed to ``email`` through the outbox (``note``: a
    first paragraph for the mail); the link can be handed over all the same."""
    if by.role != Role.coordinator:
        raise PermissionDenied("利用者を招待できるのはコーディネーターだけです。")
    display_name = clean_display_name(display_name)  # ``Invalid`` ``BAD_DISPLAY_NAME``
    email = clean_address(email)  # ``Invalid`` ``BAD_EMAIL``
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
    department_name = department.strip() if department else ""
    token = secrets.token_urlsafe(24)
    assert by.id is not None
    invitation = Invitation(
        token_hash=_digest(token),
        role=role,
        display_name=display_name,
        department_id=department_id,
        organization_id=organization_id,
        created_by=by.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
        email=email,
    )
    session.add(invitation)
    session.flush()
    assert invitation.id is not None
    mailed = bool(email and mail_base_url is not None)
    audit(session, by, "invite", "invitation", invitation.id, role=role, mailed=mailed)
    if mailed:
        assert mail_base_url is not None
        org = session.get(Organization, organization_id) if organization_id else None
        lead = {
            Role.coordinator: "コーディネーター（市民自治推進課）として",
            Role.department: f"{department_name}の協働推進員として",
            Role.npo: f"{org.name} のスタッフとして" if org else "団体のスタッフとして",
        }[role]
        notify_invitation(
            session,
            invitation_id=invitation.id,
            to=email,
            name=display_name,
            lead=(f"{note}\n\n" if note else "") + f"{lead}、協働マッチングにご招待します。",
            link=f"{mail_base_url.rstrip('/')}/invite/{token}",
            days=INVITATION_DAYS,
        )
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
            "このリンクは既に使われています。ログインしてください。"
            if invitation.for_user is not None
            else "この招待は既に使われています。ログインしてください。",
            code="INVITATION_USED",
        )
    if invitation.expires_at <= utcnow():
        raise Conflict(
            # a reset link also ends when a newer one is issued or used (``users.end_resets``)
            "このパスワード再設定リンクは使えません（有効期限切れか、新しいリンクが"
            "発行されています）。コーディネーターに再発行を依頼してください。"
            if invitation.for_user is not None
            else "この招待の有効期限が切れています。コーディネーターに再発行を依頼してください。",
            code="INVITATION_EXPIRED",
        )
    return invitation


def department_of(session: Session, invitation: Invitation) -> str | None:
    dept = session.get(Department, invitation.department_id) if invitation.department_id else None
    return dept.name if dept else None


RESET_DAYS = 3


def create_reset(
    session: Session, *, by: User, user_id: int, mail_base_url: str | None = None
) -> tuple[Invitation, str]:
    """A one-time link with which ``user_id`` chooses a new password (no e-mail needed:
    the coordinator hands the link over, as with an invitation). With ``mail_base_url``
    the link is also mailed to the user's own address, if the user has one."""
    if by.role != Role.coordinator:
        raise PermissionDenied("パスワードの再設定はコーディネーターが行います。")
    target = session.get(User, user_id)
    if target is None:
        raise NotFound("利用者")
    end_resets(session, user_id)  # only the newest link works
    token = secrets.token_urlsafe(24)
    assert by.id is not None
    invitation = Invitation(
        token_hash=_digest(token),
        role=target.role,
        display_name=target.display_name,
        for_user=user_id,
        created_by=by.id,
        expires_at=utcnow() + timedelta(days=RESET_DAYS),
    )
    session.add(invitation)
    session.flush()
    audit(session, by, "reset_link", "user", user_id)
    if mail_base_url is not None:
        assert invitation.id is not None
        link = f"{mail_base_url.rstrip('/')}/invite/{token}"
        notify_reset(session, user=target, link=link, invitation_id=invitation.id)
    session.commit()
    return invitation, token


def reset_password(session: Session, token: str, *, password: str) -> User:
    """Use a reset link: the new password is set and the user's other sessions end."""
    invitation = open_invitation(session, token)
    if invitation.for_user is None:
        raise Invalid("このリンクは利用者登録用です。", code="NOT_A_RESET")
    user = session.get(User, invitation.for_user)
    if user is None or not user.is_active:
        raise Conflict("この利用者は利用を停止されています。", code="USER_INACTIVE")
    check_password(password, username=user.username)
    _claim(session, invitation)
    end_resets(session, user.id)  # and none older stays valid once a link is used
    user.password_hash = hash_password(password)
    invitation.used_by = user.id
    session.add_all([user, invitation])
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user.id))
    audit(session, user, "password_reset", "user", user.id)
    session.commit()
    return user


def _claim(session: Session, invitation: Invitation) -> None:
    """Mark the link used, unless someone else just did: of two uses at once, one wins."""
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


def accept_invitation(
    session: Session, token: str, *, username: str, password: str, display_name: str = ""
) -> User:
    """Create the invited user; the invitation is used up in the same transaction."""
    invitation = open_invitation(session, token)
    if invitation.for_user is not None:
        raise Invalid("このリンクはパスワードの再設定用です。", code="NOT_AN_INVITATION")
    data = UserCreate(
        username=username,
        password=password,
        role=Role(invitation.role),
        display_name=display_name or invitation.display_name,
        department=department_of(session, invitation),
        organization_id=invitation.organization_id,
    )
    _claim(session, invitation)
    user = create_user(session, data, by=None)  # commits the claim with the user
    used = session.get(Invitation, invitation.id)
    assert used is not None
    used.used_by = user.id
    session.add(used)
    if used.email and not user.email:  # the address the link was mailed to
        user.email = used.email
        session.add(user)
    audit(session, user, "accept", "invitation", used.id, username=user.username)
    session.commit()
    return user
