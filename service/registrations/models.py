"""The ``registration_request`` table: a group not yet registered asks to take part.

A request is written from the public page of a published need; the coordinator approves
it (an organisation and an invitation are made from it) or declines it with a reason.
Nothing here is ever shown on a public page.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from ..models import UTCDateTime, _ts, utcnow

__all__ = ["RegistrationRequest", "RequestStatus"]


class RequestStatus(StrEnum):
    pending = "pending"  # 未対応
    approved = "approved"  # 招待済み
    declined = "declined"  # お断り


class RegistrationRequest(SQLModel, table=True):
    """「この課題に取り組みたい」: one group's request, about one published need.

    ``address_hash`` is a keyed hash of the sender's address (``service.address_hash``),
    kept only to count requests per address for the rate limit.
    """

    __tablename__ = "registration_request"
    __table_args__ = (Index("ix_registration_request_address", "address_hash", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    group_name: str = Field(max_length=200)
    contact_name: str = Field(max_length=100)
    email: str = Field(max_length=254)
    phone: str = Field(default="", max_length=40)
    profile: str = Field(sa_column=Column(Text, nullable=False))
    area: str = Field(default="", max_length=100)
    status: str = Field(default=RequestStatus.pending, max_length=20, index=True)
    address_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decline_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # set on approval: the organisation and the invitation made from the request
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    invitation_id: int | None = Field(default=None, foreign_key="invitation.id")
