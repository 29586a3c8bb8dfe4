"""A meeting as an iCalendar file (RFC 5545), written with the standard library.

One VCALENDAR with one VEVENT; times in UTC (``…Z``, so no VTIMEZONE is needed); text
values escaped (``\\``, ``;``, ``,``, newlines) and every content line folded at 75
octets (a multi-byte character is never split); lines end in CRLF.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["CRLF", "Event", "calendar", "escape_text", "fold"]

CRLF = "\r\n"
LIMIT = 75  # octets of a content line, CRLF not counted
PRODID = "-//Kyodo Match//Meetings 1.0//JA"


def _printable(value: str) -> str:
    """Newlines as ``\\n``; other control characters (but tab) dropped: TEXT has no CTLs."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc")


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newline escaped."""
    value = _printable(value)
    for raw, escaped in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\n", "\\n")):
        value = value.replace(raw, escaped)
    return value


def fold(line: str) -> str:
    """``line`` folded (3.1): no piece longer than 75 octets in UTF-8, each continuation
    led by one space (which counts), a character never cut in two."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    cap = LIMIT
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > cap:
            pieces.append("".join(current))
            current, size, cap = [], 0, LIMIT - 1
        current.append(char)
        size += octets
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces)


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Event:
    uid: str
    stamp: datetime
    starts: datetime
    ends: datetime
    summary: str
    location: str = ""
    description: str = ""
    url: str = ""
    sequence: int = 0
    tentative: bool = False
    cancelled: bool = False  # the event is called off: METHOD:CANCEL, STATUS:CANCELLED


def calendar(event: Event) -> bytes:
    """The file's bytes (UTF-8). A cancelled event is METHOD:CANCEL with
    STATUS:CANCELLED (RFC 5546 3.2.5): with the same UID and a higher SEQUENCE, a
    calendar that holds the event removes or strikes it."""
    status = "CANCELLED" if event.cancelled else "TENTATIVE" if event.tentative else "CONFIRMED"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if event.cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{_utc(event.stamp)}",
        f"DTSTART:{_utc(event.starts)}",
        f"DTEND:{_utc(event.ends)}",
        f"SEQUENCE:{event.sequence}",
        f"STATUS:{status}",
        f"SUMMARY:{escape_text(event.summary)}",
    ]
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.url:  # a URI, not TEXT: checked when saved (no space, no control character)
        lines.append(f"URL:{_printable(event.url).replace(chr(10), '')}")
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + CRLF for line in lines).encode("utf-8")
