"""Query parameters the list routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

FieldNo = Annotated[int | None, Query(ge=1, le=20, description="活動分野の番号（1〜20）")]
AreaName = Annotated[str | None, Query(max_length=50, description="地域（区・地区）")]
Keyword = Annotated[
    str | None,
    Query(
        max_length=100,
        description="キーワード（全角・半角、ひらがな・漢字の表記の違いを区別しない）",
    ),
]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
