"""The pages people use (server-rendered, Japanese): ``install(app)`` adds them to the app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin, auth, bulk, models_page, needs, orgs, pairing, review
from .core import LoginRequired, render
from .resume import expired_form_page

# No inline script or style, nothing from elsewhere; forms post only to this site.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# once a browser has seen the site over TLS, it never uses plain http for it again
HSTS = b"max-age=31536000; includeSubDomains"
# /docs sends its own policy (``service.docs``): Swagger UI sets style attributes
_OWN_POLICY = ("/docs",)

TITLES = {
    401: "ログインが必要です",
    403: "この操作はできません",
    404: "見つかりません",
    409: "ほかの変更と重なりました",
    413: "ファイルが大きすぎます",
    422: "入力内容に誤りがあります",
}


class SecurityHeaders:
    """Headers every response gets (a pure ASGI middleware: it does not buffer bodies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        hsts = _hsts(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if hsts:
                    headers.append((b"strict-transport-security", HSTS))
                if not path.startswith(_OWN_POLICY):
                    headers.append((b"content-security-policy", CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                # pages, API answers and exports may carry personal data (contact names,
                # e-mail, phone): no browser or proxy keeps a copy; static assets may
                if not path.startswith("/static/") and not any(
                    k.lower() == b"cache-control" for k, _ in headers
                ):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _hsts(scope: Scope) -> bool:
    """HSTS in production, and whenever the request came over https (directly, or through
    a TLS proxy trusted by ``--forwarded-allow-ips``, whose X-Forwarded-Proto uvicorn
    has already put in the scheme); never in the demo over plain http."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return getattr(settings, "environment", None) == "production"


# a form's action → the page of the item it acts on (/suggestions/12/decide → /suggestions/12)
_ITEM_PAGE = re.compile(r"^(/(?:needs|orgs|suggestions)/\d+)(?:/[a-z]+)?$")


def _render_error(
    request: Request, status: int, code: str, message: str, errors: list[dict[str, Any]]
) -> Response:
    item = _ITEM_PAGE.match(request.url.path)
    return render(
        request,
        "error.html",
        {
            "title": TITLES.get(status, "エラー"),
            "message_text": message,
            "code": code,
            "errors": errors,
            # after a conflict, the way back to the item as it is now
            "item_page": item.group(1) if item and status in (409, 422) else None,
        },
        status=status,
    )


def install(app: FastAPI) -> None:
    app.state.render_error = _render_error
    for module in (auth, review, bulk, pairing, needs, orgs, admin, models_page):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=Path(__file__).resolve().parent.parent / "static"))
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            # a form posted after the session ended comes back with the login page
            kept = await expired_form_page(request, request.app.state.settings.demo_mode)
            return kept or RedirectResponse("/login", 303)
        return RedirectResponse("/login?" + urlencode({"next": target}), 303)
