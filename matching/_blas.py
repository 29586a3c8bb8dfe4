"""BLAS in one thread for the ranker's products.

The ranker's dense products are small or tall (a need's row against every profile; 256
needs' topics against every profile; the LSA's QR and LU of a documents × 60 block).
With a thread per core, OpenBLAS's threads wait on each other when the cores are busy
with other work (the service's own requests, other processes): measured on the 2-core
machine at 50,000 profiles, one need's topic product took 8 ms in two threads and 1.7
ms in one, the LSA 5.5-6.3 s against 1.5-1.8 s. One thread also makes the LSA the same
on every machine, whatever its number of cores. The matrix products themselves give
the same values in one thread as in several (each thread computes its own block of the
result); only the LSA's factorisations round differently.

The learner (``LearnedRanker``: its logistic regressions, the word-vector map's ridge
solve) is limited the same way. Its matrices are small: alone, two threads bought it
nothing (the same wall time for twice the CPU); with the other core busy, fitting on
the devset's 225 decisions took 0.97-1.37 s in two threads and 0.56 s in one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]

P = ParamSpec("P")
R = TypeVar("R")


class _OneThread:
    """The limit held while any limited call runs (in any thread, nested or not): the
    first to enter sets it, the last to leave gives the previous limits back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._limiter: Any = None

    def enter(self) -> None:
        with self._lock:
            if not self._depth:
                self._limiter = _controller().limit(limits=1, user_api="blas")
            self._depth += 1

    def leave(self) -> None:
        with self._lock:
            self._depth -= 1
            if not self._depth:
                self._limiter.restore_original_limits()
                self._limiter = None


_ONE = _OneThread()


@functools.cache
def _controller() -> ThreadpoolController:
    """The BLAS libraries loaded (numpy's, scipy's), found once: looking them up walks
    the process's shared libraries."""
    return ThreadpoolController()


def one_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with BLAS limited to one thread while it runs."""

    @functools.wraps(fn)
    def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        _ONE.enter()
        try:
            return fn(*args, **kwargs)
        finally:
            _ONE.leave()

    return limited
