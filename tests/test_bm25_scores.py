"""BM25 with its statistics frozen (``matching._bm25_parts``): over the documents the
statistics are of, every score is the number bm25s's ``get_scores`` gives; over edited
documents, only the edited ones' scores move (the learned model's ``bm25`` feature)."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from corpus import load_corpus
from matching import BM25Ranker, JapaneseTokenizer
from matching._bm25 import need_tokens, org_tokens
from matching._bm25_parts import Bm25Parts, Bm25Stats


@pytest.fixture(scope="module")
def collection() -> tuple[bm25s.BM25, Bm25Parts, list[list[str]], list[list[str]]]:
    needs, orgs, _ = load_corpus(("a", "b", "c"))
    tok = JapaneseTokenizer()
    docs = [org_tokens(tok, o) for o in orgs]
    docs[5] = []  # an empty profile: bm25s needs a placeholder for it
    index = BM25Ranker(tokenizer=tok).index_of(docs)
    return index, Bm25Parts(docs, Bm25Stats.of(docs)), docs, [need_tokens(tok, n) for n in needs]


def test_a_needs_scores_are_bm25s_own_value_for_value(collection) -> None:
    index, parts, _, queries = collection
    assert len(parts.stats.vocab) == len(set(index.vocab_dict) - {""})
    for q in queries:
        mine = parts.scores(q)
        assert mine.dtype == np.float32
        assert np.array_equal(mine, index.get_scores(q))
    # a query repeating a word adds it again, as bm25s does; words it does not know add none
    q = [*queries[0], queries[0][0], "知らない語"]
    assert np.array_equal(parts.scores(q), index.get_scores(q))
    assert (parts.scores(queries[0] + queries[0]) > parts.scores(queries[0])).any()


def test_other_k1_and_b_are_bm25s_too(collection) -> None:
    _, _, docs, queries = collection
    index = BM25Ranker(k1=0.9, b=0.4).index_of(docs)
    parts = Bm25Parts(docs, Bm25Stats.of(docs, k1=0.9, b=0.4))
    for q in queries[::7]:
        assert np.array_equal(parts.scores(q), index.get_scores(q))


def test_a_need_with_no_words_scores_zero_where_bm25s_fails(collection) -> None:
    index, parts, _, _ = collection
    with pytest.raises(IndexError):
        index.get_scores([])
    assert not parts.scores([]).any()
    assert len(parts.scores([])) == index.scores["num_docs"]


def test_pairs_are_their_cells_of_every_profiles_scores(collection) -> None:
    index, parts, _, queries = collection
    n = parts.num_docs
    rng = np.random.default_rng(0)
    picked = rng.integers(0, len(queries), 400)
    docs = rng.integers(0, n, 400)
    # a profile the need's words score highest for, and one sharing none of its words
    best = [int(np.argmax(index.get_scores(queries[i]))) for i in picked[:20]]
    docs[:20] = best
    pairs = parts.pairs([queries[i] for i in picked] + [[]], np.r_[docs, 0])
    expected = [index.get_scores(queries[i])[d] for i, d in zip(picked, docs, strict=True)]
    assert np.array_equal(pairs[:-1], np.array(expected, dtype=np.float32))
    assert (pairs[:20] > 0).all() and pairs[-1] == 0.0
    assert (pairs == 0).any()  # pairs sharing no word: no part at all


def test_many_queries_against_a_few_profiles_are_their_scores(collection) -> None:
    _, parts, _, queries = collection
    docs = [0, 5, 17, parts.num_docs - 1]
    got = parts.against([*queries, []], docs)
    expected = np.array([[parts.scores(q)[d] for q in queries] for d in docs])
    assert np.allclose(got[:, :-1], expected, rtol=1e-6, atol=1e-9)
    assert (got[:, -1] == 0).all() and (expected > 0).any()


def test_with_frozen_statistics_an_edit_moves_only_the_edited_documents_scores(
    collection,
) -> None:
    _, parts, docs, queries = collection
    edited = list(docs)
    edited[3] = docs[3] + docs[4][:20] + ["新しい語"]  # longer, with a word the fit never saw
    edited.append(docs[7][:30])  # a profile added
    after = Bm25Parts(edited, parts.stats)
    for q in queries[::5]:
        before, now = parts.scores(q), after.scores(q)
        assert len(now) == len(before) + 1
        assert np.array_equal(np.delete(now[:-1], 3), np.delete(before, 3))
    # a new bm25s index of the edited collection scores the unchanged profiles otherwise:
    # its IDF and mean length are the edited collection's, the frozen ones are the fit's
    fresh = BM25Ranker().index_of(edited)
    kept = np.delete(np.arange(len(docs)), 3)
    assert any(
        not np.array_equal(fresh.get_scores(q)[kept], after.scores(q)[kept]) for q in queries
    )
    assert after.scores(["新しい語"]).sum() == 0.0  # unknown to the statistics: no part


def test_spliced_parts_are_the_parts_made_anew(collection) -> None:
    """An edit's parts from the old ones (the unchanged documents' rows kept, the others
    computed) are those of the edited collection made anew, array for array: a document
    edited, emptied, added, removed, and the order moved."""
    _, parts, docs, queries = collection
    edited = list(docs)
    edited[3] = docs[3] + docs[4][:20] + ["新しい語"]
    edited[9] = []
    edited.append(docs[7][:30])
    del edited[11]
    edited[0], edited[1] = edited[1], edited[0]
    # each new row's old row, -1 where the document is new or changed
    source = np.array([1, 0, 2, -1, *range(4, 9), -1, 10, *range(12, len(docs)), -1])
    assert len(source) == len(edited)
    spliced = parts.spliced(edited, source)
    anew = Bm25Parts(edited, parts.stats)
    assert spliced.num_docs == anew.num_docs == len(edited)
    for k, name in enumerate(("data", "indices", "indptr")):
        assert np.array_equal(spliced.by_word()[k], anew.by_word()[k]), name
        assert getattr(spliced.by_doc, name).tolist() == getattr(anew.by_doc, name).tolist()
    for q in queries[::7]:
        assert np.array_equal(spliced.scores(q), anew.scores(q))
    # a row kept that is not the document's (a wrong source) is not silently right
    wrong = source.copy()
    wrong[2] = 5
    assert not np.array_equal(parts.spliced(edited, wrong).by_doc.indptr, anew.by_doc.indptr)
    # nothing left: the parts of no document, as made anew
    assert np.array_equal(
        parts.spliced([], np.array([], dtype=int)).by_word()[2],
        Bm25Parts([], parts.stats).by_word()[2],
    )
