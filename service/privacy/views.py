"""The coordinator's audit-log page (``/audit``) and its CSV export (``/audit.csv``).
Both read personal data (login names, addresses), so both are written to the log too."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..deps import SessionDep
from ..exports import table_file
from ..models import Role, utcnow
from ..report import JST
from ..web.core import PageUser, pager, query_int, render, require
from . import log
from . import service as privacy

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def _filter(request: Request) -> tuple[log.AuditFilter, str]:
    """The filter from the query string, and a message when a date could not be read."""
    params = request.query_params
    since, bad_since = log.parse_day(params.get("since"))
    until, bad_until = log.parse_day(params.get("until"))
    f = log.AuditFilter(
        user=params.get("user", "")[:100].strip(),
        entity=log.parse_name(params.get("entity")),
        object_id=query_int(params.get("object_id"), low=1, high=2_147_483_647),
        action=log.parse_name(params.get("action")),
        since=since,
        until=until,
    )
    error = "日付は 2026-12-01 の形で入力してください。" if bad_since or bad_until else ""
    return f, error


def _params(f: log.AuditFilter) -> str:
    """The filter as a query string (the pager's links and the export's link)."""
    values = {
        "user": f.user,
        "entity": f.entity,
        "object_id": f.object_id,
        "action": f.action,
        "since": f.since.isoformat() if f.since else "",
        "until": f.until.isoformat() if f.until else "",
    }
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    f, error = _filter(request)
    number = query_int(request.query_params.get("page"), low=1, high=100_000) or 1
    total, entries = log.search(session, f, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    privacy.viewed(
        session,
        user,
        "audit_log",
        rows=len(entries),
        where="/audit",
        filter=f.as_detail(),
        page=number,
    )
    params = _params(f)
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "f": f,
            "p": pager(total, number, PER_PAGE),
            "params": params,
            "error": error,
            "actions": log.ACTION_LABELS,
            "entities": log.ENTITY_LABELS,
        },
    )


@router.get("/audit.csv")
def audit_csv(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    f, _error = _filter(request)
    rows = log.table(session, f)
    stamp = utcnow().astimezone(JST).strftime("%Y%m%d")
    filename, media, content = table_file(f"audit-log-{stamp}", log.HEADER, rows, "csv")
    privacy.exported(
        session,
        user,
        "audit_log",
        rows=len(rows),
        where="/audit.csv",
        export="audit_log",
        format="csv",
        filter=f.as_detail(),
    )
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
