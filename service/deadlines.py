"""募集期限 (a need's deadline): the one rule for "open", and the reminders 7 days before.

A need with a deadline is open through that day in Japan time: a deadline of 2026-12-10
is open until 2026-12-10 24:00 JST. After it the need leaves the public pages, the
groups' pages and the review queue; it is kept (shown as 期限切れ to the coordinator and
its department), and extending the deadline brings it back. Every query and every check
of "open" goes through ``open_clause`` / ``is_open``: the rule is written once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, select

from .mail.models import MailKind
from .mail.service import department_users, queue_each
from .models import Department, Need, NeedStatus

__all__ = [
    "JST",
    "REMIND_DAYS",
    "days_waited",
    "is_open",
    "open_clause",
    "queue_reminders",
    "today_jst",
]

JST = ZoneInfo("Asia/Tokyo")
# how many days before its deadline a need's department is reminded
REMIND_DAYS = 7


def today_jst(now: datetime | None = None) -> date:
    """The calendar day in Japan at ``now`` (default: the current time)."""
    return (now or datetime.now(UTC)).astimezone(JST).date()


def open_clause(today: date) -> Any:
    """A WHERE condition on ``Need``: no deadline, or a deadline not yet passed."""
    return or_(col(Need.deadline).is_(None), col(Need.deadline) >= today)


def is_open(need: Need, today: date) -> bool:
    """``open_clause`` for a loaded need."""
    return need.deadline is None or need.deadline >= today


def days_waited(created_at: datetime, today: date) -> int:
    """Whole days between a record's creation (its Japan-time day) and ``today``."""
    aware = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    return max(0, (today - aware.astimezone(JST).date()).days)


def queue_reminders(session: Session, *, today: date, base_url: str) -> int:
    """Queue 「募集期限が近づいています」 to the department users of every published need
    whose deadline is ``REMIND_DAYS`` days from ``today`` (or nearer, if a run was missed).
    One mail per need × deadline × user (the outbox's dedup key): running it again, or
    every few seconds, sends nothing twice; a new deadline is a new reminder. Commits."""
    kind = MailKind.deadline_reminder
    rows = session.exec(
        select(Need, Department.name)
        .join(Department)
        .where(Need.status == NeedStatus.published)
        .where(open_clause(today))
        .where(col(Need.deadline) <= today + timedelta(days=REMIND_DAYS))
        .order_by(col(Need.id))
    ).all()
    base = base_url.rstrip("/")
    queued = 0
    for need, dept in rows:
        assert need.deadline is not None and need.id is not None
        left = (need.deadline - today).days
        when = "本日" if left == 0 else f"あと{left}日"
        text = (
            f"{dept}の協働の種の募集期限が近づいています（{when}）。\n\n"
            f"協働の種：{need.title}\n"
            f"募集期限：{need.deadline:%Y年%m月%d日}\n\n"
            "期限を過ぎると、公開ページや団体の画面に表示されなくなります。"
            "延ばす場合は次のページから募集期限を変えてください。\n"
            f"{base}/needs/{need.id}/edit\n"
        )
        queued += len(
            queue_each(
                session,
                kind,
                department_users(session, need.department_id),
                subject="募集期限が近づいています",
                text=text,
                key=f"{need.id}:{need.deadline.isoformat()}",
            )
        )
    session.commit()
    return queued
