"""Ranked suggestions: listed per need, per group, as a queue (kept in step with the matching
index by ``refresh``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from .db import page_of
from .deadlines import is_open, open_clause, today_jst
from .errors import NotFound, PermissionDenied
from .index import MatchingIndex, item_key, row_id
from .models import (
    BY_DEPARTMENT,
    Decision,
    Department,
    Need,
    NeedStatus,
    Organization,
    OrgStatus,
    Role,
    Stage,
    Suggestion,
    SuggestionStatus,
    User,
)
from .needs import get_need, need_public
from .organizations import get_org
from .schemas import NeedPublic, Page, SuggestionPublic
from .search import matches
from .served import Served, first_fit, prepare


def suggestion_public(s: Suggestion, need: Need, dept: str, org: Organization) -> SuggestionPublic:
    assert s.id is not None
    return SuggestionPublic(
        id=s.id,
        need_id=s.need_id,
        need_title=need.title,
        department=dept,
        organization_id=s.organization_id,
        organization_name=org.name,
        score=s.score,
        rank=s.rank,
        reasons=s.reasons,
        status=SuggestionStatus(s.status),
        stage=Stage(s.stage) if s.stage is not None else None,
        version=s.version,
        index_version=s.index_version,
        model_version=s.model_version,
        updated_at=s.updated_at,
    )


def joined() -> Select[Suggestion, Need, str, Organization]:
    """Suggestions with their need, the need's department name and the organisation."""
    return (
        select(Suggestion, Need, Department.name, Organization)
        .join(Need, col(Suggestion.need_id) == Need.id)
        .join(Department, col(Need.department_id) == Department.id)
        .join(Organization, col(Suggestion.organization_id) == Organization.id)
    )


def for_need(
    session: Session, index: MatchingIndex, need_id: int, *, user: User, top: int
) -> tuple[list[SuggestionPublic], Served]:
    """Coordinator: the current ranked list and every decided pair. Department: confirmed
    only. With what they are: ranked by this process's index, or as stored (``served``)."""
    need, _ = get_need(session, need_id, user=user)
    if user.role == Role.npo:
        raise PermissionDenied("団体の利用者は課題への提案一覧を見られません。")
    served = prepare(session, index, top=top, need_id=need_id)
    query = joined().where(Suggestion.need_id == need.id)
    if user.role == Role.department:
        query = query.where(Suggestion.status == SuggestionStatus.confirmed)
    else:
        query = query.where(_listed() | (Suggestion.status != SuggestionStatus.pending))
    rows = session.exec(query).all()
    rows = sorted(rows, key=lambda r: (r[0].rank is None, r[0].rank or 0, -r[0].score, r[0].id))
    return [suggestion_public(*r) for r in rows], served


def considered_for_need(
    session: Session, index: MatchingIndex, need_id: int, *, user: User, top: int
) -> list[tuple[SuggestionPublic, Organization]]:
    """The department's read-only view of its own need: the groups being considered (the
    current ranked list still to be reviewed) and those confirmed, with each group, for its
    area and fields. Only suggestions and groups: no decision comments, and no group the
    coordinator turned down (that judgement stays with the coordinator's office)."""
    need, _ = get_need(session, need_id, user=user)
    if user.role != Role.department or need.department_id != user.department_id:
        raise PermissionDenied("担当課は自分の課の協働の種についてだけ見られます。")
    prepare(session, index, top=top, need_id=need_id)
    rows = session.exec(
        joined().where(
            Suggestion.need_id == need.id,
            (_listed() & (Suggestion.status == SuggestionStatus.pending))
            | (Suggestion.status == SuggestionStatus.confirmed),
        )
    ).all()
    rows = sorted(rows, key=lambda r: (r[0].rank is None, r[0].rank or 0, -r[0].score, r[0].id))
    return [(suggestion_public(*r), r[3]) for r in rows]


