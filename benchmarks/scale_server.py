"""The server processes ``benchmarks/service_scale.py`` starts and reads: ``python -m
service serve`` in its own process(es), when every worker has warmed up, each worker's
memory, a timed request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def admin(sql: str) -> None:
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(sql)  # nosec B608 - the benchmark's own database name


class Server:
    """``python -m service serve`` in its own process(es), its output in a log file."""

    def __init__(self, url: str, port: int, workers: int, log_dir: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = (log_dir / f"serve-{workers}-{time.time():.0f}.log").open("wb")
        command = [sys.executable, "-m", "service", "serve", "--port", str(port)]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env={**os.environ, "DATABASE_URL": url, "KYODO_WARM_UP": "true"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.accepted = self._accept()

    def _accept(self) -> float:
        """When the server first answered (perf_counter)."""
        while True:
            try:
                httpx.get(f"{self.base}/api/health", timeout=1).raise_for_status()
                return time.perf_counter()
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited; see {self.log.name}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=120)
        self.log.close()

    def workers(self) -> list[int]:
        """The processes that serve: the process itself, or its worker children."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        workers = [int(c) for c in children if b"multiprocessing" not in _cmdline(int(c))]
        spawned = [int(c) for c in children if b"spawn_main" in _cmdline(int(c))]
        return spawned or workers or [pid]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def memory(pid: int) -> tuple[float, float, float]:
    """(RSS, PSS, peak RSS) in MiB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rollup = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    )

    def mib(value: str) -> float:
        return int(value.split()[0]) / 1024

    return mib(status["VmRSS"]), mib(rollup["Pss"]), mib(status["VmHWM"])


def warmed(
    client: httpx.Client,
    base: str,
    *,
    workers: int,
    since: float,
    seen: Callable[[dict[str, Any]], None] | None = None,
) -> float:
    """Seconds from ``since`` until every worker has fitted and stored (polled on fresh
    connections, which the workers share out: each must say so several times running);
    ``seen``, if given, is called with each poll's ``progress``."""
    needed, running = 6 * workers, 0
    while running < needed:
        r = httpx.get(f"{base}/api/index", headers=client.headers, timeout=600)
        progress = r.json()["progress"]
        if seen is not None:
            seen(progress)
        done = progress["state"] == "idle" and progress["last_state"] == "ranking"
        running = running + 1 if done else 0
        if not done:
            time.sleep(0.5)
    return time.perf_counter() - since


def timed_get(client: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = client.get(path, timeout=1800)
    r.raise_for_status()
    return time.perf_counter() - t0, r


def source(r: httpx.Response) -> str:
    return r.headers.get("X-Suggestions-Source", "?") + (
        f" {r.headers['X-Index-Version']}" if "X-Index-Version" in r.headers else ""
    )
