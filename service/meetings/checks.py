"""The rules a meeting's write must pass: a place, a reason for 見送り, an open pairing,
and who may write what. Each raises the domain error people read (422, 409, 403)."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import Conflict, PermissionDenied
from ..models import Role, Stage, SuggestionStatus, User
from .models import Meeting, MeetingStatus, Outcome
from .times import field_error

if TYPE_CHECKING:  # service imports this module
    from .service import Pairing

_RESULT = ("outcome", "outcome_reason")


def check_place(place: str, url: str) -> None:
    if any(unicodedata.category(c) == "Cc" for c in place):
        raise field_error("場所に改行や制御文字は使えません。", "BAD_TEXT", "place")
    if url:
        parts = urlsplit(url)
        bad = any(c.isspace() or unicodedata.category(c) == "Cc" or c in '<>"' for c in url)
        if bad or parts.scheme not in ("http", "https") or not parts.netloc:
            raise field_error(
                "オンラインの URL は https:// で始まる形で入力してください。",
                "BAD_URL",
                "online_url",
            )
    if not place and not url:
        raise field_error(
            "場所か、オンラインで行うときはその URL を入力してください。",
            "PLACE_REQUIRED",
            "place",
        )


def check_reason(outcome: Outcome | None, reason: str) -> None:
    if outcome == Outcome.dropped and not reason.strip():
        raise field_error(
            "結果を「見送り」にするときは、理由を入力してください。",
            "REASON_REQUIRED",
            "outcome_reason",
        )


def check_open(p: Pairing) -> None:
    """A meeting is set only for a confirmed pairing that has not ended."""
    if p.suggestion.status != SuggestionStatus.confirmed:
        raise Conflict("承認した組み合わせだけ、打ち合わせを記録できます。", code="NOT_CONFIRMED")
    if p.suggestion.stage == Stage.dropped:
        raise Conflict(
            "この組み合わせは見送りになっています。打ち合わせは設定できません。",
            code="PAIRING_ENDED",
        )


def check_writer(user: User, fields: dict[str, Any], meeting: Meeting | None = None) -> None:
    """The coordinator writes anything; the department proposes dates (no outcome, and
    only while the date is a proposal); the group reads."""
    if user.role == Role.coordinator:
        return
    if user.role != Role.department:
        raise PermissionDenied("打ち合わせの日程は、市民自治推進課と担当課が設定します。")
    if meeting is not None and meeting.status == MeetingStatus.scheduled:
        raise PermissionDenied("日程が確定した打ち合わせは、市民自治推進課が変更します。")
    if any(fields.get(k) for k in _RESULT):
        raise PermissionDenied("打ち合わせの結果は、市民自治推進課が記録します。")


def check_not_cancelled(meeting: Meeting) -> None:
    """A cancelled meeting (中止) stays in the record as it was: it is not changed."""
    if meeting.status == MeetingStatus.cancelled:
        raise Conflict(
            "この打ち合わせは中止になっています。変更はできません"
            "（新しい日程は、打ち合わせを設定し直してください）。",
            code="MEETING_CANCELLED",
        )
