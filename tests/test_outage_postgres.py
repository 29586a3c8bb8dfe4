"""A database outage on a PostgreSQL server this test starts and stops itself.

The shared server on 5432 must not be stopped under other tests, so this one makes its own
cluster (``initdb`` into a temporary folder, its own port; as the ``postgres`` system user
when run as root, which PostgreSQL requires). The service runs against it; the cluster is
stopped hard while the service serves, then started again. During the outage every request
that needs the database is a JSON 503 with Retry-After (a page: the app's error page);
after it, the very next request succeeds, with no restart of the service (``pool_pre_ping``
drops the dead connections). Lives outside ``tests/service`` so that ``scripts/test`` runs
it once, not again in its PostgreSQL pass.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from service.config import Settings
from service.db import make_engine
from service.main import create_app
from service.migrate import upgrade
from service.models import Role
from service.schemas import UserCreate
from service.users import create_user

from .serving import TLS, free_port, serve

PASSWORD = "outage-password-1234"


def _bindir() -> Path:
    """The PostgreSQL server programs (Debian keeps them out of PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert candidates, "no initdb: the PostgreSQL server programs are needed for this test"
    return Path(candidates[-1]).parent


class Cluster:
    """A throwaway PostgreSQL cluster on its own port, trust auth on loopback."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kyodo-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:  # PostgreSQL refuses to run as root
            shutil.chown(self.root, user="postgres")
        self.run(self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres")

    def run(self, *args: object) -> None:
        command = [str(a) for a in args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            self.bindir / "pg_ctl",
            "-D",
            self.data,
            "-o",
            options,
            "-w",
            "-l",
            self.root / "log",
            "start",
        )

    def stop(self) -> None:
        self.run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    made.start()
    try:
        yield made
    finally:
        made.remove()


def test_the_service_answers_503_while_its_postgresql_is_down_and_recovers_without_restart(
    cluster: Cluster, tmp_path: Path
) -> None:
    import psycopg

    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE kyodo")
    # fits saved in the test's folder: the cluster's port is new every run, and the default
    # (a folder per database under the user's cache) left an empty folder behind each time
    settings = Settings(database_url=cluster.url("kyodo"), index_dir=str(tmp_path / "index"))
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as session:
        create_user(
            session,
            UserCreate(username="chief", password=PASSWORD, role=Role.coordinator),
            by=None,
        )
    app = create_app(settings)
    with serve(app) as base, httpx.Client(verify=TLS, base_url=base, timeout=30) as client:
        token = client.post("/api/auth/token", data={"username": "chief", "password": PASSWORD})
        assert token.status_code == 200, token.text
        api = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert client.get("/api/needs", headers=api).status_code == 200

        cluster.stop()  # as a crash would: no clean shutdown of the connections
        for _ in range(3):
            down = client.get("/api/needs", headers=api)
            assert down.status_code == 503, down.text
            assert down.headers["retry-after"] == "5"
            assert down.json()["code"] == "DATABASE_UNAVAILABLE"
        assert client.get("/api/health").json() == {"status": "ok"}  # the process still serves

        cluster.start()
        started = time.monotonic()
        back = [client.get("/api/needs", headers=api) for _ in range(5)]
        assert [r.status_code for r in back] == [200] * 5, [r.text for r in back]
        assert time.monotonic() - started < 30
        created = client.post(
            "/api/needs",
            headers=api,
            json={"department": "防災危機管理室", "title": "停電後の安否確認", "description": "d"},
        )
        assert created.status_code == 201, created.text

        # a restart nobody noticed (no request while it was down): the pooled connections
        # are dead, and still the next requests succeed
        cluster.stop()
        cluster.start()
        again = [client.get("/api/needs", headers=api) for _ in range(5)]
        assert [r.status_code for r in again] == [200] * 5, [r.text for r in again]
    engine.dispose()
