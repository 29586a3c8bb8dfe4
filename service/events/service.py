"""分野別発表会: keyword-only domain functions, no HTTP. Coordinator only.

An event's theme is one or more 活動分野 and/or keywords: a need is on the theme when it
has one of the fields *or* answers one of the keywords (the lists' Japanese-aware
search, ``service.search``). The proposal reads the stored rankings (``Suggestion``,
brought up to date first) of the published, open needs on the theme and chooses with
``plan.plan``; the coordinator then edits both lists. Every change is audited in the
transaction that makes it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from ..audit import audit
from ..deadlines import open_clause
from ..errors import Invalid, NotFound, PermissionDenied
from ..index import MatchingIndex
from ..models import (
    Need,
    NeedStatus,
    Organization,
    OrgStatus,
    Role,
    Suggestion,
    SuggestionStatus,
    User,
    to_tags,
    utcnow,
)
from ..refresh import ensure_fresh
from ..search import matches
from .inputs import EventInput, event_input, theme_label
from .models import EventGroup, EventNeed, MatchingEvent, Source
from .plan import Candidate, Plan, Rules, plan

__all__ = [
    "RULES",
    "add_group",
    "add_need",
    "create_event",
    "get_event",
    "list_events",
    "made_by_form",
    "propose",
    "remove_group",
    "remove_need",
    "repropose",
    "require_coordinator",
    "update_event",
]

# each need's best 5 suggestions scoring 0.15 or more; 3 groups a need, 12 needs, 30 groups
RULES = Rules(top_k=5, min_score=0.15, per_need=3, max_needs=12, max_groups=30)


def require_coordinator(user: User) -> None:
    if user.role != Role.coordinator:
        raise PermissionDenied("分野別発表会を扱えるのはコーディネーターだけです。")


def list_events(session: Session, *, user: User) -> list[tuple[MatchingEvent, int, int]]:
    """Every event, the latest date first, with its numbers of needs and groups."""
    require_coordinator(user)
    needs = (
        select(func.count())
        .select_from(EventNeed)
        .where(EventNeed.event_id == MatchingEvent.id)
        .scalar_subquery()
    )
    groups = (
        select(func.count())
        .select_from(EventGroup)
        .where(EventGroup.event_id == MatchingEvent.id)
        .scalar_subquery()
    )
    rows = session.exec(
        select(MatchingEvent, needs, groups).order_by(
            col(MatchingEvent.held_on).desc(), col(MatchingEvent.id).desc()
        )
    ).all()
    return [(e, int(n), int(g)) for e, n, g in rows]


def get_event(session: Session, event_id: int, *, user: User) -> MatchingEvent:
    require_coordinator(user)
    event = session.get(MatchingEvent, event_id)
    if event is None:
        raise NotFound("分野別発表会")
    return event


def _theme_needs(session: Session, data: EventInput, today: date) -> list[int]:
    """The published, open needs on the theme, oldest first."""
    on_theme = [col(Need.fields).contains(f"|{f}|") for f in data.fields]
    on_theme += [matches(Need.search_text, w) for w in data.keywords]
    ids = session.exec(
        select(Need.id)
        .where(Need.status == NeedStatus.published, open_clause(today), or_(*on_theme))
        .order_by(col(Need.id))
    ).all()
    return [i for i in ids if i is not None]


def propose(
    session: Session, index: MatchingIndex, data: EventInput, *, top: int, today: date
) -> Plan:
    """What the service proposes for a theme, from the stored rankings (refreshed first):
    each theme need's current suggestions and confirmed pairings for active groups;
    those the coordinator turned down are left out."""
    ensure_fresh(session, index, top=top)
    needs = _theme_needs(session, data, today)
    rows = session.exec(
        select(Suggestion.need_id, Suggestion.organization_id, Suggestion.score)
        .join(Organization, col(Organization.id) == Suggestion.organization_id)
        .where(col(Suggestion.need_id).in_(needs))
        .where(
            or_(
                col(Suggestion.rank).is_not(None),
                col(Suggestion.status) == SuggestionStatus.confirmed,  # paired by hand, or dropped
            )
        )
        .where(Suggestion.status != SuggestionStatus.rejected)
        .where(Organization.status == OrgStatus.active)
    ).all()
    return plan(needs, (Candidate(n, o, s) for n, o, s in rows), RULES)


def _save_plan(session: Session, event: MatchingEvent, proposal: Plan) -> None:
    assert event.id is not None
    session.add_all(EventNeed(event_id=event.id, need_id=n) for n in proposal.needs)
    session.add_all(EventGroup(event_id=event.id, organization_id=g) for g in proposal.groups)


def create_event(
    session: Session,
    index: MatchingIndex,
    data: EventInput,
    *,
    user: User,
    top: int,
    today: date,
    form_key: str | None = None,
) -> MatchingEvent:
    """Create the event with the service's proposal as its lists. Commits."""
    require_coordinator(user)
    proposal = propose(session, index, data, top=top, today=today)
    event = MatchingEvent(
        title=data.title,
        held_on=data.held_on,
        fields=to_tags(data.fields),
        keywords=" ".join(data.keywords),
        form_key=form_key,
        created_by=user.id,
    )
    session.add(event)
    session.flush()
    _save_plan(session, event, proposal)
    audit(
        session,
        user,
        "create",
        "matching_event",
        event.id,
        title=event.title,
        held_on=event.held_on.isoformat(),
        needs=proposal.needs,
        groups=proposal.groups,
    )
    session.commit()
    return event


