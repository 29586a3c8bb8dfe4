"""The OpenAPI schema says what the API answers: its error statuses with the one error
shape (``errors.py``), and the files it sends (CSV, XLSX, iCalendar).

FastAPI documents only a route's success and a validation error of its own shape
(``{"detail": …}``), which this API never sends. ``install_openapi`` adds, to every
operation, the statuses it may answer with ``{"code", "message", "errors"}``, so a client
generated from the schema, or a fuzzer checking answers against it (tests/fuzzing.py),
reads the real answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["CSV", "ICS", "XLSX", "file_responses", "install_openapi"]

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ICS = "text/calendar"
_FILE = {"type": "string", "format": "binary"}
_DESCRIPTIONS = {CSV: "CSV (UTF-8, BOM 付き)", XLSX: "Excel ブック (XLSX)", ICS: "iCalendar"}


def file_responses(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that sends a file of one of ``media_types``."""
    return {
        200: {
            "description": "、".join(_DESCRIPTIONS[m] for m in media_types),
            "content": {m: {"schema": _FILE} for m in media_types},
        }
    }


ERROR = {
    "title": "Error",
    "type": "object",
    "required": ["code", "message", "errors"],
    "properties": {
        "code": {"type": "string", "description": "機械が読むための符号（例: NOT_FOUND）"},
        "message": {"type": "string", "description": "人が読むための説明（日本語）"},
        "errors": {
            "type": "array",
            "description": "項目ごと・行ごとの問題（入力の誤り、取り込めない行）",
            "items": {"type": "object"},
        },
    },
}
_REF = {"$ref": "#/components/schemas/Error"}
_RETRY = {"Retry-After": {"description": "再試行までの秒数", "schema": {"type": "string"}}}
STATUSES = {
    "400": "リクエストの形式が正しくありません。",
    "401": "ログインが必要です（トークンが無いか、期限が切れています）。",
    "403": "この操作を行う権限がありません。",
    "404": "対象が見つかりません。",
    "409": "ほかの変更と重なりました（同時の変更、古い版からの変更、重複）。",
    "413": "リクエストの本文が大きすぎます。",
    "422": "入力内容に誤りがあります（NUL 文字を含む）。",
    "429": "試行が多すぎます。Retry-After の秒数のあとで試してください。",
    "503": "データベースに接続できません。Retry-After の秒数のあとで試してください。",
    "507": "記録するための容量（ディスク）が足りません。",
}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["400", "403", "422", "503", "507"]
    if operation.get("security"):
        codes.append("401")
    if "{" in path:
        codes.append("404")
    if method != "get":
        codes.append("409")
    if "requestBody" in operation or method in ("post", "put", "patch"):
        codes.append("413")
    if path == "/api/auth/token":
        codes.append("429")
    return sorted(codes)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every operation's error answers, in the API's one error shape."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _statuses(path, method, operation):
                answer: dict[str, Any] = {
                    "description": STATUSES[code],
                    "content": {"application/json": {"schema": _REF}},
                }
                if code in ("429", "503"):
                    answer["headers"] = _RETRY
                responses[code] = answer
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve ``document_errors`` of the app's schema at ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
