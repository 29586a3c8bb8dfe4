"""The ranker's two compiled loops (#14): the text score's sparse product into a dense
block, and the hubness pass's running top k.

Both are compiled by numba and release the GIL: the hubness pass's threads run them side
by side. Neither changes a number: each gives what the NumPy/scipy code beside it gives,
bit for bit, so the kernels serve only blocks against at least ``KERNEL_FROM`` profiles
(a prefecture's or the nation's), where they pay: numba's import and the kernels' load
from its cache take about 1.5 s and 115 MiB the first time (``warm_kernels``; the
service calls it before it accepts connections when it holds that many profiles), and a
city's few hundred profiles never load them.

**The product.** A need's expanded query (thesaurus and word-vector neighbours: about
270 terms) shares a term with almost every profile, so its product with the profiles'
vectors is dense: at 50,000 profiles 99% of a block's entries are set. scipy's sparse
product makes that block as a sparse matrix first (two passes, an index per entry) and
``toarray`` copies it again; of the 80–90 ns a pair this cost, about 8 multiply-adds
are the product (the kernel: about 20 ns).

``dense_product`` adds into a dense block directly: for each query row, for each of its
terms in stored order, the term's postings (``columns``, terms × profiles, CSR) times
the query's weight. That is the order scipy's product adds in (its accumulator per row
takes the row's terms in stored order), without fused multiply-adds, so every entry
is the same float64 as ``(rows @ columns).toarray()``.

Against a few columns (one profile's needs, an upsert's hubness) every query term's
weight times a dense column is cheaper than walking the query's terms for postings:
the terms a column lacks add an exact zero, so the sums are again the same.

**The running top k** (``top_rows``): each profile's ``k`` best scores over blocks of
needs. Sorting each block's candidates with the kept ones cost 11 ns a pair at 50,000
profiles, in the thread that gathers the blocks; a score is now compared with its
column's ``k``-th best and inserted only when higher (after the first blocks, rarely).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["KERNEL_FROM", "dense_product", "top_rows", "warm_kernels"]

# blocks against this many profiles (columns) or more are made by the kernels
KERNEL_FROM = 5000
# up to this many columns the product is taken against them as dense columns
FEW_COLUMNS = 4

_LOADING = threading.Lock()


def warm_kernels() -> None:
    """Load (or compile) the kernels now, not in the first large ranking."""
    _kernels()


def _kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    with _LOADING:  # the hubness pass's threads may ask at once
        return _compiled_kernels()


@functools.cache
def _compiled_kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """The product's kernel (for 32- and 64-bit indices) and the running top k's, compiled
    for their argument types now and kept in numba's cache."""
    import numba

    def readonly(dtype: Any, ndim: int = 1) -> Any:
        # takes read-only arrays too (a memory-mapped saved index)
        return numba.types.Array(dtype, ndim, "C", readonly=True)

    f64 = numba.types.float64
    product = [
        numba.types.void(*(readonly(t) for t in (index, index, f64) * 2), f64[:, ::1])
        for index in (numba.types.int32, numba.types.int64)
    ]
    merge = numba.types.void(f64[:, ::1], readonly(f64, 2))
    return _compiled(numba, product, _kernel), _compiled(numba, merge, _merge)


def _compiled(numba: Any, signatures: Any, fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` compiled for ``signatures``, kept in numba's cache; where numba finds no
    folder it may write its cache to (an install read-only to the service's user, no
    home folder), compiled without it: about a second more at each start."""
    try:
        return numba.njit(signatures, nogil=True, cache=True)(fn)
    except (RuntimeError, OSError):
        return numba.njit(signatures, nogil=True)(fn)


def _kernel(
    q_ptr: np.ndarray,
    q_idx: np.ndarray,
    q_val: np.ndarray,
    c_ptr: np.ndarray,
    c_idx: np.ndarray,
    c_val: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(len(q_ptr) - 1):
        row = out[i]
        for k in range(q_ptr[i], q_ptr[i + 1]):
            term = q_idx[k]
            weight = q_val[k]
            for m in range(c_ptr[term], c_ptr[term + 1]):
                row[c_idx[m]] += weight * c_val[m]


def dense_product(rows: sp.csr_matrix, columns: sp.csr_matrix) -> np.ndarray:
    """``(rows @ columns).toarray()``: ``rows`` (n × terms) times ``columns`` (terms × m,
    CSR), a dense float64 n × m block with the same values."""
    if rows.shape[1] != columns.shape[0]:
        raise ValueError(f"shapes {rows.shape} and {columns.shape} do not align")
    rows, columns = sp.csr_matrix(rows), sp.csr_matrix(columns)
    float64 = rows.dtype == np.float64 and columns.dtype == np.float64
    if float64 and columns.shape[1] <= FEW_COLUMNS:
        return np.asarray(rows @ columns.toarray())
    if not float64 or columns.shape[1] < KERNEL_FROM:
        return np.asarray((rows @ columns).toarray())
    arrays = (rows.indptr, rows.indices, columns.indptr, columns.indices)
    wide = any(a.dtype.itemsize > 4 for a in arrays)
    index = np.dtype(np.int64) if wide else np.dtype(np.int32)
    out = np.zeros((rows.shape[0], columns.shape[1]))
    _kernels()[0](
        *(np.ascontiguousarray(a, dtype=index) for a in (rows.indptr, rows.indices)),
        np.ascontiguousarray(rows.data),
        *(np.ascontiguousarray(a, dtype=index) for a in (columns.indptr, columns.indices)),
        np.ascontiguousarray(columns.data),
        out,
    )
    return out


def _merge(best: np.ndarray, block: np.ndarray) -> None:
    k = best.shape[0]
    if k == 0:
        return
    last = best[k - 1]
    for i in range(block.shape[0]):
        row = block[i]
        for j in range(row.shape[0]):
            value = row[j]
            if value > last[j]:
                at = k - 1
                while at > 0 and best[at - 1, j] < value:
                    best[at, j] = best[at - 1, j]
                    at -= 1
                best[at, j] = value


def top_rows(best: np.ndarray, block: np.ndarray) -> np.ndarray:
    """The ``len(best)`` largest values of each column of ``best`` (largest first) and
    ``block`` together: a running top k over blocks of rows. ``best`` is updated in place
    (when it is a C-ordered float64 array) and returned."""
    best = np.ascontiguousarray(best, dtype=np.float64)
    if best.shape[1] != block.shape[1]:
        raise ValueError(f"shapes {best.shape} and {block.shape} do not align")
    k = len(best)
    if best.shape[1] >= KERNEL_FROM:
        _kernels()[1](best, np.ascontiguousarray(block, dtype=np.float64))
    elif k:
        if len(block) > k:  # only the block's own top k are sorted with the kept ones
            block = np.partition(block, len(block) - k, axis=0)[len(block) - k :]
        both = np.concatenate([best, block])
        both.sort(axis=0)
        best[...] = both[::-1][:k]
    return best
