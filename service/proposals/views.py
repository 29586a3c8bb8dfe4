"""Routes: the department's picker and its proposal, as a page and in the API.

- ``GET /needs/{id}/propose?q=…``: search the active groups (the coordinator's picker's
  search), each with 「この団体を提案する」 or, when the need already has it, 検討中.
- ``POST /needs/{id}/propose`` (``organization_id``, ``comment``): the proposal; back to
  the need's page, where the group is listed among 検討されている団体.
- ``POST /api/needs/{id}/proposals`` ``{organization_id, comment}`` → 201.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ..deps import CurrentUser, IndexDep, SessionDep, TodayDep
from ..errors import Conflict, Invalid
from ..models import Role
from ..needs import need_public
from ..organizations import org_public
from ..schemas import SuggestionPublic
from ..web.core import (
    Id,
    PageUser,
    checked_form,
    form_errors,
    pager,
    query_int,
    redirect,
    render,
    require,
)
from . import service
from .models import ProposalIn

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/needs", tags=["needs"])

PER_PAGE = 20


@router.get("/needs/{need_id}/propose")
def picker_page(
    request: Request, session: SessionDep, today: TodayDep, user: PageUser, need_id: Id
) -> Response:
    require(user, Role.department)
    try:
        service.own_open_need(session, need_id, user=user, today=today)
    except Conflict:  # a draft, withdrawn or expired need: its page says why
        return redirect(f"/needs/{need_id}")
    q = request.query_params.get("q", "")[:100].strip()
    page = query_int(request.query_params.get("page"), low=1, high=100_000) or 1
    need, dept, total, rows = service.candidates(
        session,
        need_id,
        user=user,
        q=q or None,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
        today=today,
    )
    return render(
        request,
        "need_propose.html",
        {
            "need": need_public(need, dept, viewer=user, today=today),
            "q": q,
            "rows": [
                {"org": org_public(org, viewer=user), "considered": sid is not None}
                for org, sid, _ in rows
            ],
            "p": pager(total, page, PER_PAGE),
            "filters": urlencode({"q": q} if q else {}),
        },
    )


@router.post("/needs/{need_id}/propose")
async def propose_page(
    request: Request,
    session: SessionDep,
    index: IndexDep,
    today: TodayDep,
    user: PageUser,
    need_id: Id,
) -> Response:
    form = await checked_form(request)
    require(user, Role.department)
    values = {
        name: value
        for name in ProposalIn.model_fields
        if isinstance(value := form.get(name), str) and value != ""
    }
    try:
        data = ProposalIn.model_validate(values)
    except ValidationError as exc:
        errors = [{"field": k, "message": v} for k, v in form_errors(exc).items()]
        raise Invalid(
            "提案する団体を選んでください。", code="VALIDATION_ERROR", errors=errors
        ) from None
    service.propose(session, index, need_id, data, user=user, today=today)
    return redirect(f"/needs/{need_id}", msg="proposed")


ApiId = Annotated[int, Path(ge=1, le=2_147_483_647, description="課題の番号")]


@api_router.post(
    "/{need_id}/proposals",
    response_model=SuggestionPublic,
    status_code=201,
    summary="担当課が自分の課題に団体を提案する",
)
def propose(
    session: SessionDep,
    index: IndexDep,
    today: TodayDep,
    user: CurrentUser,
    need_id: ApiId,
    data: ProposalIn,
) -> SuggestionPublic:
    """The department's own published, open need: the group enters the coordinator's
    review queue, marked as the department's proposal (``model_version``
    ``by-department``); ``409 ALREADY_SUGGESTED`` when the need already has the group."""
    return service.propose(session, index, need_id, data, user=user, today=today)
