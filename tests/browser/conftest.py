"""Browser tests: Debian's Chromium driven by Playwright, against the real app on a real
SQLite file holding the bundled corpus.

Chromium comes from the system (``/usr/bin/chromium``; ``scripts/test`` installs Debian's
package when it is missing): Playwright's own browser download is not used. Screenshots of
the main pages are written to ``artifacts/screenshots/`` (git-ignored) on every run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from sqlalchemy.engine import Engine
from sqlmodel import Session

from corpus import load_corpus
from service import loader
from service.config import Settings
from service.main import create_app
from service.migrate import upgrade
from service.models import Role
from service.schemas import UserCreate
from service.users import create_user

from ..serving import serve

PASSWORD = "browser-test-password"
USERS = {
    "coord": (Role.coordinator, None),
    "kankyo": (Role.department, "環境政策課"),
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("KYODO_CHROMIUM", "/usr/bin/chromium")
# One patience for actions and assertions alike. `expect` otherwise gives up after 5 s: in CI,
# beside the PostgreSQL pass, Swagger UI's first draw of /docs took longer (3.6-4.1 s here
# with both cores busy), though the page drew.
WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)
# As root in a sandboxed machine: no sandbox, no GPU, no background traffic to Google.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Site:
    url: str
    browser: Browser
    console_errors: list[str] = field(default_factory=list)

    def page(self, *, width: int = 1280, height: int = 900) -> Page:
        """A fresh browser context (its own cookies) with one page."""
        context = self.browser.new_context(
            viewport={"width": width, "height": height}, locale="ja-JP", base_url=self.url
        )
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)

        def record(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.console_errors.append(f"{page.url}: {message.text}")

        page.on("console", record)
        page.on("pageerror", lambda exc: self.console_errors.append(f"{page.url}: {exc}"))
        return page

    def login(self, username: str, **size: int) -> Page:
        page = self.page(**size)
        page.goto("/login")
        page.get_by_label("ユーザー名").fill(username)
        page.get_by_label("パスワード").fill(PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one for the browser tests (each test page gets its own context),
    closed after them: left open for the rest of the run, its GPU process kept 40–50% of
    a core busy until the end (the suite's remaining half hour in CI)."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: ./scripts/test installs Debian's chromium "
            "package; or set KYODO_CHROMIUM to a Chromium binary"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def load_demo_city(engine: Engine, users: dict[str, tuple[Role, str | None]]) -> None:
    """The bundled corpus (needs published, groups active) and the users, with PASSWORD."""
    with Session(engine) as session:
        needs, orgs, _ = load_corpus()
        loader.import_organizations(session, orgs, user=None)
        loader.import_needs(session, needs, user=None)
        for name, (role, dept) in users.items():
            create_user(
                session,
                UserCreate(username=name, password=PASSWORD, role=role, department=dept),
                by=None,
            )


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.sqlite3'}"
    settings = Settings(database_url=url)
    upgrade(settings.sqlalchemy_url)
    app = create_app(settings)
    load_demo_city(app.state.engine, USERS)
    with serve(app) as base:
        yield Site(base, browser)
