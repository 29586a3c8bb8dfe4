"""The cheaper paths of a large index give the values of the plain ones: score blocks
cut into pieces, the multipliers made per distinct key (the distinct keys found as one
number a row), the hubness pass in threads, a field text tokenised once, texts tokenised
in two processes, the fit's stages side by side, rows on the exact grid, the word-vector
keys as sorted arrays, BLAS limited to one thread."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace

import msgpack
import numpy as np
import pytest

import matching._fit as fit_module
import matching._hubness as hubness_module
import matching._ranker as ranker_module
from matching import JapaneseTokenizer, TfidfRanker
from matching._exact import on_exact_grid
from matching._factors import _distinct, _product, factor_product
from matching._hubness import pieces
from matching._shared import PARALLEL_MIN, jobs, map_chunks
from matching._vectorize import DEFAULT_NEED_WEIGHTS, DEFAULT_ORG_WEIGHTS, FieldWeightedTfidf
from matching._vectors import KeyTable, ginza_vocab_dir

from .conftest import python_with_two_blas_threads, share_tokenising


@pytest.fixture(scope="module")
def corpus_c():  # type: ignore[no-untyped-def]
    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("c",))
    return needs, orgs


@pytest.mark.parametrize(("n_rows", "width"), [(1, 10), (2, 10), (3, 10), (257, 10), (600, 25)])
def test_pieces_cover_the_rows_in_order_in_near_equal_parts(
    monkeypatch, n_rows: int, width: int
) -> None:
    monkeypatch.setattr(ranker_module, "_PAIRS", 51 * width)  # pieces of about 51 rows
    rows = np.arange(n_rows) * 3
    out = list(pieces(rows, width))
    assert np.array_equal(np.concatenate(out), rows)
    assert all(len(p) <= ranker_module._BLOCK for p in out)
    # a block is cut into near-equal pieces of two rows or more (256 rows, at most 51 a
    # piece: six pieces of 43 or 42); only a block of one row is one row
    assert all(len(p) > 1 for p in out) or n_rows % ranker_module._BLOCK == 1
    if n_rows >= 256:
        assert [len(p) for p in out[:6]] == [43, 43, 43, 43, 42, 42]


def test_scores_cut_into_pieces_are_the_same_bit_for_bit(monkeypatch, corpus_c) -> None:
    """Pieces as large as a large index's (a million multiply-adds and more: BLAS takes
    other kernels below that) give the whole block's scores: copies of the profiles make
    the index wide enough."""
    needs, orgs = corpus_c
    wide = [replace(o, id=f"{o.id}-{k}") for k in range(30) for o in orgs]
    assert len(wide) > 2000  # 18 needs × 2,000 profiles × 50 topics: 1.8 million
    whole = TfidfRanker().fit(needs, wide)
    monkeypatch.setattr(ranker_module, "_PAIRS", 20 * len(wide))  # 71 needs: 18, 18, 18, 17
    assert [len(p) for p in pieces(np.arange(len(needs)), len(wide))] == [18, 18, 18, 17]
    cut = TfidfRanker().fit(needs, wide)
    assert np.array_equal(whole.hubness_, cut.hubness_)
    assert whole.rank_orgs(top=10) == cut.rank_orgs(top=10)


@pytest.mark.parametrize("threads", [2, 3])
def test_the_hubness_pass_in_threads_is_the_one_thread_pass_bit_for_bit(
    monkeypatch, corpus_c, threads: int
) -> None:
    """Pieces scored in threads, a fraction of the size, merged in order: the same best
    scores, hubness and rankings as one thread's pass."""
    needs, orgs = corpus_c
    wide = [replace(o, id=f"{o.id}-{k}") for k in range(30) for o in orgs]
    one = TfidfRanker().fit(needs, wide)
    assert hubness_module._threads(len(needs) * len(wide)) == 1  # below THREADED_PAIRS
    made_in: list[str] = []
    raw_scores = TfidfRanker._raw_scores

    def noted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made_in.append(threading.current_thread().name)
        return raw_scores(self, *args, **kwargs)

    monkeypatch.setattr(TfidfRanker, "_raw_scores", noted)
    monkeypatch.setattr(ranker_module, "_PAIRS", 20 * len(wide))  # several pieces a thread
    monkeypatch.setattr(hubness_module, "_threads", lambda pairs: threads)
    shared = TfidfRanker().fit(needs, wide)
    assert sum(n.startswith("kyodo-hubness") for n in made_in) >= threads
    assert np.array_equal(one.rank_top_, shared.rank_top_)
    assert np.array_equal(one.hubness_, shared.hubness_)
    assert one.rank_orgs(top=10) == shared.rank_orgs(top=10)
    # a profile's columns alone (an edit's pass) give the same columns
    cols = np.arange(5, len(wide), 7)
    assert np.array_equal(hubness_module.hub_best(shared, cols), one.rank_top_[:, cols])


