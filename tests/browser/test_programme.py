"""A 分野別発表会's programme printed by Chromium (page.pdf, the page's own @page size):
A4 pages, one section a page at least, no menu in print."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import expect

from .conftest import PASSWORD, SCREENSHOTS, Site, shot

A4 = (595.0, 842.0)  # points; Chromium writes 594.96 × 841.92


def test_the_programme_prints_on_a4(site: Site) -> None:
    page = site.login("coord")
    token = page.request.post(
        "/api/auth/token", form={"username": "coord", "password": PASSWORD}
    ).json()["access_token"]
    held_on = (date.today() + timedelta(days=40)).isoformat()
    made = page.request.post(
        "/api/events",
        headers={"Authorization": f"Bearer {token}"},
        data={"title": "子ども・子育ての協働発表会", "held_on": held_on, "fields": [13]},
    )
    assert made.status == 201, made.text()
    event = made.json()
    assert len(event["needs"]) >= 3 and event["groups"], event
    page.goto(f"/events/{event['id']}")
    page.get_by_role("link", name="印刷用プログラム").click()
    page.get_by_label("開始時刻").fill("13:30")
    page.get_by_role("button", name="時間を入れる").click()
    expect(page.locator(".programme-toc .slot").first).to_have_text(re.compile("13:30〜13:45"))

    page.emulate_media(media="print")
    assert not page.locator("header.site").is_visible()
    assert not page.locator(".no-print").is_visible()
    breaks = page.locator(".programme-section").evaluate_all(
        "els => els.map(e => getComputedStyle(e).breakBefore)"
    )
    assert breaks == ["page", "page"]
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    shot(page, "event-programme-print")
    pdf = page.pdf(prefer_css_page_size=True, print_background=False)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "event-programme.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    # the cover, then each section from a new page: at least three pages, all A4 portrait
    assert pages >= 3 and len(boxes) >= pages, (pages, boxes)
    for width, height in boxes:
        assert abs(float(width) - A4[0]) < 1.5 and abs(float(height) - A4[1]) < 1.5
    needs, groups = len(event["needs"]), len(event["groups"])
    print(f"programme: {needs} needs, {groups} groups, {pages} A4 pages")
