"""A 分野別発表会's printable programme (coordinator only): ``GET /events/{id}/programme``.

One page laid out for A4 (the print rules are in ``static/app.css``): the event's name,
date and theme, the presentations in order (each need's 担当課, title, a short
description, goal and 活動分野), and the invited groups. The event keeps a date but no
time: the coordinator may give a start time and the minutes per presentation
(``?start=13:30&minutes=15``), and each presentation then shows its time slot. Only
published needs are presented (a need withdrawn since it was put on the event is left
out and counted on the screen); a need past its 募集期限 is kept and marked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from matching import FIELD_NAMES

from ..deps import SessionDep, TodayDep
from ..models import NeedStatus, Role, User, from_tags, int_tags
from ..web.core import Id, PageUser, render, require
from . import lists

__all__ = ["Presentation", "Programme", "programme", "router", "short"]

router = APIRouter(include_in_schema=False)

WEEKDAYS = "月火水木金土日"
SHORT_DESCRIPTION = 160  # characters of a need's description the programme prints
MINUTES = range(5, 121)  # a presentation's length the form accepts
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Presentation:
    number: int
    department: str
    title: str
    description: str  # shortened to SHORT_DESCRIPTION characters
    goal: str
    fields: list[str]
    expired: bool
    slot: str = ""  # 「13:30〜13:45」 when a start time is given


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    areas: str
    fields: list[str]


@dataclass(frozen=True, slots=True)
class Programme:
    event_id: int
    title: str
    day: str  # 「2026年12月20日（日）」
    hours: str  # 「13:30〜14:30」, or "" without a start time
    theme: str
    presentations: list[Presentation]
    groups: list[Group]
    left_out: int  # needs on the event no longer published


def short(text: str, limit: int = SHORT_DESCRIPTION) -> str:
    """``text`` on one paragraph, cut at ``limit`` characters with 「…」."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def parse_start(value: str) -> time | None:
    """A start time as people type it (13:30, １３：３０); None when it is not one."""
    match = _CLOCK.match(unicodedata.normalize("NFKC", value).strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _names(tags: str) -> list[str]:
    return [FIELD_NAMES[f] for f in int_tags(tags) if f in FIELD_NAMES]


def programme(
    session: Session,
    event_id: int,
    *,
    user: User,
    today: date,
    start: time | None = None,
    minutes: int = 15,
) -> Programme:
    view = lists.event_view(session, event_id, user=user, today=today)
    event = view.event
    assert event.id is not None
    shown = [r for r in view.needs if r.need.status == NeedStatus.published]
    at = datetime.combine(event.held_on, start) if start is not None else None
    presentations = []
    for number, row in enumerate(shown, start=1):
        slot = ""
        if at is not None:
            ends = at + timedelta(minutes=minutes)
            slot = f"{at:%H:%M}〜{ends:%H:%M}"
            at = ends
        presentations.append(
            Presentation(
                number,
                row.department,
                row.need.title,
                short(row.need.description),
                row.need.goal,
                _names(row.need.fields),
                row.expired,
                slot,
            )
        )
    hours = ""
    if start is not None and at is not None:
        hours = f"{start:%H:%M}〜{at:%H:%M}" if presentations else f"{start:%H:%M}〜"
    groups = sorted(
        (
            Group(g.org.name, "、".join(from_tags(g.org.areas)) or "市全域", _names(g.org.fields))
            for g in view.groups
        ),
        key=lambda g: g.name,
    )
    d = event.held_on
    return Programme(
        event.id,
        event.title,
        f"{d.year}年{d.month}月{d.day}日（{WEEKDAYS[d.weekday()]}）",
        hours,
        view.theme,
        presentations,
        groups,
        len(view.needs) - len(shown),
    )


@router.get("/events/{event_id}/programme")
def programme_page(
    request: Request, session: SessionDep, user: PageUser, today: TodayDep, event_id: Id
) -> Response:
    require(user, Role.coordinator)
    raw_start = request.query_params.get("start", "")[:10]
    raw_minutes = request.query_params.get("minutes", "")[:4]
    start = parse_start(raw_start) if raw_start else None
    minutes = int(raw_minutes) if raw_minutes.isdecimal() else 15
    problems = []
    if raw_start and start is None:
        problems.append("開始時刻は 13:30 のように入力してください。")
    if minutes not in MINUTES:
        problems.append(f"1件の持ち時間は{MINUTES.start}〜{MINUTES.stop - 1}分にしてください。")
        minutes = 15
    p = programme(
        session,
        event_id,
        user=user,
        today=today,
        start=None if problems else start,
        minutes=minutes,
    )
    context = {
        "p": p,
        "start": raw_start if problems else (f"{start:%H:%M}" if start else ""),
        "minutes": minutes,
        "problems": problems,
    }
    return render(request, "events/programme.html", context, status=422 if problems else 200)
