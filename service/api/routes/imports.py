from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

import matching

from ... import imports
from ...deps import CurrentUser, SessionDep
from ...errors import Invalid, PermissionDenied
from ...models import Role

router = APIRouter(prefix="/import", tags=["import"])


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "DATA_FORMAT.md の CSV または XLSX",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/{kind}",
    summary="CSV・Excel の一括取り込み（まず確認、次に反映）",
    openapi_extra=_UPLOAD_BODY,
)
async def import_file(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    kind: Annotated[Literal["needs", "organizations"], Path(description="needs | organizations")],
    apply: Annotated[bool, Query(description="false: 確認だけ（何も変更しない）")] = False,
    accept_valid: Annotated[bool, Query(description="問題のある行を除いて反映する")] = False,
) -> dict[str, Any]:
    """Preview by default; ``apply=true`` writes all rows or none (``accept_valid`` keeps
    the valid rows of a file with rejected ones).

    The upload is read only after the caller is authenticated (the file is not a
    parameter FastAPI parses before the dependencies run), and never past the limit."""
    if user.role != Role.coordinator:  # refused before the upload is read
        raise PermissionDenied("一括取り込みはコーディネーターが行います。")
    limit = matching.Limits().file_bytes
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Invalid("ファイル（file）を送ってください。", code="NO_FILE")
        data = await upload.read(limit + 1)
        filename = upload.filename or "(アップロード)"
    finally:
        await form.close()
    if len(data) > limit:
        raise Invalid(
            f"ファイルが大きすぎます（上限 {limit // (1024 * 1024)} MB）。", code="FILE_TOO_LARGE"
        )
    # the import itself is blocking work: off the event loop, so other requests go on
    report = await run_in_threadpool(
        imports.run_import,
        session,
        kind,
        data,
        filename,
        user=user,
        apply=apply,
        accept_valid=accept_valid,
    )
    if report.applied and (report.created or report.updated):
        # a big import's search text gets its lemma line in the background (search_fill)
        request.app.state.search_fill.start()
    return asdict(report)
