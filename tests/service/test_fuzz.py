"""Schemathesis against the running server (uvicorn, the suite's database: SQLite or
PostgreSQL), as the coordinator and as an NPO user: no 5xx, and every answer is what the
OpenAPI schema says (status, content type, headers, body). Bounded for CI; the longer run
is ``benchmarks/fuzz.py``."""

from __future__ import annotations

import pytest

from ..fuzzing import fuzz, summary
from .conftest import TOKENS, Server
from .helpers import ok, seed

# cases per operation: enough to reach every parameter's edges, and the whole module
# stays near a minute on a 2-core machine
EXAMPLES = 25


@pytest.mark.parametrize("user", ["coord", "npo1"])
def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(api: Server, user: str) -> None:
    coord = api.client("coord")
    seed(coord)  # some ids exist, so not every case is a 404
    ok(coord.get("/api/review-queue"))  # the suggestions are stored
    report = fuzz(api.url, TOKENS[user], max_examples=EXAMPLES)
    print(summary(report))
    assert len(report.cases) >= 40 and report.total >= 40 * EXAMPLES // 2, summary(report)
    assert report.five_xx == 0, summary(report)
    assert not report.failures, summary(report)
