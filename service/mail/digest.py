"""The coordinator's weekly digest (``python -m service digest``, from cron once a week).

What the office reads on Monday morning: how many suggestions wait in the review queue and
how long the oldest has waited, the 関心あり groups said in the past week, and the needs
whose 募集期限 falls in the next ``EXPIRING_DAYS`` days. Days are Japan-time calendar
days (``deadlines``); "the past week" is the 7 × 24 hours before the run, so runs a week
apart count every 関心あり once. One mail per coordinator per ISO week (the outbox's dedup key):
a second run in the same week queues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..deadlines import days_waited, open_clause, today_jst
from ..models import (
    Department,
    Interest,
    Need,
    NeedStatus,
    Organization,
    Role,
    Suggestion,
    User,
    utcnow,
)
from ..suggestions import _undecided, joined
from .models import MailKind, MailOutbox
from .service import queue_each

__all__ = ["EXPIRING_DAYS", "Digest", "figures", "queue_digest", "week_key"]

EXPIRING_DAYS = 14
LISTED = 10  # at most this many interests and needs are named; the rest are counted


@dataclass
class Digest:
    today: date
    since: date  # the day "the past week" began
    waiting: int = 0  # suggestions in the review queue
    waiting_needs: int = 0  # … for this many needs
    oldest_days: int | None = None  # how long the oldest of them has waited
    oldest: str = ""  # its need and group
    interests: list[str] = field(default_factory=list)  # 「group → need（department）」
    expiring: list[str] = field(default_factory=list)  # 「12月10日（あと6日） need（department）」
    interest_count: int = 0
    expiring_count: int = 0


def week_key(today: date) -> str:
    """The ISO week of ``today``: ``2026-W49``."""
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


def figures(session: Session, *, now: datetime) -> Digest:
    """The digest's figures at ``now``."""
    today, week_ago = today_jst(now), now - timedelta(days=7)
    d = Digest(today=today, since=today_jst(week_ago))
    queue = joined().where(*_undecided(today=today))
    counted = queue.with_only_columns(func.count(), func.count(func.distinct(Need.id)))
    d.waiting, d.waiting_needs = session.execute(counted).one()
    oldest = session.exec(
        queue.order_by(col(Suggestion.created_at), col(Suggestion.id)).limit(1)
    ).first()
    if oldest is not None:
        s, need, dept, org = oldest
        d.oldest_days = days_waited(s.created_at, today)
        d.oldest = f"{org.name} ×「{need.title}」、{dept}"
    interests = session.exec(
        select(Organization.name, Need.title, Department.name)
        .select_from(Interest)
        .join(Organization, col(Organization.id) == Interest.organization_id)
        .join(Need, col(Need.id) == Interest.need_id)
        .join(Department, col(Department.id) == Need.department_id)
        .where(col(Interest.created_at) >= week_ago, col(Interest.created_at) < now)
        .order_by(col(Interest.created_at))
    ).all()
    d.interest_count = len(interests)
    d.interests = [f"{org} →「{title}」（{dept}）" for org, title, dept in interests[:LISTED]]
    expiring = session.exec(
        select(Need.title, col(Need.deadline), Department.name)
        .join(Department)
        .where(Need.status == NeedStatus.published, open_clause(today))
        .where(col(Need.deadline) <= today + timedelta(days=EXPIRING_DAYS))
        .order_by(col(Need.deadline), col(Need.id))
    ).all()
    d.expiring_count = len(expiring)
    for title, deadline, dept in expiring[:LISTED]:
        assert deadline is not None
        left = (deadline - today).days
        when = "本日まで" if left == 0 else f"あと{left}日"
        d.expiring.append(f"{deadline.month}月{deadline.day}日（{when}）「{title}」（{dept}）")
    return d


def _more(listed: list[str], count: int) -> str:
    lines = "".join(f"  ・{line}\n" for line in listed)
    return lines + (f"  ほか {count - len(listed)}件\n" if count > len(listed) else "")


def body(d: Digest, *, base_url: str) -> str:
    """The digest's text (between the greeting and the signature)."""
    base = base_url.rstrip("/")
    lines = [
        f"{d.today.month}月{d.today.day}日時点の、協働マッチングの週のまとめをお送りします。\n",
        f"■ 確認待ちの提案：{d.waiting}件（協働の種 {d.waiting_needs}件）",
    ]
    if d.oldest_days is not None:
        lines.append(f"  いちばん長く待っている提案：{d.oldest_days}日（{d.oldest}）")
    lines.append(f"  {base}/queue\n")
    period = f"{d.since.month}月{d.since.day}日〜{d.today.month}月{d.today.day}日"
    lines.append(f"■ この1週間（{period}）の「関心あり」：{d.interest_count}件")
    lines.append(_more(d.interests, d.interest_count))
    lines.append(f"■ 募集期限が{EXPIRING_DAYS}日以内の協働の種：{d.expiring_count}件")
    lines.append(_more(d.expiring, d.expiring_count))
    return "\n".join(lines)


def queue_digest(session: Session, *, base_url: str, now: datetime | None = None) -> int:
    """Queue this week's digest to every coordinator with an address who has not turned
    it off; commits. Returns how many were queued (0 on a second run in the same week)."""
    now = now or utcnow()
    today = today_jst(now)
    coordinators = session.exec(
        select(User).where(col(User.role) == Role.coordinator).order_by(col(User.id))
    ).all()
    d = figures(session, now=now)
    queued: list[MailOutbox] = queue_each(
        session,
        MailKind.digest,
        coordinators,
        subject=f"協働マッチング 週のまとめ（{today.month}月{today.day}日）",
        text=body(d, base_url=base_url),
        key=week_key(today),
    )
    session.commit()
    return len(queued)
