"""Usable at 360 px, with the keyboard, and with visible focus."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import Site, shot

PAGES = {
    "coord": [
        "/queue",
        "/needs",
        "/needs/1",
        "/orgs",
        "/orgs/1",
        "/pairings",
        "/dashboard",
        "/files",
        "/users",
        "/needs/new",
    ],
    "kankyo": ["/my", "/needs", "/needs/new"],
}


@pytest.mark.parametrize("user", sorted(PAGES))
def test_pages_fit_a_360_px_screen(site: Site, user: str) -> None:
    page = site.login(user, width=360, height=740)
    for path in PAGES[user]:
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 360px"
    page.goto(PAGES[user][0])
    shot(page, f"{user}-start-360px")


def test_the_queue_works_from_the_keyboard(site: Site) -> None:
    page = site.login("coord")
    page.goto("/queue")
    cards = page.locator("article.suggestion")
    first_name = cards.nth(0).locator("h3").inner_text()
    second_name = cards.nth(1).locator("h3").inner_text()
    page.keyboard.press("j")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(cards.nth(1)).to_be_focused()
    # the focused card shows it: an outline a person can see
    outline = cards.nth(1).evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("c")
    expect(cards.nth(1).locator("[data-comment]")).to_be_focused()
    page.keyboard.type("電話で確認済み")
    page.keyboard.press("Escape")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("a")  # confirm the focused (second) card
    expect(page.get_by_text("提案を承認しました。")).to_be_visible()
    remaining = page.locator("article.suggestion h3").all_inner_texts()
    assert second_name not in remaining[:9] and first_name in remaining
    # 見送る without a reason is stopped in the browser, and nothing is sent
    card = page.locator("article.suggestion").first
    card.get_by_role("button", name="見送る").click()
    expect(card.locator("select[data-reason]")).to_be_focused()
    expect(page.get_by_text("提案を見送りました。")).to_have_count(0)


def test_the_skip_link_leads_to_the_content(site: Site) -> None:
    page = site.login("kankyo")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="本文へ移動")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !e.labels.length && !e.getAttribute('aria-label'))
    .map(e => e.outerHTML.slice(0, 120))"""
NAMELESS_BUTTONS = """() => [...document.querySelectorAll('button, a[href]')]
    .filter(e => !(e.innerText || '').trim() && !e.getAttribute('aria-label'))
    .map(e => e.outerHTML.slice(0, 120))"""


@pytest.mark.parametrize("user", sorted(PAGES))
def test_every_field_has_a_label_and_every_control_a_name(site: Site, user: str) -> None:
    page = site.login(user)
    for path in [*PAGES[user], "/account"]:
        page.goto(path)
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(NAMELESS_BUTTONS) == [], path
        assert page.locator("h1").count() == 1, path


def test_the_api_docs_draw_with_no_network_but_this_site(site: Site) -> None:
    """(/docs drew nothing on a closed network: Swagger UI came from a CDN.)"""
    page = site.page()
    elsewhere: list[str] = []

    def only_this_site(route, request) -> None:  # type: ignore[no-untyped-def]
        if request.url.startswith(site.url):
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    page.route("**/*", only_this_site)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("協働マッチング API")
    expect(page.get_by_text("/api/needs").first).to_be_visible()
    assert elsewhere == []
    assert not [e for e in site.console_errors if "/docs" in e]
    shot(page, "api-docs")


def test_field_and_area_badges_are_separate_pills(site: Site) -> None:
    """(The form rule ``.field`` overrode ``.badge``: 活動分野 badges lost their padding
    and border and ran into each other and into the area badges.)"""
    page = site.login("coord")
    page.goto("/needs/1")
    badge = page.locator(".badge.field").first
    expect(badge).to_be_visible()
    style = badge.evaluate(
        "b => { const s = getComputedStyle(b);"
        " return [s.paddingLeft, s.borderTopWidth, s.marginRight]; }"
    )
    assert style[0] != "0px" and style[1] != "0px" and style[2] != "0px", style
