"""Each role's main task, end to end in Chromium: an NPO registers, a department posts a
need, the coordinator confirms the suggested pairing with a reason, the department sees it,
and the dashboard counts it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import PASSWORD, Site, shot

BAMBOO_GROUP = "若葉竹林再生の会"
BAMBOO_NEED = "放置竹林の拡大と里山の荒廃"


def figure(page: Page, metric: str) -> str:
    return page.locator(f'[data-metric="{metric}"] .num').inner_text()


def test_the_roles_main_tasks_end_to_end(site: Site) -> None:
    # -- the coordinator invites a group's staff member ---------------------------------
    coord = site.login("coord")
    expect(coord.get_by_role("heading", name="確認待ちの提案")).to_be_visible()
    shot(coord, "coordinator-queue")
    coord.goto("/dashboard")
    confirmed_before = int(figure(coord, "confirmed"))
    meetings_before = int(figure(coord, "meetings"))
    coord.goto("/users")
    coord.get_by_label("団体", exact=True).check()
    coord.get_by_label("名前（任意）").fill("竹林 守")
    coord.get_by_role("button", name="招待リンクを作る").click()
    link = coord.get_by_label("招待リンク").input_value()
    assert "/invite/" in link
    shot(coord, "coordinator-users-invitation")

    # -- the NPO accepts, registers its profile and menu ------------------------------
    npo = site.page(width=390, height=844)  # a volunteer on a phone
    npo.goto(link)
    npo.get_by_label("ユーザー名").fill("chikurin")
    npo.get_by_label(re.compile(r"^パスワード\s*必須$")).fill(PASSWORD)
    npo.get_by_label("パスワード（確認）").fill(PASSWORD)
    npo.get_by_role("button", name="登録してログイン").click()
    expect(npo.get_by_role("heading", name="団体を登録")).to_be_visible()
    npo.get_by_label("団体名").fill(BAMBOO_GROUP)
    npo.get_by_label("法人格").fill("任意団体")
    npo.get_by_label("7. 環境の保全").check()
    npo.get_by_label("活動地域").fill("西区")
    npo.get_by_label("活動内容").fill(
        "西区の丘陵地で、放置された竹林の竹を伐採し、竹炭や竹チップに加工しています。"
        "月2回の作業日には市民ボランティアが集まり、里山の手入れを続けています。"
    )
    npo.get_by_label("協働でできること（メニュー）").fill(
        "竹林整備の人手の派遣、竹の伐採講習、竹炭づくり体験の講師"
    )
    npo.get_by_label("メールアドレス").fill("chikurin@example.jp")
    shot(npo, "npo-profile-form-390px")
    npo.get_by_role("button", name="登録する").click()
    expect(npo.get_by_role("heading", name=BAMBOO_GROUP)).to_be_visible()
    expect(npo.get_by_role("heading", name="あなたの団体に合う協働の種")).to_be_visible()

    # -- the department posts a need (the form checks as you type) --------------------
    dept = site.login("kankyo")
    dept.get_by_role("link", name="新しく登録").click()
    title = dept.get_by_label("件名")
    title.fill("")
    title.blur()
    expect(dept.locator("#f-title-error")).to_have_text("件名は必須です。")
    title.fill(BAMBOO_NEED)
    expect(dept.locator("#f-title-error")).to_have_text("")
    dept.get_by_label("課題の内容").fill(
        "西区の丘陵地で放置竹林が広がり、里山の雑木林が竹に覆われつつある。"
        "所有者の高齢化で伐採の手が足りず、竹の活用方法も見つかっていない。"
    )
    dept.get_by_label("協働で実現したいこと").fill(
        "竹の伐採と竹炭などへの活用を市民と一緒に進めたい。"
    )
    dept.get_by_label("7. 環境の保全").check()
    dept.get_by_label("対象地域").fill("西区")
    dept.get_by_label("事業協力").check()
    shot(dept, "department-need-form")
    dept.get_by_role("button", name="保存する").click()
    expect(dept.get_by_role("heading", name=BAMBOO_NEED)).to_be_visible()
    need_url = dept.url.split("?")[0]

    # -- the group finds it among the needs that suit it, and says 関心あり ------------
    npo.goto("/needs")
    suited = npo.locator("section.suited")
    expect(suited.get_by_role("link", name=BAMBOO_NEED)).to_be_visible()
    shot(npo, "npo-needs-390px")
    suited.get_by_role("link", name=BAMBOO_NEED).click()
    npo.get_by_label("ひとこと").fill("作業日に伐採の人手を出せます。")
    npo.get_by_role("button", name="関心あり").click()
    expect(npo.get_by_text("関心あり済み")).to_be_visible()

    # -- the coordinator confirms the suggested pairing with a reason ------------------
    coord.goto("/queue?q=" + BAMBOO_NEED)
    block = coord.locator("section.need-block", has_text=BAMBOO_NEED)
    card = block.locator("article.suggestion", has_text=BAMBOO_GROUP)
    expect(card).to_be_visible()
    expect(card.get_by_text("団体から関心あり")).to_be_visible()
    expect(card.locator(".terms mark").first).to_be_visible()  # the shared terms
    assert block.locator("article.suggestion").first.locator("h3").inner_text() == BAMBOO_GROUP
    shot(coord, "coordinator-queue-need")
    card.get_by_label("コメント（任意）").fill("西区で活動、伐採の実績あり。事前打ち合わせへ。")
    card.get_by_role("button", name="承認").click()
    expect(coord.get_by_text("提案を承認しました。")).to_be_visible()
    # the next group for the same need is rejected with a reason, from the keyboard
    other = (
        coord.locator("section.need-block", has_text=BAMBOO_NEED)
        .locator("article.suggestion")
        .first
    )
    other_name = other.locator("h3").inner_text()
    other.focus()
    coord.keyboard.press("r")
    expect(other.locator("select[data-reason]")).to_be_focused()
    other.locator("select[data-reason]").select_option("体制不足")
    coord.keyboard.press("Enter")
    expect(coord.get_by_text("提案を見送りました。")).to_be_visible()

    coord.goto(need_url)
    row = coord.locator("tr", has_text=BAMBOO_GROUP)
    expect(row.get_by_text("承認")).to_be_visible()
    expect(coord.locator("tr", has_text=other_name).get_by_text("見送り")).to_be_visible()
    coord.locator("tr", has_text=BAMBOO_GROUP).get_by_role("link").click()
    expect(coord.get_by_text("西区で活動、伐採の実績あり。事前打ち合わせへ。")).to_be_visible()
    shot(coord, "coordinator-suggestion")
    coord.get_by_role("button", name="事前打ち合わせ設定").click()
    expect(coord.get_by_text("協働の段階を記録しました。")).to_be_visible()

    # -- the department sees the group that was confirmed -----------------------------
    dept.goto(need_url)
    confirmed = dept.locator("tr", has_text=BAMBOO_GROUP)
    expect(confirmed).to_be_visible()
    expect(confirmed.get_by_text("事前打ち合わせ設定")).to_be_visible()
    expect(dept.locator("tr", has_text=other_name)).to_have_count(0)
    expect(dept.get_by_text("「関心あり」と伝えてきた団体")).to_be_visible()
    shot(dept, "department-need-confirmed")
    dept.goto("/my")
    expect(dept.locator("tr", has_text=BAMBOO_NEED).get_by_text("1 団体")).to_be_visible()

    # -- the dashboard counts it ------------------------------------------------------
    coord.goto("/dashboard")
    assert int(figure(coord, "confirmed")) == confirmed_before + 1
    assert int(figure(coord, "meetings")) == meetings_before + 1
    assert re.fullmatch(r"\d+\.\d%", figure(coord, "confirmation_rate"))
    expect(coord.locator("figure.chart svg").first).to_be_visible()
    shot(coord, "coordinator-dashboard")
    coord.goto("/pairings")
    expect(coord.get_by_role("link", name=f"{BAMBOO_NEED} × {BAMBOO_GROUP}")).to_be_visible()
    shot(coord, "coordinator-pairings")

    # -- the group logs out, logs in again and sees what was decided for it ----------------
    npo.get_by_role("button", name="ログアウト").click()
    expect(npo.get_by_text("ログアウトしました。")).to_be_visible()
    again = site.login("chikurin", width=390, height=844)
    matched = again.locator("section", has_text="市民自治推進課が紹介を決めた協働の種")
    expect(matched.get_by_role("link", name=BAMBOO_NEED)).to_be_visible()
    expect(matched.get_by_text("事前打ち合わせ設定")).to_be_visible()
    shot(again, "npo-my-page-390px")

    assert site.console_errors == []  # no script errors, nothing refused by the CSP
