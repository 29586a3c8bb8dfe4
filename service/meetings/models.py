"""The ``meeting`` table: one 事前打ち合わせ of a confirmed pairing.

``starts_at`` / ``ends_at`` are stored in UTC (``UTCDateTime``); people enter and read
them in Japan time. ``status`` is ``proposed`` when a department suggested the date and
the coordinator has not yet set it, ``scheduled`` once set, ``cancelled`` (中止) when it
was called off: the row stays, with ``cancel_reason`` and ``cancelled_at``, and is no
longer changed. ``outcome`` stays None until the meeting's result is recorded.
``version`` is checked on every edit (a stale form is a 409), like a suggestion's.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from ..models import UTCDateTime, _ts, utcnow

__all__ = [
    "OUTCOME_LABELS",
    "PARTY_LABELS",
    "STATUS_LABELS",
    "Meeting",
    "MeetingStatus",
    "Outcome",
    "Party",
]


class MeetingStatus(StrEnum):
    proposed = "proposed"  # 担当課からの日程案（コーディネーターが未確定）
    scheduled = "scheduled"  # 日程確定
    cancelled = "cancelled"  # 中止


class Outcome(StrEnum):
    project = "project"  # 協働事業化へ
    continued = "continued"  # 継続協議
    dropped = "dropped"  # 見送り


class Party(StrEnum):
    department = "department"  # 担当課
    group = "group"  # 団体
    coordinator = "coordinator"  # 市民自治推進課


STATUS_LABELS = {
    MeetingStatus.proposed: "日程案",
    MeetingStatus.scheduled: "日程確定",
    MeetingStatus.cancelled: "中止",
}
OUTCOME_LABELS = {
    Outcome.project: "協働事業化へ",
    Outcome.continued: "継続協議",
    Outcome.dropped: "見送り",
}
PARTY_LABELS = {
    Party.department: "担当課",
    Party.group: "団体",
    Party.coordinator: "市民自治推進課",
}


class Meeting(SQLModel, table=True):
    """A meeting between a need's department, an organisation and the coordinator."""

    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: int = Field(foreign_key="suggestion.id", index=True)
    status: str = Field(default=MeetingStatus.scheduled, max_length=20)
    starts_at: datetime = Field(sa_column=_ts())
    ends_at: datetime = Field(sa_column=_ts())
    place: str = Field(default="", max_length=200)
    online_url: str = Field(default="", max_length=500)
    parties: str = Field(default="", max_length=100)  # tags: "|department|group|"
    participants: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    outcome: str | None = Field(default=None, max_length=20)
    outcome_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    next_step: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    cancel_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    version: int = 1
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
