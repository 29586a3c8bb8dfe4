"""The long Schemathesis run: every API operation, 100 cases or more each, per role.

    python benchmarks/fuzz.py [--database-url URL] [--examples 100] [--seed 13]

Starts the service (uvicorn on a loopback port) over a throw-away SQLite file unless a
URL is given, loads a part of the bundled corpus, and fuzzes the API as the coordinator
and as an NPO user (``tests/fuzzing.py``: valid and invalid cases, no shrinking). Prints,
per role, the cases tried and the 5xx per operation, the statuses seen, and every check
that failed (an undocumented status, a body off its schema). The suite runs the same
with 25 cases per operation (tests/service/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx
from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's service and tests, not an installed copy

from corpus import part_paths  # noqa: E402
from matching import load_needs, load_organizations  # noqa: E402
from service import loader  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db import make_engine  # noqa: E402
from service.main import create_app  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from service.models import Organization, Role  # noqa: E402
from service.schemas import UserCreate  # noqa: E402
from service.users import create_user  # noqa: E402
from tests.fuzzing import fuzz, summary  # noqa: E402
from tests.serving import serve  # noqa: E402

PASSWORD = "fuzz-password-2026"


def _prepare(url: str) -> None:
    settings = Settings(database_url=url)
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    needs_path, npos_path, _ = part_paths("c")
    with Session(engine) as session:
        loader.import_organizations(session, load_organizations(npos_path).items, user=None)
        loader.import_needs(session, load_needs(needs_path).items, user=None)
        org = session.exec(select(Organization).order_by(Organization.id)).first()
        assert org is not None
        for name, role, extra in (
            ("fuzz-coordinator", Role.coordinator, {}),
            ("fuzz-npo", Role.npo, {"organization_id": org.id}),
        ):
            user = UserCreate(username=name, password=PASSWORD, role=role, **extra)
            create_user(session, user, by=None)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'fuzz.sqlite3'}"
    _prepare(url)
    total = five_xx = failed = 0
    with serve(create_app(Settings(database_url=url))) as base:
        httpx.get(f"{base}/api/health").raise_for_status()
        for name in ("fuzz-coordinator", "fuzz-npo"):
            answer = httpx.post(
                f"{base}/api/auth/token", data={"username": name, "password": PASSWORD}
            )
            answer.raise_for_status()
            token = answer.json()["access_token"]
            report = fuzz(base, token, max_examples=args.examples, seed=args.seed)
            print(f"\n== {name}: {args.examples} examples per operation")
            print(f"{'operation':58} {'cases':>6} {'5xx':>4}")
            for operation, cases in sorted(report.cases.items()):
                errors = sum(e.startswith(operation + " →") for e in report.server_errors)
                print(f"{operation:58} {cases:>6} {errors:>4}")
            print(summary(report))
            total += report.total
            five_xx += report.five_xx
            failed += len(report.failures)
    print(f"\nall: {total} cases, {five_xx} answers 5xx, {failed} operations failing a check")
    sys.exit(1 if five_xx or failed else 0)


if __name__ == "__main__":
    main()