def made_by_form(session: Session, form_key: str | None) -> int | None:
    """The event a new-event form already created (the same form posted again)."""
    if form_key is None:
        return None
    return session.exec(select(MatchingEvent.id).where(MatchingEvent.form_key == form_key)).first()


def update_event(session: Session, event_id: int, data: EventInput, *, user: User) -> MatchingEvent:
    """Change the name, the date or the theme (the lists stay as they are). Commits."""
    event = get_event(session, event_id, user=user)
    before = {
        "title": event.title,
        "held_on": event.held_on.isoformat(),
        "theme": theme_label(event),
    }
    event.title = data.title
    event.held_on = data.held_on
    event.fields = to_tags(data.fields)
    event.keywords = " ".join(data.keywords)
    event.updated_at = utcnow()
    session.add(event)
    audit(session, user, "update", "matching_event", event.id, before=before)
    session.commit()
    return event


def repropose(
    session: Session, index: MatchingIndex, event_id: int, *, user: User, top: int, today: date
) -> MatchingEvent:
    """Replace both lists with a new proposal for the event's theme. Commits."""
    event = get_event(session, event_id, user=user)
    proposal = propose(session, index, event_input(event), top=top, today=today)
    session.execute(delete(EventNeed).where(col(EventNeed.event_id) == event_id))
    session.execute(delete(EventGroup).where(col(EventGroup.event_id) == event_id))
    _save_plan(session, event, proposal)
    event.updated_at = utcnow()
    session.add(event)
    audit(
        session,
        user,
        "repropose",
        "matching_event",
        event.id,
        needs=proposal.needs,
        groups=proposal.groups,
    )
    session.commit()
    return event


def _add(session: Session, row: EventNeed | EventGroup) -> bool:
    """Add a list row unless it is there already (or a simultaneous request just added it)."""
    try:
        session.add(row)
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def add_need(session: Session, event_id: int, need_id: int, *, user: User, today: date) -> bool:
    """Add a published, open need to the event (on the theme or not). False: already there."""
    event = get_event(session, event_id, user=user)
    need = session.get(Need, need_id)
    if need is None or need.status != NeedStatus.published:
        raise NotFound("公開中の協働の種")
    if need.deadline is not None and need.deadline < today:
        raise Invalid("この協働の種は募集期限を過ぎています。", code="NEED_EXPIRED")
    if session.get(EventNeed, (event_id, need_id)) is not None:
        return False
    audit(session, user, "add_need", "matching_event", event.id, need_id=need_id)
    return _add(session, EventNeed(event_id=event_id, need_id=need_id, source=Source.added))


def _remove(
    session: Session,
    event_id: int,
    row: EventNeed | EventGroup | None,
    *,
    user: User,
    action: str,
    **detail: int,
) -> bool:
    """Take a need or a group off the event, audited. False: it was not on it."""
    if row is None:
        return False
    session.delete(row)
    audit(session, user, action, "matching_event", event_id, **detail)
    session.commit()
    return True


def remove_need(session: Session, event_id: int, need_id: int, *, user: User) -> bool:
    get_event(session, event_id, user=user)
    row = session.get(EventNeed, (event_id, need_id))
    return _remove(session, event_id, row, user=user, action="remove_need", need_id=need_id)


def add_group(session: Session, event_id: int, org_id: int, *, user: User) -> bool:
    """Invite an active group to the event. False: already invited."""
    event = get_event(session, event_id, user=user)
    org = session.get(Organization, org_id)
    if org is None or org.status != OrgStatus.active:
        raise NotFound("登録中の団体")
    if session.get(EventGroup, (event_id, org_id)) is not None:
        return False
    audit(session, user, "add_group", "matching_event", event.id, organization_id=org_id)
    return _add(session, EventGroup(event_id=event_id, organization_id=org_id, source=Source.added))


def remove_group(session: Session, event_id: int, org_id: int, *, user: User) -> bool:
    get_event(session, event_id, user=user)
    row = session.get(EventGroup, (event_id, org_id))
    return _remove(session, event_id, row, user=user, action="remove_group", organization_id=org_id)
