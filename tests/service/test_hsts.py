"""Strict-Transport-Security in production and over https, not over plain http (issue 13)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from .conftest import Server

HSTS = "max-age=31536000; includeSubDomains"


@pytest.fixture
def served_settings(api: Server) -> Iterator[Callable[..., None]]:
    """``served_settings(environment=…)``: the running app reads these settings until the
    test ends. (``monkeypatch.setattr`` would delete the attribute of a Starlette ``State``
    on undo: it keeps its values outside the instance ``__dict__``.)"""
    state = api.app.state  # type: ignore[attr-defined]
    saved = state.settings

    def change(**update: object) -> None:
        state.settings = saved.model_copy(update=update)

    yield change
    state.settings = saved


def test_no_hsts_in_the_demo_over_plain_http(
    api: Server, served_settings: Callable[..., None]
) -> None:
    served_settings(demo_mode=True)
    for path in ("/login", "/api/health"):
        assert "strict-transport-security" not in httpx.get(api.url + path).headers


def test_hsts_when_a_trusted_tls_proxy_says_https(api: Server) -> None:
    """The test server trusts 127.0.0.1 as a proxy (uvicorn's default ``forwarded_allow_ips``),
    like ``serve --forwarded-allow-ips`` a TLS proxy in front of the service."""
    for path in ("/login", "/api/health", "/docs"):
        r = httpx.get(api.url + path, headers={"X-Forwarded-Proto": "https"})
        assert r.headers["strict-transport-security"] == HSTS, path


def test_hsts_in_production(api: Server, served_settings: Callable[..., None]) -> None:
    served_settings(environment="production")
    for path in ("/login", "/api/health", "/nowhere"):
        r = httpx.get(api.url + path)
        assert r.headers["strict-transport-security"] == HSTS, path
