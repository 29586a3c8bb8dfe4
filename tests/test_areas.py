"""Wards read from the texts when the area column is blank."""

from __future__ import annotations

import copy
import sys
import unicodedata

import pytest

from matching import Need, Organization, TfidfRanker, area_relation
from matching._areas import WardReader, _names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("白鷺市東区で活動して5年になります。", {"東区"}),
        ("中央区と湊区の公園で清掃をしています。", {"中央区", "湊区"}),
        ("東区役所の会議室で、東区民向けに講座を開く。", {"東区"}),
        # 区 as a common noun, or a district, or a unit larger than a ward
        ("山辺地区と桜台小学校区、各区の選挙区、区画整理、区域外", set()),
        ("北区山辺地区で見回りをしています。", {"北区"}),
        ("", set()),
        # full-width and half-width forms are read after NFKC
        ("ＡＢＣ区 北区　の活動", {"北区"}),
    ],
)
def test_ward_names_are_read_from_a_text(text: str, names: set[str]) -> None:
    assert _names(text) == names


def test_no_character_but_ku_itself_normalises_to_one_holding_ku() -> None:
    """``_names`` skips a text without 区 before normalising it: exact only while no other
    character's NFKC form holds 区 (a new Unicode version could add one)."""
    found = [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if not 0xD800 <= c <= 0xDFFF
        and chr(c) != "区"
        and "区" in unicodedata.normalize("NFKC", chr(c))
    ]
    assert found == []


def _org(oid: str, activities: str, areas: list[str] | None = None) -> Organization:
    return Organization(id=oid, name=f"会{oid}", activities=activities, areas=areas or [])


def test_only_names_the_collection_uses_twice_or_enters_are_wards() -> None:
    reader = WardReader().fit(
        [
            _org("P1", "東区で子ども食堂を開いています。"),
            _org("P2", "東区の公園を掃除します。"),
            _org("P3", "湊区の海岸でごみを拾います。"),  # named once: not known
            _org("P4", "西区で活動", areas=["南区緑ヶ丘地区"]),  # entered: 南区 known
        ]
    )
    assert reader.wards_ == {"東区", "南区"}
    # an entered area is never overridden; a blank one is read from the text
    assert reader.areas(_org("X", "東区で活動", areas=["北区"])) == (("北区",), False)
    assert reader.areas(_org("Y", "東区と南区で活動")) == (("南区", "東区"), True)
    assert reader.areas(_org("Z", "湊区で活動")) == ((), False)
    # most of the city's wards named: city-wide
    wide = WardReader().fit(
        [
            _org(f"W{k}", "東区、西区、南区、北区、湊区で活動。東区と西区と南区と北区と湊区")
            for k in (1, 2)
        ]
    )
    assert wide.areas(_org("V", "東区と西区と南区に店舗があります。")) == ((), False)
    assert wide.areas(_org("U", "東区と西区で活動。")) == (("東区", "西区"), True)
    # a need is read in its title and goal, not in its description
    need = Need(id="N", department="課", title="見守り", description="東区では…", goal="")
    assert reader.areas(need) == ((), False)
    titled = Need(id="M", department="課", title="東区の見守り", description="")
    assert reader.areas(titled) == (("東区",), True)


def test_the_names_read_at_the_fit_are_read_again_the_same_and_then_let_go() -> None:
    items = [
        _org("P1", "東区で子ども食堂を開いています。"),
        _org("P2", "東区の公園を掃除します。"),
        _org("P3", "東区の公園を掃除します。"),  # the same text: read once
        _org("P4", "西区で活動", areas=["南区緑ヶ丘地区"]),
    ]
    reader = WardReader().fit(items)
    kept = reader.all_areas(items)
    reader.forget()
    assert "_read" not in vars(reader) and reader.all_areas(items) == kept
    assert kept[0] == [("東区",), ("東区",), ("東区",), ("南区緑ヶ丘地区",)]
    # the ranker lets go of them once its rows are made
    ranker = TfidfRanker(diversity=0.0).fit(
        [Need(id="N", department="課", title="東区の子ども食堂", description="")], items
    )
    assert "_read" not in vars(ranker.wards_)


def test_a_group_of_another_ward_read_from_its_text_is_moved_down_and_says_so() -> None:
    text = "子育て中のお母さんの家を訪ねて、話を聞き、家事を手伝います。"
    orgs = [
        _org("P1", "西区で活動しています。" + text),
        _org("P2", "東区で活動しています。" + text),
        _org("P3", "東区の公園で花壇の手入れをしています。"),
        _org("P4", "西区の川で清掃をしています。"),
    ]
    need = Need(
        id="N1",
        department="保健福祉課",
        title="東区の子育て家庭への訪問",
        description="子育て中の家庭を訪ねて話を聞く人が足りない。",
    )
    ranker = TfidfRanker(diversity=0.0).fit([need], orgs)
    ranked = [o for o, _ in ranker.rank_orgs(["N1"], top=4)[0][1]]
    assert ranked.index("P2") < ranked.index("P1")
    explained = ranker.explain("N1", "P1")
    assert explained.area_relation == "other"
    assert explained.org_areas == ["西区（本文から）"]
    assert any("西区（本文から）" in line for line in explained.reasons_ja())
    # an upsert reads the new profile's text the same way a fit does
    moved = _org("P2", "西区で活動しています。" + text)
    ranker.upsert(orgs=[moved])
    assert ranker.explain("N1", "P2").area_relation == "other"
    # equal to measuring every row again with the same fit
    assert ranker.rank_orgs(top=4) == copy.deepcopy(ranker).rebuild().rank_orgs(top=4)


@pytest.mark.parametrize(
    ("need", "org", "relation"),
    [
        (["南区緑ヶ丘地区"], ["南区緑ヶ丘地区"], "same"),
        (["南区"], ["南区緑ヶ丘地区"], "same"),  # a group of a part of the need's ward
        (["南区"], ["南区"], "same"),
        (["緑ヶ丘地区"], ["緑ヶ丘"], "same"),
        (["南区緑ヶ丘地区"], ["南区"], "ward"),  # the whole ward for one district
        (["南区緑ヶ丘地区"], ["南区桜台地区"], "ward"),  # another district of the ward
        (["南区緑ヶ丘地区"], ["北区", "南区"], "ward"),
        (["南区緑ヶ丘地区"], ["北区"], "other"),
        (["緑ヶ丘地区"], ["南区"], "unknown"),  # no gazetteer relates them
    ],
)
def test_a_district_need_places_its_own_district_before_its_ward(
    need: list[str], org: list[str], relation: str
) -> None:
    assert area_relation(need, org) == relation


def test_a_ward_wide_group_is_placed_like_a_city_wide_one_for_a_district_need() -> None:
    needs = [
        Need(
            id="N1",
            department="長寿支援課",
            title="団地の見守り",
            description="団地で見守りをしたい。",
            areas=["南区緑ヶ丘地区"],
        ),
    ]
    orgs = [
        Organization(
            id="P1",
            name="見守りの会",
            activities="団地で見守りをしています。",
            areas=["南区緑ヶ丘地区"],
        ),
        Organization(
            id="P2", name="見守り隊", activities="団地で見守りをしています。", areas=["南区"]
        ),
    ]
    ranker = TfidfRanker(diversity=0.0).fit(needs, orgs)
    local, ward = ranker.explain("N1", "P1"), ranker.explain("N1", "P2")
    assert ward.area_relation == "ward" and ward.factors["area"] == pytest.approx(0.9)
    assert local.score > ward.score
    assert "地域が同じ区: 課題 南区緑ヶ丘地区 / 団体 南区" in ward.reasons_ja()
