"""Login flood: what 16 threads of wrong passwords get, and what they cost everyone else.

    python benchmarks/login_flood.py [--threads 16] [--seconds 20]

A real server in its own process (uvicorn, a throw-away SQLite file, the corpus's needs)
trusts ``X-Forwarded-For`` from loopback, as it would behind the city's TLS proxy, so the
flood can come from one address or from many. Three phases, each measuring a logged-in
coordinator's ``GET /api/needs/{id}`` (p50/p95, one request at a time, as a user clicks):

- **quiet**: nothing else runs;
- **one address**: the threads guess passwords for 50 names from one address; counts how
  many guesses reached the password check (401) and how many were refused (429);
- **many addresses**: each guess from its own address (a botnet): every guess may reach
  argon2, which ``HASH_SLOTS`` bounds (503 ``LOGIN_BUSY`` past ``HASH_WAIT``).

Prints the answers by status and the latency ratios to the quiet phase. Not a test: a
noisy machine compares ratios measured in one run.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlmodel import Session

from corpus import load_corpus
from service import loader
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import Role
from service.schemas import UserCreate
from service.users import create_user

PASSWORD = "flood-check-2026-pass"
SERVER = """
import sys, uvicorn
from service.config import Settings
from service.main import create_app
app = create_app(Settings(database_url=sys.argv[1]))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            proxy_headers=True, forwarded_allow_ips="127.0.0.1")
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(client: httpx.Client, ids: list[int], stop: threading.Event, out: list[float]) -> None:
    k = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        client.get(f"/api/needs/{ids[k % len(ids)]}").raise_for_status()
        out.append((time.perf_counter() - t0) * 1000)
        k += 1
        time.sleep(0.02)


def flood(
    base: str, worker: int, many: bool, stop: threading.Event, counts: collections.Counter[int]
) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        k = 0
        while not stop.is_set():
            address = f"10.{worker}.{k // 250 % 250}.{k % 250 + 1}" if many else "10.0.0.1"
            r = client.post(
                "/api/auth/token",
                data={"username": f"guess{k % 50}", "password": f"wrong-{worker}-{k}"},
                headers={"X-Forwarded-For": address},
            )
            counts[r.status_code] += 1
            k += 1


def phase(
    base: str,
    client: httpx.Client,
    ids: list[int],
    *,
    threads: int,
    seconds: float,
    many: bool | None,
) -> tuple[list[float], collections.Counter[int]]:
    stop = threading.Event()
    latencies: list[float] = []
    counts: collections.Counter[int] = collections.Counter()
    workers = [
        threading.Thread(target=flood, args=(base, w, many, stop, counts))
        for w in range(threads if many is not None else 0)
    ]
    for w in workers:
        w.start()
    meter = threading.Thread(target=measure, args=(client, ids, stop, latencies))
    meter.start()
    time.sleep(seconds)
    stop.set()
    meter.join()
    for w in workers:
        w.join()
    return latencies, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=8777)
    args = parser.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'flood.sqlite3'}"
    settings = Settings(database_url=url)
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    needs, _, _ = load_corpus()
    with Session(engine) as session:
        loader.import_needs(session, needs, user=None)
        create_user(
            session, UserCreate(username="chief", password=PASSWORD, role=Role.coordinator), by=None
        )
    engine.dispose()
    env = {**os.environ, "KYODO_WARM_UP": "false"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, url, str(args.port)], env=env)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/api/auth/token",
            data={"username": "chief", "password": PASSWORD},
            headers={"X-Forwarded-For": "192.0.2.10"},
        ).json()["access_token"]
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        ids = [n["id"] for n in client.get("/api/needs", params={"limit": 100}).json()["items"]]
        print(
            f"{args.threads} threads, {args.seconds:g} s a phase; HASH_SLOTS on the server's cores"
        )
        print("| phase | GET p50 ms | GET p95 ms | p95 ÷ quiet | login answers |")
        print("|---|---:|---:|---:|---|")
        quiet_p95 = 0.0
        for name, many in (("quiet", None), ("one address", False), ("many addresses", True)):
            latencies, counts = phase(
                base, client, ids, threads=args.threads, seconds=args.seconds, many=many
            )
            p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
            quiet_p95 = quiet_p95 or p95
            answers = ", ".join(f"{code}: {n}" for code, n in sorted(counts.items())) or "—"
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / quiet_p95:.2f} | {answers} |")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
