from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile

import matching

from ... import imports
from ...deps import CurrentUser, SessionDep
from ...errors import Invalid

router = APIRouter(prefix="/import", tags=["import"])


@router.post("/{kind}", summary="CSV・Excel の一括取り込み（まず確認、次に反映）")
def import_file(
    session: SessionDep,
    user: CurrentUser,
    kind: Annotated[Literal["needs", "organizations"], Path(description="needs | organizations")],
    file: Annotated[UploadFile, File(description="DATA_FORMAT.md の CSV または XLSX")],
    apply: Annotated[bool, Query(description="false: 確認だけ（何も変更しない）")] = False,
    accept_valid: Annotated[bool, Query(description="問題のある行を除いて反映する")] = False,
) -> dict[str, Any]:
    """Preview by default; ``apply=true`` writes all rows or none (``accept_valid`` keeps
    the valid rows of a file with rejected ones)."""
    limit = matching.Limits().file_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise Invalid(
            f"ファイルが大きすぎます（上限 {limit // (1024 * 1024)} MB）。", code="FILE_TOO_LARGE"
        )
    report = imports.run_import(
        session,
        kind,
        data,
        file.filename or "(アップロード)",
        user=user,
        apply=apply,
        accept_valid=accept_valid,
    )
    return asdict(report)
