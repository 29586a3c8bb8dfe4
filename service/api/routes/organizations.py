from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from ... import organizations as svc
from ... import suggestions as sugg
from ...deps import CurrentUser, IndexDep, SessionDep, SettingsDep
from ...models import OrgStatus
from ...privacy import service as privacy
from ...schemas import NeedPublic, OrgCreate, OrgPublic, OrgUpdate, Page
from .params import AreaName, FieldNo, Keyword, Limit, Offset

router = APIRouter(prefix="/organizations", tags=["organizations"])

Id = Annotated[int, Path(ge=1, le=2_147_483_647, description="団体の番号")]


class NeedSuggestion(BaseModel):
    need: NeedPublic
    score: float
    reasons: dict[str, Any]


@router.get("", response_model=Page[OrgPublic], summary="団体の一覧")
def list_orgs(
    session: SessionDep,
    user: CurrentUser,
    field: FieldNo = None,
    area: AreaName = None,
    status: OrgStatus | None = None,
    q: Keyword = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[OrgPublic]:
    page = svc.list_orgs(
        session, user=user, field=field, area=area, status=status, q=q, limit=limit, offset=offset
    )
    shown = [o.id for o in page.items if svc.shows_contact(o)]
    filters = {"field": field, "area": area, "status": status, "q": q, "offset": offset}
    privacy.viewed(
        session,
        user,
        "organization",
        ids=shown,
        where="/api/organizations",
        filter={k: v for k, v in filters.items() if v not in (None, "", 0)},
    )
    return page


@router.post("", response_model=OrgPublic, status_code=201, summary="団体を登録する")
def create_org(session: SessionDep, user: CurrentUser, data: OrgCreate) -> OrgPublic:
    return svc.org_public(svc.create_org(session, data, user=user), viewer=user)


@router.get("/{org_id}", response_model=OrgPublic, summary="団体のプロフィール")
def read_org(session: SessionDep, user: CurrentUser, org_id: Id) -> OrgPublic:
    org = svc.org_public(svc.get_org(session, org_id, user=user), viewer=user)
    if svc.shows_contact(org):
        where = f"/api/organizations/{org_id}"
        privacy.viewed(session, user, "organization", ids=[org_id], entity_id=org_id, where=where)
    return org


@router.patch("/{org_id}", response_model=OrgPublic, summary="団体のプロフィールを更新する")
def update_org(session: SessionDep, user: CurrentUser, org_id: Id, data: OrgUpdate) -> OrgPublic:
    return svc.org_public(svc.update_org(session, org_id, data, user=user), viewer=user)


@router.delete("/{org_id}", response_model=OrgPublic, summary="団体の登録を取り消す")
def withdraw_org(session: SessionDep, user: CurrentUser, org_id: Id) -> OrgPublic:
    return svc.org_public(svc.withdraw_org(session, org_id, user=user), viewer=user)


@router.get(
    "/{org_id}/suggestions", response_model=list[NeedSuggestion], summary="この団体に合う協働の種"
)
def org_suggestions(
    session: SessionDep, index: IndexDep, settings: SettingsDep, user: CurrentUser, org_id: Id
) -> list[NeedSuggestion]:
    rows = sugg.for_org(session, index, org_id, user=user, top=settings.suggestions_per_need)
    return [NeedSuggestion(need=n, score=s, reasons=r) for n, s, r in rows]
