"""The 分野別発表会 tables: an event, the needs it presents, the groups it invites, and
what was recorded at it (which groups came, which needs each showed interest in)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from ..models import UTCDateTime, _ts, utcnow

__all__ = ["EventGroup", "EventInterest", "EventNeed", "MatchingEvent", "Source"]


class Source(StrEnum):
    """How a need or a group got onto an event's list."""

    proposed = "proposed"  # the service's proposal
    added = "added"  # the coordinator added it by hand


class MatchingEvent(SQLModel, table=True):
    """One 分野別発表会: its theme is ``fields`` (tags "|7|8|") and/or ``keywords``."""

    __tablename__ = "matching_event"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    held_on: date = Field(index=True)  # the day in Japan
    fields: str = Field(default="", max_length=100)  # tags: "|7|8|"
    keywords: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # the id the new-event form was drawn with: the same form posted twice makes one event
    form_key: str | None = Field(default=None, max_length=20, unique=True)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class EventNeed(SQLModel, table=True):
    """A need presented at an event (its department presents it)."""

    __tablename__ = "matching_event_need"

    event_id: int = Field(foreign_key="matching_event.id", primary_key=True)
    need_id: int = Field(foreign_key="need.id", primary_key=True, index=True)
    source: str = Field(default=Source.proposed, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class EventGroup(SQLModel, table=True):
    """A group invited to an event. ``invited_at``: when its invitation mail was queued
    (None: not yet sent); ``attended``: recorded at or after the event (None: not yet)."""

    __tablename__ = "matching_event_group"

    event_id: int = Field(foreign_key="matching_event.id", primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", primary_key=True, index=True)
    source: str = Field(default=Source.proposed, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    invited_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    attended: bool | None = None


class EventInterest(SQLModel, table=True):
    """A group that came to the event showed interest in one of its needs: the pair met
    there. ``made_interest``: this record made the group's 関心あり for the need (False:
    the group had said it already); taking the record back takes that 関心あり back."""

    __tablename__ = "matching_event_interest"

    event_id: int = Field(foreign_key="matching_event.id", primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", primary_key=True)
    need_id: int = Field(foreign_key="need.id", primary_key=True, index=True)
    made_interest: bool = False
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
