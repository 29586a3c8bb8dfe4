"""The one settings object: everything configurable is read from the environment here."""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    """Service settings, from ``KYODO_*`` environment variables (``DATABASE_URL`` too)."""

    model_config = SettingsConfigDict(env_prefix="KYODO_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    # Embedded default: a SQLite file in the working directory, created on first start.
    database_url: str = Field(
        default="sqlite:///./kyodo.sqlite3",
        validation_alias="DATABASE_URL",
    )
    # Demo mode creates the demo accounts stated in the README; never in production.
    demo_mode: bool = False
    token_ttl_hours: int = 12
    suggestions_per_need: int = Field(default=10, ge=1, le=100)
    # fit the index and store the suggestions in the background when the server starts
    warm_up: bool = True
    # where the pages are reached: the links in e-mail start with it
    base_url: str = "http://127.0.0.1:8000"
    # e-mail (``service.mail``): without a host nothing is sent, the outbox is only shown
    # on /mail (demo mode)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    mail_from: str = "kyodo@localhost"  # the sender's address (display name 「協働マッチング」)
    # send the outbox from inside ``serve`` (a background thread), instead of or beside
    # ``python -m service mail``; off by default (demo mode only queues, with no SMTP host)
    deliver_mail: bool = False
    mail_interval: int = Field(default=30, ge=1, le=3600)  # seconds between its runs
    # where the fitted index is saved, to be memory-mapped by the next start and by every
    # worker instead of fitted again (``service.saved_index``); unset: ``saved_index_dir``
    # says where; ``off``: never saved
    index_dir: str = ""

    @model_validator(mode="after")
    def _production_is_strict(self) -> Settings:
        if self.environment == "production" and self.demo_mode:
            raise ValueError("KYODO_DEMO_MODE cannot be used with KYODO_ENVIRONMENT=production")
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError("KYODO_ENVIRONMENT=production needs PostgreSQL in DATABASE_URL")
        return self

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The URL with a driver SQLAlchemy has: ``postgresql://`` → ``postgresql+psycopg://``."""
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @cached_property
    def saved_index_dir(self) -> Path | None:
        """``KYODO_INDEX_DIR``; unset, a folder beside a SQLite file (``kyodo.sqlite3`` →
        ``kyodo.sqlite3.index``) or, for another database (PostgreSQL, SQLite in memory),
        one for that database under the user's cache folder (``~/.cache/kyodo-match/index/
        <name>-<hash of host, port and name>`` on Linux): a database's folder holds its
        own saved fits only. ``None`` (``off``): not saved."""
        if self.index_dir.strip().lower() in {"off", "none", "false", "0"}:
            return None
        if self.index_dir.strip():
            return Path(self.index_dir.strip()).expanduser()
        url = make_url(self.sqlalchemy_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            database = Path(str(url.database))
            return database.with_name(database.name + ".index")
        import platformdirs

        where = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
        digest = hashlib.sha256(where.encode()).hexdigest()[:8]
        name = f"{url.database or 'memory'}-{digest}".replace("/", "_")
        return Path(platformdirs.user_cache_dir("kyodo-match")) / "index" / name
