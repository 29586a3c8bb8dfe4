"""「あなたの団体に合いそうな協働の種が公開されました」: a group hears of a need that suits it.

The hook is where a need's suggestions are stored (``refresh``), in the same transaction:
when a need is ranked for the first time (it has just been published; it had no stored
suggestion before), the users of the groups in its best ``TOP`` suggestions scoring at
least ``MIN_SCORE`` are told, once per need × group × user (the outbox's dedup key). No
ranking is computed here: the refresh that stores the suggestions hands them over.

``MIN_SCORE`` is the 分野別発表会 planner's (``events.service.RULES``): on the bundled
corpus's judged needs, 12% of the top-5 pairs scoring under 0.15 are judged relevant,
24% from 0.15 to 0.2 and 35–69% above, so below it a mail would mostly be noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from ..deadlines import open_clause, today_jst
from ..models import Department, Need, NeedStatus, Organization, OrgStatus, Role, User, utcnow
from .models import MailKind, MailOutbox
from .service import queue_each

__all__ = ["MIN_SCORE", "NEW_DAYS", "SUBJECT", "TOP", "notify_new_needs"]

TOP = 5
MIN_SCORE = 0.15
# a need first ranked long after it was last saved is not news (a need that no group
# matched until a new group registered): only needs saved within this many days
NEW_DAYS = 14
SUBJECT = "あなたの団体に合いそうな協働の種が公開されました"


def notify_new_needs(
    session: Session,
    ranked: Mapping[int, Sequence[tuple[int, float]]],
    *,
    base_url: str,
    now: datetime | None = None,
) -> list[MailOutbox]:
    """Queue the mail for ``ranked``: ``{need id: [(group id, score), …] best first}`` of
    needs ranked for the first time. Only published needs still open and saved within
    ``NEW_DAYS``, only active groups; no commit (the caller's transaction)."""
    picks = {
        need_id: [org_id for org_id, score in rows[:TOP] if score >= MIN_SCORE]
        for need_id, rows in ranked.items()
    }
    picks = {need_id: orgs for need_id, orgs in picks.items() if orgs}
    if not picks:
        return []
    now = now or utcnow()
    needs = session.exec(
        select(Need, Department.name)
        .join(Department)
        .where(col(Need.id).in_(picks), Need.status == NeedStatus.published)
        .where(open_clause(today_jst(now)), col(Need.updated_at) >= now - timedelta(NEW_DAYS))
        .order_by(col(Need.id))
    ).all()
    org_ids = {org_id for need, _ in needs for org_id in picks[need.id or 0]}
    if not org_ids:
        return []
    orgs = {
        o.id: o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_(org_ids), Organization.status == OrgStatus.active
            )
        ).all()
    }
    staff: dict[int, list[User]] = {}
    for user in session.exec(
        select(User)
        .where(col(User.role) == Role.npo, col(User.organization_id).in_(list(orgs)))
        .order_by(col(User.id))
    ).all():
        staff.setdefault(user.organization_id or 0, []).append(user)
    base = base_url.rstrip("/")
    queued: list[MailOutbox] = []
    for need, dept in needs:
        assert need.id is not None
        for org_id in picks[need.id]:
            org = orgs.get(org_id)
            if org is None or not staff.get(org_id):
                continue
            until = f"募集期限：{need.deadline:%Y年%m月%d日}\n" if need.deadline else ""
            text = (
                f"{org.name} さまの活動に合いそうな協働の種を、{dept}が公開しました。\n\n"
                f"協働の種：{need.title}\n担当課：{dept}\n{until}\n"
                "内容をご覧になり、取り組めそうでしたら「関心あり」でお知らせください。\n"
                f"{base}/needs/{need.id}\n"
            )
            queued += queue_each(
                session,
                MailKind.new_need,
                staff[org_id],
                subject=SUBJECT,
                text=text,
                key=f"{need.id}:{org_id}",
            )
    return queued
