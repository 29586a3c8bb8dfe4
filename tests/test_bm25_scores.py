"""BM25 scores read from bm25s's index: a need against every profile, and a few pairs
(the learned model's ``bm25`` feature), each the number ``get_scores`` gives."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from corpus import load_corpus
from matching import BM25Ranker, JapaneseTokenizer
from matching._bm25 import bm25_by_document, bm25_pairs, bm25_scores, need_tokens, org_tokens


@pytest.fixture(scope="module")
def index_and_queries() -> tuple[bm25s.BM25, list[list[str]]]:
    needs, orgs, _ = load_corpus(("a", "b", "c"))
    tok = JapaneseTokenizer()
    index = BM25Ranker(tokenizer=tok).index_of([org_tokens(tok, o) for o in orgs])
    return index, [need_tokens(tok, n) for n in needs]


def test_a_needs_scores_are_bm25s_own_value_for_value(index_and_queries) -> None:
    index, queries = index_and_queries
    for q in queries:
        mine = bm25_scores(index, q)
        assert mine.dtype == np.float32
        assert np.array_equal(mine, index.get_scores(q))
    # a query repeating a word adds it again, as bm25s does; words it does not know add none
    q = [*queries[0], queries[0][0], "知らない語"]
    assert np.array_equal(bm25_scores(index, q), index.get_scores(q))
    assert (bm25_scores(index, queries[0] + queries[0]) > bm25_scores(index, queries[0])).any()


def test_a_need_with_no_words_scores_zero_where_bm25s_fails(index_and_queries) -> None:
    index, _ = index_and_queries
    with pytest.raises(IndexError):
        index.get_scores([])
    assert not bm25_scores(index, []).any()
    assert len(bm25_scores(index, [])) == index.scores["num_docs"]


def test_pairs_are_their_cells_of_every_profiles_scores(index_and_queries) -> None:
    index, queries = index_and_queries
    by_doc = bm25_by_document(index)
    n = index.scores["num_docs"]
    rng = np.random.default_rng(0)
    picked = rng.integers(0, len(queries), 400)
    docs = rng.integers(0, n, 400)
    # a profile the need's words score highest for, and one sharing none of its words
    best = [int(np.argmax(index.get_scores(queries[i]))) for i in picked[:20]]
    docs[:20] = best
    pairs = bm25_pairs(index, by_doc, [queries[i] for i in picked] + [[]], np.r_[docs, 0])
    expected = [index.get_scores(queries[i])[d] for i, d in zip(picked, docs, strict=True)]
    assert np.array_equal(pairs[:-1], np.array(expected, dtype=np.float32))
    assert (pairs[:20] > 0).all() and pairs[-1] == 0.0
    assert (pairs == 0).any()  # pairs sharing no word: no part at all


def test_a_variant_that_scores_absent_words_is_refused() -> None:
    index = bm25s.BM25(method="bm25+")
    index.index([["子供", "食堂"], ["防災"]], show_progress=False)
    with pytest.raises(ValueError, match="absent tokens"):
        bm25_scores(index, ["子供"])
