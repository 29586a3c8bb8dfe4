"""Importing DATA_FORMAT files (needs, profiles) into the database, all or nothing.

A row with the same id (課題ID / 団体ID) as a stored one updates it; importing the same
file twice changes nothing the second time. A file with any bad row raises
``matching.DataFormatError`` before anything is written.

The rows are written in bulk, inside the caller's transaction: the stored rows are read
by key (one array of keys on PostgreSQL, chunks of keys on SQLite), the new ones inserted
(one ``COPY`` on PostgreSQL, batches of ``BATCH`` on SQLite) and the changed ones updated
in batches of ``BATCH`` (one statement each, no flush per row). An import of more than
``FILL_INLINE`` rows writes their search text without its lemma line, which
``search_fill`` adds after the import (``search``). The import writes one audit row that
says which file it was, by whom, the counts, and the keys it created and updated; the
matching index reads that row (``index.MatchingIndex``) and applies those rows, or refits
after a big change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, Table, Text, any_, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel

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
from .search import pending_text, search_text

# rows per INSERT / UPDATE statement, and keys per ``IN (...)`` on SQLite (under its limit
# of 32,766 bound variables)
BATCH = 1000
KEY_CHUNK = 2000
# an import that writes more rows than this leaves their search text's lemma line to
# ``search_fill`` (tokenising is most of its time); a smaller one writes it itself
FILL_INLINE = 1000

_NEED_COLUMNS = ("title", "description", "goal", "fields", "areas", "forms", "contact_name")
_ORG_COLUMNS = (
    "name",
    "legal_form",
    "fields",
    "areas",
    "activities",
    "offerings",
    "wishes",
    "contact_name",
    "contact_email",
    "contact_phone",
)


# a profile's searched fields, in ``search``'s order (a need's: title, description, goal)
_ORG_SEARCHED = ("name", "activities", "offerings", "wishes")


def _need_values(n: matching.Need, *, deadline: bool = False) -> dict[str, Any]:
    """The stored columns of a need read from a file; ``deadline`` when the file has a
    募集期限 column (a file without it leaves the stored deadlines alone)."""
    values = {
        "title": n.title,
        "description": n.description,
        "goal": n.goal,
        "fields": to_tags(n.fields),
        "areas": to_tags(n.areas),
        "forms": to_tags(n.forms),
        "contact_name": n.contact_name,
    }
    return values | {"deadline": n.deadline} if deadline else values


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
    """What an import would do (the dry run) or did, by key."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


# what ``import_needs`` / ``import_organizations`` return: the keys they wrote
ImportCounts = ImportPlan

Model = TypeVar("Model", Need, Organization)


def _table(model: type[SQLModel]) -> Table:
    table = getattr(model, "__table__", None)
    assert isinstance(table, Table)
    return table


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stored(
    session: Session,
    model: type[Need] | type[Organization],
    keys: list[str],
    columns: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """The stored rows with these keys: id, key, ``columns`` (``department`` is the
    need's department name), read in chunks of keys."""
    table = _table(model)
    dept = _table(Department)
    selected: list[ColumnElement[Any]] = [table.c.id, table.c.key]
    selected += [
        dept.c.name.label("department") if c == "department" else table.c[c] for c in columns
    ]
    query = select(*selected)
    if "department" in columns:
        query = query.join(dept, dept.c.id == table.c.department_id)
    connection = session.connection()
    out: dict[str, dict[str, Any]] = {}
    postgres = connection.dialect.name == "postgresql"
    # PostgreSQL takes the keys as one array (``= ANY``), not one bound value each
    for chunk in [keys] if postgres else _chunks(keys, KEY_CHUNK):
        where = (
            table.c.key == any_(bindparam("keys", list(chunk), type_=ARRAY(Text)))
            if postgres
            else table.c.key.in_(chunk)
        )
        for row in connection.execute(query.where(where)).mappings():
            out[row["key"]] = dict(row)
    return out


def _insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same columns): PostgreSQL's ``COPY``, its fastest
    bulk write, in the session's transaction; elsewhere an INSERT per ``BATCH`` rows."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for batch in _chunks(rows, BATCH):
            connection.execute(insert(table), list(batch))
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    cursor: Any = connection.connection.cursor()  # psycopg's, on the same connection
    errors = connection.dialect.loaded_dbapi.Error
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    except errors as exc:  # as SQLAlchemy raises it (a key written meanwhile: IntegrityError)
        raise DBAPIError.instance(statement, None, exc, errors) from exc
    finally:
        cursor.close()


def _diff(
    rows: Sequence[tuple[str, Mapping[str, Any]]], stored: Mapping[str, Mapping[str, Any]]
) -> ImportPlan:
    plan = ImportPlan()
    for key, values in rows:
        old = stored.get(key)
        if old is None:
            plan.created.append(key)
        elif any(old[k] != v for k, v in values.items()):
            plan.updated.append(key)
        else:
            plan.unchanged.append(key)
    return plan


