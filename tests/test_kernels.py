"""The ranker's compiled loops (#14): the sparse product into a dense block and the
running top k give every number the NumPy/scipy code gives, for the ranker's own
queries and profiles and for the shapes and index types a caller can pass; a ranker
whose blocks all go through them ranks and measures hubness as one whose blocks do not.
The kernels serve only blocks against ``KERNEL_FROM`` profiles or more: these tests
lower it to 0 (``kernels_always``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import matching._kernels as kernels
from corpus import load_corpus
from matching import TfidfRanker
from matching._kernels import dense_product, top_rows


@pytest.fixture(autouse=True)
def kernels_always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "KERNEL_FROM", 0)


@pytest.fixture(scope="module")
def fitted() -> TfidfRanker:
    needs, orgs, _ = load_corpus(("b",))
    return TfidfRanker().fit(needs, orgs)


def _scipy(rows: sp.csr_matrix, columns: sp.csr_matrix) -> np.ndarray:
    return np.asarray((rows @ columns).toarray())


def test_the_rankers_queries_against_every_profile_bit_for_bit(fitted: TfidfRanker) -> None:
    queries = fitted.need_queries_
    columns = fitted.org_vectors_.T.tocsr()
    # the expanded queries keep their terms unsorted: the order the sums are made in
    assert not queries.has_sorted_indices
    got = dense_product(queries, columns)
    want = _scipy(queries, columns)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.count_nonzero(want) > want.size // 2
    assert np.array_equal(got, want)
    for width in (1, 3, 40):  # a few columns (as dense ones) and more
        some = columns[:, 7 : 7 + width]
        assert np.array_equal(dense_product(queries, some), _scipy(queries, some))


def test_wide_indices_unsorted_terms_and_empty_rows() -> None:
    rng = np.random.default_rng(3)
    dense = sp.random(40, 300, density=0.08, random_state=rng).toarray()
    dense[5] = 0  # an empty row
    rows = sp.csr_matrix(dense)
    columns = sp.random(300, 120, density=0.05, format="csr", random_state=rng)
    shuffled = rows.copy()
    for i in range(shuffled.shape[0]):  # each row's terms in another stored order
        start, end = shuffled.indptr[i], shuffled.indptr[i + 1]
        order = start + rng.permutation(end - start)
        shuffled.indices[start:end] = shuffled.indices[order]
        shuffled.data[start:end] = shuffled.data[order]
    shuffled.has_sorted_indices = False
    for a, b in ((rows, columns), (shuffled, columns)):
        wide = a.copy()
        wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
        for left in (a, wide):
            assert np.array_equal(dense_product(left, b), _scipy(a, b))
    assert not dense_product(rows, columns)[5].any()
    assert dense_product(rows[:0], columns).shape == (0, 120)


def test_read_only_arrays_as_a_memory_mapped_index_gives() -> None:
    rng = np.random.default_rng(5)
    rows = sp.random(20, 60, density=0.2, format="csr", random_state=rng)
    columns = sp.random(60, 30, density=0.2, format="csr", random_state=rng)
    want = _scipy(rows, columns)
    for matrix in (rows, columns):
        for array in (matrix.data, matrix.indices, matrix.indptr):
            array.flags.writeable = False
    assert np.array_equal(dense_product(rows, columns), want)
    block = np.ones((3, 30))
    block.flags.writeable = False
    assert np.array_equal(top_rows(np.zeros((2, 30)), block), np.ones((2, 30)))


def test_other_types_and_shapes() -> None:
    rows = sp.csr_matrix(np.array([[1, 0, 2]], dtype=np.float32))
    columns = sp.csr_matrix(np.array([[1.0], [5.0], [3.0]]))
    assert np.array_equal(dense_product(rows, columns), [[7.0]])
    with pytest.raises(ValueError, match="do not align"):
        dense_product(rows, columns[:2])


def test_the_running_top_rows_are_a_sort_of_everything_seen() -> None:
    rng = np.random.default_rng(0)
    # ties, a one-row block, blocks shorter and longer than k, rising and falling rows
    blocks = [rng.random((m, 40)).round(2) for m in (7, 1, 30, 3)]
    blocks += [np.sort(rng.random((12, 40)), axis=0), -np.sort(-rng.random((12, 40)), axis=0)]
    for k in (1, 5, 10):
        best = np.zeros((k, 40))
        kept = best
        for block in blocks:
            best = top_rows(best, block)
        expected = -np.sort(-np.vstack([np.zeros((k, 40)), *blocks]), axis=0)[:k]
        assert np.array_equal(best, expected)
        assert best is kept  # updated in place
    assert top_rows(np.zeros((0, 3)), np.ones((2, 3))).shape == (0, 3)
    with pytest.raises(ValueError, match="do not align"):
        top_rows(np.zeros((2, 3)), np.ones((2, 4)))


def test_kernels_compile_where_numba_may_not_keep_a_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A copy of the module imported from a zip file, with numba's cache folder and the
    home folder unusable: numba finds nowhere to write its cache and the kernels are
    compiled without it (the product does not fail)."""
    import os
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    archive = tmp_path / "copy.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(Path(kernels.__file__), "kernels_copy.py")
    unusable = "/dev/null/unusable"
    env = {**os.environ, "NUMBA_CACHE_DIR": unusable, "XDG_CACHE_HOME": unusable}
    env["HOME"] = unusable
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np; "
        "import scipy.sparse as sp; import kernels_copy as k; k.KERNEL_FROM = 0; "
        "m = sp.csr_matrix(np.array([[1.0, 2.0], [0.0, 3.0]])); "
        "print(k.dense_product(m, sp.csr_matrix(np.eye(2, 5))).tolist())"  # the kernel's width
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(archive)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[1.0, 2.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0, 0.0]]"


def test_a_ranker_through_the_kernels_ranks_as_one_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs, orgs, _ = load_corpus(("c",))
    through = TfidfRanker().fit(needs, orgs)  # every block through the kernels
    lists = through.rank_orgs(top=10)
    reverse = through.rank_needs(top=10)
    monkeypatch.setattr(kernels, "KERNEL_FROM", 10**9)
    plain = TfidfRanker().fit(needs, orgs)
    assert np.array_equal(through.hubness_, plain.hubness_)
    assert np.array_equal(through.rank_top_, plain.rank_top_)
    assert lists == plain.rank_orgs(top=10)
    assert reverse == plain.rank_needs(top=10)


def test_below_the_threshold_the_kernels_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    rows = sp.random(10, 50, density=0.3, format="csr", random_state=rng)
    columns = sp.random(50, 20, density=0.3, format="csr", random_state=rng)
    monkeypatch.setattr(kernels, "KERNEL_FROM", 21)
    monkeypatch.setattr(kernels, "_kernels", lambda: pytest.fail("a kernel was used"))
    assert np.array_equal(dense_product(rows, columns), _scipy(rows, columns))
    block = rng.random((6, 20))
    best = top_rows(np.zeros((3, 20)), block)
    assert np.array_equal(best, -np.sort(-block, axis=0)[:3])
