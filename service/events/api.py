"""The planner's JSON API under ``/api/events`` (coordinator only), beside the pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from ..deps import CurrentUser, IndexDep, SessionDep, SettingsDep, TodayDep
from ..models import int_tags
from . import inputs, lists, service

router = APIRouter(prefix="/events", tags=["events"])

Id = Annotated[int, Path(ge=1, le=2_147_483_647, description="発表会の番号")]
NeedId = Annotated[int, Path(ge=1, le=2_147_483_647, description="課題の番号")]
OrgId = Annotated[int, Path(ge=1, le=2_147_483_647, description="団体の番号")]


class EventCreate(BaseModel):
    """A new event: its name, its day in Japan and its theme (fields and/or keywords)."""

    model_config = ConfigDict(extra="forbid")

    # defaults: a missing item is reported by ``inputs.clean_input``, in Japanese with a code
    title: str = Field(default="", max_length=400, description="発表会の名前")
    held_on: str = Field(
        default="", max_length=20, description="開催日（日本時間、例: 2027-02-14）"
    )
    fields: list[int] = Field(default_factory=list, max_length=20, description="活動分野の番号")
    keywords: str = Field(default="", max_length=400, description="キーワード（空白区切り）")


class NeedRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    need_id: int = Field(ge=1, le=2_147_483_647)


class GroupRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization_id: int = Field(ge=1, le=2_147_483_647)


class EventSummary(BaseModel):
    id: int
    title: str
    held_on: date
    fields: list[int]
    keywords: list[str]
    theme: str
    needs: int
    groups: int


class EventNeedOut(BaseModel):
    need_id: int
    key: str
    title: str
    department: str
    source: str
    groups: int
    expired: bool


class FitOut(BaseModel):
    need_id: int
    need_title: str
    score: float
    text: str


class EventGroupOut(BaseModel):
    organization_id: int
    key: str
    name: str
    source: str
    fits: list[FitOut]


class EventDetail(BaseModel):
    id: int
    title: str
    held_on: date
    fields: list[int]
    keywords: list[str]
    theme: str
    needs: list[EventNeedOut]
    groups: list[EventGroupOut]
    updated_at: datetime


def _detail(session: SessionDep, user: CurrentUser, today: date, event_id: int) -> EventDetail:
    view = lists.event_view(session, event_id, user=user, today=today)
    e = view.event
    assert e.id is not None
    return EventDetail(
        id=e.id,
        title=e.title,
        held_on=e.held_on,
        fields=int_tags(e.fields),
        keywords=e.keywords.split(),
        theme=view.theme,
        needs=[
            EventNeedOut(
                need_id=r.need.id or 0,
                key=r.need.key,
                title=r.need.title,
                department=r.department,
                source=r.source,
                groups=r.groups,
                expired=r.expired,
            )
            for r in view.needs
        ],
        groups=[
            EventGroupOut(
                organization_id=g.org.id or 0,
                key=g.org.key,
                name=g.org.name,
                source=g.source,
                fits=[
                    FitOut(need_id=f.need_id, need_title=f.need_title, score=f.score, text=f.text)
                    for f in g.fits
                ],
            )
            for g in view.groups
        ],
        updated_at=e.updated_at,
    )


@router.get("", response_model=list[EventSummary], summary="分野別発表会の一覧")
def list_events(session: SessionDep, user: CurrentUser) -> list[EventSummary]:
    return [
        EventSummary(
            id=e.id or 0,
            title=e.title,
            held_on=e.held_on,
            fields=int_tags(e.fields),
            keywords=e.keywords.split(),
            theme=inputs.theme_label(e),
            needs=n,
            groups=g,
        )
        for e, n, g in service.list_events(session, user=user)
    ]


@router.post(
    "", response_model=EventDetail, status_code=201, summary="分野別発表会を作り、提案を受ける"
)
def create_event(
    session: SessionDep,
    user: CurrentUser,
    index: IndexDep,
    settings: SettingsDep,
    today: TodayDep,
    body: EventCreate,
) -> EventDetail:
    service.require_coordinator(user)  # before the input: a group learns nothing from it
    data = inputs.clean_input(
        title=body.title,
        held_on=body.held_on,
        fields=body.fields,
        keywords=body.keywords,
        today=today,
    )
    event = service.create_event(
        session, index, data, user=user, top=settings.suggestions_per_need, today=today
    )
    assert event.id is not None
    return _detail(session, user, today, event.id)


@router.get("/{event_id}", response_model=EventDetail, summary="分野別発表会を見る")
def read_event(
    session: SessionDep, user: CurrentUser, today: TodayDep, event_id: Id
) -> EventDetail:
    return _detail(session, user, today, event_id)


@router.post("/{event_id}/needs", response_model=EventDetail, summary="発表する協働の種を加える")
def add_need(
    session: SessionDep, user: CurrentUser, today: TodayDep, event_id: Id, body: NeedRef
) -> EventDetail:
    service.add_need(session, event_id, body.need_id, user=user, today=today)
    return _detail(session, user, today, event_id)


@router.delete(
    "/{event_id}/needs/{need_id}", response_model=EventDetail, summary="協働の種を発表から外す"
)
def remove_need(
    session: SessionDep, user: CurrentUser, today: TodayDep, event_id: Id, need_id: NeedId
) -> EventDetail:
    service.remove_need(session, event_id, need_id, user=user)
    return _detail(session, user, today, event_id)


@router.post("/{event_id}/groups", response_model=EventDetail, summary="団体を招待に加える")
def add_group(
    session: SessionDep, user: CurrentUser, today: TodayDep, event_id: Id, body: GroupRef
) -> EventDetail:
    service.add_group(session, event_id, body.organization_id, user=user)
    return _detail(session, user, today, event_id)


@router.delete(
    "/{event_id}/groups/{org_id}", response_model=EventDetail, summary="団体を招待から外す"
)
def remove_group(
    session: SessionDep, user: CurrentUser, today: TodayDep, event_id: Id, org_id: OrgId
) -> EventDetail:
    service.remove_group(session, event_id, org_id, user=user)
    return _detail(session, user, today, event_id)
