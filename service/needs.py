"""Needs (協働の種): keyword-only domain functions, no HTTP types."""

from __future__ import annotations

import uuid
from datetime import date

from sqlmodel import Session, col, select

from matching import FIELD_NAMES

from . import stale
from .audit import audit
from .db import page_of
from .deadlines import is_open, open_clause, today_jst
from .errors import Conflict, Invalid, NotFound, PermissionDenied
from .models import Department, Need, NeedStatus, Role, User, from_tags, int_tags, to_tags, utcnow
from .schemas import NeedCreate, NeedPublic, NeedUpdate, Page
from .search import matches


def department_named(session: Session, name: str, *, create: bool = False) -> Department:
    dept = session.exec(select(Department).where(Department.name == name)).first()
    if dept is None:
        if not create:
            raise Invalid(f"担当課「{name}」は登録されていません。", code="UNKNOWN_DEPARTMENT")
        dept = Department(name=name)
        session.add(dept)
        session.flush()
    return dept


def need_public(
    need: Need, department: str, *, viewer: User, today: date | None = None
) -> NeedPublic:
    assert need.id is not None
    internal = viewer.role == Role.coordinator or (
        viewer.role == Role.department and viewer.department_id == need.department_id
    )
    fields = int_tags(need.fields)
    return NeedPublic(
        id=need.id,
        key=need.key,
        department=department,
        title=need.title,
        description=need.description,
        goal=need.goal,
        fields=fields,
        field_names=[FIELD_NAMES[f] for f in fields if f in FIELD_NAMES],
        areas=from_tags(need.areas),
        forms=from_tags(need.forms),
        contact_name=need.contact_name if internal else None,
        status=NeedStatus(need.status),
        deadline=need.deadline,
        expired=not is_open(need, today or today_jst()),
        created_at=need.created_at,
        updated_at=need.updated_at,
    )


def can_view(user: User, need: Need, *, today: date | None = None) -> bool:
    """The coordinator sees every need, a department its own; a group the published needs
    still open (an expired one is kept for the city, not offered to groups)."""
    if user.role == Role.coordinator:
        return True
    if user.role == Role.department:
        return need.department_id == user.department_id
    return need.status == NeedStatus.published and is_open(need, today or today_jst())


def can_edit(user: User, need: Need) -> bool:
    return user.role == Role.coordinator or (
        user.role == Role.department and need.department_id == user.department_id
    )


def get_need(
    session: Session, need_id: int, *, user: User, today: date | None = None
) -> tuple[Need, str]:
    row = session.exec(
        select(Need, Department.name).join(Department).where(Need.id == need_id)
    ).first()
    if row is None or not can_view(user, row[0], today=today):
        # a need the user may not see is reported as missing: its existence is not leaked
        raise NotFound("課題")
    return row[0], row[1]


def list_needs(
    session: Session,
    *,
    user: User,
    department: str | None = None,
    field: int | None = None,
    area: str | None = None,
    status: NeedStatus | None = None,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
    today: date | None = None,
) -> Page[NeedPublic]:
    today = today or today_jst()
    query = select(Need, Department.name).join(Department)
    if user.role == Role.department:
        query = query.where(Need.department_id == user.department_id)
    elif user.role == Role.npo:
        query = query.where(Need.status == NeedStatus.published, open_clause(today))
    if department:
        query = query.where(Department.name == department)
    if field is not None:
        query = query.where(col(Need.fields).contains(f"|{field}|"))
    if area:
        query = query.where(col(Need.areas).contains(f"|{area}|", autoescape=True))
    if status is not None:
        query = query.where(Need.status == status)
    if q:
        query = query.where(matches(Need.search_text, q))
    total, rows = page_of(session, query, col(Need.id), limit=limit, offset=offset)
    return Page(
        items=[need_public(n, d, viewer=user, today=today) for n, d in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def _department_for(session: Session, user: User, name: str | None) -> Department:
    if user.role == Role.coordinator:
        if not name:
            raise Invalid(
                "担当課を指定してください。",
                code="VALIDATION_ERROR",
                errors=[
                    {"field": "department", "code": "MISSING", "message": "担当課は必須です。"}
                ],
            )
        return department_named(session, name, create=True)
    if user.role == Role.department and user.department_id is not None:
        dept = session.get(Department, user.department_id)
        assert dept is not None
        if name and name != dept.name:
            raise PermissionDenied("他の課の課題は登録できません。")
        return dept
    raise PermissionDenied("課題を登録できるのは市の職員だけです。")


def create_need(session: Session, data: NeedCreate, *, user: User) -> tuple[Need, str]:
    dept = _department_for(session, user, data.department)
    assert dept.id is not None
    key = data.key or f"W{uuid.uuid4().hex[:10].upper()}"
    if session.exec(select(Need.id).where(Need.key == key)).first() is not None:
        raise Conflict(f"課題ID「{key}」は既に使われています。", code="DUPLICATE_KEY")
    need = Need(
        key=key,
        department_id=dept.id,
        title=data.title,
        description=data.description,
        goal=data.goal,
        fields=to_tags(data.fields),
        areas=to_tags(data.areas),
        forms=to_tags(data.forms),
        contact_name=data.contact_name,
        status=data.status,
        deadline=data.deadline,
    )
    session.add(need)
    session.flush()
    audit(session, user, "create", "need", need.id, key=key)
    session.commit()
    return need, dept.name


def update_need(
    session: Session,
    need_id: int,
    data: NeedUpdate,
    *,
    user: User,
) -> tuple[Need, str]:
    """Save the changes; with ``data.updated_at`` (the version the editor read) only if
    nobody saved the need since (``stale``: otherwise ``409 STALE_VERSION``)."""
    need, dept = get_need(session, need_id, user=user)
    if not can_edit(user, need):
        raise PermissionDenied("この課題を編集する権限がありません。")
    if need.status == NeedStatus.withdrawn:
        raise Conflict("取り下げた課題は編集できません。", code="WITHDRAWN")
    assert need.id is not None
    read = data.updated_at
    now = utcnow() if read is None else stale.claim(session, Need, need.id, read)
    changes = data.model_dump(exclude_unset=True, exclude={"updated_at"})
    for name, value in changes.items():
        if name in ("fields", "areas", "forms"):
            value = to_tags(value)
        setattr(need, name, value)
    need.updated_at = now
    session.add(need)
    detail: dict[str, object] = {"changed": sorted(changes)}
    if "deadline" in changes:  # an extension is worth reading back in the log
        detail["deadline"] = need.deadline.isoformat() if need.deadline else None
    audit(session, user, "update", "need", need.id, **detail)
    session.commit()
    return need, dept


def withdraw_need(session: Session, need_id: int, *, user: User) -> tuple[Need, str]:
    need, dept = get_need(session, need_id, user=user)
    if not can_edit(user, need):
        raise PermissionDenied("この課題を取り下げる権限がありません。")
    if need.status != NeedStatus.withdrawn:
        need.status = NeedStatus.withdrawn
        need.updated_at = utcnow()
        session.add(need)
        audit(session, user, "withdraw", "need", need.id)
        session.commit()
    return need, dept
