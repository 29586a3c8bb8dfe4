"""The coordinator's file work in the browser: an import previewed, then applied."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from .conftest import Site, shot


def test_an_inventory_sheet_is_previewed_then_its_valid_rows_imported(
    site: Site, tmp_path: Path
) -> None:
    sheet = tmp_path / "棚卸シート.csv"
    sheet.write_bytes(
        (
            "課題ID,担当課,件名,課題の内容,活動分野\r\n"
            "B001,公園緑地課,公園の花壇の担い手,地域の公園の花壇を手入れする人が減っている。,まちづくり\r\n"
            "B002,公園緑地課,,件名のない行,まちづくり\r\n"
            "B003,公園緑地課,遊具の見守り,子どもが遊ぶ時間帯の見守りが足りない。,子どもの健全育成\r\n"
        ).encode("cp932")
    )
    page = site.login("coord")
    page.goto("/files")
    page.get_by_label("協働の種").check()
    page.get_by_label("ファイル").set_input_files(str(sheet))
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("heading", name="協働の種の取り込みの確認")).to_be_visible()
    problem = page.locator("table.problems tbody tr")
    expect(problem).to_have_count(1)
    expect(problem.locator("td").first).to_have_text("3")  # the file's third line
    expect(page.get_by_text("使わない列")).to_have_count(0)  # 活動分野 is read as 分野
    shot(page, "coordinator-import-preview")
    page.get_by_role("button", name="問題のない行だけ取り込む（2 件）").click()
    expect(page.get_by_text("取り込みました。").first).to_be_visible()
    page.goto("/needs?q=公園の花壇")
    expect(page.get_by_role("link", name="公園の花壇の担い手")).to_be_visible()
    page.goto("/needs?q=件名のない行")
    expect(page.get_by_text("条件に合う協働の種はありません。")).to_be_visible()
    assert site.console_errors == []
