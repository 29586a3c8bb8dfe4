"""The ranker: output shape, determinism, structured signals and reasons."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matching import BM25Ranker, TfidfRanker, load_needs, load_organizations, top_k
from matching._ranker import DEFAULT_AREA_FACTORS

from .conftest import run_matching


@pytest.fixture
def toy(toy_files: tuple[Path, Path]):
    needs_path, npos_path = toy_files
    return load_needs(needs_path).items, load_organizations(npos_path).items


def test_top_k_orders_best_first_and_breaks_ties_by_index() -> None:
    scores = np.array([0.2, 0.5, 0.2, 0.9, 0.2, 0.0])
    assert top_k(scores, 3).tolist() == [3, 1, 0]
    assert top_k(scores, 4).tolist() == [3, 1, 0, 2]
    assert top_k(scores, 10).tolist() == [3, 1, 0, 2, 4, 5]
    assert top_k(scores, 0).tolist() == []


def test_top_k_matches_a_full_sort_on_random_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = rng.integers(0, 4, size=40).astype(float)
        k = int(rng.integers(1, 41))
        full = sorted(range(40), key=lambda i: (-scores[i], i))[:k]
        assert top_k(scores, k).tolist() == full


def test_relevant_group_first(toy) -> None:
    needs, orgs = toy
    ranked = dict(TfidfRanker().fit(needs, orgs).rank_orgs(top=5))
    assert ranked["N1"][0][0] == "P1"
    assert ranked["N2"][0][0] == "P3"
    assert ranked["N3"][0][0] == "P5"


def test_area_and_members_only_signals(toy) -> None:
    needs, orgs = toy
    # P1 (北区) and P2 (南区) get the same name and have the same text
    orgs = [replace(o, name="ふれあいの会") if o.id == "P2" else o for o in orgs]
    ranker = TfidfRanker(diversity=0.0).fit(needs, orgs)  # exact ratios: no hub penalty
    scores = dict(dict(ranker.rank_orgs(["N1"], top=5))["N1"])
    # the need is limited to 北区
    assert scores["P1"] > scores["P2"] > 0
    assert scores["P2"] == pytest.approx(scores["P1"] * DEFAULT_AREA_FACTORS["other"], rel=1e-4)
    assert DEFAULT_AREA_FACTORS["other"] == 0.3
    # P4 is a members-only photo club that mentions 竹林 and 里山: halved for N3
    assert ranker.explain("N3", "P4").members_only
    no_penalty = TfidfRanker(members_only_factor=1.0, diversity=0.0).fit(needs, orgs)
    assert ranker.explain("N3", "P4").score == pytest.approx(
        no_penalty.explain("N3", "P4").score * 0.5, rel=1e-4
    )


def test_a_name_that_says_what_the_group_does_counts(toy) -> None:
    """The name is a short field of the profile (``name_words``, its 法人格 left out):
    of two groups with the same text, the one named for the need's work comes first."""
    needs, orgs = toy
    text = replace(orgs[0], areas=[], fields=[])
    named = [
        replace(text, id="Q1", name="特定非営利活動法人 さくら会"),
        replace(text, id="Q2", name="特定非営利活動法人 見守り隊"),
    ]
    assert named[1].name_words.split() == ["見守り隊"]
    ranker = TfidfRanker(diversity=0.0).fit(needs, [*orgs, *named])
    scores = dict(dict(ranker.rank_orgs(["N1"], top=10))["N1"])
    assert scores["Q2"] > scores["Q1"] > 0
    shared = {t.term for t in ranker.explain("N1", "Q2", max_terms=100).terms}
    assert "見守る" in shared
    # the legal form is not a word of the name: it would tie every NPO法人 together
    assert not [t for t in ranker.vectorizer_.vocabulary_ if "法人" in t or "非営利" in t]


def test_reverse_ranking_agrees_with_forward(toy) -> None:
    needs, orgs = toy
    ranker = TfidfRanker().fit(needs, orgs)
    forward = {(n, o): s for n, r in ranker.rank_orgs(top=10) for o, s in r}
    reverse = {(n, o): s for o, r in ranker.rank_needs(top=10) for n, s in r}
    assert forward == reverse


def test_explanation_terms_are_shared_and_shares_sum_to_one(toy) -> None:
    needs, orgs = toy
    ranker = TfidfRanker().fit(needs, orgs)
    exp = ranker.explain("N1", "P1", max_terms=100)
    assert sum(t.share for t in exp.terms + exp.related_terms) == pytest.approx(1.0)
    assert exp.terms == sorted(exp.terms, key=lambda t: -t.share)
    assert {"見守る", "サロン", "訪問"} <= {t.term for t in exp.terms}
    assert exp.area_relation == "same" and exp.shared_fields == [1]
    lines = exp.reasons_ja()
    assert lines[0].startswith("共通する語: ")
    assert "活動分野が一致: 保健・医療・福祉" in lines
    assert ranker.explain("N1", "P2").area_relation == "other"
    assert any(line.startswith("地域が異なる") for line in ranker.explain("N1", "P2").reasons_ja())


