"""The saved, memory-mapped index (#14): a refit that fits against one that loads the
saved fit, the saved size, and the memory of two server processes each way.

    python benchmarks/saved_index.py [--profiles 10000 50000] [--database-url URL]

Data: N profiles and N / 5 needs recombined from the corpus as ``benchmarks/scale.py``
makes them, imported into a scratch SQLite file (or the database ``--database-url``
names, reused when it holds them). Then, each in processes of its own (as server workers
or restarts are), ``MatchingIndex.refit`` as the service runs it:

1. an idle process (the service imported, nothing fitted): the floor of every figure;
2. two processes that fit, without a folder (as before): seconds, and the memory of both
   while both hold their index;
3. a first start with the folder empty: it fits, saves, and maps back what it saved;
4. two processes that load the saved fit (a restart, or the other workers): seconds, and
   the memory of both while both hold it; then the same after one profile's edit in each
   (``upsert`` splices the profiles' arrays into private copies until the next fit).

Each process then ranks 256 needs against every profile and explains one need's list (a
request's work: the pages it reads become resident). Memory: RSS, PSS (shared pages
divided among the processes that map them) and the shared
and private parts, from /proc/<pid>/smaps_rollup. The saved file is read from the page
cache here (it was just written); after a reboot the first load also reads it from disk.
Not a test: the figures move with the machine's load (printed with them).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from service_scale import prepare  # (benchmarks/ is on the path as a script)
from sqlmodel import Session

from service.config import Settings
from service.db import make_engine

HERE = Path(__file__).resolve().parent


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def child(url: str, folder: str, idle: bool) -> None:
    """One process: refit (unless ``idle``), say how it went, then do what stdin says
    (``edit``: one profile's edit, as the service applies it; ``quit``)."""
    from service.index import MatchingIndex
    from service.index_rows import live_needs, live_orgs
    from service.saved_index import fit_key

    settings = Settings(database_url=url)
    engine = make_engine(settings.sqlalchemy_url)
    index = MatchingIndex(engine, index_dir=Path(folder) if folder else None)
    out: dict[str, object] = {"pid": os.getpid()}
    if not idle:
        with Session(engine) as session:
            started = time.perf_counter()
            index.refit(session)
            out["seconds"] = time.perf_counter() - started
            out["loaded"] = index.loaded
            needs, orgs = live_needs(session, None), live_orgs(session, None)
            started = time.perf_counter()
            fit_key(session, index.fitted_audit_id, needs, orgs)
            out["key_seconds"] = time.perf_counter() - started
            del needs, orgs
        ranker = index.ranker
        assert ranker is not None
        # requests' work, so that the pages it reads are resident: every profile scored
        # for a spread of needs, and explained for one
        some = ranker.need_ids_[:: max(1, len(ranker.need_ids_) // 256)]
        ranked = ranker.rank_orgs(some, top=10)
        ranker.explain_many(ranked[0][0], [o for o, _ in ranked[0][1]])
    print(json.dumps(out), flush=True)
    for line in sys.stdin:
        if line.strip() == "edit" and index.ranker is not None:
            ranker = copy.copy(index.ranker)  # copy on write, as ``MatchingIndex._apply``
            first = ranker.orgs_[0]
            ranker.upsert(orgs=[replace(first, activities=first.activities + "見守りも。")])
            index.ranker = ranker
            print("{}", flush=True)
        elif line.strip() == "quit":
            return


class Worker:
    def __init__(self, url: str, folder: Path | None, *, idle: bool = False) -> None:
        command = [sys.executable, __file__, "--child", url, str(folder or "")]
        self.proc = subprocess.Popen(
            [*command, *(["--idle"] if idle else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        )
        self.result = self._read()

    def _read(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the child process ended")
        return dict(json.loads(line))

    def edit(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("edit\n")
        self.proc.stdin.flush()
        self._read()

    def memory(self) -> dict[str, float]:
        rollup = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.proc.pid}/smaps_rollup").read_text().splitlines()[1:]
        )

        def mib(*names: str) -> float:
            return sum(int(rollup[n].split()[0]) for n in names) / 1024

        return {
            "rss": mib("Rss"),
            "pss": mib("Pss"),
            "shared": mib("Shared_Clean", "Shared_Dirty"),
            "private": mib("Private_Clean", "Private_Dirty"),
        }

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def show(label: str, workers: list[Worker]) -> dict[str, float]:
    total = {"rss": 0.0, "pss": 0.0}
    for k, w in enumerate(workers):
        m = w.memory()
        total["rss"] += m["rss"]
        total["pss"] += m["pss"]
        print(
            f"  {label} #{k + 1}: RSS {m['rss']:7.0f} MiB  PSS {m['pss']:7.0f} MiB  "
            f"shared {m['shared']:7.0f}  private {m['private']:7.0f}"
        )
    print(f"  {label}: together RSS {total['rss']:.0f} MiB, PSS {total['pss']:.0f} MiB")
    return total


def folder_size(folder: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in folder.glob("ranker-*.pickle")) / 2**20


def run(url: str, n: int, work: Path) -> None:
    print(f"\n== {n:,} profiles, {n // 5:,} needs ({load()})")
    print(f"data ready in {prepare(url, n):.0f} s")
    idle = Worker(url, None, idle=True)
    base = idle.memory()
    print(f"  an idle process: RSS {base['rss']:.0f} MiB, PSS {base['pss']:.0f} MiB")
    idle.stop()

    fitting = []
    for _ in range(2):
        fitting.append(Worker(url, None))
        print(f"  fit (no folder): {fitting[-1].result['seconds']:.1f} s")
    fit_seconds = min(float(w.result["seconds"]) for w in fitting)
    fit_mem = show("fitted", fitting)
    for w in fitting:
        w.stop()

    folder = work / f"index-{n}"
    first = Worker(url, folder)
    assert not first.result["loaded"]
    print(
        f"  first start, folder empty: {first.result['seconds']:.1f} s (fit, save, map back)"
        f"; saved {folder_size(folder):.0f} MiB on disk"
    )
    show("fitted, saved, mapped back", [first])
    first.stop()

    loading = [Worker(url, folder), Worker(url, folder)]
    assert all(w.result["loaded"] for w in loading)
    load_seconds = max(float(w.result["seconds"]) for w in loading)
    for w in loading:
        print(
            f"  load: {w.result['seconds']:.2f} s (of which the key"
            f" {w.result['key_seconds']:.2f} s: the rows digested)"
        )
    load_mem = show("loaded", loading)
    for w in loading:
        w.edit()
    edited = show("loaded, then one profile edited in each", loading)
    for w in loading:
        w.stop()
    above = (fit_mem["pss"] - 2 * base["pss"]) / max(1.0, load_mem["pss"] - 2 * base["pss"])
    print(
        f"  ratios: refit {fit_seconds / load_seconds:.0f}× faster loaded; two processes' PSS "
        f"{fit_mem['pss'] / load_mem['pss']:.2f}× less loaded (above an idle process each: "
        f"{above:.2f}×), {fit_mem['pss'] / edited['pss']:.2f}× after an edit in each"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], "--idle" in sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, nargs="+", default=[10000])
    parser.add_argument("--database-url", help="a database to use (one per scale)")
    args = parser.parse_args()
    print(f"CPUs {os.cpu_count()}, {load()}")
    with tempfile.TemporaryDirectory(prefix="kyodo-saved-") as tmp:
        work = Path(tmp)
        for n in args.profiles:
            run(args.database_url or f"sqlite:///{work / f'data-{n}.sqlite3'}", n, work)


if __name__ == "__main__":
    main()
