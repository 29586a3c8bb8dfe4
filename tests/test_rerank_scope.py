"""Which needs an edit can move (#14): ranking only those again gives every need's list as
ranking every need does, and a profile's edit does not reach every need."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from corpus import load_corpus
from matching import TfidfRanker, needs_to_rerank
from matching import _ranker as ranker_module

TOP = 10


def _lists(ranker: TfidfRanker) -> dict[str, list[tuple[str, float]]]:
    return {n: [(o, s) for o, s in r if s > 0] for n, r in ranker.rank_orgs(top=TOP)}


@pytest.fixture(scope="module")
def part_c():  # type: ignore[no-untyped-def]
    needs, orgs, _ = load_corpus(("c",))
    return needs, orgs, TfidfRanker().fit(needs, orgs)


def _check(old: TfidfRanker, new: TfidfRanker, max_share: float = 0.25) -> list[str]:
    """Rank only the scope's needs again: the lists equal ranking every need. Returns
    the needs ranked again."""
    before = _lists(old)
    scope = needs_to_rerank(old, new, before, top=TOP, max_share=max_share)
    assert scope is not None
    after = _lists(new)
    assert scope.removed == [n for n in old.need_ids_ if n not in new.need_index_]
    merged = {n: r for n, r in before.items() if n not in scope.removed}
    merged.update({n: [(o, s) for o, s in r if s > 0] for n, r in new.rank_orgs(scope.needs)})
    assert merged.keys() == after.keys()
    for need in after:
        assert [o for o, _ in merged[need]] == [o for o, _ in after[need]], need
        assert [s for _, s in merged[need]] == pytest.approx([s for _, s in after[need]], abs=2e-6)
    return scope.needs


def test_a_profile_edit_reranks_the_needs_it_can_move_and_no_others(part_c) -> None:  # type: ignore[no-untyped-def]
    needs, orgs, fitted = part_c
    old = copy.copy(fitted)
    # a group that now speaks of children's meals and disaster drills
    edited = replace(orgs[3], activities=orgs[3].activities + "子ども食堂と防災訓練を始めました。")
    new = copy.copy(old).upsert(orgs=[edited])
    moved = _check(old, new)
    assert 0 < len(moved) < len(needs)
    # a new group, and one withdrawn
    added = replace(orgs[5], id="P999", name="新しい会", areas=["北区"])
    newer = copy.copy(new).upsert(orgs=[added]).remove(org_ids=[orgs[0].id])
    assert 0 < len(_check(new, newer)) < len(needs)
    # nothing changed: nothing to rank
    assert _check(newer, copy.copy(newer).remove(org_ids=["no-such-id"])) == []


def test_a_need_edit_reranks_that_need_and_the_lists_its_hubs_reach(part_c) -> None:  # type: ignore[no-untyped-def]
    """Up to HUB_SAMPLE needs a need's edit moves the hubness of the profiles it is among
    the best needs of, and so their scores for every need: most of a small city's lists
    (past a quarter of the profiles every need is ranked again, as cheap there)."""
    needs, _, fitted = part_c
    old = copy.copy(fitted)
    edited = replace(needs[2], goal=needs[2].goal + "子ども食堂と連携したい。", fields=[1, 13])
    added = replace(needs[4], id="N999", title="新しい課題", areas=["北区"])
    new = copy.copy(old).upsert(needs=[edited, added]).remove(need_ids=[needs[7].id])
    assert needs_to_rerank(old, new, _lists(old), top=TOP) is None
    moved = _check(old, new, max_share=1.0)
    assert {edited.id, "N999"} <= set(moved) and needs[7].id not in moved


def test_past_the_sample_size_a_need_edit_reranks_that_need_alone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ranker_module, "HUB_SAMPLE", 32)
    needs, orgs, _ = load_corpus(("c",))
    old = TfidfRanker().fit(needs, orgs)
    edited = replace(needs[2], goal=needs[2].goal + "子ども食堂と連携したい。")
    assert _check(old, copy.copy(old).upsert(needs=[edited])) == [edited.id]


def test_another_fit_or_a_missing_list_means_every_need(part_c) -> None:  # type: ignore[no-untyped-def]
    needs, orgs, fitted = part_c
    before = _lists(fitted)
    refit = TfidfRanker().fit(needs, orgs)
    assert needs_to_rerank(fitted, refit, before, top=TOP) is None
    assert needs_to_rerank(None, fitted, before, top=TOP) is None
    partial = {n: r for n, r in before.items() if n != needs[0].id}
    assert needs_to_rerank(fitted, copy.copy(fitted), partial, top=TOP) is None
    # more than a quarter of the profiles changed: ranking every need is as cheap
    edited = [replace(o, activities=o.activities + "見守り。") for o in orgs[: len(orgs) // 2]]
    assert needs_to_rerank(fitted, copy.copy(fitted).upsert(orgs=edited), before, top=TOP) is None
