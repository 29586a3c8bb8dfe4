"""``/docs`` (Swagger UI) served from a package (fastapi-offline ships Swagger UI 5), so
that it works on a closed network: no CDN, no inline script (Swagger UI starts from
``/static/docs.js``), and a Content-Security-Policy that allows only this site. (ReDoc,
which the same package ships, is not offered: its page fetches a logo from its vendor's
CDN.)"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/static/api-docs"
_ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
# Swagger UI draws with style attributes; everything still comes from this site
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
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


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` and its assets (before the pages' ``/static`` mount); the app is made
    with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=_ASSET_DIR), name="api-docs")
    page = _SWAGGER.format(title=app.title, assets=ASSETS, openapi=app.openapi_url)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"content-security-policy": DOCS_CSP})
