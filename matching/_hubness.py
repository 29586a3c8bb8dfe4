"""The ranker's hubness pass and the blocks its scores are made in.

A profile's hubness is its mean score over the needs it fits best (its top ``k``). A
long, well-written profile that scores high for every need has a high value;
subtracting ``diversity × hubness`` (as CSLS does for word translation) keeps it from
topping every list while a profile that fits few needs well loses little.

The same best scores give each pair its *reciprocal rank*: the need's place among the
needs the profile fits best (``reciprocal_ranks``). A group whose own best need is this
one is a likelier partner than a broad group for which it is one need among many (as
reciprocal recommenders match both sides' preferences); the ranker multiplies a pair's
score by ``1 + reciprocity / (1 + rank)`` for ranks under ``HUB_K``. The best scores it
reads (``rank_top_``) are the hubness pass's: exact up to ``HUB_SAMPLE`` needs and kept
exact through edits (``hub_top_``); past it measured on the sample (a rank there counts
``rank_scale_`` needs) and, like the hubness, left as last measured by a need's edit
until the next fit or rebuild.

The settings (``HUB_SAMPLE``, ``HUB_K``, ``_BLOCK``, ``_PAIRS``) live in ``_ranker`` and
are read at each call.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from ._kernels import top_rows
from ._memory import release_freed

if TYPE_CHECKING:
    from ._ranker import TfidfRanker

__all__ = [
    "as_high",
    "hub_best",
    "measure_hubness",
    "pieces",
    "reciprocal_ranks",
    "score_rows",
]

# a hubness pass of this many pairs or more is shared between threads (at 2,000 needs:
# from 8,000 profiles on)
THREADED_PAIRS = 1 << 24
# a score computed in another block may differ in its last digits (float32 word vectors):
# a profile's stored best score and the same pair's score now count as equal within this
SAME_SCORE = 1e-6


def pieces(rows: np.ndarray, width: int, pairs: int | None = None) -> Iterator[np.ndarray]:
    """``rows`` in blocks of ``_BLOCK``, each cut into near-equal pieces of about
    ``pairs`` (default ``_PAIRS``) pairs against ``width`` columns, every piece of a cut
    block at least two rows and about half of ``pairs``: a one-row product is a
    matrix-vector product, and BLAS multiplies small matrices (up to about a million
    multiply-adds) with other kernels, each rounding its last digit differently. The
    word-vector and topic rows are on the exact grid (``_exact``), so any cut gives the
    same values now; pieces this large also keep BLAS efficient."""
    from . import _ranker

    block = _ranker._BLOCK
    size = max(2, (pairs or _ranker._PAIRS) // max(1, width))
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        count = max(1, min(-(-len(chunk) // size), len(chunk) // 2))
        small, extra = divmod(len(chunk), count)
        at = 0
        for k in range(count):
            end = at + small + (k < extra)
            yield chunk[at:end]
            at = end


def hub_best(ranker: TfidfRanker, org_rows: np.ndarray | None = None) -> np.ndarray:
    """Each profile's ``k`` best raw scores over the needs (``k`` × profiles, best
    first, zeros where it fits fewer): what its hubness is the mean of. Each column
    depends on its own profile only (``org_rows``: those profiles)."""
    from . import _ranker
    from ._ranker import HUB_K, HUB_SAMPLE

    n_needs = len(ranker.need_ids_)
    n_orgs = len(ranker.org_ids_) if org_rows is None else len(org_rows)
    if not n_needs or not n_orgs:
        return np.zeros((0, n_orgs))
    rows = np.arange(n_needs)
    k = min(HUB_K, n_needs)
    if n_needs > HUB_SAMPLE:
        # a seeded sample of the needs, and the same share of them as the top k: the
        # pass stays linear in the profiles, exact up to HUB_SAMPLE needs
        rows = np.sort(np.random.default_rng(0).choice(n_needs, HUB_SAMPLE, replace=False))
        k = max(1, round(k * HUB_SAMPLE / n_needs))
    best = np.zeros((k, n_orgs))
    threads = _threads(len(rows) * n_orgs)
    if threads < 2:
        for piece in pieces(rows, n_orgs):
            best = top_rows(best, ranker._raw_scores(piece, org_rows))
        return best
    # pieces a quarter the size for two threads: glibc gives each thread a heap (arena)
    # of its own that keeps what it freed, and smaller pieces keep the peak where one
    # thread's was (50k x 10k, the benchmark's sequence: +8 MiB; half the size: +49). The
    # first is scored here, making the ranker's derived arrays (``_derived``) once before
    # the threads read them
    parts = pieces(rows, n_orgs, pairs=_ranker._PAIRS // (2 * threads))
    release_freed()  # the threads take new memory: what this thread's heap holds free goes
    best = top_rows(best, ranker._raw_scores(next(parts), org_rows))
    for raw in _in_threads(lambda piece: ranker._raw_scores(piece, org_rows), parts, threads):
        best = top_rows(best, raw)  # in the pieces' order: the same as in one thread
    release_freed()  # the threads' heaps (glibc: an arena a thread) keep what they freed
    return best


def _threads(pairs: int) -> int:
    """Threads for a hubness pass of ``pairs`` scores: every core (at most four) from
    ``THREADED_PAIRS`` on. The products and NumPy's array work let go of the GIL; the
    scores do not depend on how the rows are cut (``_exact``, and each sparse row's
    product is its own)."""
    if pairs < THREADED_PAIRS:
        return 1
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return min(4, len(cores) if cores else os.cpu_count() or 1)


def _in_threads(
    fn: Callable[[np.ndarray], np.ndarray], parts: Iterator[np.ndarray], threads: int
) -> Iterator[np.ndarray]:
    """``fn`` of each part, in order, made by ``threads`` threads with at most that many
    parts under way or waiting to be read (their blocks are large)."""
    with ThreadPoolExecutor(threads, thread_name_prefix="kyodo-hubness") as pool:
        ahead: deque[Future[np.ndarray]] = deque()
        for part in parts:
            ahead.append(pool.submit(fn, part))
            if len(ahead) >= threads:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def measure_hubness(ranker: TfidfRanker) -> None:
    """``hubness_`` of every profile and the best scores it is the mean of
    (``rank_top_``, for reciprocal ranks); up to ``HUB_SAMPLE`` needs the same array is
    ``hub_top_`` (``None`` otherwise), which a need's edit updates exactly."""
    from ._ranker import HUB_SAMPLE

    ranker.hub_top_ = None
    ranker.rank_top_, ranker.rank_scale_ = None, 1.0
    if not ranker.diversity:
        ranker.hubness_ = np.zeros(len(ranker.org_ids_))
        return
    best = hub_best(ranker)
    ranker.hubness_ = best.mean(axis=0) if len(best) else np.zeros(best.shape[1])
    ranker.rank_top_ = best
    n_needs = len(ranker.need_ids_)
    if n_needs <= HUB_SAMPLE:
        ranker.hub_top_ = best
    else:
        ranker.rank_scale_ = n_needs / HUB_SAMPLE


