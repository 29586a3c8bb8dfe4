"""In Chromium: a department proposes a group for its need and the coordinator finds it in
the queue, marked; a department's edit made after the coordinator saved the same need is
refused with what was typed kept, then saved knowingly."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import Site, shot

NOTE = "昨年度の清掃活動で一緒に動いた団体です。地域の事情に詳しい方がいます。"


def test_a_department_proposes_a_group_and_the_coordinator_sees_it(site: Site) -> None:
    dept = site.login("kankyo")
    dept.goto("/my")
    first = dept.locator("table.list tbody tr").first.get_by_role("link")
    title = first.inner_text()
    first.click()
    need_url = dept.url.split("?")[0]
    dept.get_by_role("link", name="団体を提案する").click()
    expect(dept.get_by_role("heading", name="この協働の種に団体を提案する")).to_be_visible()
    dept.get_by_label("団体名・活動内容・団体IDで探す").fill("清掃")
    dept.get_by_role("button", name="探す").click()
    button = dept.get_by_role("button", name="この団体を提案する").first
    expect(button).to_be_visible()
    group = (button.get_attribute("aria-label") or "").removeprefix("この団体を提案する（")[:-1]
    dept.get_by_label("提案の理由").fill(NOTE)
    shot(dept, "department-propose-group")
    button.click()
    expect(dept.get_by_text("団体を提案しました。")).to_be_visible()
    row = dept.locator("table.considered tr", has_text=group)
    expect(row.get_by_text("担当課からの提案")).to_be_visible()
    expect(row.get_by_text("確認待ち")).to_be_visible()
    assert dept.url.split("?")[0] == need_url

    coord = site.login("coord")
    coord.goto(f"/queue?department=環境政策課&q={title}")
    block = coord.locator("section.need-block", has_text=title)
    card = block.locator("article.suggestion", has_text=group)
    expect(card.get_by_text("担当課からの提案", exact=True)).to_be_visible()
    expect(card.get_by_text(NOTE)).to_be_visible()
    # the department's proposal comes first among the need's groups
    assert block.locator("article.suggestion").first.locator("h3").inner_text() == group
    shot(coord, "coordinator-queue-department-proposal")
    assert site.console_errors == []


def test_a_stale_edit_keeps_what_was_typed(site: Site) -> None:
    dept = site.login("kankyo")
    dept.goto("/my")
    dept.locator("table.list tbody tr").nth(1).get_by_role("link").click()
    edit_url = dept.url.split("?")[0] + "/edit"
    dept.goto(edit_url)
    # meanwhile the coordinator saves the same need
    coord = site.login("coord")
    coord.goto(edit_url)
    coord.get_by_label("件名").fill("（市民自治推進課が修正）件名")
    coord.get_by_role("button", name="保存する").click()
    expect(coord.get_by_text("協働の種を保存しました。")).to_be_visible()
    typed = "地域の方と一緒に、月に一度の見回りを続けたい。"
    dept.get_by_label("協働で実現したいこと").fill(typed)
    dept.get_by_role("button", name="保存する").click()
    expect(dept.get_by_text("ほかの人が保存しました")).to_be_visible()
    # the browser logs the 409 answer itself: expected here, not a script error
    conflict = [e for e in site.console_errors if "/edit" in e and "409" in e]
    assert len(conflict) == 1, site.console_errors
    site.console_errors.remove(conflict[0])
    expect(dept.get_by_label("協働で実現したいこと")).to_have_value(typed)
    expect(dept.locator(".stale-differences")).to_contain_text("（市民自治推進課が修正）件名")
    expect(dept.get_by_role("link", name="今の内容を開く")).to_be_visible()
    shot(dept, "department-stale-edit")
    # the coordinator's title is taken over, then the department saves knowingly
    dept.get_by_label("件名").fill("（市民自治推進課が修正）件名")
    dept.get_by_role("button", name="上書きして保存する").click()
    expect(dept.get_by_text("協働の種を保存しました。")).to_be_visible()
    expect(dept.get_by_text(typed)).to_be_visible()
    assert site.console_errors == []
