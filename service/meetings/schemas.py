"""API shapes of a meeting: what is posted (``MeetingIn``, ``MeetingUpdate``) and shown
(``MeetingPublic``). Dates and times are posted as people write them in Japan time
(``date`` 2026-12-20, ``start`` 14:00, ``end`` 15:30) and shown with their zone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, Field, StringConstraints

from ..schemas import Patch, Strict
from .models import MeetingStatus, Outcome, Party


def _text(limit: int) -> object:
    return StringConstraints(strip_whitespace=True, max_length=limit)


Date = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Time = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]
Place = Annotated[str, _text(200)]
Url = Annotated[str, _text(500)]
Short = Annotated[str, _text(1000)]
Long = Annotated[str, _text(5000)]
Version = Annotated[int, Field(ge=1, le=2_147_483_647)]


class MeetingIn(Strict):
    """A new meeting. ``start`` is required, ``end`` defaults to an hour later; a place or
    an online URL is required; ``outcome`` 見送り (``dropped``) needs ``outcome_reason``."""

    date: Date
    start: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
    end: Time = ""
    place: Place = ""
    online_url: Url = ""
    parties: list[Party] = Field(default_factory=list, max_length=3)
    participants: Short = ""
    notes: Long = ""
    outcome: Outcome | None = None
    outcome_reason: Short = ""
    next_step: Short = ""


class MeetingUpdate(Patch):
    """A change: fields left out stay as they are; ``version`` is the one read."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"outcome"})

    date: Date | None = None
    start: Time | None = None
    end: Time | None = None
    place: Place | None = None
    online_url: Url | None = None
    parties: list[Party] | None = Field(default=None, max_length=3)
    participants: Short | None = None
    notes: Long | None = None
    outcome: Outcome | None = None
    outcome_reason: Short | None = None
    next_step: Short | None = None
    version: Version


class MeetingCancel(Strict):
    """Calling a meeting off (中止): ``reason`` is required; ``version`` is the one read."""

    reason: Short = ""
    version: Version


class MeetingPublic(BaseModel):
    id: int
    suggestion_id: int
    need_id: int
    need_title: str
    department: str
    organization_id: int
    organization_name: str
    status: MeetingStatus
    starts_at: datetime  # in Japan time (+09:00)
    ends_at: datetime
    place: str
    online_url: str
    parties: list[Party]
    participants: str
    notes: str
    outcome: Outcome | None
    outcome_reason: str
    next_step: str
    cancel_reason: str  # why it was called off (status ``cancelled``)
    cancelled_at: datetime | None  # when, in Japan time
    version: int
    ics_path: str
    created_at: datetime
    updated_at: datetime
