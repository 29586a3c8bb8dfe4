"""Published needs for the public pages and open data: keyword-only functions, no HTTP.

Every query here starts from ``_published(today)``: a draft, a withdrawn need or one
past its 募集期限 (``deadlines.open_clause``) is never read, so it cannot leak through a
filter, a count or a facet. ``today`` is the day in Japan (``deadlines.today_jst``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from matching import FIELD_NAMES

from ..db import page_of
from ..deadlines import open_clause
from ..errors import NotFound
from ..models import Department, Need, NeedStatus, from_tags, int_tags
from ..search import matches
from .models import CITYWIDE, PublicNeed

__all__ = ["FEED_SIZE", "facets", "get_need", "list_needs", "newest_needs", "public_need"]

# how many of the newest needs the Atom feed carries
FEED_SIZE = 20


def public_need(need: Need, department: str) -> PublicNeed:
    """``need`` reduced to the public whitelist."""
    assert need.id is not None
    fields = int_tags(need.fields)
    return PublicNeed(
        id=need.id,
        title=need.title,
        department=department,
        description=need.description,
        goal=need.goal,
        fields=fields,
        field_names=[FIELD_NAMES[f] for f in fields if f in FIELD_NAMES],
        areas=from_tags(need.areas),
        forms=from_tags(need.forms),
        deadline=need.deadline,
        created_at=need.created_at,
        updated_at=need.updated_at,
    )


def _visible(today: date) -> Any:
    """The condition every public query carries: published and still open."""
    return (Need.status == NeedStatus.published) & open_clause(today)


def _published(today: date) -> Any:
    return select(Need, Department.name).join(Department).where(_visible(today))


def _filtered(
    *, today: date, q: str | None, field: int | None, area: str | None, department: str | None
) -> Any:
    query = _published(today)
    if q:
        query = query.where(matches(Need.search_text, q))
    if field is not None:
        query = query.where(col(Need.fields).contains(f"|{field}|"))
    if area == CITYWIDE:
        query = query.where(Need.areas == "")
    elif area:
        query = query.where(col(Need.areas).contains(f"|{area}|", autoescape=True))
    if department:
        query = query.where(Department.name == department)
    return query


def list_needs(
    session: Session,
    *,
    today: date,
    q: str | None = None,
    field: int | None = None,
    area: str | None = None,
    department: str | None = None,
    limit: int | None = 20,
    offset: int = 0,
) -> tuple[int, list[PublicNeed]]:
    """``(total, needs)``: published needs matching the filters, newest first;
    ``limit=None`` gives them all (the open-data files)."""
    query = _filtered(today=today, q=q, field=field, area=area, department=department)
    order = (col(Need.id).desc(),)
    if limit is None:
        rows = list(session.exec(query.order_by(*order)).all())
        return len(rows), [public_need(n, d) for n, d in rows]
    total, rows = page_of(session, query, *order, limit=limit, offset=offset)
    return total, [public_need(n, d) for n, d in rows]


def get_need(session: Session, *, today: date, need_id: int) -> PublicNeed:
    """One published open need; a draft, a withdrawn, an expired or an unknown id is
    simply not found."""
    row = session.exec(_published(today).where(Need.id == need_id)).first()
    if row is None:
        raise NotFound("公開中の協働の種")
    return public_need(row[0], row[1])


def newest_needs(session: Session, *, today: date, limit: int = FEED_SIZE) -> list[PublicNeed]:
    """The most recently published or updated needs, newest first (the Atom feed)."""
    order = (col(Need.updated_at).desc(), col(Need.id).desc())
    query = _published(today).order_by(*order).limit(limit)
    return [public_need(n, d) for n, d in session.exec(query).all()]


def facets(session: Session, *, today: date) -> tuple[list[str], list[str]]:
    """``(departments, areas)`` that published open needs have, for the filter form."""
    published = _visible(today)
    departments = session.exec(
        select(Department.name).join(Need).where(published).distinct().order_by(Department.name)
    ).all()
    areas: set[str] = set()
    citywide = False
    for tags in session.exec(select(Need.areas).where(published).distinct()):
        areas.update(from_tags(tags))
        citywide = citywide or not tags
    return list(departments), ([CITYWIDE] if citywide else []) + sorted(areas)
