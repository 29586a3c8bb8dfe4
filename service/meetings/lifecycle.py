"""Calling a meeting off (中止), beside ``service``'s setting and changing.

A cancelled meeting stays in the record, marked 中止 with its reason and when; it is no
longer changed, its .ics cancels the event (``notices.calendar_file``), and the
reports do not count it as held. The coordinator cancels any meeting without an
outcome; a department withdraws a date it proposed. The pairing's stage is left as it
is: a stage the meeting set is taken back on the pairing's page, with a reason, like
any other. Audited (``meeting_cancelled``) in the transaction that cancels it.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlmodel import Session

from ..audit import audit
from ..errors import Conflict
from ..models import User, utcnow
from .checks import check_not_cancelled, check_writer
from .models import Meeting, MeetingStatus
from .notices import notify
from .schemas import MeetingPublic
from .service import _compare_and_set, get_meeting, meeting_public
from .times import field_error, japan

__all__ = ["cancel"]

REASON_LENGTH = 1000


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise field_error("中止の理由を入力してください。", "REASON_REQUIRED", "reason")
    if len(reason) > REASON_LENGTH:
        raise field_error(
            f"中止の理由は{REASON_LENGTH}文字以内にしてください。", "TOO_LONG", "reason"
        )
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in reason):
        raise field_error("中止の理由に使えない文字が含まれています。", "BAD_TEXT", "reason")
    return reason


def cancel(
    session: Session,
    meeting_id: int,
    *,
    reason: str,
    version: int,
    user: User,
    base_url: str,
    now: datetime | None = None,
) -> MeetingPublic:
    """Call the meeting off. The group and the department are mailed (mail kind
    ``meeting``) when it had been set and has not ended yet: a proposal was never
    announced, and a meeting already past is only recorded. Commits."""
    now = now or utcnow()
    m, p = get_meeting(session, meeting_id, user=user)
    check_writer(user, {}, m)
    check_not_cancelled(m)
    if m.outcome:
        raise Conflict(
            "結果を記録した打ち合わせは中止にできません（開かれた打ち合わせです）。"
            "結果が誤りのときは、変更のページで直してください。",
            code="OUTCOME_RECORDED",
        )
    text = _reason(reason)
    was = MeetingStatus(m.status)
    values = {"status": MeetingStatus.cancelled.value, "cancel_reason": text, "cancelled_at": now}
    _compare_and_set(session, m, version, values)
    audit(
        session,
        user,
        "meeting_cancelled",
        "meeting",
        m.id,
        suggestion_id=p.suggestion.id,
        was=was.value,
        starts_at=japan(m.starts_at).isoformat(),
        reason=text,
    )
    if was == MeetingStatus.scheduled and _ends(m) > now:
        notify(session, p, m, changed=True, cancelled=True, base_url=base_url)
    session.commit()
    session.refresh(m)
    return meeting_public(m, p)


def _ends(m: Meeting) -> datetime:
    return japan(m.ends_at)
