"""Schemathesis against a running server: every API operation, as one user, bounded.

``fuzz`` reads the server's own ``/openapi.json``, and for each operation draws cases
(valid ones and, as many, invalid ones) with Hypothesis, sends them over HTTP with the
user's bearer token and checks each answer: never a 5xx, a status the schema documents,
the content type it names and a body that matches its schema. It does not stop at the
first failure: every failing operation is reported with its first failing case, so one
run says all that is wrong. The suite (tests/service/test_fuzz.py) runs it bounded;
``benchmarks/fuzz.py`` runs it longer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# the answers as the schema describes them (not whether a 422 was "right": the schema
# cannot say that a coordinator must name the department, or that NUL is no text)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# what a fuzzer must not do to the user it runs as (the token would be gone for the
# rest of the run), and what the login tests cover with their own counts
NEVER = {("POST", "/api/auth/logout"), ("POST", "/api/auth/token")}


@dataclass
class FuzzReport:
    """What a run tried and found: cases per operation, statuses, and failures."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    @property
    def five_xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _operations(
    schema: schemathesis.BaseSchema, skip: Iterable[tuple[str, str]]
) -> list[schemathesis.APIOperation]:
    skipped = set(skip) | NEVER
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if (op.method.upper(), op.path) not in skipped]


def fuzz(
    url: str,
    token: str,
    *,
    max_examples: int,
    seed: int = 13,
    skip: Iterable[tuple[str, str]] = (),
) -> FuzzReport:
    """Fuzz every operation of the server at ``url`` as the user of ``token``."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    report = FuzzReport()
    started = time.monotonic()
    for operation in _operations(schema, skip):
        name = f"{operation.method.upper()} {operation.path}"
        run = _runner(operation, name, url, headers, report, max_examples, seed)
        try:
            run()
        except (AssertionError, BaseExceptionGroup) as exc:  # a check failed: keep it, go on
            report.failures[name] = f"{type(exc).__name__}: {exc}"[:3000]
    report.seconds = time.monotonic() - started
    return report


def _runner(
    operation: schemathesis.APIOperation,
    name: str,
    url: str,
    headers: dict[str, str],
    report: FuzzReport,
    max_examples: int,
    seed: int,
) -> Callable[[], None]:
    strategy = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first case is enough
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=headers, timeout=60)
        report.cases[name] += 1
        report.statuses[response.status_code] += 1
        if response.status_code >= 500:
            report.server_errors.append(
                f"{name} → {response.status_code}: {case.as_curl_command(headers)}"
            )
        case.validate_response(response, checks=CHECKS, headers=headers)

    return run  # type: ignore[no-any-return]


def summary(report: FuzzReport) -> str:
    lines = [
        f"{report.total} cases over {len(report.cases)} operations in {report.seconds:.1f} s; "
        f"5xx: {report.five_xx}; statuses: {dict(sorted(report.statuses.items()))}"
    ]
    lines += [f"5xx: {e}" for e in report.server_errors[:20]]
    lines += [f"FAILED {name}: {text}" for name, text in report.failures.items()]
    return "\n".join(lines)