def for_org(
    session: Session,
    index: MatchingIndex,
    org_id: int,
    *,
    user: User,
    top: int,
    unpaired: bool = False,
    today: date | None = None,
) -> list[tuple[NeedPublic, float, dict[str, Any]]]:
    """Published open needs ranked for a group (computed live; a group's view, not the
    review); ``unpaired``: leaving out those the group is already confirmed for (a page
    that lists them as its pairings). A need past its 募集期限 is not offered."""
    today = today or today_jst()
    org = get_org(session, org_id, user=user)
    if user.role == Role.department or (user.role == Role.npo and user.organization_id != org.id):
        raise PermissionDenied("この団体への提案を見る権限がありません。")
    ranker = index.sync(session)
    active = index.active
    assert org.id is not None
    key = item_key(org.id)
    if ranker is None or active is None or key not in ranker.org_index_:
        return []
    paired = (
        set(
            session.exec(
                select(Suggestion.need_id)
                .where(Suggestion.organization_id == org.id)
                .where(Suggestion.status == SuggestionStatus.confirmed)
            ).all()
        )
        if unpaired
        else set()
    )
    # expired needs are still in the index (it is refitted on changes, not on dates):
    # rank past them, so that a group still gets ``top`` open ones
    expired = set(
        session.exec(
            select(Need.id).where(col(Need.deadline).is_not(None), ~open_clause(today))
        ).all()
    )
    skip = paired | expired
    ranking = [
        (k, s)
        for k, s in dict(active.rank_needs([key], top=top + len(skip)))[key]
        if row_id(k) not in skip
    ][:top]
    ids = [row_id(k) for k, s in ranking if s > 0]
    rows = {
        n.id: (n, d)
        for n, d in session.exec(
            select(Need, Department.name).join(Department).where(col(Need.id).in_(ids))
        ).all()
    }
    out = []
    for need_key, score in ranking:
        need_row = rows.get(row_id(need_key))
        if (
            score > 0
            and need_row
            and need_row[0].status == NeedStatus.published
            and is_open(need_row[0], today)
        ):
            reasons = ranker.explain(need_key, key).as_dict()
            out.append((need_public(*need_row, viewer=user, today=today), score, reasons))
    return out


def _listed() -> Any:
    """A suggestion that is put to the coordinator now: in a need's current top list, or
    proposed by the need's department (which no refit takes out)."""
    return or_(col(Suggestion.rank).is_not(None), col(Suggestion.model_version) == BY_DEPARTMENT)


def _undecided(
    *,
    today: date,
    department: str | None = None,
    field: int | None = None,
    need_id: int | None = None,
    q: str | None = None,
) -> list[Any]:
    """What the review queue holds (undecided, ranked suggestions of published needs still
    open, for active groups), narrowed by the coordinator's filters: conditions for
    ``joined()``."""
    conditions: list[Any] = [
        Suggestion.status == SuggestionStatus.pending,
        _listed(),
        Need.status == NeedStatus.published,
        open_clause(today),
        Organization.status == OrgStatus.active,
    ]
    if department:
        conditions.append(Department.name == department)
    if field is not None:
        conditions.append(col(Need.fields).contains(f"|{field}|"))
    if need_id is not None:
        conditions.append(Suggestion.need_id == need_id)
    if q:
        conditions.append(or_(matches(Need.search_text, q), matches(Organization.search_text, q)))
    return conditions


def queue(
    session: Session,
    index: MatchingIndex,
    *,
    user: User,
    top: int,
    department: str | None = None,
    field: int | None = None,
    need_id: int | None = None,
    limit: int = 20,
    offset: int = 0,
    today: date | None = None,
) -> tuple[Page[SuggestionPublic], Served]:
    """Undecided suggestions across needs, best first: the coordinator's review queue
    (with what it is: ranked by this process's index, or as stored; ``served``)."""
    if user.role != Role.coordinator:
        raise PermissionDenied("確認待ちの一覧はコーディネーターだけが見られます。")
    served = prepare(session, index, top=top)
    query = joined().where(
        *_undecided(today=today or today_jst(), department=department, field=field, need_id=need_id)
    )
    order = (col(Suggestion.score).desc(), col(Suggestion.id))
    total, rows = page_of(session, query, *order, limit=limit, offset=offset)
    items = [suggestion_public(*r) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset), served


