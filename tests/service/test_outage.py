"""The database out of reach: a JSON 503 with Retry-After, never a plain-text 500."""

from __future__ import annotations

import httpx

from service.config import Settings
from service.main import create_app

from ..serving import TLS, free_port, serve


def test_an_unreachable_database_is_a_503_in_the_error_shape() -> None:
    # a PostgreSQL address where nothing listens: every connection is refused at once
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/kyodo"
    app = create_app(Settings(database_url=url))
    with serve(app) as base, httpx.Client(verify=TLS, base_url=base, timeout=30) as client:
        assert client.get("/api/health").json() == {"status": "ok"}  # no database needed
        for response in (
            client.get("/api/needs", headers={"Authorization": "Bearer not-a-token"}),
            client.post("/api/auth/token", data={"username": "a", "password": "b"}),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
            body = response.json()
            assert body["code"] == "DATABASE_UNAVAILABLE" and "データベース" in body["message"]
        # a page that needs the database says so on the app's own error page
        queue = client.get("/queue", headers={"Cookie": "kyodo_session=not-a-session"})
        assert queue.status_code == 503 and queue.headers["retry-after"] == "5"
        assert "text/html" in queue.headers["content-type"] and "データベース" in queue.text
