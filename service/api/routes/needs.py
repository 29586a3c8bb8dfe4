from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ... import interests
from ... import needs as svc
from ... import suggestions as sugg
from ...deps import CurrentUser, IndexDep, SessionDep, SettingsDep, TodayDep
from ...models import NeedStatus, Organization
from ...organizations import org_public
from ...schemas import (
    InterestIn,
    InterestPublic,
    NeedCreate,
    NeedPublic,
    NeedUpdate,
    Page,
    SimilarNeed,
    SuggestionPublic,
)
from ...served import SUGGESTION_HEADERS
from .params import AreaName, FieldNo, Keyword, Limit, Offset

router = APIRouter(prefix="/needs", tags=["needs"])

Id = Annotated[int, Path(ge=1, le=2_147_483_647, description="課題の番号")]


@router.get("", response_model=Page[NeedPublic], summary="課題の一覧")
def list_needs(
    session: SessionDep,
    user: CurrentUser,
    today: TodayDep,
    department: Annotated[str | None, Query(max_length=100)] = None,
    field: FieldNo = None,
    area: AreaName = None,
    status: NeedStatus | None = None,
    q: Keyword = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[NeedPublic]:
    return svc.list_needs(
        session,
        user=user,
        department=department,
        field=field,
        area=area,
        status=status,
        q=q,
        limit=limit,
        offset=offset,
        today=today,
    )


@router.post("", response_model=NeedPublic, status_code=201, summary="課題を登録する")
def create_need(session: SessionDep, user: CurrentUser, data: NeedCreate) -> NeedPublic:
    need, dept = svc.create_need(session, data, user=user)
    return svc.need_public(need, dept, viewer=user)


@router.get("/{need_id}", response_model=NeedPublic, summary="課題を見る")
def read_need(session: SessionDep, user: CurrentUser, today: TodayDep, need_id: Id) -> NeedPublic:
    need, dept = svc.get_need(session, need_id, user=user, today=today)
    return svc.need_public(need, dept, viewer=user, today=today)


@router.patch("/{need_id}", response_model=NeedPublic, summary="課題を更新する")
def update_need(
    session: SessionDep, user: CurrentUser, need_id: Id, data: NeedUpdate
) -> NeedPublic:
    need, dept = svc.update_need(session, need_id, data, user=user)
    return svc.need_public(need, dept, viewer=user)


@router.delete("/{need_id}", response_model=NeedPublic, summary="課題を取り下げる")
def withdraw_need(session: SessionDep, user: CurrentUser, need_id: Id) -> NeedPublic:
    need, dept = svc.withdraw_need(session, need_id, user=user)
    return svc.need_public(need, dept, viewer=user)


@router.get(
    "/{need_id}/suggestions",
    response_model=list[SuggestionPublic],
    summary="この課題に合う団体",
    responses={200: {"headers": SUGGESTION_HEADERS}},
)
def need_suggestions(
    response: Response,
    session: SessionDep,
    index: IndexDep,
    settings: SettingsDep,
    user: CurrentUser,
    need_id: Id,
) -> list[SuggestionPublic]:
    """While the server is preparing its index (just started, or after a refit), the
    suggestions as stored before are answered at once (``X-Suggestions-Source: stored``);
    otherwise as ranked by its index (``index``, with ``X-Index-Version``)."""
    rows, served = sugg.for_need(
        session, index, need_id, user=user, top=settings.suggestions_per_need
    )
    response.headers.update(served.headers)
    return rows


@router.get("/{need_id}/similar", response_model=list[SimilarNeed], summary="他の課の似た課題")
def similar_needs(
    session: SessionDep,
    index: IndexDep,
    user: CurrentUser,
    need_id: Id,
    top: Annotated[int, Query(ge=1, le=50)] = 5,
) -> list[SimilarNeed]:
    return [
        SimilarNeed(need=need, score=score)
        for need, score in sugg.similar_needs(session, index, need_id, user=user, top=top)
    ]


@router.post(
    "/{need_id}/interest",
    response_model=InterestPublic,
    status_code=201,
    summary="関心ありを伝える",
)
def express_interest(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, need_id: Id, data: InterestIn
) -> InterestPublic:
    """A group's staff: tell the coordinator the group would like to work on this need."""
    row = interests.express(
        session, need_id, user=user, comment=data.comment, base_url=settings.base_url
    )
    org = session.get(Organization, row.organization_id)
    assert org is not None
    return InterestPublic(
        need_id=row.need_id,
        organization=org_public(org, viewer=user),
        comment=row.comment,
        created_at=row.created_at,
    )


@router.delete("/{need_id}/interest", status_code=204, summary="関心ありを取り消す")
def withdraw_interest(session: SessionDep, user: CurrentUser, need_id: Id) -> Response:
    interests.withdraw(session, need_id, user=user)
    return Response(status_code=204)


@router.get("/{need_id}/interests", response_model=list[InterestPublic], summary="関心ありの団体")
def list_interests(session: SessionDep, user: CurrentUser, need_id: Id) -> list[InterestPublic]:
    return [
        InterestPublic(
            need_id=i.need_id,
            organization=org_public(o, viewer=user),
            comment=i.comment,
            created_at=i.created_at,
        )
        for i, o in interests.for_need(session, need_id, user=user)
    ]