def test_the_fit_s_stages_side_by_side_are_the_stages_in_turn(monkeypatch, corpus_c) -> None:
    """The LSA and the word-vector encoder in threads while this thread reads the items'
    facts: every array the fit makes is the one it makes with the three in turn."""
    needs, orgs = corpus_c
    threads: dict[str, str] = {}
    encode, facts = fit_module.dense_encoder, fit_module.item_facts

    def noted(name, fn):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            threads[name] = threading.current_thread().name
            return fn(*args, **kwargs)

        return call

    monkeypatch.setattr(fit_module, "dense_encoder", noted("encoder", encode))
    monkeypatch.setattr(fit_module, "item_facts", noted("facts", facts))
    side = TfidfRanker().fit(needs, orgs)
    assert threads["encoder"].startswith("kyodo-fit")
    assert threads["facts"] == threading.current_thread().name
    monkeypatch.setattr(
        fit_module, "_beside", lambda first, second, here: (first(), second(), here())
    )
    turn = TfidfRanker().fit(needs, orgs)
    assert side.svd_ is not None and turn.svd_ is not None
    assert np.array_equal(side.svd_.components_, turn.svd_.components_)
    for name in ("need_topics_", "org_topics_", "need_dense_", "org_dense_", "members_only_"):
        assert np.array_equal(getattr(side, name), getattr(turn, name)), name
    assert side.signals_.kinds == turn.signals_.kinds
    assert np.array_equal(side.signals_.need_pops, turn.signals_.need_pops)
    assert side.wards_.wards_ == turn.wards_.wards_
    assert np.array_equal(side.hubness_, turn.hubness_)
    assert side.rank_orgs(top=10) == turn.rank_orgs(top=10)


def test_an_error_in_a_stage_beside_is_raised_by_the_fit(monkeypatch, corpus_c) -> None:
    needs, orgs = corpus_c

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("encoder failed")

    monkeypatch.setattr(fit_module, "dense_encoder", broken)
    with pytest.raises(RuntimeError, match="encoder failed"):
        TfidfRanker().fit(needs, orgs)


def test_the_hubness_pass_is_shared_from_threaded_pairs_on() -> None:
    cores = len(os.sched_getaffinity(0))
    assert hubness_module._threads(hubness_module.THREADED_PAIRS - 1) == 1
    assert hubness_module._threads(hubness_module.THREADED_PAIRS) == min(4, cores)


def test_the_multipliers_per_distinct_key_are_the_item_by_item_product(corpus_c) -> None:
    needs, orgs = corpus_c
    # few keys: copies of the profiles under other ids share every key of theirs
    copies = [replace(o, id=f"{o.id}-{k}") for k in range(3) for o in orgs]
    ranker = TfidfRanker().fit(needs, copies)
    rows = np.arange(len(needs))
    keyed = factor_product(ranker, rows)
    first, _ = ranker._derived_kept["org_keys"][1]
    assert 2 * len(first) <= len(copies)  # few enough keys: the keyed path was taken
    assert np.array_equal(keyed, _product(ranker, rows, None))
    some = np.array([4, 1, 7])
    assert np.array_equal(factor_product(ranker, some), _product(ranker, some, None))