def test_rank_is_deterministic_and_input_order_free(toy) -> None:
    needs, orgs = toy
    a = TfidfRanker().fit(needs, orgs).rank_orgs(top=5)
    b = TfidfRanker().fit(list(reversed(needs)), list(reversed(orgs))).rank_orgs(top=5)
    assert a == b


def test_bm25_baseline_ranks_the_same_items(toy) -> None:
    needs, orgs = toy
    ranked = dict(BM25Ranker().fit(needs, orgs).rank_orgs(top=5))
    assert set(ranked) == {"N1", "N2", "N3"}
    assert ranked["N3"][0][0] == "P5"
    assert all(len(r) == 5 for r in ranked.values())


def test_rank_command_output_format(toy_files: tuple[Path, Path]) -> None:
    needs, npos = toy_files
    proc = run_matching("rank", "--needs", str(needs), "--npos", str(npos), "--top", "2")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["need_id"] for line in lines] == ["N1", "N2", "N3"]
    for line in lines:
        assert list(line) == ["need_id", "ranking"]
        assert len(line["ranking"]) == 2
        assert all(list(r) == ["npo_id", "score"] for r in line["ranking"])
        scores = [r["score"] for r in line["ranking"]]
        assert scores == sorted(scores, reverse=True)
    again = run_matching("rank", "--needs", str(needs), "--npos", str(npos), "--top", "2")
    assert again.stdout == proc.stdout


def test_rank_command_reverse(toy_files: tuple[Path, Path]) -> None:
    needs, npos = toy_files
    proc = run_matching(
        "rank", "--needs", str(needs), "--npos", str(npos), "--top", "3", "--reverse"
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["npo_id"] for line in lines] == ["P1", "P2", "P3", "P4", "P5"]
    assert all(list(r) == ["need_id", "score"] for line in lines for r in line["ranking"])


def test_explain_command(toy_files: tuple[Path, Path]) -> None:
    needs, npos = toy_files
    proc = run_matching("explain", "--needs", str(needs), "--npos", str(npos), "N1", "P1")
    assert proc.returncode == 0, proc.stderr
    assert "共通する語" in proc.stdout and "活動分野が一致" in proc.stdout
    bad = run_matching("explain", "--needs", str(needs), "--npos", str(npos), "N1", "P404")
    assert bad.returncode == 2 and "P404" in bad.stderr


def test_upsert_and_remove_without_refit(toy) -> None:
    from dataclasses import replace

    needs, orgs = toy
    ranker = TfidfRanker().fit(needs, orgs)
    before = ranker.rank_orgs(top=5)
    vocabulary = dict(ranker.vectorizer_.vocabulary_)
    # re-upserting unchanged items changes nothing
    assert ranker.upsert(needs[:1], orgs[:2]).rank_orgs(top=5) == before
    # a new group about the same problem appears for N1 at once
    new = replace(orgs[0], id="P0")  # the same name and text as P1
    ranker.upsert(orgs=[new])
    top = dict(ranker.rank_orgs(["N1"], top=2))["N1"]
    assert [o for o, _ in top] == ["P0", "P1"]  # same score as P1, tie broken by id
    assert top[0][1] == top[1][1]
    # an edit moves the group: P1 now does something else
    ranker.upsert(
        orgs=[replace(orgs[0], activities="放置竹林の竹を伐採しています。", offerings="")]
    )
    assert "P1" not in [o for o, s in dict(ranker.rank_orgs(["N1"], top=5))["N1"] if s > 0]
    # withdrawal removes it
    ranker.remove(org_ids=["P1"])
    assert "P1" not in ranker.org_index_
    assert all("P1" not in [o for o, _ in r] for _, r in ranker.rank_orgs(top=10))
    assert ranker.vectorizer_.vocabulary_ == vocabulary  # no refit happened


def test_similar_needs_from_other_departments(toy) -> None:
    from dataclasses import replace

    needs, orgs = toy
    twin = replace(needs[0], id="N9", department="地域福祉課", title="一人暮らし高齢者の見守り")
    same_dept = replace(needs[0], id="N8", title="独居高齢者の見守り強化")
    ranker = TfidfRanker().fit([*needs, twin, same_dept], orgs)
    similar = ranker.similar_needs("N1", top=3)
    assert similar[0][0] == "N9"
    assert "N8" not in [n for n, _ in similar]
    assert "N8" in [n for n, _ in ranker.similar_needs("N1", top=3, other_departments=False)]


