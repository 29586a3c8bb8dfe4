"""``/docs`` (Swagger UI) and ``/redoc`` served from a package (fastapi-offline ships
Swagger UI 5 and ReDoc), so that they work on a closed network: no CDN, no inline script
(Swagger UI starts from ``/static/docs.js``, ReDoc from its own element), and a
Content-Security-Policy that allows only this site."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/static/api-docs"
_ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
# both draw with style attributes and ReDoc starts a worker from a blob; everything
# still comes from this site
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

_HEAD = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{title} — API の説明</title>
<link rel="icon" href="{assets}/favicon.png">
"""
_SWAGGER = (
    _HEAD
    + """<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""
)
_REDOC = (
    _HEAD
    + """</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""
)


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets (before the pages' ``/static`` mount);
    the app is made with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=_ASSET_DIR), name="api-docs")
    values = {"title": app.title, "assets": ASSETS, "openapi": app.openapi_url}
    pages = {"/docs": _SWAGGER.format(**values), "/redoc": _REDOC.format(**values)}

    def page(html: str) -> HTMLResponse:
        return HTMLResponse(html, headers={"content-security-policy": DOCS_CSP})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return page(pages["/docs"])

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return page(pages["/redoc"])
