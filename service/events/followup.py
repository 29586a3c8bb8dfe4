"""Before and after a 分野別発表会: its invitations sent through the mail outbox, and what
the coordinator records at or after it (which invited groups came, which of the event's
needs each showed interest in). Keyword-only functions, no HTTP; coordinator only; each
audited in the transaction that makes it.

- **Invitations** (mail kind ``event``): each invited group not yet invited is told once,
  at its staff users' addresses (a user who turned the kind off on ``/account/mail`` is
  skipped), or, for a group with no staff user yet, at the contact address it registered;
  a group reached by neither is named back so the coordinator can use the invitation list.
  Sending again only reaches the groups added since.
- **At the event**: every invited group is marked as come or not; an interest recorded
  there becomes the group's 関心あり for the need (``service.interests``: the need's
  department is mailed, the queue shows 団体から関心あり) unless the group had said it
  already, and the pair is marked as met (``met``: the queue and the pairing show
  「発表会で対面」). Taking an interest back takes back the 関心あり it made.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from ..audit import audit
from ..errors import Invalid
from ..mail.models import MailKind
from ..mail.service import SIGNATURE, notify_interest, queue_each, queue_mail
from ..models import Department, Interest, Need, NeedStatus, Organization, Role, User, utcnow
from .lists import EventView, GroupRow, event_view
from .models import EventGroup, EventInterest, EventNeed, MatchingEvent
from .service import get_event

__all__ = ["Met", "Recorded", "Sent", "met", "record", "recorded_pairs", "send_invitations"]


@dataclass(frozen=True, slots=True)
class Sent:
    """What one sending did: groups told, mails queued, groups no address reaches."""

    groups: list[str] = field(default_factory=list)
    mails: int = 0
    not_reached: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Recorded:
    attended: int
    absent: int
    added: int  # interests recorded now
    removed: int  # interests taken back


@dataclass(frozen=True, slots=True)
class Met:
    """A need and a group met at an event (the group showed interest there)."""

    event_id: int
    title: str
    held_on: date


def _day(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _invitation_text(view: EventView, row: GroupRow, base_url: str) -> str:
    event = view.event
    base = base_url.rstrip("/")
    lines = [
        f"市民自治推進課から、分野別発表会「{event.title}」にご招待します。",
        "市の各課が、市民活動団体と一緒に取り組みたい課題（協働の種）を発表します。",
        "",
        f"開催日：{_day(event.held_on)}",
        f"テーマ：{view.theme}",
        "",
        "発表する協働の種：",
    ]
    for n in view.needs:
        lines.append(f"・{n.need.title}（{n.department}）")
        if not n.expired:  # its public page (no login needed)
            lines.append(f"  {base}/public/needs/{n.need.id}")
    if row.fits:
        titles = list(dict.fromkeys(f.need_title for f in row.fits))
        lines += ["", f"{row.org.name} さまの活動に特に合いそうなもの：{'、'.join(titles)}"]
    lines += ["", "会場・時間のご案内と参加のご連絡は、市民自治推進課までお問い合わせください。"]
    return "\n".join(lines) + "\n"


def send_invitations(
    session: Session, event_id: int, *, user: User, base_url: str, today: date
) -> Sent:
    """Queue the invitation of every invited group not invited yet. Commits."""
    view = event_view(session, event_id, user=user, today=today)
    event = view.event
    assert event.id is not None
    if event.held_on < today:
        raise Invalid("開催日を過ぎた発表会の招待は送れません。", code="EVENT_PAST")
    if not view.needs:
        raise Invalid("発表する協働の種を先に選んでください。", code="NO_NEEDS")
    waiting = [g for g in view.groups if g.invited_at is None]
    if not waiting:
        raise Invalid("招待を送っていない団体はありません。", code="NOTHING_TO_SEND")
    org_ids = [g.org.id for g in waiting]
    staff: dict[int, list[User]] = {}
    for u in session.exec(
        select(User)
        .where(col(User.role) == Role.npo, col(User.organization_id).in_(org_ids))
        .order_by(col(User.id))
    ).all():
        staff.setdefault(u.organization_id or 0, []).append(u)
    subject = f"分野別発表会「{event.title}」のご案内"
    now = utcnow()
    told: list[str] = []
    told_ids: list[int] = []
    not_reached: list[str] = []
    mails = 0
    for row in waiting:
        org = row.org
        assert org.id is not None
        text = _invitation_text(view, row, base_url)
        users = staff.get(org.id, [])
        if users:
            queued = len(
                queue_each(
                    session,
                    MailKind.event,
                    users,  # those who turned the kind off are skipped
                    subject=subject,
                    text=text,
                    key=f"{event.id}:{org.id}",
                )
            )
        elif org.contact_email:
            queued = int(
                queue_mail(
                    session,
                    kind=MailKind.event,
                    to=org.contact_email,
                    subject=subject,
                    body=f"{org.contact_name or org.name} さま\n\n{text}{SIGNATURE}",
                    dedup_key=f"{MailKind.event}:{event.id}:{org.id}:contact",
                )
                is not None
            )
        else:
            queued = 0
        if not queued:
            not_reached.append(org.name)
            continue
        mails += queued
        told.append(org.name)
        told_ids.append(org.id)
        group = session.get(EventGroup, (event.id, org.id))
        assert group is not None
        group.invited_at = now
        session.add(group)
    audit(
        session,
        user,
        "invite",
        "matching_event",
        event.id,
        groups=told_ids,
        mails=mails,
        not_reached=len(not_reached),
    )
    session.commit()
    return Sent(told, mails, not_reached)


def recorded_pairs(session: Session, event_id: int) -> set[tuple[int, int]]:
    """``{(group, need)}`` of the interests recorded at the event."""
    rows = session.exec(
        select(EventInterest.organization_id, EventInterest.need_id).where(
            EventInterest.event_id == event_id
        )
    ).all()
    return {(o, n) for o, n in rows}


def _need_names(session: Session, need_ids: Iterable[int]) -> dict[int, tuple[Need, str]]:
    rows = session.exec(
        select(Need, Department.name)
        .join(Department, col(Department.id) == Need.department_id)
        .where(col(Need.id).in_(list(need_ids)))
    ).all()
    return {n.id or 0: (n, d) for n, d in rows}


def record(
    session: Session,
    event_id: int,
    *,
    user: User,
    attended: Collection[int],
    interests: Collection[tuple[int, int]],
    today: date,
    base_url: str,
) -> Recorded:
    """Record who came (every invited group: ``attended`` or not) and the ``interests``
    ``(group, need)`` shown at the event, replacing what was recorded before. Commits."""
    event: MatchingEvent = get_event(session, event_id, user=user)
    if event.held_on > today:
        raise Invalid("当日の記録は開催日から付けられます。", code="EVENT_NOT_HELD")
    groups = {
        g.organization_id: g
        for g in session.exec(select(EventGroup).where(EventGroup.event_id == event_id)).all()
    }
    on_event = set(
        session.exec(select(EventNeed.need_id).where(EventNeed.event_id == event_id)).all()
    )
    came, wanted = set(attended), set(interests)
    if not came <= set(groups) or not {o for o, _ in wanted} <= set(groups):
        raise Invalid("招待していない団体は記録できません。", code="NOT_INVITED")
    if not {n for _, n in wanted} <= on_event:
        raise Invalid("この発表会で発表していない協働の種です。", code="NOT_ON_EVENT")
    if not {o for o, _ in wanted} <= came:
        raise Invalid(
            "「関心あり」を記録できるのは、出席した団体だけです。出席にも印を付けてください。",
            code="INTEREST_WITHOUT_ATTENDANCE",
        )
    needs = _need_names(session, {n for _, n in wanted})
    existing = {
        (r.organization_id, r.need_id): r
        for r in session.exec(select(EventInterest).where(EventInterest.event_id == event_id)).all()
    }
    added = sorted(wanted - set(existing))
    for _, need_id in added:
        if needs[need_id][0].status != NeedStatus.published:
            raise Invalid(
                f"「{needs[need_id][0].title}」は公開中でないため、関心ありを記録できません。",
                code="NOT_PUBLISHED",
            )
    for org_id, g in groups.items():
        g.attended = org_id in came
        session.add(g)
    removed = sorted(set(existing) - wanted)
    for pair in removed:
        row = existing[pair]
        session.delete(row)
        if row.made_interest:
            interest = session.exec(
                select(Interest).where(
                    Interest.organization_id == pair[0], Interest.need_id == pair[1]
                )
            ).first()
            if interest is not None:
                session.delete(interest)
                audit(
                    session,
                    user,
                    "uninterest",
                    "need",
                    pair[1],
                    organization_id=pair[0],
                    event_id=event_id,
                )
    assert user.id is not None
    note = f"分野別発表会「{event.title}」（{_day(event.held_on)}）で関心を示しました。"
    for org_id, need_id in added:
        made = (
            session.exec(
                select(Interest.id).where(
                    Interest.organization_id == org_id, Interest.need_id == need_id
                )
            ).first()
            is None
        )
        if made:
            need, department = needs[need_id]
            interest = Interest(
                need_id=need_id, organization_id=org_id, user_id=user.id, comment=note
            )
            session.add(interest)
            session.flush()
            assert interest.id is not None
            audit(
                session,
                user,
                "interest",
                "need",
                need_id,
                organization_id=org_id,
                event_id=event_id,
            )
            org = session.get(Organization, org_id)
            assert org is not None
            notify_interest(
                session,
                need=need,
                department=department,
                org=org,
                interest_id=interest.id,
                comment=note,
                base_url=base_url,
            )
        session.add(
            EventInterest(
                event_id=event_id,
                organization_id=org_id,
                need_id=need_id,
                made_interest=made,
                recorded_by=user.id,
            )
        )
    audit(
        session,
        user,
        "record",
        "matching_event",
        event_id,
        attended=sorted(came),
        absent=sorted(set(groups) - came),
        added=[list(p) for p in added],
        removed=[list(p) for p in removed],
    )
    session.commit()
    return Recorded(len(came), len(groups) - len(came), len(added), len(removed))


def met(session: Session, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Met]:
    """``{(need, group): Met}`` for the pairs that met at an event (the latest event)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = session.exec(
        select(EventInterest.need_id, EventInterest.organization_id, MatchingEvent)
        .join(MatchingEvent, col(MatchingEvent.id) == EventInterest.event_id)
        .where(col(EventInterest.need_id).in_({n for n, _ in wanted}))
        .where(col(EventInterest.organization_id).in_({o for _, o in wanted}))
        .order_by(col(MatchingEvent.held_on), col(MatchingEvent.id))
    ).all()
    out: dict[tuple[int, int], Met] = {}
    for need_id, org_id, event in rows:
        if (need_id, org_id) in wanted:
            out[(need_id, org_id)] = Met(event.id or 0, event.title, event.held_on)
    return out