def queue_by_need(
    session: Session,
    index: MatchingIndex,
    *,
    user: User,
    top: int,
    department: str | None = None,
    field: int | None = None,
    q: str | None = None,
    limit: int = 5,
    offset: int = 0,
    today: date | None = None,
) -> tuple[int, int, list[tuple[Need, str, list[tuple[Suggestion, Organization]]]], Served]:
    """The review queue as the coordinator works it: need by need (oldest first), each
    with its undecided groups in rank order. Returns (needs, suggestions, page, what the
    lists are: ranked by this process's index, or as stored)."""
    if user.role != Role.coordinator:
        raise PermissionDenied("確認待ちの一覧はコーディネーターだけが見られます。")
    served = prepare(session, index, top=top)
    query = joined().where(
        *_undecided(today=today or today_jst(), department=department, field=field, q=q)
    )
    need_ids = query.with_only_columns(col(Need.id)).distinct()
    total_needs = session.execute(
        sa_select(func.count()).select_from(need_ids.subquery())
    ).scalar_one()
    total = session.execute(sa_select(func.count()).select_from(query.subquery())).scalar_one()
    page_ids = list(
        session.execute(need_ids.order_by(col(Need.id)).limit(limit).offset(offset)).scalars()
    )
    rows = session.exec(
        query.where(col(Need.id).in_(page_ids)).order_by(
            case((col(Suggestion.model_version) == BY_DEPARTMENT, 0), else_=1),
            col(Suggestion.rank),
            col(Suggestion.id),
        )
    ).all()
    grouped: dict[int, tuple[Need, str, list[tuple[Suggestion, Organization]]]] = {}
    for s, need, dept, org in rows:
        assert need.id is not None
        grouped.setdefault(need.id, (need, dept, []))[2].append((s, org))
    return total_needs, total, [grouped[i] for i in page_ids if i in grouped], served


def group_history(
    session: Session,
    organization_ids: list[int],
    *,
    user: User,
    exclude_need: int | None = None,
) -> dict[int, dict[str, Any]]:
    """What earlier decisions said about each group (its latest decision per suggestion):
    confirmations, rejections by reason, and the last comments.

    The coordinator sees every decision. A department sees only the decisions on its own
    needs, without the coordinator's comments (other sections' need titles, drafts among
    them, and the coordinator's internal notes are not its to read)."""
    if not organization_ids or user.role == Role.npo:
        return {}
    query = (
        select(Decision, Suggestion.organization_id, Suggestion.need_id, Need.title)
        .join(Suggestion, col(Decision.suggestion_id) == Suggestion.id)
        .join(Need, col(Suggestion.need_id) == Need.id)
        .where(col(Suggestion.organization_id).in_(organization_ids))
        .where(col(Decision.action).in_(("confirm", "reject")))
        .order_by(col(Decision.id).desc())
    )
    internal = user.role == Role.coordinator
    if not internal:
        query = query.where(col(Need.department_id) == user.department_id)
    rows = session.exec(query).all()
    seen: set[int] = set()
    out: dict[int, dict[str, Any]] = {}
    for d, org_id, need_id, title in rows:
        if d.suggestion_id in seen or need_id == exclude_need:
            continue
        seen.add(d.suggestion_id)
        h = out.setdefault(org_id, {"confirmed": 0, "rejected": {}, "notes": []})
        if d.action == "confirm":
            h["confirmed"] += 1
        else:
            reason = d.reason_code or "その他"
            h["rejected"][reason] = h["rejected"].get(reason, 0) + 1
        if len(h["notes"]) < 3:
            label = "承認" if d.action == "confirm" else f"見送り（{d.reason_code or 'その他'}）"
            comment = d.comment if internal else ""
            h["notes"].append({"need": title, "decision": label, "comment": comment})
    return out


def similar_needs(
    session: Session, index: MatchingIndex, need_id: int, *, user: User, top: int = 5
) -> list[tuple[NeedPublic, float]]:
    """Needs that look like the same problem (another department's, often): what the
    coordinator should know before arranging two separate collaborations."""
    get_need(session, need_id, user=user)
    if user.role == Role.npo:
        raise PermissionDenied()
    if first_fit(index):
        return []  # nothing to compare with until the warm-up has fitted
    ranker = index.sync(session)
    key = item_key(need_id)
    if ranker is None or key not in ranker.need_index_:
        return []
    out = []
    for other_key, score in ranker.similar_needs(key, top=top):
        try:
            other, dept = get_need(session, row_id(other_key), user=user)
        except NotFound:
            continue  # a department user sees only its own needs
        out.append((need_public(other, dept, viewer=user), score))
    return out
