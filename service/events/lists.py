"""An event's lists as the coordinator reads them: the needs presented, the groups
invited with why each suits which need (「○○に合う：…」, from the suggestions' stored
reasons), the choices to add, and the invitation list as a table for export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from ..deadlines import is_open, open_clause
from ..models import (
    Department,
    Need,
    NeedStatus,
    Organization,
    OrgStatus,
    Suggestion,
    SuggestionStatus,
    User,
    from_tags,
)
from ..search import matches
from .inputs import theme_label
from .models import EventGroup, EventNeed, MatchingEvent, Source
from .service import RULES, get_event

__all__ = [
    "INVITATION_HEADER",
    "EventView",
    "Fit",
    "GroupRow",
    "NeedRow",
    "contact_ids",
    "event_view",
    "group_choices",
    "invitation_table",
    "need_choices",
    "reason_text",
]

SOURCE_LABELS = {Source.proposed: "提案", Source.added: "手動で追加"}
_AREA = {
    "same": "地域が一致",
    "citywide_org": "団体は市全域で活動",
    "citywide_need": "課題は市全域",
    "ward": "団体は区全体・区内の別地区で活動",
    "both_citywide": "ともに市全域",
}
NO_FIT = "この発表会の協働の種に合うという提案はありません（手動で追加）"
INVITATION_HEADER = [
    "発表会",
    "開催日",
    "団体ID",
    "団体名",
    "担当者名",
    "メールアドレス",
    "電話番号",
    "活動地域",
    "招待の理由",
    "追加の方法",
]


@dataclass(frozen=True, slots=True)
class Fit:
    """A group suits one of the event's needs: the line the coordinator reads."""

    need_id: int
    need_title: str
    score: float
    text: str  # 「独居高齢者の孤立防止に合う：共通する語「見守り」…」


@dataclass(frozen=True, slots=True)
class NeedRow:
    need: Need
    department: str
    source: str
    groups: int  # invited groups that suit it
    expired: bool


@dataclass(frozen=True, slots=True)
class GroupRow:
    org: Organization
    source: str
    fits: list[Fit]
    invited_at: datetime | None = None  # when its invitation mail was queued
    attended: bool | None = None  # None: not recorded yet


@dataclass(frozen=True, slots=True)
class EventView:
    event: MatchingEvent
    theme: str
    needs: list[NeedRow]
    groups: list[GroupRow]


def reason_text(reasons: dict[str, Any]) -> str:
    """A suggestion's stored reasons in one short clause: its three strongest shared
    words, the fields that agree, how the areas relate."""
    parts: list[str] = []
    terms = [
        str(t.get("term"))
        for t in reasons.get("terms") or []
        if isinstance(t, dict) and float(t.get("share") or 0) >= 0.005
    ][:3]
    if terms:
        parts.append("共通する語" + "".join(f"「{t}」" for t in terms))
    fields = [str(f) for f in reasons.get("shared_fields") or []]
    if fields:
        parts.append(f"活動分野が一致（{'、'.join(fields)}）")
    area = _AREA.get(str(reasons.get("area_relation") or ""))
    if area:
        parts.append(area)
    if reasons.get("members_only"):
        parts.append("注意: 会員向けの活動と読める記述あり")
    if not parts:
        lines = reasons.get("reasons") or []
        parts.append(str(lines[0]) if lines else "提案の理由は記録されていません")
    return "、".join(parts)


def _fits(session: Session, need_ids: list[int], org_ids: list[int]) -> dict[int, list[Fit]]:
    """``{group: [Fit]}`` for every stored suggestion between the event's needs and groups
    that the planner would count (not turned down, scoring at least ``RULES.min_score``),
    best score first."""
    if not need_ids or not org_ids:
        return {}
    rows = session.exec(
        select(Suggestion, Need.title)
        .join(Need, col(Need.id) == Suggestion.need_id)
        .where(col(Suggestion.need_id).in_(need_ids))
        .where(col(Suggestion.organization_id).in_(org_ids))
        .where(Suggestion.status != SuggestionStatus.rejected)
        .where(col(Suggestion.score) >= RULES.min_score)
        .order_by(col(Suggestion.score).desc(), col(Suggestion.need_id))
    ).all()
    out: dict[int, list[Fit]] = {}
    for s, title in rows:
        text = f"{title}に合う：{reason_text(s.reasons or {})}"
        out.setdefault(s.organization_id, []).append(Fit(s.need_id, title, s.score, text))
    return out


