"""Freed memory given back to the system after the ranker's large steps.

A fit, a rebuild or a splice frees many arrays of a few to a few tens of MB. glibc's
``malloc`` keeps freed blocks of that size in the process's heap for reuse rather than
returning them (it raises its threshold for mapping a block on its own after freeing one
such block), so the resident memory of a long-running process grows by what its largest
steps once held: 134 MB at 50,000 profiles after the scale benchmark's sequence, about
a tenth of it. ``malloc_trim`` returns the free pages; it takes well under a
millisecond to a few. Elsewhere (macOS, musl) this is a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import sys
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

__all__ = ["collector_paused", "release_freed", "releases_memory"]

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)  # glibc only


def release_freed() -> None:
    """The heap's free pages returned to the system."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def releases_memory(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn``, then ``release_freed``."""

    @functools.wraps(fn)
    def releasing(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            release_freed()

    return releasing


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside (on again after, if it was on): for an
    unpickling that makes a million objects and frees none, where the collections the
    new objects set off (each a pass over a growing heap) cost most of the time (a 50k
    fit's items: 0.65 → 0.17 s)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
