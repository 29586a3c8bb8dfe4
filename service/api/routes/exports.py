from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from ... import exports
from ...deps import CurrentUser, SessionDep
from ...openapi import CSV, XLSX, file_responses

router = APIRouter(prefix="/export", tags=["export"])


@router.get(
    "/{kind}",
    summary="CSV・Excel への書き出し",
    response_class=Response,
    responses=file_responses(CSV, XLSX),
)
def export_file(
    session: SessionDep,
    user: CurrentUser,
    kind: Annotated[
        Literal["needs", "organizations", "suggestions", "decisions", "pairings"], Path()
    ],
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    filename, media_type, content = exports.export(
        session, kind, format, user=user, where=f"/api/export/{kind}?format={format}"
    )
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})
