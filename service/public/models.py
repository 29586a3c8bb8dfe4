"""What the public may see of a need: the one whitelist every public output is built from.

Nothing else leaves ``/public``: no contact person, no internal key, no status, no
suggestions, decisions, comments or interests. A field added to ``Need`` stays private
until it is added here.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

# how an empty area list reads: the need concerns the whole city
CITYWIDE = "市全域"


class PublicNeed(BaseModel):
    """A published 協働の種 as anyone may read it (the JSON keys of ``/public/needs.json``)."""

    id: int
    title: str
    department: str
    description: str
    goal: str
    fields: list[int]
    field_names: list[str]
    areas: list[str]  # empty: the whole city
    forms: list[str]
    deadline: date | None  # 募集期限 (open through that day, Japan time); None: none set
    created_at: datetime
    updated_at: datetime


# (attribute of PublicNeed or "url", Japanese header) in the order of the CSV's columns
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "番号"),
    ("title", "件名"),
    ("department", "担当課"),
    ("description", "課題の内容"),
    ("goal", "協働で実現したいこと"),
    ("field_names", "活動分野"),
    ("areas", "対象地域"),
    ("forms", "協働の形態"),
    ("deadline", "募集期限"),
    ("created_at", "登録日時"),
    ("updated_at", "更新日時"),
    ("url", "URL"),
)