@pytest.mark.parametrize("kind", ["int", "float", "past 62 bits"])
def test_distinct_rows_read_as_one_number_are_np_unique_s_index_for_index(kind: str) -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        n, m = int(rng.integers(1, 200)), int(rng.integers(1, 7))
        rows = rng.integers(-3, int(rng.integers(1, 5)), size=(n, m))
        if kind == "float":  # an items × 活動分野 matrix as ``toarray`` gives it
            rows = rows.astype(float)
        elif kind == "past 62 bits":
            rows = rows * 2**40
        _, first, codes = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        got_first, got_codes = _distinct(rows)
        assert np.array_equal(got_first, first) and np.array_equal(got_codes, codes.ravel())


def test_a_repeated_text_is_tokenised_once_and_vectorised_as_each_occurrence(
    corpus_c,
) -> None:
    needs, orgs = corpus_c
    calls: list[str] = []

    class Counting(JapaneseTokenizer):
        def analyze(self, text: str) -> list[tuple[str, str]]:
            calls.append(text)
            return super().analyze(text)

    counted = FieldWeightedTfidf(tokenizer=Counting())
    twice = [*orgs, *(replace(o, id=f"{o.id}-b") for o in orgs)]
    _, doubled = counted.fit_transform(needs, twice)
    texts = [getattr(x, f) for x in needs for f in DEFAULT_NEED_WEIGHTS] + [
        getattr(o, f) for o in twice for f in DEFAULT_ORG_WEIGHTS
    ]
    assert len(calls) == len(set(calls)) and set(calls) == set(texts)  # each text once
    # a profile and its copy have the same row, the one its own transform gives
    assert (doubled[: len(orgs)] != doubled[len(orgs) :]).nnz == 0
    assert (doubled[: len(orgs)] != counted.transform_orgs(orgs)).nnz == 0


@pytest.mark.parametrize(("dtype", "dim"), [(np.float32, 300), (np.float64, 50)])
def test_rows_on_the_exact_grid_have_the_same_products_in_any_block(dtype, dim: int) -> None:
    """The word-vector (float32, 300) and topic (float64, 50) rows: a row's products are
    the same numbers whichever block it is multiplied in (BLAS picks its kernel by the
    block's shape: without the grid, float32 blocks of 1, 7 or 64 rows differed by up to
    5e-5 here on an AMD EPYC), and the grid moves a unit row's values by half a step."""
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        rows = rng.standard_normal((n, dim))
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(dtype)

    plain_a, plain_b = unit(300), unit(3000)
    a, b = on_exact_grid(plain_a), on_exact_grid(plain_b)
    assert a.dtype == dtype and b.shape == plain_b.shape
    q = int(np.sqrt(2.0 ** (np.finfo(dtype).nmant + 1) / dim))  # 236 for float32 × 300
    peaks = np.abs(plain_a).max(axis=1, keepdims=True)
    assert (np.abs(a - plain_a) <= peaks / q).all()  # half a step, a step ≤ 2 × peak / q
    whole = a @ b.T
    for m in (1, 2, 7, 17, 41, 64, 200):
        assert np.array_equal(a[:m] @ b.T, whole[:m]), m
        assert np.array_equal(a[m : m + 1] @ b.T, whole[m : m + 1]), m
    cols = np.sort(rng.choice(len(b), 777, replace=False))
    assert np.array_equal(a[:41] @ b[cols].T, whole[:41][:, cols])
    assert np.array_equal(on_exact_grid(np.zeros((2, dim), dtype)), np.zeros((2, dim)))


def test_chunks_shared_with_a_worker_come_back_in_order_from_both_processes() -> None:
    # here each chunk sleeps 0.1 s: this process alone would take 3 s, so the worker
    # (started: a second or so) takes some of them
    made = list(map_chunks(abs, [-0.1] * 30, 2, here=lambda x: time.sleep(-x) or ("here", x)))
    assert sorted(i for i, _, _ in made) == list(range(30))  # each chunk once
    assert all(result == (("here", -0.1) if here else 0.1) for _, result, here in made)
    # this process took chunks from the front, the worker from the back
    mine = sorted(i for i, _, here in made if here)
    assert 0 < len(mine) < 30 and mine == list(range(len(mine)))
    assert list(map_chunks(abs, [-3, 4, -5], 1)) == [(0, 3, True), (1, 4, True), (2, 5, True)]
    assert jobs(None, PARALLEL_MIN - 1) == 1 and jobs(None, PARALLEL_MIN) >= 1
    assert jobs(2, 1) == 2 and jobs(0, 10**6) == 1


