"""Load test: 50 users against `python -m service serve` on PostgreSQL, 1 and 2 workers.

    python benchmarks/load_test.py [--users 50] [--seconds 30] [--workers 1 2]

For each worker count: a scratch PostgreSQL database (127.0.0.1:5432, user postgres)
with the bundled corpus, the real CLI's server in its own process(es), the suggestions
stored once (the first request), then an asyncio httpx driver on loopback:

- **paced**: every user sends one request a second (think time, jittered 0.5–1.5 s; the
  users' first requests spread over the first second), a mix of a need, its
  suggestions, the need list and a group's profile: p50/p95, errors;
- **closed loop**: every user sends its next request as soon as the last is answered:
  requests a second, p50/p95, errors.

Each request that got no answer is printed on standard error as it fails: its path, the
exception and what lay under it, its time and when in the phase it failed.

Not a test: a noisy machine compares ratios measured in one run (the driver shares the
machine's two cores with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid

import httpx
import psycopg
from sqlmodel import Session

from corpus import load_corpus
from service import loader
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import Role
from service.schemas import UserCreate
from service.users import create_user

PASSWORD = "load-test-2026-pass"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def admin(sql: str) -> None:
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(sql)  # nosec B608 - the benchmark's own database name


def prepare(database: str) -> str:
    admin(f'CREATE DATABASE "{database}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    settings = Settings(database_url=url)
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    needs, orgs, _ = load_corpus()
    with Session(engine) as session:
        loader.import_organizations(session, orgs, user=None)
        loader.import_needs(session, needs, user=None)
        create_user(
            session, UserCreate(username="chief", password=PASSWORD, role=Role.coordinator), by=None
        )
    engine.dispose()
    return url


async def user(
    client: httpx.AsyncClient,
    paths: list[str],
    until: float,
    paced: bool,
    latencies: list[float],
    errors: list[int | str],
    seed: int,
) -> None:
    rng = random.Random(seed)
    if paced:  # users arrive over the first second, not all in the same millisecond
        await asyncio.sleep(rng.uniform(0.0, 1.0))
    while time.monotonic() < until:
        path = rng.choice(paths)
        t0 = time.perf_counter()
        try:
            r = await client.get(path)
            if r.status_code >= 400:
                errors.append(r.status_code)
        except httpx.HTTPError as exc:  # no answer: which failure (ReadTimeout, …)
            errors.append(type(exc).__name__)
            # where in the phase, after how long, and what lay under it: a rare failure
            # (a closed connection about once in 4,000-20,000 requests at saturation)
            # is read from these lines, the server logging nothing
            print(
                f"failed: GET {path}: {exc!r} (from {exc.__cause__!r}) after "
                f"{(time.perf_counter() - t0) * 1000:.0f} ms, "
                f"{until - time.monotonic():.1f} s before the phase's end",
                file=sys.stderr,
                flush=True,
            )
        latencies.append((time.perf_counter() - t0) * 1000)
        if paced:
            await asyncio.sleep(rng.uniform(0.5, 1.5))


async def run(base: str, token: str, paths: list[str], users: int, seconds: float, paced: bool):
    latencies: list[float] = []
    errors: list[int | str] = []
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:
        until = time.monotonic() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(user(client, paths, until, paced, latencies, errors, k) for k in range(users))
        )
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def said(errors: list[int | str]) -> str:
    """How many requests failed, and how (status codes; failures with no answer by name)."""
    return f"{len(errors)} {sorted({str(e) for e in errors})}" if errors else "0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    print(f"{args.users} users, {args.seconds:g} s a phase, PostgreSQL, loopback")
    print("| workers | phase | requests | req/s | p50 ms | p95 ms | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for workers in args.workers:
        database = f"kyodo_load_{uuid.uuid4().hex[:8]}"
        url = prepare(database)
        env = {**os.environ, "DATABASE_URL": url}
        command = [sys.executable, "-m", "service", "serve", "--port", str(args.port)]
        server = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{args.port}"
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{base}/api/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            token = httpx.post(
                f"{base}/api/auth/token", data={"username": "chief", "password": PASSWORD}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            httpx.get(f"{base}/api/review-queue", headers=auth, timeout=600).raise_for_status()
            needs = httpx.get(f"{base}/api/needs", headers=auth, params={"limit": 100}).json()
            orgs = httpx.get(f"{base}/api/organizations", headers=auth, params={"limit": 100})
            need_ids = [n["id"] for n in needs["items"]]
            org_ids = [o["id"] for o in orgs.json()["items"]]
            paths = (
                [f"/api/needs/{i}" for i in need_ids]
                + [f"/api/needs/{i}/suggestions" for i in need_ids]
                + [f"/api/organizations/{i}" for i in org_ids[:50]]
                + ["/api/needs?limit=20"] * 20
            )
            # every worker warms its own index before the figures count
            asyncio.run(run(base, token, paths, args.users, 10, paced=False))
            for name, paced in (("paced (1 req/s each)", True), ("closed loop", False)):
                latencies, errors, elapsed = asyncio.run(
                    run(base, token, paths, args.users, args.seconds, paced)
                )
                print(
                    f"| {workers} | {name} | {len(latencies)} | {len(latencies) / elapsed:.0f} "
                    f"| {statistics.median(latencies):.1f} | {percentile(latencies, 0.95):.1f} "
                    f"| {said(errors)} |"
                )
        finally:
            server.terminate()
            server.wait(timeout=60)
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
