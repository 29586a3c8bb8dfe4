"""The reciprocal rank: a need that is among a group's own best needs lifts that pair."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from matching import TfidfRanker
from matching._hubness import as_high, reciprocal_ranks


@pytest.fixture(scope="module")
def part_c():  # type: ignore[no-untyped-def]
    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("c",))
    return needs, orgs


def test_ranks_count_the_needs_a_group_fits_better() -> None:
    # two profiles' best scores, best first (k = 3)
    top = np.array([[0.9, 0.5], [0.7, 0.4], [0.3, 0.2]])
    raw = np.array([[0.9, 0.1], [0.7, 0.4], [0.2, 0.45], [0.3 - 1e-8, 0.0]])
    rows, cols, ranks = reciprocal_ranks(raw, top)
    found = {(int(r), int(c)): int(k) for r, c, k in zip(rows, cols, ranks, strict=True)}
    # 0.9 is the first profile's best, 0.7 its second; 0.2 is under its third best (0.3);
    # a score equal to a stored one but for the last digits ranks as that one
    assert found == {(0, 0): 0, (1, 0): 1, (3, 0): 2, (1, 1): 1, (2, 1): 1}
    empty = reciprocal_ranks(raw, top[:0])
    assert all(len(a) == 0 for a in empty)


def test_a_pair_among_the_groups_best_gains_by_its_rank(part_c) -> None:
    """The scores with reciprocity are those without, times ``1 + w / (1 + rank)`` where
    the need is among the profile's ten best; every profile's best need gains the most."""
    needs, orgs = part_c
    plain = TfidfRanker(reciprocity=0.0).fit(needs, orgs)
    lifted = TfidfRanker(reciprocity=0.4).fit(needs, orgs)
    assert np.array_equal(plain.hubness_, lifted.hubness_)  # the raw scores are the same
    rows = np.arange(len(needs))
    before, after = plain.score_block(rows), lifted.score_block(rows)
    raw = plain._raw_scores(rows)
    ranks = (plain.rank_top_[None, :, :] > raw[:, None, :] + 1e-6).sum(axis=1)
    inside = (raw > 0) & (ranks < 10)
    expected = np.where(inside, before * (1 + 0.4 / (1 + ranks)), before)
    assert np.allclose(after, expected, atol=2e-6)
    best = raw.argmax(axis=0)
    lifted_best = after[best, np.arange(len(orgs))] > before[best, np.arange(len(orgs))]
    assert lifted_best[before[best, np.arange(len(orgs))] > 0].all()
    assert (after > before + 1e-6).sum() > len(orgs)  # more than each profile's best
    assert (after[~inside] == before[~inside]).all()


def test_the_reasons_say_where_the_need_stands_for_the_group(part_c) -> None:
    needs, orgs = part_c
    ranker = TfidfRanker().fit(needs, orgs)
    raw = ranker._raw_scores(np.arange(len(needs)))
    j = 5
    i = int(raw[:, j].argmax())
    why = ranker.explain(needs[i].id, orgs[j].id)
    assert why.reciprocal_rank == 0 and why.factors["reciprocity"] == pytest.approx(1.4)
    assert "この団体に合う課題のうち 1 番目です。" in " ".join(why.reasons_ja())
    far = int(raw[:, j].argmin())
    other = ranker.explain(needs[far].id, orgs[j].id)
    assert other.reciprocal_rank is None and other.factors["reciprocity"] == 1.0
    assert not [line for line in other.reasons_ja() if "団体から見ても" in line]
    assert ranker.score_block(np.array([i]), np.array([j]))[0, 0] == pytest.approx(why.score)


def test_past_the_sample_ranks_are_read_on_it_and_kept_through_a_need_edit(
    monkeypatch, part_c
) -> None:
    """Past ``HUB_SAMPLE`` needs the best scores are the sample's (a rank there stands for
    ``needs / HUB_SAMPLE`` needs), kept as measured through a need's edit like the
    hubness; a profile's edit measures its own column, as a rebuild does."""
    from matching import _ranker as module

    monkeypatch.setattr(module, "HUB_SAMPLE", 32)
    needs, orgs = part_c
    ranker = TfidfRanker().fit(needs, orgs)
    assert ranker.hub_top_ is None and ranker.rank_top_ is not None
    assert ranker.rank_scale_ == pytest.approx(len(needs) / 32)
    measured = ranker.rank_top_.copy()
    ranker.upsert(needs=[replace(needs[4], id="N999", title="新しい課題")])
    assert np.array_equal(ranker.rank_top_, measured)
    edited = replace(orgs[3], activities=orgs[3].activities + "新たに子ども食堂を始めました。")
    ranker.upsert(orgs=[edited])
    rebuilt = TfidfRanker().fit(needs, orgs)
    rebuilt.upsert(needs=[replace(needs[4], id="N999", title="新しい課題")], orgs=[edited])
    rebuilt.rebuild()
    j = ranker.org_index_[edited.id]
    # one need more changes the sample's k (5 → 4): the column keeps its neighbours' 5
    # rows, the rebuild's 4 best and the 4th again
    column, again = ranker.rank_top_[:, j], rebuilt.rank_top_[:, j]
    assert len(column) == len(measured) == 5 and len(again) == 4
    assert np.allclose(column, [*again, again[-1]], atol=1e-6)
    best = int(ranker._raw_scores(np.arange(len(ranker.need_ids_)), np.array([j]))[:, 0].argmax())
    why = ranker.explain(ranker.need_ids_[best], edited.id)
    assert why.reciprocal_rank == 0 and why.reciprocal_estimated
    assert "この団体に合う課題のうち およそ 1 番目です。" in " ".join(why.reasons_ja())
    # a column measured on a sample of another size keeps the height of its neighbours
    assert as_high(np.ones((2, 3)), 4).shape == (4, 3)
    assert as_high(np.arange(6.0).reshape(3, 2), 2).tolist() == [[0.0, 1.0], [2.0, 3.0]]
