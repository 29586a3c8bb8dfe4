"""Errors as JSON a person and a program can both read: ``{"code", "message", "errors"}``."""

from __future__ import annotations

import errno
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException


class DomainError(Exception):
    """A domain error with a stable code and a Japanese message; the handler maps the class
    to an HTTP status, so domain code raises these without knowing about HTTP."""

    status = 400
    default_code = "BAD_REQUEST"
    retry_after: int | None = None  # seconds, sent as Retry-After (429, 503)

    def __init__(
        self, message: str, *, code: str | None = None, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.errors = errors or []


class NotFound(DomainError):
    status = 404
    default_code = "NOT_FOUND"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}が見つかりません。")


class PermissionDenied(DomainError):
    status = 403
    default_code = "FORBIDDEN"

    def __init__(self, message: str = "この操作を行う権限がありません。") -> None:
        super().__init__(message)


class Conflict(DomainError):
    status = 409
    default_code = "CONFLICT"


class Invalid(DomainError):
    status = 422
    default_code = "INVALID"


# Field names as people read them in forms.
FIELD_LABELS = {
    "key": "ID",
    "department": "担当課",
    "department_id": "担当課",
    "title": "件名",
    "description": "課題の内容",
    "goal": "協働で実現したいこと",
    "fields": "分野",
    "areas": "地域",
    "forms": "協働の形態",
    "contact_name": "担当者名",
    "contact_email": "メールアドレス",
    "contact_phone": "電話番号",
    "name": "団体名",
    "legal_form": "法人格",
    "activities": "活動内容",
    "offerings": "協働でできること",
    "wishes": "協働の希望",
    "status": "状態",
    "action": "判断",
    "reason_code": "理由",
    "comment": "コメント",
    "version": "版",
    "stage": "段階",
    "username": "ユーザー名",
    "password": "パスワード",
    "role": "役割",
    "limit": "件数",
    "offset": "開始位置",
    "need_id": "課題",
    "organization_id": "団体",
    # 事前打ち合わせ (service.meetings)
    "date": "日付",
    "start": "開始時刻",
    "end": "終了時刻",
    "place": "場所",
    "online_url": "オンラインの URL",
    "parties": "参加する立場",
    "participants": "参加者",
    "notes": "メモ",
    "outcome": "結果",
    "outcome_reason": "見送りの理由",
    "next_step": "次の段取り",
}


def validation_message(err: dict[str, Any]) -> tuple[str, str]:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    label = FIELD_LABELS.get(loc[0], loc[0]) if loc else "入力"
    messages = {
        "missing": f"{label}は必須です。",
        "string_too_short": (
            f"{label}を入力してください。"
            if ctx.get("min_length", 1) == 1
            else f"{label}は{ctx.get('min_length')}文字以上で入力してください。"
        ),
        "string_too_long": f"{label}は{ctx.get('max_length')}文字以内で入力してください。",
        "int_parsing": f"{label}は整数で指定してください。",
        "int_type": f"{label}は整数で指定してください。",
        "float_parsing": f"{label}は数値で指定してください。",
        "greater_than_equal": f"{label}は{ctx.get('ge')}以上にしてください。",
        "less_than_equal": f"{label}は{ctx.get('le')}以下にしてください。",
        "greater_than": f"{label}は{ctx.get('gt')}より大きくしてください。",
        "less_than": f"{label}は{ctx.get('lt')}より小さくしてください。",
        "enum": f"{label}は次のいずれかにしてください: {ctx.get('expected', '')}。",
        "literal_error": f"{label}は次のいずれかにしてください: {ctx.get('expected', '')}。",
        "string_type": f"{label}は文字列で指定してください。",
        "list_type": f"{label}は一覧（配列）で指定してください。",
        "json_invalid": "JSON として読めません。",
        "model_attributes_type": "入力の形式が正しくありません。",
        "dict_type": "入力の形式が正しくありません。",
        "extra_forbidden": f"{label}という項目は受け付けていません。",
        "null_not_allowed": (
            f"{label}に null は指定できません（変えないときは項目ごと省いてください）。"
        ),
        "value_error": f"{label}: {ctx.get('error', err.get('msg', ''))}",
    }
    return kind.upper() or "INVALID", messages.get(kind, f"{label}の値が正しくありません。")


def _page_error(
    request: Request, status: int, code: str, message: str, errors: list[dict[str, Any]]
) -> Response | None:
    """For a page (not the API, not its docs): the app's HTML error page, if it has one."""
    path = request.url.path
    if path.startswith("/api") or path in ("/docs", "/redoc", "/openapi.json"):
        return None
    renderer = getattr(request.app.state, "render_error", None)
    return renderer(request, status, code, message, errors) if renderer else None


UNAVAILABLE_MESSAGE = (
    "データベースに接続できないため、処理できませんでした。しばらくしてからもう一度お試しください。"
)
DISK_FULL_MESSAGE = (
    "記録するための容量（ディスク）が足りないため、保存できませんでした。管理者に連絡してください。"
)


def _disk_full(exc: Exception) -> bool:
    """Whether a database error says its disk is full (PostgreSQL's 53100, SQLite's
    "database or disk is full")."""
    original = getattr(exc, "orig", None)
    return getattr(original, "sqlstate", None) == "53100" or "disk is full" in str(exc)


def _unavailable(
    request: Request, status: int, code: str, message: str, *, retry: int | None
) -> Response:
    headers = {"Retry-After": str(retry)} if retry else None
    page = _page_error(request, status, code, message, [])
    if page is not None:
        if headers:
            page.headers.update(headers)
        return page
    return JSONResponse(
        {"code": code, "message": message, "errors": []}, status_code=status, headers=headers
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        page = _page_error(request, exc.status, exc.code, exc.message, exc.errors)
        if page is not None:
            page.headers.update(headers)
            return page
        return JSONResponse(
            {"code": exc.code, "message": exc.message, "errors": exc.errors},
            status_code=exc.status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for err in exc.errors():
            code, message = validation_message(err)
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            errors.append({"field": ".".join(loc), "code": code, "message": message})
        page = _page_error(request, 422, "VALIDATION_ERROR", "入力内容に誤りがあります。", errors)
        if page is not None:
            return page
        return JSONResponse(
            {"code": "VALIDATION_ERROR", "message": "入力内容に誤りがあります。", "errors": errors},
            status_code=422,
        )

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.InterfaceError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def _database(request: Request, exc: Exception) -> Response:
        """The database is out of reach (stopped, restarting, every connection busy) or
        its disk is full: a JSON error, not a plain-text 500. The engine's pre-ping
        recovers by itself once the database is back; nothing needs a restart."""
        if _disk_full(exc):
            return _unavailable(request, 507, "DISK_FULL", DISK_FULL_MESSAGE, retry=None)
        return _unavailable(request, 503, "DATABASE_UNAVAILABLE", UNAVAILABLE_MESSAGE, retry=5)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> Response:
        if exc.errno == errno.ENOSPC:
            return _unavailable(request, 507, "DISK_FULL", DISK_FULL_MESSAGE, retry=None)
        raise exc

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            401: ("UNAUTHORIZED", "ログインが必要です。"),
            403: ("FORBIDDEN", "この操作を行う権限がありません。"),
            404: ("NOT_FOUND", "ページまたはデータが見つかりません。"),
            405: ("METHOD_NOT_ALLOWED", "この操作はできません。"),
        }
        code, message = messages.get(exc.status_code, ("HTTP_ERROR", str(exc.detail)))
        page = _page_error(request, exc.status_code, code, message, [])
        if page is not None:
            return page
        return JSONResponse(
            {"code": code, "message": message, "errors": []},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