def _dies(chunk: float) -> float:
    os._exit(3)  # a worker killed mid-work (out of memory, say)


def test_a_worker_that_dies_costs_only_time(caplog: pytest.LogCaptureFixture) -> None:
    slow_abs = lambda x: time.sleep(0.05) or abs(x)  # noqa: E731 - this process's work
    with caplog.at_level("WARNING", logger="matching._shared"):
        made = list(map_chunks(_dies, [-1.0] * 40, 2, here=slow_abs))
    assert sorted(i for i, _, _ in made) == list(range(40))
    assert all(result == 1.0 and here for _, result, here in made)  # all made here
    assert "chunk" in caplog.text and "made here" in caplog.text


def test_texts_tokenised_in_two_processes_give_the_same_vectors_and_spellings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("c",))
    alone = FieldWeightedTfidf(n_jobs=1)
    alone_needs, alone_orgs = alone.fit_transform(needs, orgs)
    # about 120 chunks: this process alone would take 6 s, the worker takes part
    where = share_tokenising(monkeypatch, 5)
    shared = FieldWeightedTfidf(n_jobs=2)
    shared_needs, shared_orgs = shared.fit_transform(needs, orgs)
    assert True in where and False in where  # both processes tokenised
    monkeypatch.undo()
    assert list(shared.names_) == list(alone.names_)
    assert shared.display_ == alone.display_
    assert (shared_needs != alone_needs).nnz == 0 and (shared_orgs != alone_orgs).nnz == 0
    assert (shared.transform_orgs(orgs) != alone_orgs).nnz == 0


_UNGUARDED = """
import time

import matching._vectorize as vectorize
from corpus import load_corpus
from matching import FieldWeightedTfidf

print("top level")  # a worker that imported this script again would print it again
needs, orgs, _ = load_corpus(("c",))
alone = FieldWeightedTfidf(n_jobs=1).fit_transform(needs, orgs)
vectorize._CHUNK = 5
shared_map, where = vectorize.map_chunks, []


def recorded(fn, chunks, n_jobs, *, here):
    def slowed(chunk):
        time.sleep(0.05)  # so that the worker takes part
        return here(chunk)

    for i, made, done_here in shared_map(fn, chunks, n_jobs, here=slowed):
        where.append(done_here)
        yield i, made, done_here


vectorize.map_chunks = recorded
shared = FieldWeightedTfidf(n_jobs=2).fit_transform(needs, orgs)
print("worker", False in where, "same", all((a != b).nnz == 0 for a, b in zip(shared, alone)))
"""


def test_a_script_without_a_main_guard_tokenises_in_two_processes(tmp_path) -> None:
    """The workers do not run the caller's script again (multiprocessing's spawn would:
    without ``if __name__ == "__main__"`` the worker would fit, and fail to start its own)."""
    script = tmp_path / "fit.py"
    script.write_text(_UNGUARDED, encoding="utf-8")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top level", "worker True same True"]


def test_the_word_keys_as_sorted_arrays_are_the_file_s_map() -> None:
    folder = ginza_vocab_dir()
    assert folder is not None, "ja-ginza is a declared dependency"
    data = (folder / "key2row").read_bytes()
    expected = msgpack.unpackb(data, strict_map_key=False)
    with (folder / "key2row").open("rb") as fh:
        table = KeyTable.read(fh)
    assert len(table) == len(expected)
    sample = list(expected.items())[::997]
    assert all(table[k] == v for k, v in sample)
    assert table.get(12345) is None and -1 not in table and (1 << 64) not in table


_BLAS_CHECK = """
from threadpoolctl import threadpool_info
import numpy, scipy.linalg  # both BLAS libraries loaded, as in a fit
from matching._blas import one_blas_thread

def threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

before = threads()
inner = one_blas_thread(threads)
outer = one_blas_thread(lambda: (inner(), threads()))
print(repr((before, outer(), threads())))
"""


def test_blas_runs_in_one_thread_inside_and_as_before_after() -> None:
    before, inside, after = ast.literal_eval(python_with_two_blas_threads(_BLAS_CHECK))
    assert before and all(n > 1 for n in before)
    assert inside == ([1] * len(before), [1] * len(before))
    assert after == before
