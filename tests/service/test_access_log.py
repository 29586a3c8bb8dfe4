"""No invitation or reset secret in the access log (issue 13): ``service.logs``."""

from __future__ import annotations

import io
import logging
import logging.config
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from uvicorn.logging import AccessFormatter

from service.logs import REDACTED, log_config, redact

from ..serving import TLS, free_port
from .conftest import Server

LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "service")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /invite/AbC-12_x HTTP/1.1", f"GET /invite/{REDACTED} HTTP/1.1"),
        ("POST /invite/AbC-12_x?x=1", f"POST /invite/{REDACTED}?x=1"),
        ("/login?next=%2Finvite%2FAbC-12_x", f"/login?next=%2Finvite%2F{REDACTED}"),
        ("/api/x?token=s3cret&q=1", f"/api/x?token={REDACTED}&q=1"),
        ("/api/x?q=1&access_token=s3cret", f"/api/x?q=1&access_token={REDACTED}"),
        ("/api/needs?q=防災&limit=5", "/api/needs?q=防災&limit=5"),
        ("/needs/12/edit", "/needs/12/edit"),
    ],
)
def test_secrets_in_urls_are_redacted(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.fixture
def uvicorn_logging() -> Iterator[None]:
    """The uvicorn loggers as they were before the test (serving configures them)."""
    saved = {
        name: (lg.level, lg.handlers[:], lg.filters[:], lg.propagate)
        for name in LOGGERS
        for lg in [logging.getLogger(name)]
    }
    yield
    for name, (level, handlers, filters, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.filters[:] = filters
        lg.propagate = propagate


def test_the_access_log_of_a_real_server_holds_no_secret(
    api: Server, uvicorn_logging: None
) -> None:
    """The app served by uvicorn with ``serve``'s logging configuration: the lines its
    access formatter writes keep the paths but not the secrets."""
    port = free_port()
    config = uvicorn.Config(
        api.app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_config=log_config(),
        log_level="info",
        lifespan="off",  # the suite's server already runs the app's lifespan
    )
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    logging.getLogger("uvicorn.access").addHandler(handler)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        with httpx.Client(verify=TLS, base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            client.get("/invite/SeCrEt-Path_1")
            client.post("/invite/SeCrEt-Path_2", data={"password": "x"})
            client.get("/login", params={"next": "/invite/SeCrEt-Path_3"})
            client.get("/api/health", params={"token": "SeCrEt-Query_4", "q": "防災"})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    log = out.getvalue()
    assert log.count("\n") >= 4, log
    assert "SeCrEt" not in log, log
    assert f'"GET /invite/{REDACTED} HTTP/1.1" 404' in log
    assert f'"POST /invite/{REDACTED} HTTP/1.1"' in log
    assert f"/login?next=%2Finvite%2F{REDACTED} " in log
    assert f"/api/health?token={REDACTED}&q=" in log


def test_the_services_own_records_reach_the_servers_log(
    uvicorn_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve``'s configuration sends the service's INFO records (a start's warm-up, a
    training run) to uvicorn's handler, redacted like the rest; DEBUG stays out."""
    logging.config.dictConfig(log_config())
    logging.getLogger("service.refresh").info("提案を更新しました: /invite/SeCrEt-Path_5")
    logging.getLogger("service.index").debug("細かい記録")
    err = capsys.readouterr().err
    assert "INFO:" in err and f"提案を更新しました: /invite/{REDACTED}" in err
    assert "SeCrEt" not in err and "細かい記録" not in err
