"""The whole path of #16 in Chromium, from a stranger to a meeting: a group not yet
registered reads a need on the public pages and asks to take it on; the coordinator
approves the request; the invitation mail reaches a real SMTP server (aiosmtpd on
loopback), sent by the server's own mail worker; the group follows the link, chooses a
login and registers its profile; it is suggested for the need; the coordinator confirms
it and the confirmation mail arrives; a 事前打ち合わせ is recorded and its .ics
downloaded; the dashboard counts it.

Run on a SQLite file and, when PostgreSQL is reachable (``KYODO_TEST_DATABASE_URL``'s
server, or ``KYODO_TEST_PG_HOST``, by default 127.0.0.1:5432), on a scratch PostgreSQL
database made for the test and dropped after it. ``scripts/test`` runs the browser tests
once (its PostgreSQL pass runs ``tests/service`` only), so both variants run there once.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.config import Settings
from service.main import create_app
from service.migrate import upgrade
from service.models import Role

from ..mailserver import SmtpServer
from ..serving import free_port, serve
from .conftest import PASSWORD, Site, load_demo_city, shot

NEED = "水源林の保全と水の大切さの啓発"  # N129, 上下水道局, in the bundled corpus
GROUP = "若葉ダム水源の森の会"
ADDRESS = "suigen-mori@example.jp"
DEPT_ADDRESS = "suido@example.jp"
USERS = {"coord": (Role.coordinator, None), "suido": (Role.department, "上下水道局")}
JST = timedelta(hours=9)


def postgres_admin_url() -> str | None:
    """The ``postgres`` database of the server the tests may use, if it answers: that of
    ``KYODO_TEST_DATABASE_URL``, or ``KYODO_TEST_PG_HOST``:``KYODO_TEST_PG_PORT`` (as in
    ``scripts/test``; 127.0.0.1:5432 by default) as user ``postgres``."""
    named = os.environ.get("KYODO_TEST_DATABASE_URL")
    url = (
        make_url(Settings(database_url=named).sqlalchemy_url).set(database="postgres")
        if named
        else make_url("postgresql+psycopg://postgres@/postgres").set(
            host=os.environ.get("KYODO_TEST_PG_HOST", "127.0.0.1"),
            port=int(os.environ.get("KYODO_TEST_PG_PORT", "5432")),
        )
    )
    try:
        psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError:
        return None
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('journey') / 'journey.sqlite3'}"
        return
    admin_url = postgres_admin_url()
    if admin_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable: CI must run this test on it")
        pytest.skip("PostgreSQL is not reachable (KYODO_TEST_DATABASE_URL or 127.0.0.1:5432)")
    name = f"kyodo_journey_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def city(database_url: str, smtp: SmtpServer, browser: Browser, tmp_path: Path) -> Iterator[Site]:
    """The app with the corpus, sending its outbox itself (``KYODO_DELIVER_MAIL``) to the
    test SMTP server every second; its links start with the address it is served on."""
    port = free_port()
    settings = smtp.settings(
        Settings(
            database_url=database_url,
            index_dir=str(tmp_path / "index"),  # not the user's cache folder (PostgreSQL)
            base_url=f"http://127.0.0.1:{port}",
            deliver_mail=True,
            mail_interval=1,
            mail_from="kyodo@city.example.jp",
        )
    )
    upgrade(settings.sqlalchemy_url)
    app = create_app(settings)
    load_demo_city(app.state.engine, USERS)
    with app.state.engine.begin() as conn:  # the department's staff member has an address
        conn.execute(
            text("UPDATE app_user SET email = :email WHERE username = 'suido'"),
            {"email": DEPT_ADDRESS},
        )
    with serve(app, port=port) as base:
        yield Site(base, browser)
    app.state.engine.dispose()


def figure(page: Page, metric: str) -> int:
    return int(page.locator(f'[data-metric="{metric}"] .num').inner_text())


def test_from_the_public_page_to_a_meeting(
    city: Site, smtp: SmtpServer, request: pytest.FixtureRequest
) -> None:
    db = request.node.callspec.params["database_url"]
    coord = city.login("coord")
    coord.goto("/dashboard")
    before = {m: figure(coord, m) for m in ("confirmed", "meetings", "meetings_upcoming")}

    # -- a group not yet registered finds the need on the public pages ------------------
    visitor = city.page(width=390, height=844)
    visitor.goto("/public/needs")
    visitor.get_by_label("キーワード").fill("水源林")
    visitor.get_by_role("button", name="絞り込む").click()
    visitor.get_by_role("link", name=NEED).click()
    expect(visitor.get_by_role("heading", name=NEED, level=1)).to_be_visible()
    expect(visitor.get_by_text("岩崎")).to_have_count(0)  # no contact name on a public page
    form = visitor.locator("#register")
    form.get_by_label("団体名").fill(GROUP)
    form.get_by_label("担当者名").fill("森川 しずく")
    form.get_by_label("メールアドレス").fill(ADDRESS)
    form.get_by_label("団体の紹介").fill(
        "若葉ダム上流の森林（西区）で、月に一度、下草刈りと植樹をしています。"
        "親子向けに水源林を歩き、水の大切さを学ぶ学習会も開いています。"
    )
    form.get_by_label("活動地域（任意）").fill("西区")
    shot(visitor, f"journey-{db}-1-public-need-request-390px")
    form.get_by_role("button", name="申し込む").click()
    expect(visitor.get_by_role("heading", name="申し込みを受け付けました")).to_be_visible()

    # -- the coordinator approves it from the queue: the invitation is mailed ------------
    coord.goto("/registrations")
    card = coord.locator("article", has_text=GROUP)
    expect(card.get_by_role("link", name=NEED)).to_be_visible()
    expect(card.get_by_label("招待のリンクを送るメールアドレス（任意）")).to_have_value(ADDRESS)
    shot(coord, f"journey-{db}-2-registration-queue")
    card.get_by_role("button", name=f"{GROUP}を招待する").click()
    expect(coord.get_by_role("heading", name=f"招待リンクを作りました（{GROUP}）")).to_be_visible()
    expect(coord.get_by_text(f"{ADDRESS} あてに招待のメールを送信待ちに入れました")).to_be_visible()
    expect(coord.get_by_text("デモモード")).to_have_count(0)  # an SMTP host is set: it is sent

    invitation = smtp.wait_for(ADDRESS, "協働マッチングへのご招待")
    body = invitation.get_content()
    assert body.startswith("森川 しずく さま\n")
    assert f"協働の種「{NEED}」について、登録のお申し込みをいただきありがとうございました。" in body
    found = re.search(re.escape(city.url) + r"/invite/[A-Za-z0-9_-]+", body)
    assert found, body
    link = found.group(0)

    # -- the group follows the link, chooses a login and registers its profile -----------
    npo = city.page(width=390, height=844)
    npo.goto(link)
    expect(npo.get_by_role("heading", name="利用者登録")).to_be_visible()
    npo.get_by_label("ユーザー名").fill("suigen")
    npo.get_by_label(re.compile(r"^パスワード\s*必須$")).fill(PASSWORD)
    npo.get_by_label("パスワード（確認）").fill(PASSWORD)
    npo.get_by_role("button", name="登録してログイン").click()
    expect(npo.get_by_text("ようこそ。利用者登録が完了しました。")).to_be_visible()
    expect(npo.get_by_role("heading", name=GROUP, level=1)).to_be_visible()
    npo.get_by_role("link", name="団体の情報と「協働でできること」を編集").click()
    npo.get_by_label("法人格").fill("任意団体")
    npo.get_by_label("7. 環境の保全").check()
    npo.get_by_label("5. 農山漁村・中山間地域").check()
    npo.get_by_label("協働でできること（メニュー）").fill(
        "水源林の下草刈り・植樹の人手、親子向けの水の学習会の講師、森林の案内"
    )
    shot(npo, f"journey-{db}-3-group-profile-390px")
    npo.get_by_role("button", name="保存する").click()
    expect(npo.get_by_role("heading", name=GROUP, level=1)).to_be_visible()

    # -- it is suggested for the need; the coordinator confirms it ---------------------
    coord.goto("/queue?q=" + NEED)
    block = coord.locator("section.need-block", has_text=NEED)
    suggestion = block.locator("article.suggestion", has_text=GROUP)
    expect(suggestion).to_be_visible()
    shot(coord, f"journey-{db}-4-queue-suggestion")
    suggestion.get_by_label("コメント（任意）").fill("申し込みから登録。水源林の作業の実績あり。")
    suggestion.get_by_role("button", name="承認").click()
    expect(coord.get_by_text("提案を承認しました。")).to_be_visible()

    confirmed = smtp.wait_for(ADDRESS, "協働の種の組み合わせが承認されました")
    assert NEED in confirmed.get_content()
    told = smtp.wait_for(DEPT_ADDRESS, "協働の種の組み合わせが承認されました")
    assert GROUP in told.get_content()

    # -- a 事前打ち合わせ is recorded, its .ics downloaded --------------------------------
    coord.goto("/pairings")
    coord.get_by_role("link", name=f"{NEED} × {GROUP}").click()
    coord.get_by_role("link", name="打ち合わせの設定・記録").click()
    day = (datetime.now(UTC) + JST + timedelta(days=14)).date()
    coord.get_by_label("日付").fill(day.isoformat())
    coord.get_by_label("開始時刻").fill("14:00")
    coord.get_by_label("終了時刻").fill("15:00")
    coord.get_by_label("場所").fill("上下水道局 3階 会議室")
    for party in ("担当課", "団体", "市民自治推進課"):
        coord.get_by_label(party, exact=True).check()
    coord.get_by_label("メモ").fill("植樹の時期と学習会の対象学年を話し合う。")
    coord.get_by_role("button", name="設定する").click()
    meeting = coord.locator("article.meeting")
    expect(meeting).to_have_count(1)
    expect(meeting.get_by_text("上下水道局 3階 会議室")).to_be_visible()
    shot(coord, f"journey-{db}-5-meeting")
    with coord.expect_download() as download_info:
        meeting.get_by_role("link", name="カレンダーに追加（.ics）").click()
    ics = download_info.value.path().read_text(encoding="utf-8")
    assert ics.startswith("BEGIN:VCALENDAR")
    assert f"DTSTART:{day:%Y%m%d}T050000Z" in ics  # 14:00 in Japan
    assert "上下水道局 3階 会議室" in ics.replace("\r\n ", "")

    dated = smtp.wait_for(ADDRESS, "事前打ち合わせの日程が決まりました")
    assert "14:00" in dated.get_content()

    # the group sees it too
    npo.goto("/my")
    matched = npo.locator("section", has_text="市民自治推進課が紹介を決めた協働の種")
    expect(matched.get_by_role("link", name=NEED)).to_be_visible()
    expect(matched.get_by_text("事前打ち合わせ設定")).to_be_visible()
    shot(npo, f"journey-{db}-6-group-page-390px")

    # -- the dashboard's figures move --------------------------------------------------
    coord.goto("/dashboard")
    assert figure(coord, "confirmed") == before["confirmed"] + 1
    assert figure(coord, "meetings") == before["meetings"] + 1
    assert figure(coord, "meetings_upcoming") == before["meetings_upcoming"] + 1
    shot(coord, f"journey-{db}-7-dashboard")

    assert city.console_errors == []  # no script errors, nothing refused by the CSP
