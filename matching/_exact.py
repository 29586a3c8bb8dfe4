"""Rows on a grid whose dot products are exact: the same score from any BLAS kernel.

A block of scores is a matrix product, and BLAS sums each dot product in an order that
depends on the kernel it picks for the block's shape and the processor (OpenBLAS picks
per CPU). In float32, on an AMD EPYC, a need ranked alone and the same need ranked among
40 others differed by up to 5e-8, enough to move the sixth decimal of a stored score
(and a profile's hubness, so every score): the same need could get two scores.

``on_exact_grid`` rounds each row to a multiple of a power of two of its own, with at
most ``q = floor(sqrt(2^p / dim))`` steps either side of zero (``p`` the precision's
significant bits: 24 for float32, 53 for float64). The product of two such values is
exact, and so is every partial sum of ``dim`` of them, in any order; so the dot product
of two rows on the grid is the same number from every kernel, block and machine. For
300-dim float32 word-vector rows ``q`` is 236: each value keeps about eight bits, and a
cosine moves by about 1e-3 at most (measured: README, "How the ranking works"); for the
50 LSA topics in float64 ``q`` is about 1.3e7, a change below 1e-7.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["on_exact_grid"]


def on_exact_grid(rows: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """``rows`` (2-D, float32 or float64) rounded onto the grid, in a new array of their
    type (``copy=False``: in place, and returned); a zero row stays zero."""
    rows = np.array(rows, copy=copy)
    if rows.ndim != 2 or rows.shape[1] == 0:
        return rows
    bits = np.finfo(rows.dtype).nmant + 1
    q = math.floor(math.sqrt(2.0**bits / rows.shape[1]))
    peak = np.maximum(rows.max(axis=1), -rows.min(axis=1)).astype(np.float64)
    # the smallest power of two that puts the row's largest value within q steps
    step = np.exp2(np.ceil(np.log2(np.where(peak > 0, peak / q, 1.0))))
    step = step.astype(rows.dtype)[:, None]
    rows /= step
    np.rint(rows, out=rows)
    rows *= step
    return rows
