"""Work shared between this process and worker processes: a large fit's tokenising.

MeCab holds the GIL while it parses, so threads cannot share it; processes can. The
chunks are handed to the workers last first, while this process works through them from
the first, taking back each chunk no worker has started (``Future.cancel``): the two
meet where the work is evenly shared, however fast each side goes. When this process
meets a chunk a worker holds, the workers hold every chunk after it too (they take them
in the order given), and it waits for them. Results come back as they are made, in no
set order (each with its chunk's index).

The workers are loky's (joblib's process executor): fresh interpreters, which is safe
beside the service's threads (a plain fork of a process with threads is not), and which
do not import the caller's main module again, so a script without an ``if __name__ ==
"__main__"`` guard can fit too (multiprocessing's spawn and fork server would run it
again in the worker). They stop when the work is done: no process stays behind holding
memory (a fork server that had imported ``matching`` stayed at 128 MiB resident). A
worker's start, importing ``matching``, takes about 1.5 s, while this process is already
working: the fit at 50,000 profiles tokenises for about 16 s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, as_completed
from typing import TypeVar

from joblib.externals.loky import ProcessPoolExecutor

__all__ = ["PARALLEL_MIN", "jobs", "map_chunks"]

# with ``n_jobs=None``, work of this many items or more is shared (below it a worker's
# start, about 1.5 s, costs more than it saves)
PARALLEL_MIN = 40_000
_MAX_JOBS = 4

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def jobs(n_jobs: int | None, items: int) -> int:
    """The processes to share ``items`` items between: ``n_jobs`` when given, else
    every core (at most four) from ``PARALLEL_MIN`` items on, else one."""
    if n_jobs is not None:
        return max(1, n_jobs)
    if items < PARALLEL_MIN:
        return 1
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return min(_MAX_JOBS, len(cores) if cores else os.cpu_count() or 1)


def map_chunks(
    fn: Callable[[T], R],
    chunks: Sequence[T],
    n_jobs: int,
    *,
    here: Callable[[T], R] | None = None,
) -> Iterator[tuple[int, R, bool]]:
    """``(i, fn(chunks[i]), made here)`` for every chunk, as each is made (a worker's
    as soon as it is back, so its copy is let go early): ``made here`` is ``False``
    when a worker made it and it came through a pickle. ``fn`` must pickle (a function,
    or a ``functools.partial`` of one) for the workers; ``here``, if given, is what this
    process runs instead (the same work with this process's state: never pickled). A
    worker that fails (killed, out of memory, not started) costs the time only: its
    chunks are made here, and a warning logged."""
    local = here or fn
    if n_jobs < 2 or len(chunks) < 2:
        for i, chunk in enumerate(chunks):
            yield i, local(chunk), True
        return

    def back(j: int, future: Future[R]) -> tuple[int, R, bool]:
        try:
            return j, future.result(), False
        except Exception as exc:  # the work is this process's again
            log.warning("tokenising worker failed (%s): chunk %d made here", exc, j)
            return j, local(chunks[j]), True

    with ProcessPoolExecutor(max_workers=n_jobs - 1) as pool:
        futures: dict[int, Future[R]] = {
            i: pool.submit(fn, chunks[i]) for i in reversed(range(len(chunks)))
        }
        for i, chunk in enumerate(chunks):
            if i not in futures or not futures[i].cancel():
                break  # a worker made or holds it, and every chunk after it
            del futures[i]
            yield i, local(chunk), True
            for j in [j for j, f in futures.items() if f.done()]:
                yield back(j, futures.pop(j))
        for future in as_completed(list(futures.values())):
            j = next(k for k, f in futures.items() if f is future)
            yield back(j, futures.pop(j))
