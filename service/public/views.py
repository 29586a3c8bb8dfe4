"""Routes of the public pages and open data under ``/public``: no login, no session.

Nothing here depends on the logged-in user: the same URL gives everyone the same
published needs. The pages use the shared templates (``web.core``), whose layout shows
no menu to an anonymous visitor.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ..deps import SessionDep, TodayDep
from ..web.core import Id, pager, query_int, render
from . import formats, service

router = APIRouter(prefix="/public", include_in_schema=False)
PER_PAGE = 20

Text = Annotated[str | None, Query(max_length=100)]
Number = Annotated[str | None, Query(max_length=10)]


def _filters(
    q: Text = None, field: Number = None, area: Text = None, department: Text = None
) -> dict[str, Any]:
    """The list's filters, shared by the page and the open-data files."""
    return {
        "q": (q or "").strip() or None,
        "field": query_int(field, low=1, high=20),
        "area": (area or "").strip() or None,
        "department": (department or "").strip() or None,
    }


Filters = Annotated[dict[str, Any], Depends(_filters)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/needs")
def need_list(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    f: Filters,
    page: Number = None,
) -> Response:
    number = query_int(page, low=1, high=100_000) or 1
    total, needs = service.list_needs(
        session, today=today, **f, limit=PER_PAGE, offset=(number - 1) * PER_PAGE
    )
    departments, areas = service.facets(session, today=today)
    params = urlencode({k: v for k, v in f.items() if v is not None})
    return render(
        request,
        "public/need_list.html",
        {
            "items": needs,
            "f": f,
            "p": pager(total, number, PER_PAGE),
            "filters": params,
            "departments": departments,
            "areas": areas,
        },
    )


def _download(body: bytes, media_type: str, filename: str | None = None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else {}
    return Response(body, media_type=media_type, headers=headers)


@router.get("/needs.csv")
def need_csv(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    f: Filters,
) -> Response:
    _, needs = service.list_needs(session, today=today, **f, limit=None)
    body = formats.to_csv(needs, base=_base(request))
    return _download(body, "text/csv; charset=utf-8", "public-needs.csv")


@router.get("/needs.json")
def need_json(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    f: Filters,
) -> Response:
    _, needs = service.list_needs(session, today=today, **f, limit=None)
    return Response(formats.to_json(needs, base=_base(request)), media_type="application/json")


@router.get("/needs.atom")
def need_feed(request: Request, session: SessionDep, today: TodayDep) -> Response:
    needs = service.newest_needs(session, today=today, limit=service.FEED_SIZE)
    feed_url = str(request.url_for("need_feed"))
    body = formats.to_atom(needs, base=_base(request), feed_url=feed_url)
    return Response(body, media_type="application/atom+xml")


@router.get("/needs/{need_id}")
def need_detail(request: Request, session: SessionDep, today: TodayDep, need_id: Id) -> Response:
    need = service.get_need(session, today=today, need_id=need_id)
    return render(request, "public/need_detail.html", {"need": need})
