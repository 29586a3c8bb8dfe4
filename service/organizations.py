"""Organisations (団体プロフィール): keyword-only domain functions, no HTTP types."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from matching import FIELD_NAMES

from . import stale
from .audit import audit
from .db import page_of
from .errors import Conflict, NotFound, PermissionDenied
from .models import Organization, OrgStatus, Role, User, from_tags, int_tags, to_tags, utcnow
from .schemas import Contact, OrgCreate, OrgPublic, OrgUpdate, Page
from .search import matches

TAG_FIELDS = ("fields", "areas")


def sees_contact(user: User, org: Organization) -> bool:
    """Contact details are personal data: the coordinator and the group itself only."""
    return user.role == Role.coordinator or (
        user.role == Role.npo and user.organization_id == org.id
    )


def org_public(org: Organization, *, viewer: User) -> OrgPublic:
    assert org.id is not None
    fields = int_tags(org.fields)
    contact = (
        Contact(name=org.contact_name, email=org.contact_email, phone=org.contact_phone)
        if sees_contact(viewer, org)
        else None
    )
    return OrgPublic(
        id=org.id,
        key=org.key,
        name=org.name,
        legal_form=org.legal_form,
        fields=fields,
        field_names=[FIELD_NAMES[f] for f in fields if f in FIELD_NAMES],
        areas=from_tags(org.areas),
        activities=org.activities,
        offerings=org.offerings,
        wishes=org.wishes,
        contact=contact,
        status=OrgStatus(org.status),
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def can_edit(user: User, org: Organization) -> bool:
    return user.role == Role.coordinator or (
        user.role == Role.npo and user.organization_id == org.id
    )


def get_org(session: Session, org_id: int, *, user: User) -> Organization:
    org = session.get(Organization, org_id)
    if org is None or (org.status == OrgStatus.withdrawn and not can_edit(user, org)):
        raise NotFound("団体")
    return org


def list_orgs(
    session: Session,
    *,
    user: User,
    field: int | None = None,
    area: str | None = None,
    status: OrgStatus | None = None,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> Page[OrgPublic]:
    query = select(Organization)
    if user.role != Role.coordinator:
        query = query.where(Organization.status == OrgStatus.active)
    if field is not None:
        query = query.where(col(Organization.fields).contains(f"|{field}|"))
    if area:
        query = query.where(col(Organization.areas).contains(f"|{area}|", autoescape=True))
    if status is not None:
        query = query.where(Organization.status == status)
    if q:
        query = query.where(matches(Organization.search_text, q))
    total, rows = page_of(session, query, col(Organization.id), limit=limit, offset=offset)
    return Page(
        items=[org_public(o, viewer=user) for o in rows], total=total, limit=limit, offset=offset
    )


ALREADY_REGISTERED = (
    "この利用者は既に団体を登録しています。団体の情報は「団体の情報を編集」から変えられます。"
)


def create_org(session: Session, data: OrgCreate, *, user: User) -> Organization:
    """Register a group. A group's user registers one, its own (the coordinator registers
    any number): of parallel registrations by one user exactly one is kept, the others
    are ``409 ALREADY_REGISTERED`` (``_link``)."""
    if user.role == Role.department:
        raise PermissionDenied("団体の登録は団体自身またはコーディネーターが行います。")
    if user.role == Role.npo and user.organization_id is not None:
        raise Conflict(ALREADY_REGISTERED, code="ALREADY_REGISTERED")
    key = data.key or f"W{uuid.uuid4().hex[:10].upper()}"
    if session.exec(select(Organization.id).where(Organization.key == key)).first() is not None:
        raise Conflict(f"団体ID「{key}」は既に使われています。", code="DUPLICATE_KEY")
    values = data.model_dump(exclude={"key"})
    for name in TAG_FIELDS:
        values[name] = to_tags(values[name])
    org = Organization(key=key, **values)
    session.add(org)
    session.flush()
    if user.role == Role.npo:
        assert org.id is not None
        _link(session, user, org.id)
    audit(session, user, "create", "organization", org.id, key=key)
    session.commit()
    return org


def _link(session: Session, user: User, org_id: int) -> None:
    """Make ``org_id`` the group user's organisation, only if the user has none: one
    UPDATE compares and sets, so a parallel registration that linked first wins."""
    assert user.id is not None
    result = cast(
        CursorResult[Any],
        session.execute(
            update(User)
            .where(col(User.id) == user.id, col(User.organization_id).is_(None))
            .values(organization_id=org_id)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        session.rollback()
        raise Conflict(ALREADY_REGISTERED, code="ALREADY_REGISTERED")
    set_committed_value(user, "organization_id", org_id)


def update_org(
    session: Session,
    org_id: int,
    data: OrgUpdate,
    *,
    user: User,
) -> Organization:
    """Save the changes; with ``data.updated_at`` (the version the editor read) only if
    nobody saved the profile since (``stale``: otherwise ``409 STALE_VERSION``)."""
    org = get_org(session, org_id, user=user)
    if not can_edit(user, org):
        raise PermissionDenied("この団体のプロフィールを編集する権限がありません。")
    if org.status == OrgStatus.withdrawn:
        raise Conflict("登録を取り消した団体は編集できません。", code="WITHDRAWN")
    assert org.id is not None
    read = data.updated_at
    now = utcnow() if read is None else stale.claim(session, Organization, org.id, read)
    changes = data.model_dump(exclude_unset=True, exclude={"updated_at"})
    for name, value in changes.items():
        setattr(org, name, to_tags(value) if name in TAG_FIELDS else value)
    org.updated_at = now
    session.add(org)
    audit(session, user, "update", "organization", org.id, changed=sorted(changes))
    session.commit()
    return org


def withdraw_org(session: Session, org_id: int, *, user: User) -> Organization:
    org = get_org(session, org_id, user=user)
    if not can_edit(user, org):
        raise PermissionDenied("この団体の登録を取り消す権限がありません。")
    if org.status != OrgStatus.withdrawn:
        org.status = OrgStatus.withdrawn
        org.updated_at = utcnow()
        session.add(org)
        audit(session, user, "withdraw", "organization", org.id)
        session.commit()
    return org