def test_diversity_keeps_one_broad_profile_from_topping_every_list(toy) -> None:
    from dataclasses import replace

    needs, orgs = toy
    broad = replace(
        orgs[0],
        id="P0",
        name="なんでも協力隊",
        areas=[],
        fields=[1, 7, 8, 13],
        activities="高齢者の見守り訪問、ふれあいサロン、子どもの防災ワークショップ、"
        "避難訓練、放置竹林の伐採と竹炭づくり、里山の手入れ、防災教育をしています。",
    )
    # the 活動分野 focus also moves a group that ticks many fields down: left out here, to
    # see the diversity alone
    plain = TfidfRanker(diversity=0.0, field_focus=0.0).fit(needs, [*orgs, broad])
    diverse = TfidfRanker(diversity=0.5, field_focus=0.0).fit(needs, [*orgs, broad])

    def ranks(ranker: TfidfRanker) -> list[int]:
        return [[o for o, _ in r].index("P0") for _, r in ranker.rank_orgs(top=10)]

    # the broad profile is the biggest hub, and moves down in every list, never up
    assert diverse.hubness_[diverse.org_index_["P0"]] == max(diverse.hubness_)
    pairs = list(zip(ranks(plain), ranks(diverse), strict=True))
    assert all(d >= p for p, d in pairs) and any(d > p for p, d in pairs)


def test_reverse_rankings_are_the_columns_of_the_forward_scores() -> None:
    """Needs for a group are scored from that group's column alone; the figures are the
    same as in the whole needs × groups matrix."""
    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("c",))
    ranker = TfidfRanker().fit(needs, orgs)
    full = ranker.score_block(np.arange(len(needs)))
    for org_id, ranking in ranker.rank_needs(ranker.org_ids_[::9], top=5):
        column = full[:, ranker.org_index_[org_id]]
        expected = [(ranker.need_ids_[i], float(column[i])) for i in top_k(column, 5)]
        # the same products over fewer columns: equal up to the last rounded digit
        assert dict(ranking) == pytest.approx(dict(expected), abs=2e-6), org_id


def test_removing_nothing_indexed_changes_nothing() -> None:
    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("a",))
    ranker = TfidfRanker().fit(needs, orgs)
    before = ranker.rank_orgs(top=5)
    hubness = ranker.hubness_
    assert ranker.remove(need_ids=["no-such-need"], org_ids=["no-such-group"]) is ranker
    assert ranker.hubness_ is hubness and ranker.rank_orgs(top=5) == before


def test_hubness_is_measured_on_a_sample_of_needs_beyond_its_size(monkeypatch) -> None:
    import matching._ranker as module
    from corpus import load_corpus
    from matching import evaluate_rankings

    needs, orgs, qrels = load_corpus(("b",))
    exact = TfidfRanker().fit(needs, orgs)
    monkeypatch.setattr(module, "HUB_SAMPLE", 32)  # 65 needs: half of them sampled
    sampled = TfidfRanker().fit(needs, orgs)
    assert not np.array_equal(exact.hubness_, sampled.hubness_)
    figures = [
        evaluate_rankings({q: [o for o, _ in r] for q, r in ranker.rank_orgs(top=100)}, qrels)
        for ranker in (exact, sampled)
    ]
    # half the needs measure the hubs as well as all of them, for the ranking's quality
    assert figures[1].metrics["nDCG@10"] == pytest.approx(figures[0].metrics["nDCG@10"], abs=0.01)


def test_an_incremental_profile_edit_equals_rebuilding_every_row() -> None:
    """Upserting or removing profiles computes only their rows; the index is the same as
    one rebuilt over the same rows (``rebuild``)."""
    from dataclasses import replace

    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("c",))
    edited = replace(orgs[3], activities=orgs[3].activities + "新たに子ども食堂を始めました。")
    added = replace(orgs[5], id="P999", name="新しい会", areas=["北区"])
    incremental = TfidfRanker().fit(needs, orgs)
    rebuilt = TfidfRanker().fit(needs, orgs)
    incremental.upsert(orgs=[edited, added])
    rebuilt.upsert(orgs=[edited, added]).rebuild()
    assert incremental.org_ids_ == rebuilt.org_ids_ and "P999" in incremental.org_index_
    rows = np.arange(len(needs))
    assert np.allclose(incremental.score_block(rows), rebuilt.score_block(rows), atol=2e-6)
    assert np.allclose(incremental.hubness_, rebuilt.hubness_, atol=1e-9)
    assert incremental.explain(needs[0].id, "P999").org_areas == ["北区"]
    incremental.remove(org_ids=["P999", orgs[0].id])
    rebuilt.remove(need_ids=["no-such-need"], org_ids=["P999", orgs[0].id]).rebuild()
    assert incremental.org_ids_ == rebuilt.org_ids_
    assert np.allclose(incremental.score_block(rows), rebuilt.score_block(rows), atol=2e-6)


