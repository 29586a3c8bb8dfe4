"""A real server (uvicorn on a loopback port) over a real database, one per test session.

The database is a SQLite file, or PostgreSQL when ``KYODO_TEST_DATABASE_URL`` names one
(``scripts/test`` runs this suite both ways). Between tests every table but the users'
is emptied and the server's in-memory index is replaced, so tests do not see each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

import matching
from service import training_run
from service.config import Settings
from service.db import make_engine
from service.index import MatchingIndex
from service.main import create_app
from service.migrate import upgrade
from service.models import Role
from service.schemas import UserCreate
from service.users import create_user

from ..serving import TLS, serve

PASSWORD = "test-password-1234"
USERS = {
    "coord": (Role.coordinator, None),
    "bousai": (Role.department, "防災危機管理室"),
    "kourei": (Role.department, "高齢福祉課"),
    "npo1": (Role.npo, None),
    "npo2": (Role.npo, None),
}
KEEP = {"app_user", "department", "api_token"}


def database_url(tmp_dir: Path) -> str:
    return os.environ.get("KYODO_TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'test.sqlite3'}"


@dataclass
class Server:
    url: str
    app: object
    engine: object
    settings: Settings

    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, user: str | None = None) -> httpx.Client:
        """An HTTP client logged in as ``user``; closed when the test ends."""
        headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
        client = httpx.Client(verify=TLS, base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        while self.clients:
            self.clients.pop().close()


TOKENS: dict[str, str] = {}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    url = database_url(tmp_path_factory.mktemp("db"))
    # fits saved in a folder of the session's own (the default for PostgreSQL is the
    # user's cache folder)
    settings = Settings(database_url=url, index_dir=str(tmp_path_factory.mktemp("index")))
    engine = make_engine(settings.sqlalchemy_url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(settings.sqlalchemy_url)  # the schema as production gets it: through the migrations
    with Session(engine) as session:
        for name, (role, dept) in USERS.items():
            create_user(
                session,
                UserCreate(username=name, password=PASSWORD, role=role, department=dept),
                by=None,
            )
    app = create_app(settings)
    with serve(app) as url:
        srv = Server(url, app, app.state.engine, settings)
        for name in USERS:
            response = httpx.post(
                f"{srv.url}/api/auth/token", data={"username": name, "password": PASSWORD}
            )
            response.raise_for_status()
            TOKENS[name] = response.json()["access_token"]
        yield srv
        training_run.join(timeout=600)
    engine.dispose()


def reset(srv: Server) -> None:
    # a retraining the last test started ends before its tables are emptied
    assert training_run.join(timeout=600), "a training run did not end"
    engine = srv.engine
    tables = [t for t in reversed(SQLModel.metadata.sorted_tables) if t.name not in KEEP]
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE app_user SET organization_id = NULL"))
        for t in tables:  # DELETE, not TRUNCATE … CASCADE, which would empty app_user too
            conn.execute(t.delete())
    srv.app.state.index = MatchingIndex(  # type: ignore[attr-defined]
        engine, mail_base_url=srv.settings.base_url, index_dir=srv.settings.saved_index_dir
    )


@pytest.fixture
def api(server: Server) -> Iterator[Server]:
    reset(server)
    yield server
    server.close_clients()


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database of the kind under test."""
    pg = os.environ.get("KYODO_TEST_DATABASE_URL")
    if not pg:
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    url = make_url(Settings(database_url=pg).sqlalchemy_url)
    name = f"kyodo_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every ``TfidfRanker.fit`` in this process from now on (its number of profiles)."""
    calls: list[int] = []
    fit = matching.TfidfRanker.fit

    def counted(self, needs, orgs):  # type: ignore[no-untyped-def]
        calls.append(len(orgs))
        return fit(self, needs, orgs)

    monkeypatch.setattr(matching.TfidfRanker, "fit", counted)
    return calls


@pytest.fixture
def ranked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every ``TfidfRanker.rank_orgs`` in this process from now on (its number of needs:
    every need when ``need_ids`` is None)."""
    calls: list[int] = []
    rank_orgs = matching.TfidfRanker.rank_orgs

    def counted(self, need_ids=None, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(self.need_ids_) if need_ids is None else len(need_ids))
        return rank_orgs(self, need_ids, **kwargs)

    monkeypatch.setattr(matching.TfidfRanker, "rank_orgs", counted)
    return calls
