"""What changed between two states of one fit, told from the edits between them (#14):
the same answer as comparing every item, without comparing every item."""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace

import numpy as np
import pytest

from corpus import load_corpus
from matching import TfidfRanker
from matching import _lineage as lineage_module
from matching._lineage import Edit, edit_between


@pytest.fixture(scope="module")
def part_c():  # type: ignore[no-untyped-def]
    needs, orgs, _ = load_corpus(("c",))
    return needs, orgs, TfidfRanker().fit(needs, orgs)


def _scanned(old: TfidfRanker, new: TfidfRanker) -> Edit:
    """The edit found by comparing every item (the lineage made unknown)."""
    a, b = copy.copy(old), copy.copy(new)
    a._lineage, b._lineage = None, None
    return edit_between(a, b)


def _same(a: Edit, b: Edit) -> bool:
    return (
        a.needs.tolist() == b.needs.tolist()
        and a.orgs.tolist() == b.orgs.tolist()
        and a.gone_needs == b.gone_needs
        and a.gone_orgs == b.gone_orgs
        and a.need_source.tolist() == b.need_source.tolist()
        and a.org_source.tolist() == b.org_source.tolist()
    )


def _edited(ranker: TfidfRanker, change) -> TfidfRanker:  # type: ignore[no-untyped-def]
    out = copy.copy(ranker)
    change(out)
    return out


def test_a_chain_of_edits_is_told_from_the_edits_as_a_scan_tells_it(
    part_c, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs, orgs, fitted = part_c
    text = replace(orgs[3], activities=orgs[3].activities + "子ども食堂を始めました。")
    new_org = replace(orgs[0], id="ZZ-new", name="新しい団体")
    new_need = replace(needs[0], id="AA-new", title="新しい課題")
    steps = [
        lambda r: r.upsert([], [text]),
        lambda r: r.upsert([new_need], [new_org]),
        lambda r: r.remove([needs[2].id], [orgs[1].id, "not-indexed"]),
        lambda r: r.upsert([], [orgs[5]]),  # the same profile again: touched, not changed
        lambda r: r.upsert([replace(needs[4], goal="見守りの担い手を増やしたい。")], []),
    ]
    states = [fitted]
    for step in steps:
        states.append(_edited(states[-1], step))
    expected = {
        (i, j): _scanned(states[i], states[j])
        for i in range(len(states))
        for j in range(i + 1, len(states))
    }

    def refuse(*args: object) -> None:
        raise AssertionError("every item compared")

    monkeypatch.setattr(lineage_module, "_scanned", refuse)
    for (i, j), scanned in expected.items():
        told = edit_between(states[i], states[j])
        assert _same(told, scanned), (i, j)
    whole = edit_between(fitted, states[-1])
    assert [states[-1].org_ids_[j] for j in whole.orgs.tolist()] == [text.id, new_org.id]
    assert whole.gone_needs == [needs[2].id] and whole.gone_orgs == [orgs[1].id]
    assert (whole.org_source >= 0).sum() == len(orgs) - 1  # all but the new profile


def test_states_not_one_the_others_descendant_are_compared_item_by_item(part_c) -> None:
    _, orgs, fitted = part_c
    left = _edited(fitted, lambda r: r.upsert([], [replace(orgs[2], wishes="広報の協力")]))
    right = _edited(fitted, lambda r: r.remove([], [orgs[7].id]))
    scanned = _scanned(left, right)
    assert _same(edit_between(left, right), scanned)
    assert scanned.orgs.size == 1 and scanned.gone_orgs == [orgs[7].id]
    # a rebuild starts a lineage of its own; so does another fit
    rebuilt = _edited(left, lambda r: r.rebuild())
    assert rebuilt._lineage is not left._lineage
    assert _same(edit_between(left, rebuilt), _scanned(left, rebuilt))
    assert edit_between(left, rebuilt).orgs.size == 0


def test_a_saved_fit_starts_its_edits_afresh(part_c) -> None:
    needs, orgs, _ = part_c
    fitted = TfidfRanker().fit(needs, orgs)  # its own lineage: its first edit is number 1
    edited = _edited(fitted, lambda r: r.remove([], [orgs[0].id]))
    loaded = pickle.loads(pickle.dumps(edited))
    assert loaded._lineage.entries == {}  # what the process that saved it edited is not kept
    assert loaded._lineage.first == edited._edit + 1
    # saved again before an edit: still numbered after the first saver's
    assert pickle.loads(pickle.dumps(loaded))._lineage.first == loaded._lineage.first
    after = _edited(loaded, lambda r: r.upsert([], [replace(orgs[9], name="改名した団体")]))
    told = edit_between(loaded, after)
    assert _same(told, _scanned(loaded, after))
    assert told.orgs.tolist() == [after.org_index_[orgs[9].id]]
    assert np.array_equal(told.org_source, np.arange(len(loaded.org_ids_)))
