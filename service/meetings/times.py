"""A meeting's date and times: entered and shown in Japan time, stored in UTC."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..errors import Invalid
from .models import Meeting

JST = ZoneInfo("Asia/Tokyo")
WEEKDAYS = "月火水木金土日"
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def field_error(message: str, code: str, field: str) -> Invalid:
    return Invalid(message, code=code, errors=[{"field": field, "code": code, "message": message}])


def _clean(value: str) -> str:
    """Full-width digits and colons as people type them (２０２６／１２／２０, １４：００)."""
    return unicodedata.normalize("NFKC", value).strip()


def parse_day(value: str) -> date:
    text = _clean(value).replace("/", "-")
    try:
        day = date.fromisoformat(text) if len(text) >= 8 else None
    except ValueError:
        day = None
    if day is None:
        raise field_error("日付は 2026-12-20 のように入力してください。", "BAD_DATE", "date")
    return day


def parse_clock(value: str, field: str) -> time:
    match = _CLOCK.match(_clean(value))
    hour, minute = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
    if hour > 23 or minute > 59:
        label = "開始時刻" if field == "start" else "終了時刻"
        raise field_error(f"{label}は 14:00 のように入力してください。", "BAD_TIME", field)
    return time(hour, minute)


def when(day: str, start: str, end: str) -> tuple[datetime, datetime]:
    """The meeting's start and end in UTC, from a Japan-time day and clock times (no end:
    an hour after the start)."""
    d = parse_day(day)
    starts = datetime.combine(d, parse_clock(start, "start"), tzinfo=JST)
    ends = (
        datetime.combine(d, parse_clock(end, "end"), tzinfo=JST)
        if end.strip()
        else starts + timedelta(hours=1)
    )
    if ends <= starts:
        raise field_error("終了時刻は開始時刻より後にしてください。", "BAD_TIME", "end")
    return starts.astimezone(UTC), ends.astimezone(UTC)


def japan(t: datetime) -> datetime:
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(JST)


def when_text(m: Meeting) -> str:
    """「2026年12月20日（日）14:00〜15:00」."""
    s, e = japan(m.starts_at), japan(m.ends_at)
    return f"{s:%Y年%m月%d日}（{WEEKDAYS[s.weekday()]}）{s:%H:%M}〜{e:%H:%M}"


def form_values(m: Meeting) -> dict[str, str]:
    """The date and times as the form shows them (Japan time)."""
    s, e = japan(m.starts_at), japan(m.ends_at)
    return {"date": f"{s:%Y-%m-%d}", "start": f"{s:%H:%M}", "end": f"{e:%H:%M}"}