def test_an_incremental_need_edit_equals_rebuilding_every_row() -> None:
    """A need's upsert or removal computes only its rows (#14: it rebuilt every row, the
    hubness pass over every need × profile included, for one need): the profiles' best
    scores take the added need in, and only the profiles a removed or replaced need was a
    best score of are measured again. Every row, hubness too, equals a rebuild."""
    from dataclasses import replace

    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("c",))
    edited = replace(needs[2], goal=needs[2].goal + "子ども食堂と連携したい。", fields=[1, 13])
    added = replace(needs[4], id="N999", title="新しい課題", areas=["北区"])
    incremental = TfidfRanker().fit(needs, orgs)
    incremental.upsert(needs=[edited, added])
    incremental.remove(need_ids=[needs[7].id, "no-such-need"])
    incremental.upsert(orgs=[replace(orgs[1], activities=orgs[1].activities + "防災訓練")])
    rebuilt = TfidfRanker().fit(needs, orgs)
    rebuilt.upsert(needs=[edited, added]).remove(need_ids=[needs[7].id])
    rebuilt.upsert(orgs=[replace(orgs[1], activities=orgs[1].activities + "防災訓練")]).rebuild()
    assert incremental.need_ids_ == rebuilt.need_ids_ and "N999" in incremental.need_index_
    assert needs[7].id not in incremental.need_index_
    rows = np.arange(len(incremental.need_ids_))
    # (float32 word vectors: blocks of other shapes differ in the eighth digit)
    assert np.allclose(incremental.hubness_, rebuilt.hubness_, atol=1e-6)
    assert np.allclose(incremental.hub_top_, rebuilt.hub_top_, atol=1e-6)
    assert np.allclose(incremental.score_block(rows), rebuilt.score_block(rows), atol=2e-6)
    for name in ("need_vectors_", "need_queries_"):
        assert abs(getattr(incremental, name) - getattr(rebuilt, name)).max() < 1e-9, name
    assert np.allclose(incremental.need_dense_, rebuilt.need_dense_, atol=1e-6)
    assert incremental.explain("N999", orgs[0].id).need_areas == ["北区"]


def test_past_the_sample_size_a_need_edit_leaves_hubness_as_measured(monkeypatch) -> None:
    """Beyond HUB_SAMPLE needs the hubness comes from a sample whose members and k change
    with every need: a need's edit leaves it as last measured until ``rebuild`` (or a fit)."""
    from dataclasses import replace

    from corpus import load_corpus
    from matching import _ranker as module

    monkeypatch.setattr(module, "HUB_SAMPLE", 32)
    needs, orgs, _ = load_corpus(("c",))
    ranker = TfidfRanker().fit(needs, orgs)
    assert ranker.hub_top_ is None
    hubness = ranker.hubness_.copy()
    ranker.upsert(needs=[replace(needs[4], id="N999", title="新しい課題")])
    assert np.array_equal(ranker.hubness_, hubness)
    ranker.rebuild()
    assert not np.array_equal(ranker.hubness_, hubness)


def test_a_kanji_that_is_only_the_tail_of_compounds_is_not_a_reason(toy) -> None:
    from dataclasses import replace

    from matching._explain import _fragment, _merged

    # 連絡先 and 就職先 share 先; 60代 is a counter; 猫 stands alone in one of the texts
    assert _fragment("先", ["連絡先を知らせる", "就職先を探す"])
    assert _fragment("代", ["60代の男性"])
    assert not _fragment("猫", ["保護猫の譲渡", "猫の里親探し"])
    assert not _fragment("連絡", ["連絡先"])  # two characters: a word, shown as ever
    # a part of a listed compound is folded into it first (区 of 南区); only a leftover goes
    listed = _merged([("南区", 0.5), ("区", 0.2), ("先", 0.1)], 10, (lambda: "南区の就職先",))
    assert [(t.term, round(t.share, 6)) for t in listed] == [("南区", 0.7)]
    needs, orgs = toy
    need = replace(needs[0], description=needs[0].description + "体験談を集め、就職先を探す。")
    org = replace(orgs[0], activities=orgs[0].activities + "懇談会で連絡先と体験談を交換。")
    ranker = TfidfRanker().fit([need, *needs[1:]], [org, *orgs[1:]])
    why = ranker.explain(need.id, org.id, max_terms=100)
    shown = {t.term for t in why.terms + why.related_terms}
    assert "先" in ranker.vectorizer_.vocabulary_  # a term of both texts' vectors ...
    assert "先" not in shown and "見守る" in shown  # ... but not a reason
    assert "体験談" in shown  # the compound both use is a reason, its parts folded in
    assert sum(t.share for t in why.terms + why.related_terms) < 1.0  # 先's share left out
