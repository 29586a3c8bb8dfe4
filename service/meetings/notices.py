"""What a meeting sends: its mail to the group and the department, and its .ics file."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import or_
from sqlmodel import Session, col, select

from ..mail.models import MailKind, MailOutbox
from ..mail.service import queue_each
from ..models import Role, User, utcnow
from . import ics
from .models import Meeting, MeetingStatus
from .times import when_text

if TYPE_CHECKING:  # service imports this module
    from .service import Pairing


def notify(
    session: Session,
    p: Pairing,
    m: Meeting,
    *,
    changed: bool,
    base_url: str,
    cancelled: bool = False,
) -> list[MailOutbox]:
    """「事前打ち合わせの日程が決まりました／変わりました」, or 「事前打ち合わせは中止に
    なりました」 (``cancelled``, with the reason), to the group's and the need's
    department's users (each change once: the key is the meeting's version)."""
    users = session.exec(
        select(User)
        .where(
            or_(
                (col(User.role) == Role.npo) & (col(User.organization_id) == p.org.id),
                (col(User.role) == Role.department)
                & (col(User.department_id) == p.need.department_id),
            )
        )
        .order_by(col(User.id))
    ).all()
    verb = "変わりました" if changed else "決まりました"
    subject = "事前打ち合わせは中止になりました" if cancelled else f"事前打ち合わせの日程が{verb}"
    base = base_url.rstrip("/")
    pair = f"{p.department}の協働の種「{p.need.title}」と {p.org.name} さまの"
    lines = [
        f"{pair}事前打ち合わせは中止になりました。"
        if cancelled
        else f"{pair}事前打ち合わせの日程が{verb}。",
        "",
        f"日時：{when_text(m)}",
    ]
    if cancelled:
        lines.append(f"中止の理由：{m.cancel_reason}")
    if m.place:
        lines.append(f"場所：{m.place}")
    if m.online_url:
        lines.append(f"オンライン：{m.online_url}")
    if m.participants:
        lines.append(f"参加者：{m.participants}")
    lines += [
        "",
        "詳しくは次のページをご覧ください（カレンダーに入れるファイルもあります）。",
        f"{base}/suggestions/{p.suggestion.id}/meetings",
        "",
    ]
    return queue_each(
        session,
        MailKind.meeting,
        users,
        subject=subject,
        text="\n".join(lines),
        key=f"{m.id}:{m.version}",
    )


def calendar_file(m: Meeting, p: Pairing, *, base_url: str, now: datetime | None = None) -> bytes:
    """The meeting's .ics (``ics.calendar``): a calendar that imports it again updates the
    same event (the same UID, a higher SEQUENCE); once the meeting is cancelled, the file
    cancels that event (METHOD:CANCEL, STATUS:CANCELLED)."""
    host = urlsplit(base_url).hostname or "kyodo-match"
    description = [
        f"協働の種：{p.need.title}（{p.department}）",
        f"団体：{p.org.name}",
    ]
    if m.participants:
        description.append(f"参加者：{m.participants}")
    if m.online_url:
        description.append(f"オンライン：{m.online_url}")
    if m.next_step:
        description.append(f"次の段取り：{m.next_step}")
    cancelled = m.status == MeetingStatus.cancelled
    if cancelled:
        description.append(f"中止の理由：{m.cancel_reason}")
    mark = "【中止】" if cancelled else ""
    description.append(f"{base_url.rstrip('/')}/suggestions/{p.suggestion.id}/meetings")
    return ics.calendar(
        ics.Event(
            uid=f"meeting-{m.id}@{host}",
            stamp=now or utcnow(),
            starts=m.starts_at,
            ends=m.ends_at,
            summary=f"{mark}事前打ち合わせ：{p.need.title}（{p.org.name}）",
            location=m.place or m.online_url,
            description="\n".join(description),
            url=m.online_url,
            sequence=m.version - 1,
            tentative=m.status == MeetingStatus.proposed,
            cancelled=cancelled,
        )
    )