def event_view(session: Session, event_id: int, *, user: User, today: date) -> EventView:
    event = get_event(session, event_id, user=user)
    need_rows = session.exec(
        select(EventNeed, Need, Department.name)
        .join(Need, col(Need.id) == EventNeed.need_id)
        .join(Department, col(Department.id) == Need.department_id)
        .where(EventNeed.event_id == event_id)
        .order_by(col(Department.name), col(Need.id))
    ).all()
    group_rows = session.exec(
        select(EventGroup, Organization)
        .join(Organization, col(Organization.id) == EventGroup.organization_id)
        .where(EventGroup.event_id == event_id)
    ).all()
    need_ids = [n.id for _, n, _ in need_rows if n.id is not None]
    fits = _fits(session, need_ids, [g.organization_id for g, _ in group_rows])
    suited: dict[int, int] = {}
    for lines in fits.values():
        for f in lines:
            suited[f.need_id] = suited.get(f.need_id, 0) + 1
    groups = [
        GroupRow(
            org,
            SOURCE_LABELS.get(Source(g.source), g.source),
            fits.get(g.organization_id, []),
            g.invited_at,
            g.attended,
        )
        for g, org in group_rows
    ]
    groups.sort(key=lambda r: (not r.fits, -(r.fits[0].score if r.fits else 0), r.org.name))
    needs = [
        NeedRow(
            n,
            dept,
            SOURCE_LABELS.get(Source(en.source), en.source),
            suited.get(n.id or 0, 0),
            not is_open(n, today) or n.status != NeedStatus.published,
        )
        for en, n, dept in need_rows
    ]
    return EventView(event, theme_label(event), needs, groups)


def need_choices(
    session: Session, event_id: int, *, user: User, q: str, today: date, limit: int = 20
) -> list[tuple[Need, str]]:
    """Published, open needs not on the event that answer ``q``."""
    get_event(session, event_id, user=user)
    on_event = select(EventNeed.need_id).where(EventNeed.event_id == event_id)
    return list(
        session.exec(
            select(Need, Department.name)
            .join(Department, col(Department.id) == Need.department_id)
            .where(Need.status == NeedStatus.published, open_clause(today))
            .where(matches(Need.search_text, q))
            .where(col(Need.id).not_in(on_event))
            .order_by(col(Need.id))
            .limit(limit)
        ).all()
    )


def group_choices(
    session: Session, event_id: int, *, user: User, q: str, limit: int = 20
) -> list[Organization]:
    """Active groups not yet invited that answer ``q`` (表記ゆれ included)."""
    get_event(session, event_id, user=user)
    invited = select(EventGroup.organization_id).where(EventGroup.event_id == event_id)
    return list(
        session.exec(
            select(Organization)
            .where(Organization.status == OrgStatus.active)
            .where(matches(Organization.search_text, q))
            .where(col(Organization.id).not_in(invited))
            .order_by(col(Organization.name), col(Organization.id))
            .limit(limit)
        ).all()
    )


def invitation_table(
    session: Session, event_id: int, *, user: User, today: date
) -> tuple[MatchingEvent, list[str], list[list[object]]]:
    """The invitation list: one row per invited group, with its contact and reasons."""
    view = event_view(session, event_id, user=user, today=today)
    event = view.event
    rows: list[list[object]] = [
        [
            event.title,
            event.held_on.isoformat(),
            g.org.key,
            g.org.name,
            g.org.contact_name,
            g.org.contact_email,
            g.org.contact_phone,
            "、".join(from_tags(g.org.areas)) or "市全域",
            " ／ ".join(f.text for f in g.fits) or NO_FIT,
            g.source,
        ]
        for g in view.groups
    ]
    return event, INVITATION_HEADER, rows


def contact_ids(session: Session, rows: list[list[object]]) -> list[int]:
    """The groups whose contact (name, e-mail or phone) the invitation list's ``rows``
    carry: what its export writes to the audit log."""
    keys = [str(row[2]) for row in rows if any(row[4:7])]
    if not keys:
        return []
    found = session.exec(select(Organization.id).where(col(Organization.key).in_(keys))).all()
    return sorted(i for i in found if i is not None)
