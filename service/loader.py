"""Importing DATA_FORMAT files (needs, profiles) into the database, all or nothing.

A row with the same id (課題ID / 団体ID) as a stored one updates it; importing the same
file twice changes nothing the second time. A file with any bad row raises
``matching.DataFormatError`` before anything is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import Session, col, select

import matching

from .audit import audit
from .db import analyze
from .models import (
    Department,
    Need,
    NeedStatus,
    Organization,
    OrgStatus,
    User,
    to_tags,
    utcnow,
)
from .needs import department_named


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _need_values(n: matching.Need) -> dict[str, Any]:
    return {
        "title": n.title,
        "description": n.description,
        "goal": n.goal,
        "fields": to_tags(n.fields),
        "areas": to_tags(n.areas),
        "forms": to_tags(n.forms),
        "contact_name": n.contact_name,
    }


def _org_values(o: matching.Organization) -> dict[str, Any]:
    return {
        "name": o.name,
        "legal_form": o.legal_form,
        "fields": to_tags(o.fields),
        "areas": to_tags(o.areas),
        "activities": o.activities,
        "offerings": o.offerings,
        "wishes": o.wishes,
        "contact_name": o.contact_name,
        "contact_email": o.contact_email,
        "contact_phone": o.contact_phone,
    }


@dataclass
class ImportPlan:
    """What an import would do, by id, before anything is written (the dry run)."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]


def plan_needs(session: Session, needs: Sequence[matching.Need]) -> ImportPlan:
    stored = {
        n.key: (n, d)
        for n, d in session.exec(
            select(Need, Department.name)
            .join(Department)
            .where(col(Need.key).in_([n.id for n in needs]))
        ).all()
    }
    return _plan(
        [(n.id, _need_values(n), n.department) for n in needs],
        {k: (row, dept) for k, (row, dept) in stored.items()},
    )


def plan_organizations(session: Session, orgs: Sequence[matching.Organization]) -> ImportPlan:
    stored = {
        o.key: (o, None)
        for o in session.exec(
            select(Organization).where(col(Organization.key).in_([o.id for o in orgs]))
        ).all()
    }
    return _plan([(o.id, _org_values(o), None) for o in orgs], stored)


def _plan(
    rows: list[tuple[str, dict[str, Any], str | None]],
    stored: Mapping[str, tuple[Need | Organization, str | None]],
) -> ImportPlan:
    plan = ImportPlan([], [], [])
    for key, values, dept in rows:
        if key not in stored:
            plan.created.append(key)
            continue
        row, stored_dept = stored[key]
        changed = dept != stored_dept or any(getattr(row, k) != v for k, v in values.items())
        (plan.updated if changed else plan.unchanged).append(key)
    return plan


def import_needs(
    session: Session,
    needs: Sequence[matching.Need],
    *,
    user: User | None,
    source: bytes = b"",
    commit: bool = True,
) -> ImportCounts:
    departments: dict[str, int] = {}
    rows = []
    for item in needs:
        if item.department not in departments:
            dept_id = department_named(session, item.department, create=True).id
            assert dept_id is not None
            departments[item.department] = dept_id
        rows.append(
            (item.id, {**_need_values(item), "department_id": departments[item.department]})
        )
    counts = _upsert(session, Need, "need", rows, NeedStatus.published, user)
    _finish(session, user, "needs", counts, source, commit)
    return counts


def import_organizations(
    session: Session,
    orgs: Sequence[matching.Organization],
    *,
    user: User | None,
    source: bytes = b"",
    commit: bool = True,
) -> ImportCounts:
    rows = [(item.id, _org_values(item)) for item in orgs]
    counts = _upsert(session, Organization, "organization", rows, OrgStatus.active, user)
    _finish(session, user, "organizations", counts, source, commit)
    return counts


Model = TypeVar("Model", Need, Organization)


def _upsert(
    session: Session,
    model: type[Model],
    entity: str,
    rows: list[tuple[str, dict[str, Any]]],
    status: str,
    user: User | None,
) -> ImportCounts:
    """Create rows with new keys, update changed ones, leave identical ones untouched."""
    counts = ImportCounts()
    keys = [key for key, _ in rows]
    existing = {r.key: r for r in session.exec(select(model).where(col(model.key).in_(keys))).all()}
    for key, values in rows:
        row = existing.get(key)
        if row is None:
            row = model(key=key, status=status, **values)
            session.add(row)
            session.flush()
            counts.created += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = utcnow()
            session.add(row)
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        audit(session, user, "import", entity, row.id, key=key)
    return counts


def _finish(
    session: Session,
    user: User | None,
    kind: str,
    counts: ImportCounts,
    source: bytes,
    commit: bool,
) -> None:
    audit(
        session,
        user,
        "import",
        "file",
        None,
        kind=kind,
        sha256=hashlib.sha256(source).hexdigest(),
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
    )
    if counts.created or counts.updated:
        # a bulk change: every server process refits (new vocabulary) instead of upserting
        audit(session, user, "refit", "index")
    if commit:
        session.commit()
        if counts.created:
            analyze(session, "need", "organization", "department", "audit_log")
