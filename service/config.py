"""The one settings object: everything configurable is read from the environment here."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