def plan_needs(
    session: Session, needs: Sequence[matching.Need], *, deadline: bool = False
) -> ImportPlan:
    rows = [
        (n.id, {**_need_values(n, deadline=deadline), "department": n.department}) for n in needs
    ]
    columns = (*_NEED_COLUMNS, "department", *(["deadline"] if deadline else []))
    return _diff(rows, _stored(session, Need, [n.id for n in needs], columns))


def plan_organizations(session: Session, orgs: Sequence[matching.Organization]) -> ImportPlan:
    rows = [(o.id, _org_values(o)) for o in orgs]
    return _diff(rows, _stored(session, Organization, [o.id for o in orgs], _ORG_COLUMNS))


def import_needs(
    session: Session,
    needs: Sequence[matching.Need],
    *,
    user: User | None,
    source: bytes = b"",
    file: str = "",
    rejected: int = 0,
    commit: bool = True,
    deadline: bool = False,
) -> ImportPlan:
    """Write ``needs`` (``deadline``: the file has a 募集期限 column, written too)."""
    departments: dict[str, int] = {}
    rows = []
    for item in needs:
        if item.department not in departments:
            dept_id = department_named(session, item.department, create=True).id
            assert dept_id is not None
            departments[item.department] = dept_id
        values = _need_values(item, deadline=deadline)
        rows.append((item.id, {**values, "department_id": departments[item.department]}))
    plan = _upsert(session, Need, rows, NeedStatus.published)
    _finish(session, user, "need", plan, source, file, rejected, commit)
    return plan


def import_organizations(
    session: Session,
    orgs: Sequence[matching.Organization],
    *,
    user: User | None,
    source: bytes = b"",
    file: str = "",
    rejected: int = 0,
    commit: bool = True,
) -> ImportPlan:
    rows = [(item.id, _org_values(item)) for item in orgs]
    plan = _upsert(session, Organization, rows, OrgStatus.active)
    _finish(session, user, "organization", plan, source, file, rejected, commit)
    return plan


def _text(
    model: type[Need] | type[Organization], key: str, values: Mapping[str, Any], *, fill: bool
) -> str:
    """The row's ``search_text``: what ``search``'s ORM events write for one row, or
    (``fill`` false) its pending text, whose lemma line ``search_fill`` adds."""
    fields = ("title", "description", "goal") if model is Need else _ORG_SEARCHED
    parts = (key, *(values[f] for f in fields))
    return search_text(*parts) if fill else pending_text(*parts)


def _upsert(
    session: Session,
    model: type[Model],
    rows: list[tuple[str, dict[str, Any]]],
    status: str,
) -> ImportPlan:
    """Insert rows with new keys, update changed ones, leave identical ones untouched:
    one statement per ``BATCH`` rows."""
    if not rows:
        return ImportPlan()
    table = _table(model)
    columns: list[str] = list(rows[0][1])
    stored = _stored(session, model, [key for key, _ in rows], columns)
    plan = _diff(rows, stored)
    values = dict(rows)
    now = utcnow()
    fill = len(plan.created) + len(plan.updated) <= FILL_INLINE
    connection = session.connection()
    new = [
        {
            "key": key,
            "status": str(status),
            **values[key],
            "search_text": _text(model, key, values[key], fill=fill),
            "created_at": now,
            "updated_at": now,
        }
        for key in plan.created
    ]
    if new:
        _insert(session, table, new)
    if plan.updated:
        # bound names differ from the column names (SQLAlchemy reserves those in SET)
        changed = [*columns, "search_text", "updated_at"]
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in changed})
        )
        params = [
            {
                "b_id": stored[key]["id"],
                **{f"b_{c}": v for c, v in values[key].items()},
                "b_search_text": _text(model, key, values[key], fill=fill),
                "b_updated_at": now,
            }
            for key in plan.updated
        ]
        for batch in _chunks(params, BATCH):
            connection.execute(statement, list(batch))
    return plan


def _finish(
    session: Session,
    user: User | None,
    entity: str,
    plan: ImportPlan,
    source: bytes,
    file: str,
    rejected: int,
    commit: bool,
) -> None:
    """The import's one audit row. ``entity_id`` is empty: the row stands for the whole
    file, and the index (which reads it) refits when it created or updated a row."""
    audit(
        session,
        user,
        "import",
        entity,
        None,
        file=file,
        sha256=hashlib.sha256(source).hexdigest(),
        created=len(plan.created),
        updated=len(plan.updated),
        unchanged=len(plan.unchanged),
        rejected=rejected,
        created_keys=plan.created,
        updated_keys=plan.updated,
    )
    if commit:
        session.commit()
        if plan.created:
            analyze(session, "need", "organization", "department", "audit_log")