def as_high(best: np.ndarray, height: int) -> np.ndarray:
    """Best scores (``hub_best``'s) as ``height`` rows: cut, or their last row repeated (a
    profile added past ``HUB_SAMPLE`` is measured on the current sample, whose ``k`` may
    differ from the one its neighbours were measured with)."""
    if len(best) >= height or not len(best):
        return best[:height] if len(best) else np.zeros((height, best.shape[1]))
    return np.vstack([best, np.repeat(best[-1:], height - len(best), axis=0)])


def reciprocal_ranks(raw: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of a block of raw scores (needs × profiles) that are among their profile's
    best (``top``: ``k`` × those profiles, best first), as ``(rows, cols, ranks)``: the
    number of needs scoring higher with the profile, under ``k``. Other pairs are not
    listed. Only scores near a column's ``k``-th best are compared with all ``k``."""
    k = len(top)
    if not k or not raw.size:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty
    rows, cols = np.nonzero((raw > 0) & (raw >= top[-1][None, :] - SAME_SCORE))
    scores = raw[rows, cols]
    ranks = (top[:, cols] > scores[None, :] + SAME_SCORE).sum(axis=0)
    inside = ranks < k
    return rows[inside], cols[inside], ranks[inside]


def score_rows(
    ranker: TfidfRanker, rows: np.ndarray, *, reverse: bool
) -> Iterator[tuple[int, np.ndarray]]:
    """Each need row of ``rows`` with its scores against every profile (``reverse``: each
    profile row with its scores against every need), computed in blocks, never the whole
    matrix."""
    from ._ranker import _BLOCK as BLOCK

    if not reverse:
        for piece in pieces(rows, len(ranker.org_ids_)):
            yield from zip(piece.tolist(), ranker.score_block(piece), strict=True)
    else:
        # every need against the chosen organisations' columns only, transposed: one
        # profile's needs cost a column of products, not the whole matrix
        all_needs = np.arange(len(ranker.need_ids_))
        # blocks of about BLOCK × BLOCK pairs: a few columns take many needs at once
        for start in range(0, len(rows), BLOCK):
            chunk = rows[start : start + BLOCK]
            step = max(BLOCK, BLOCK * BLOCK // len(chunk))
            block = (
                np.vstack(
                    [
                        ranker.score_block(all_needs[s : s + step], chunk)
                        for s in range(0, len(all_needs), step)
                    ]
                )
                if len(all_needs)
                else np.zeros((0, len(chunk)))
            )
            yield from zip(chunk.tolist(), block.T, strict=True)
