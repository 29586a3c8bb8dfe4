"""Users: created by the coordinator (or the ``create-user`` command)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from . import throttle
from .audit import audit
from .errors import Conflict, Invalid, NotFound, PermissionDenied
from .models import ApiToken, Department, Invitation, Organization, Role, User, utcnow
from .needs import department_named
from .schemas import UserCreate, UserPublic
from .security import (
    check_password,
    clean_display_name,
    clean_username,
    hash_password,
    verify_password,
)


def create_user(session: Session, data: UserCreate, *, by: User | None) -> User:
    """``by`` is None only for the command line (the first coordinator)."""
    if by is not None and by.role != Role.coordinator:
        raise PermissionDenied("利用者を追加できるのはコーディネーターだけです。")
    data = data.model_copy(
        update={
            "username": clean_username(data.username),
            "display_name": clean_display_name(data.display_name),
        }
    )
    check_password(data.password, username=data.username)
    if session.exec(select(User.id).where(User.username == data.username)).first() is not None:
        raise Conflict(
            f"ユーザー名「{data.username}」は既に使われています。", code="DUPLICATE_USERNAME"
        )
    department_id = None
    if data.role == Role.department:
        if not data.department:
            raise Invalid("市の職員には担当課を指定してください。", code="DEPARTMENT_REQUIRED")
        department_id = department_named(session, data.department, create=True).id
    if data.organization_id is not None:
        if data.role != Role.npo or session.get(Organization, data.organization_id) is None:
            raise Invalid(
                "団体の利用者には、登録済みの団体を指定してください。", code="BAD_ORGANIZATION"
            )
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        role=data.role,
        department_id=department_id,
        organization_id=data.organization_id,
    )
    session.add(user)
    session.flush()
    audit(session, by, "create", "user", user.id, username=user.username, role=user.role)
    session.commit()
    return user


def user_public(session: Session, user: User) -> UserPublic:
    dept = session.get(Department, user.department_id) if user.department_id else None
    assert user.id is not None
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        department=dept.name if dept else None,
        organization_id=user.organization_id,
    )


def set_active(session: Session, user_id: int, active: bool, *, by: User) -> User:
    """Stop (or restore) a login; stopping ends the user's sessions, tokens and pending
    reset links at once."""
    if by.role != Role.coordinator:
        raise PermissionDenied("利用者の利用停止はコーディネーターだけが行えます。")
    if user_id == by.id:
        raise Conflict("自分自身の利用は停止できません。", code="SELF_DEACTIVATION")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("利用者")
    user.is_active = active
    session.add(user)
    if not active:  # sessions, API tokens and pending reset links end at once
        session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user_id))
        end_resets(session, user_id)
    audit(session, by, "activate" if active else "deactivate", "user", user_id)
    session.commit()
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """The user's own password; every other session of the user ends, and so does every
    pending reset link (one handed over earlier would undo the change)."""
    if not verify_password(user.password_hash, current):
        raise Invalid("今のパスワードが違います。", code="BAD_PASSWORD")
    check_password(new, username=user.username)
    user.password_hash = hash_password(new)
    session.add(user)
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user.id))
    end_resets(session, user.id)
    audit(session, user, "password", "user", user.id)
    session.commit()


def end_resets(session: Session, user_id: int | None) -> None:
    """Every unused reset link of the user expires now (a newer link issued or used, the
    password changed, the login stopped)."""
    session.execute(
        update(Invitation)
        .where(col(Invitation.for_user) == user_id)
        .where(col(Invitation.used_at).is_(None))
        .where(col(Invitation.expires_at) > utcnow())
        .values(expires_at=utcnow())
    )


def unlock_login(session: Session, username: str, address: str, *, by: User) -> int:
    """Lift a login lock (``throttle``): that name's counted attempts from ``address``
    (``username`` ``*``: every attempt from the address). Coordinators only, audited."""
    if by.role != Role.coordinator:
        raise PermissionDenied("ログインの制限を解除できるのはコーディネーターだけです。")
    removed = throttle.unlock(session, username, address)
    audit(session, by, "login_unlocked", "user", None, username=username, address=address)
    session.commit()
    return removed
