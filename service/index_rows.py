"""What the matching index reads from the database: the published needs and active
profiles as ``matching``'s items, and their ranker ids (``item_key``)."""

from __future__ import annotations

from sqlmodel import Session, col, select

import matching

from . import models
from .models import NeedStatus, OrgStatus, from_tags, int_tags

__all__ = ["item_key", "live_keys", "live_needs", "live_orgs", "row_id"]


def item_key(row_id: int) -> str:
    """Ranker ids: zero-padded so string order is id order (ties break by id)."""
    return f"{row_id:010d}"


def row_id(key: str) -> int:
    return int(key)


def to_matching_need(row: models.Need, department: str) -> matching.Need:
    assert row.id is not None
    return matching.Need(
        id=item_key(row.id),
        department=department,
        title=row.title,
        description=row.description,
        goal=row.goal,
        fields=int_tags(row.fields),
        areas=matching.parse_areas(";".join(from_tags(row.areas))),
        forms=from_tags(row.forms),
    )


def to_matching_org(row: models.Organization) -> matching.Organization:
    assert row.id is not None
    return matching.Organization(
        id=item_key(row.id),
        name=row.name,
        activities=row.activities,
        legal_form=row.legal_form,
        fields=int_tags(row.fields),
        areas=matching.parse_areas(";".join(from_tags(row.areas))),
        offerings=row.offerings,
        wishes=row.wishes,
    )


def live_keys(session: Session) -> tuple[set[str], set[str]]:
    """The ranker ids of the published needs and the active profiles."""
    needs = select(models.Need.id).where(models.Need.status == NeedStatus.published)
    orgs = select(models.Organization.id).where(models.Organization.status == OrgStatus.active)
    return (
        {item_key(i) for i in session.exec(needs).all() if i is not None},
        {item_key(i) for i in session.exec(orgs).all() if i is not None},
    )


def live_needs(session: Session, ids: set[int] | None) -> list[matching.Need]:
    query = (
        select(models.Need, models.Department.name)
        .join(models.Department)
        .where(models.Need.status == NeedStatus.published)
    )
    if ids is not None:
        if not ids:
            return []
        query = query.where(col(models.Need.id).in_(ids))
    return [to_matching_need(n, d) for n, d in session.exec(query).all()]


def live_orgs(session: Session, ids: set[int] | None) -> list[matching.Organization]:
    query = select(models.Organization).where(models.Organization.status == OrgStatus.active)
    if ids is not None:
        if not ids:
            return []
        query = query.where(col(models.Organization.id).in_(ids))
    return [to_matching_org(o) for o in session.exec(query).all()]
