from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ... import report
from ...deps import CurrentUser, SessionDep
from ...errors import PermissionDenied
from ...models import Role
from ...openapi import XLSX, file_responses

router = APIRouter(prefix="/reports", tags=["report"])

Year = Annotated[int, Path(ge=2000, le=2100, description="年度（4月始まり）")]


@router.get("/{fiscal_year}", summary="年度の協働の進行管理（数値）")
def yearly(session: SessionDep, user: CurrentUser, fiscal_year: Year) -> dict[str, object]:
    if user.role != Role.coordinator:
        raise PermissionDenied("進行管理の数値はコーディネーターが見られます。")
    return report.as_dict(report.yearly_report(session, fiscal_year))


@router.get(
    "/{fiscal_year}/xlsx",
    summary="年度の進行管理（Excel）",
    response_class=Response,
    responses=file_responses(XLSX),
)
def yearly_xlsx(session: SessionDep, user: CurrentUser, fiscal_year: Year) -> Response:
    if user.role != Role.coordinator:
        raise PermissionDenied("進行管理の数値はコーディネーターが見られます。")
    content = report.report_xlsx(report.yearly_report(session, fiscal_year))
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="report-{fiscal_year}.xlsx"'},
    )
