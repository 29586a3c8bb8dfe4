"""An event's settings as the coordinator types them: checked into an ``EventInput``
(Japanese messages with codes), and its theme as a line people read."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from matching import FIELD_NAMES

from ..errors import Invalid
from ..models import int_tags
from .models import MatchingEvent

__all__ = ["EventInput", "clean_input", "event_input", "split_keywords", "theme_label"]

TITLE_LENGTH = 200
KEYWORDS_LENGTH = 200
MAX_KEYWORDS = 10
# how far ahead an event may be planned
HORIZON = timedelta(days=3 * 366)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_SEPARATORS = re.compile(r"[\s、,，;；]+")


@dataclass(frozen=True, slots=True)
class EventInput:
    """An event's settings once checked."""

    title: str
    held_on: date
    fields: list[int]
    keywords: list[str]


def split_keywords(text: str) -> list[str]:
    """The keywords typed in one box: separated by spaces, 、 or commas; NFKC; no repeats."""
    words = _SEPARATORS.split(unicodedata.normalize("NFKC", text or ""))
    return list(dict.fromkeys(w for w in words if w))


def theme_label(event: MatchingEvent) -> str:
    """The theme as a line people read: 「環境の保全、災害救援 ／ 竹林 里山」."""
    fields = "、".join(FIELD_NAMES[f] for f in int_tags(event.fields) if f in FIELD_NAMES)
    return " ／ ".join(p for p in (fields, event.keywords) if p)


def _problem(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def clean_input(
    *,
    title: str,
    held_on: str | date | None,
    fields: list[str] | list[int],
    keywords: str,
    today: date,
    was: date | None = None,
) -> EventInput:
    """Check an event's settings; ``Invalid`` names every problem (Japanese, with codes).

    The date must be a real day, not before ``today`` (unless it is the one the event
    already had, ``was``) and within three years."""
    problems: list[dict[str, str]] = []
    title = (title or "").strip()
    if not title:
        problems.append(_problem("title", "REQUIRED", "発表会の名前は必須です。"))
    elif len(title) > TITLE_LENGTH or _CONTROL.search(title):
        problems.append(
            _problem(
                "title",
                "BAD_TITLE",
                f"発表会の名前は改行や制御文字を含まず、{TITLE_LENGTH}文字以内にしてください。",
            )
        )
    day: date | None = held_on if isinstance(held_on, date) else None
    if not isinstance(held_on, date):
        text = unicodedata.normalize("NFKC", held_on or "").strip().replace("/", "-")
        try:
            day = date.fromisoformat(text) if text else None
        except ValueError:
            day = None
        if day is None:
            problems.append(
                _problem(
                    "held_on",
                    "BAD_DATE",
                    "開催日を正しい日付で入力してください（例: 2027-02-14）。",
                )
            )
    if day is not None and day != was and not today <= day <= today + HORIZON:
        problems.append(
            _problem(
                "held_on",
                "BAD_DATE",
                "開催日は今日から3年以内の日付にしてください（過去の日付は選べません）。",
            )
        )
    numbers: list[int] = []
    for value in fields:
        number = int(value) if str(value).isdecimal() else 0
        if number not in FIELD_NAMES:
            problems.append(
                _problem("fields", "BAD_FIELD", "活動分野は1〜20の番号で選んでください。")
            )
            break
        numbers.append(number)
    keywords = (keywords or "").strip()
    words = split_keywords(keywords)
    if len(keywords) > KEYWORDS_LENGTH or _CONTROL.search(keywords) or len(words) > MAX_KEYWORDS:
        problems.append(
            _problem(
                "keywords",
                "BAD_KEYWORDS",
                f"キーワードは{MAX_KEYWORDS}語まで、合わせて{KEYWORDS_LENGTH}文字以内にしてください。",
            )
        )
    elif not fields and not words:
        problems.append(
            _problem(
                "theme",
                "NO_THEME",
                "テーマとして、活動分野かキーワードを一つ以上指定してください。",
            )
        )
    if problems:
        code = problems[0]["code"] if len(problems) == 1 else "INVALID_EVENT"
        raise Invalid("発表会の内容を確かめてください。", code=code, errors=problems)
    assert day is not None
    return EventInput(title, day, sorted(set(numbers)), words)


def event_input(event: MatchingEvent) -> EventInput:
    return EventInput(event.title, event.held_on, int_tags(event.fields), event.keywords.split())
