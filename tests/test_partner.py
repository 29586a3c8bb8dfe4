"""The right kind of partner: organisation type, target population, 活動分野 focus."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching import Need, Organization, TfidfRanker
from matching._factors import field_factor
from matching._kinds import (
    invites_companies,
    need_populations,
    org_kind,
    org_populations,
    sells_offering,
)


def _org(name: str, legal_form: str = "", activities: str = "活動しています。") -> Organization:
    return Organization(id="P", name=name, activities=activities, legal_form=legal_form)


@pytest.mark.parametrize(
    ("name", "legal_form", "kind"),
    [
        ("みらい防災株式会社", "株式会社", "company"),
        ("(株)あおば不動産", "", "company"),
        ("有限会社 まちの工務店", "有限会社", "company"),
        ("合同会社ひかり", "合同会社", "company"),
        ("しらさぎ信用金庫", "信用金庫", "company"),
        ("相続サポート司法書士法人", "司法書士法人", "professional"),
        ("まなび進学塾", "任意団体", "school"),
        ("ひだまり無料塾", "任意団体", "voluntary"),
        ("NPO法人 わかば傾聴の会", "特定非営利活動法人", "npo"),
        ("市社会福祉協議会", "社会福祉法人", "welfare"),
        ("桜台自治会", "自治会", "neighbourhood"),
        ("白鷺大学 地域連携サークル", "大学", "university"),
        ("みどり生活協同組合", "生活協同組合", "cooperative"),
        ("こども未来財団", "公益財団法人", "foundation"),
        ("まちづくり協会", "一般社団法人", "association"),
        ("見守りの会", "", "voluntary"),
    ],
)
def test_org_kind_reads_the_legal_form_then_the_name(name, legal_form, kind) -> None:
    assert org_kind(_org(name, legal_form)) == kind


def test_a_need_invites_companies_only_when_it_says_so() -> None:
    base = Need(id="N", department="環境課", title="海岸清掃", description="ごみが多い。")
    assert not invites_companies(base)
    for goal in ("企業の社会貢献活動として参加を募りたい。", "協賛をいただける方を探したい。"):
        assert invites_companies(Need(**{**_fields(base), "goal": goal}))


def _fields(need: Need) -> dict[str, object]:
    return {k: getattr(need, k) for k in ("id", "department", "title", "description")}


def test_populations_are_read_from_both_texts() -> None:
    need = Need(
        id="N",
        department="長寿支援課",
        title="独居高齢者の孤立防止",
        description="一人暮らしの高齢者が増えている。小学校の空き教室も使える。",
    )
    # named in the title: the need is about older people; one passing 小学校 is not enough
    assert need_populations(need) == {"elderly"}
    assert org_populations(_org("子ども食堂", activities="小学生と親子に食事を出す。")) == {
        "children"
    }


def test_field_focus_keeps_a_group_that_ticks_every_field_from_gaining_as_much() -> None:
    need = sp.csr_matrix(np.eye(21)[[1]])
    focused = np.eye(21)[1]
    broad = np.zeros(21)
    broad[[1, 2, 3, 6, 7, 8, 13, 19]] = 1
    none = np.zeros(21)
    orgs = sp.csr_matrix(np.vstack([focused, broad, none]))
    plain = field_factor(need, orgs, 0.5, 0.0)[0]
    focus = field_factor(need, orgs, 0.5, 0.5)[0]
    assert plain.tolist() == [1.5, 1.5, 1.0]
    # one field of eight: it says little about any of them; below a group naming none
    assert focus[0] == 1.5 and focus[1] == pytest.approx(0.5 + 8**-0.5) and focus[2] == 1.0


def _ranked(ranker: TfidfRanker, need_id: str) -> list[str]:
    return [o for o, _ in ranker.rank_orgs([need_id], top=10)[0][1]]


def test_a_business_is_put_below_a_civic_group_unless_the_need_invites_companies() -> None:
    text = "防災用品の備蓄と避難所の運営訓練を地域で行います。"
    orgs = [
        Organization(id="P1", name="防災ショップ株式会社", legal_form="株式会社", activities=text),
        Organization(id="P2", name="浜町防災の会", legal_form="任意団体", activities=text),
        Organization(id="P3", name="手芸サークル", activities="手芸と編み物を楽しみます。"),
    ]
    closed = Need(
        id="N1",
        department="防災課",
        title="避難所の運営",
        description="備蓄と避難所運営を進めたい。",
    )
    open_ = Need(
        id="N2",
        department="防災課",
        title="避難所の運営",
        description="備蓄と避難所運営を進めたい。",
        goal="企業の社会貢献として協力してくれる事業者も歓迎します。",
    )
    ranker = TfidfRanker(diversity=0.0).fit([closed, open_], orgs)
    assert _ranked(ranker, "N1")[:2] == ["P2", "P1"]
    explained = ranker.explain("N1", "P1")
    assert explained.business and any("営利企業" in line for line in explained.reasons_ja())
    assert not ranker.explain("N2", "P1").business
    # without the factor, the business (earlier id) would come first on equal text
    neutral = TfidfRanker(diversity=0.0, kind_factor=1.0).fit([closed, open_], orgs)
    assert _ranked(neutral, "N1")[:2] == ["P1", "P2"]


@pytest.mark.parametrize(
    ("offerings", "priced"),
    [
        ("避難計画作成支援(有料)", True),
        ("見守りサービス(月額1,980円〜)", True),
        ("講座 1回5000円", True),
        ("スマホ教室の講師派遣(無料)", False),
        ("会場の提供、チラシの配布", False),
    ],
)
def test_a_priced_menu_reads_as_selling(offerings, priced) -> None:
    org = Organization(id="P", name="x", activities="活動", offerings=offerings)
    assert sells_offering(org) is priced


def test_a_business_selling_its_service_stays_a_supplier_where_companies_are_invited() -> None:
    text = "防災用品の備蓄と避難所の運営訓練を地域で行います。"
    orgs = [
        Organization(
            id="P1",
            name="防災ショップ株式会社",
            legal_form="株式会社",
            activities=text,
            offerings="避難所運営の研修(有料)",
        ),
        Organization(
            id="P2",
            name="みらい商事株式会社",
            legal_form="株式会社",
            activities=text,
            offerings="備蓄品の寄贈",
        ),
        Organization(id="P3", name="浜町防災の会", legal_form="任意団体", activities=text),
    ]
    open_ = Need(
        id="N2",
        department="防災課",
        title="避難所の運営",
        description="備蓄と避難所運営を進めたい。",
        goal="企業の社会貢献として協力してくれる事業者も歓迎します。",
    )
    ranker = TfidfRanker(diversity=0.0).fit([open_], orgs)
    # the donor company and the civic group tie on text; the seller is put below both
    assert _ranked(ranker, "N2")[2] == "P1"
    selling = ranker.explain("N2", "P1")
    assert selling.business and selling.selling
    assert any("有料のサービス" in line for line in selling.reasons_ja())
    assert not ranker.explain("N2", "P2").business


def test_a_group_for_another_population_is_moved_down_and_says_why() -> None:
    need = Need(
        id="N1",
        department="長寿支援課",
        title="高齢者の見守り",
        description="一人暮らしの高齢者の見守りと居場所づくりを進めたい。",
    )
    orgs = [
        Organization(id="P1", name="子ども見守り隊", activities="子どもの見守りと居場所づくり。"),
        Organization(id="P2", name="見守りの会", activities="高齢者の見守りと居場所づくり。"),
    ]
    # the mismatch is always a reason; it moves the score only with a factor below 1 (the
    # default is 1: measured on every set it did not hold, and 分野違い decisions may set it)
    shown = TfidfRanker(diversity=0.0).fit([need], orgs).explain("N1", "P1")
    assert shown.population_mismatch and shown.factors["population"] == 1.0
    assert any(line.startswith("対象者が異なる") for line in shown.reasons_ja())
    ranker = TfidfRanker(diversity=0.0, population_factor=0.7).fit([need], orgs)
    why = ranker.explain("N1", "P1")
    assert why.population_mismatch and why.factors["population"] == 0.7
    assert "対象者が異なる: 課題 高齢者 / 団体 子ども・子育て家庭" in why.reasons_ja()
    assert not ranker.explain("N1", "P2").population_mismatch
    assert _ranked(ranker, "N1")[0] == "P2"
