"""Ranking cost of the meaning signals: fit, rank-all and explain at the corpus's size,
with and without word vectors, beside BM25, and the memory the vectors take.

Prints the seconds (best of ``--repeat``) to fit on the whole bundled corpus and to rank
every need's top 10, for the cold start as it ships, the cold start without the word
vectors (``dense_weight=0, neighbour_weight=0``), and BM25, with ratios to the last two;
the time to explain a need's top 10; the word-vector table's size (memory-mapped, shared
between processes) and what one fit adds (its vocabulary's vectors, the neighbour links).

``--baseline DIR`` also times an earlier checkout of the project (say, a ``git worktree``
of the commit before the vectors) in a subprocess on the same data, so the ratio to
"today" is measured in the same run. Not a test: a noisy machine compares ratios.

    .venv/bin/python benchmarks/ranking.py [--repeat 3] [--baseline ../before]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from corpus import load_corpus
from matching import BM25Ranker, TfidfRanker
from matching._vectors import WordVectors, default_vectors

CHILD = """
import json, sys, time
from corpus import load_corpus
from matching import TfidfRanker
needs, orgs, _ = load_corpus()
best = {"fit": 1e9, "rank": 1e9}
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); r = TfidfRanker().fit(needs, orgs)
    best["fit"] = min(best["fit"], time.perf_counter() - t)
    t = time.perf_counter(); r.rank_orgs(top=10)
    best["rank"] = min(best["rank"], time.perf_counter() - t)
print(json.dumps(best))
"""


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[object, float]:
    out, best = None, float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="an earlier checkout to time as well")
    args = parser.parse_args()
    needs, orgs, _ = load_corpus()
    default_vectors()  # loaded once per process, as the service does: not part of a fit
    rankers: dict[str, Callable[[], object]] = {
        "cold start (ships)": TfidfRanker,
        "without word vectors": lambda: TfidfRanker(dense_weight=0.0, neighbour_weight=0.0),
        "BM25": BM25Ranker,
    }
    figures: dict[str, tuple[float, float]] = {}
    fitted: dict[str, object] = {}
    for name, make in rankers.items():
        ranker, fit = best_of(args.repeat, lambda make=make: make().fit(needs, orgs))  # type: ignore[attr-defined]
        fitted[name] = ranker
        _, rank = best_of(args.repeat, lambda r=ranker: r.rank_orgs(top=10))  # type: ignore[attr-defined]
        figures[name] = (fit, rank)
    if args.baseline:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.repeat)],
            cwd=args.baseline,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(args.baseline.resolve()), "PATH": ""},
        )
        before = json.loads(out.stdout)
        figures["baseline checkout"] = (before["fit"], before["rank"])
    print(f"corpus: {len(needs)} needs × {len(orgs)} profiles, best of {args.repeat}")
    print(
        "| ranker | fit s | rank all s | fit ÷ without vectors | rank ÷ without vectors "
        "| rank ÷ BM25 |" + (" rank ÷ baseline |" if args.baseline else "")
    )
    print("|---|---:|---:|---:|---:|---:|" + ("---:|" if args.baseline else ""))
    plain = figures["without word vectors"]
    bm25 = figures["BM25"]
    for name, (fit, rank) in figures.items():
        cells = [
            f"{fit:.3f}",
            f"{rank:.3f}",
            f"{fit / plain[0]:.2f}",
            f"{rank / plain[1]:.2f}",
            f"{rank / bm25[1]:.2f}",
        ]
        if args.baseline:
            cells.append(f"{rank / figures['baseline checkout'][1]:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    ships = fitted["cold start (ships)"]
    assert isinstance(ships, TfidfRanker)
    top = [o for o, _ in ships.rank_orgs([ships.need_ids_[0]], top=10)[0][1]]
    _, explain = best_of(args.repeat, lambda: ships.explain_many(ships.need_ids_[0], top))
    print(f"\nexplain one need's top 10: {explain * 1000:.1f} ms")
    assert ships.dense_ is not None and ships.neighbours_ is not None
    mib = 1 << 20
    tracemalloc.start()
    table, load = best_of(1, WordVectors.load)
    keys, _ = tracemalloc.get_traced_memory()  # the key index; the vectors are mapped
    tracemalloc.stop()
    assert isinstance(table, WordVectors)
    print(
        f"word-vector table: {table.rows.nbytes / mib:.1f} MiB of vectors (memory-mapped, "
        f"shared by every process), key index {keys / mib:.0f} MiB per process "
        f"({len(table.key2row):,} words), loaded in {load:.2f} s once per process"
    )
    print(
        f"per fit: {ships.dense_.term_vectors_.nbytes / mib:.1f} MiB of vocabulary vectors "
        f"({int(ships.dense_.found_.sum()):,} of {len(ships.dense_.found_):,} terms found), "
        f"{ships.neighbours_.links_.nnz:,} neighbour links, "
        f"document vectors {(ships.need_dense_.nbytes + ships.org_dense_.nbytes) / mib:.2f} MiB"
    )
    tracemalloc.start()
    TfidfRanker().fit(needs, orgs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory of one fit (tracemalloc): {peak / mib:.0f} MiB")
    np.set_printoptions()


if __name__ == "__main__":
    main()
