"""提案にない団体を組み合わせる: the coordinator's searchable picker of groups for a need.

The need's page has a search box that opens this page; each group found carries a button
that posts to ``/needs/{id}/pair`` (``review.pair``), the same POST the API's pairing uses.
Plain GET and POST forms: no script is needed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import needs as needs_service
from .. import reviews
from ..deps import SessionDep
from ..models import NeedStatus, Role
from ..organizations import org_public
from .core import Id, PageUser, pager, query_int, redirect, render, require

router = APIRouter()

PER_PAGE = 20


@router.get("/needs/{need_id}/pair")
def picker_page(request: Request, session: SessionDep, user: PageUser, need_id: Id) -> Response:
    require(user, Role.coordinator)
    need, dept = needs_service.get_need(session, need_id, user=user)
    if need.status != NeedStatus.published:
        return redirect(f"/needs/{need_id}")
    q = request.query_params.get("q", "")[:100].strip()
    page = query_int(request.query_params.get("page"), low=1, high=100_000) or 1
    total, rows = reviews.pairing_candidates(
        session, need_id, user=user, q=q or None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return render(
        request,
        "need_pair.html",
        {
            "need": needs_service.need_public(need, dept, viewer=user),
            "q": q,
            "rows": [
                {"org": org_public(org, viewer=user), "suggestion_id": sid, "status": status}
                for org, sid, status in rows
            ],
            "p": pager(total, page, PER_PAGE),
            "filters": urlencode({"q": q} if q else {}),
        },
    )


__all__ = ["router"]
