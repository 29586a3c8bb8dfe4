"""The profiles' vectors as columns kept through edits (#14): a need's text score against
every profile is the same number as with the columns made again, and an edit does not
make them again."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from corpus import load_corpus
from matching import TfidfRanker
from matching import _columns as columns_module


@pytest.fixture(scope="module")
def part_c():  # type: ignore[no-untyped-def]
    needs, orgs, _ = load_corpus(("c",))
    return needs, orgs, TfidfRanker().fit(needs, orgs)


def _made_again(r: TfidfRanker, rows: np.ndarray) -> np.ndarray:
    cosine = (r.need_queries_[rows] @ r.org_vectors_.T.tocsr()).toarray()
    return r.blend(cosine, rows, None)


def test_edits_keep_the_columns_and_score_as_columns_made_again(part_c) -> None:
    needs, orgs, fitted = part_c
    rows = np.arange(len(fitted.need_ids_))
    fitted.text_similarity(rows)
    base = fitted.org_columns_.base
    steps = [
        lambda r: r.upsert([], [replace(orgs[3], activities="子ども食堂と学習支援を続けます。")]),
        lambda r: r.upsert([], [replace(orgs[0], id="ZZ-1", name="新しい団体")]),
        lambda r: r.remove([], [orgs[5].id]),
        lambda r: r.upsert([], [replace(orgs[3], activities="防災訓練の運営に協力できます。")]),
        lambda r: r.upsert([replace(needs[1], title="空き家の見回り")], []),  # a need: kept
    ]
    ranker = fitted
    for step in steps:
        ranker = copy.copy(ranker)
        step(ranker)
        rows = np.arange(len(ranker.need_ids_))
        assert ranker.org_columns_ is not None and ranker.org_columns_.base is base
        assert np.array_equal(ranker.text_similarity(rows), _made_again(ranker, rows))
    # two of the profiles changed or added are beside the columns; the fit's unchanged
    kept = ranker.org_columns_
    assert kept.extra is not None and kept.extra.shape[0] == 2
    assert (kept.base_at >= 0).sum() == len(orgs) - 2  # one removed, one changed
    # a few profiles scored as before
    few = np.array([0, 4])
    cosine = (ranker.need_queries_[rows] @ ranker.org_vectors_[few].T).toarray()
    assert np.array_equal(ranker.text_similarity(rows, few), ranker.blend(cosine, rows, few))


def test_past_their_limit_the_columns_are_made_again(
    part_c, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, orgs, fitted = part_c
    rows = np.arange(len(fitted.need_ids_))
    fitted.text_similarity(rows)
    monkeypatch.setattr(columns_module, "_EXTRA_MIN", 2)
    monkeypatch.setattr(columns_module, "_EXTRA_SHARE", 0.0)
    edited = copy.copy(fitted)
    edited.upsert([], [replace(o, wishes=o.wishes + "広報") for o in orgs[:3]])
    assert edited.org_columns_ is None  # made again at the next use
    assert np.array_equal(edited.text_similarity(rows), _made_again(edited, rows))
    assert edited.org_columns_ is not None and edited.org_columns_.extra is None
    # every profile removed, then one added: its row beside columns of none
    emptied = copy.copy(fitted)
    emptied.remove([], list(fitted.org_ids_))
    emptied.upsert([], [orgs[2]])
    assert emptied.org_columns_ is not None and emptied.org_columns_.extra is not None
    assert np.array_equal(emptied.text_similarity(rows), _made_again(emptied, rows))
    # a ranker whose vectors were replaced otherwise does not use columns of others
    other = copy.copy(fitted)
    other.org_vectors_ = other.org_vectors_.copy()
    other.org_vectors_.data[:] = 1.0
    assert np.array_equal(other.text_similarity(rows), _made_again(other, rows))
