"""The users page (inviting asks for a role, and a coordinator only when asked twice)
and the API docs page."""

from __future__ import annotations

import re

import httpx

from ..serving import TLS
from .conftest import Server
from .helpers import post_form
from .test_pages import login


def test_the_invite_form_has_no_default_role_and_a_coordinator_needs_confirming(
    api: Server,
) -> None:
    """(The first role, コーディネーター, was checked by default: one click too few made a
    new user able to see and change everything.)"""
    coord = login(api, "coord")
    page = coord.get("/users").text
    assert re.search(r'name="role" value="[a-z]+" required checked', page) is None
    r = post_form(coord, "/users", "/users/invite", {"display_name": "誰か"})
    assert r.status_code == 422 and "役割を選んでください" in r.text
    r = post_form(coord, "/users", "/users/invite", {"role": "coordinator"})
    assert r.status_code == 422 and "確認のチェックを入れて" in r.text
    assert 'id="invitation-link"' not in r.text
    r = post_form(
        coord, "/users", "/users/invite", {"role": "coordinator", "confirm_coordinator": "1"}
    )
    assert r.status_code == 200 and 'id="invitation-link"' in r.text


def test_the_api_docs_work_on_a_closed_network(api: Server) -> None:
    """(/docs loaded Swagger UI from a CDN: blank on a city's closed network.)"""
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30)
    api.clients.append(anon)
    page = anon.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources  # nothing from elsewhere
    assert "<script>" not in page.text  # no inline script
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in sources:
        asset = anon.get(path)
        assert asset.status_code == 200 and len(asset.content) > 100, path
    assert "SwaggerUIBundle" in anon.get("/static/api-docs/swagger-ui-bundle.js").text
    assert anon.get("/redoc").status_code == 404  # ReDoc would fetch its logo from a CDN
    assert anon.get("/openapi.json").json()["info"]["title"] == "協働マッチング API"
