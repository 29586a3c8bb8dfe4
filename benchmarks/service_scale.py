"""The service at a prefecture's size on PostgreSQL, through the real CLI's server (#14).

    python benchmarks/service_scale.py --profiles 50000 [--database-url URL] [--keep]
        [--users 50] [--seconds 30] [--workers 1 2] [--port 8797] [--skip-load | --load-only]
        [--promote NEEDS]

Data: N profiles and N / 5 needs recombined from the corpus as ``benchmarks/scale.py``
makes them, imported into a scratch PostgreSQL database (127.0.0.1:5432, user postgres;
dropped after the run unless ``--keep``), or into the database ``--database-url`` names
(reused as it is when it already holds them). Then, each through ``python -m service
serve`` in processes of its own:

1. **the first start** (nothing stored): seconds until the server accepts connections;
   the first request for a need's suggestions (nothing stored: ranked on demand once the
   warm-up has fitted); the warm-up (fit, then every need ranked, explained, stored);
1b. with ``--promote N``: the top 10 of N needs decided and a learned model trained and
   promoted (in process, the server stopped), then a start that rebuilds it (from the
   stages its report keeps) and ranks every need with it; every later start has it;
2. **a restart** (every need stored; one need published just before, nothing stored for
   it): the first request for a stored need's suggestions after the server accepts
   connections, then the new need's (on demand); the warm-up again; then **a restart on
   unchanged data** (the saved fit loaded, its refresh's kept lists taken) and its warm-up;
   **two workers** started on changed data (one ranks, the other waits and takes its
   lists); **a prepared start** (``python -m service prepare`` after a need is published,
   then a start: that need's first request, the warm-up);
3. **once warm**: ``GET /api/needs/{id}/suggestions`` p50/p95 over 200 needs; a group
   registered (POST) → in a need's suggestions (the next GET), 10 times;
4. **load**, for each worker count: each worker's warm-up, then ``load_test.py``'s driver
   (50 users, one request a second each; then a closed loop) and each worker's resident
   (RSS), proportional (PSS: shared pages divided among their users) and peak memory.

Not a test: the figures move with the machine's load (printed with them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from scale_server import Server, admin, load, memory, percentile, source, timed_get, warmed
from sqlalchemy import func
from sqlmodel import Session, select

from service import loader
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import Organization, Role, User
from service.schemas import UserCreate
from service.users import create_user

PASSWORD = "service-scale-2026"


def prepare(url: str, n: int) -> float:
    """Import the recombined data unless the database holds them; seconds it took."""
    settings = Settings(database_url=url)
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    started = time.perf_counter()
    try:
        with Session(engine) as session:
            have = session.exec(select(func.count()).select_from(Organization)).one()
            if have < n:
                from scale import recombined  # (benchmarks/ is on the path as a script)

                needs, orgs = recombined(n)
                loader.import_organizations(session, orgs, user=None)
                loader.import_needs(session, needs, user=None)
            if session.exec(select(User).where(User.username == "chief")).first() is None:
                create_user(
                    session,
                    UserCreate(username="chief", password=PASSWORD, role=Role.coordinator),
                    by=None,
                )
    finally:
        engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=10000)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--skip-load", action="store_true", help="phases 1–3 only")
    parser.add_argument("--load-only", action="store_true", help="phase 4 only")
    parser.add_argument(
        "--promote",
        type=int,
        default=0,
        metavar="NEEDS",
        help="after the first start, decide the top 10 of this many needs and promote a "
        "learned model: the restarts then rebuild it",
    )
    args = parser.parse_args()
    database = None
    url = args.database_url
    if url is None:
        database = f"kyodo_scale_{uuid.uuid4().hex[:8]}"
        admin(f'CREATE DATABASE "{database}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    log_dir = Path(tempfile.mkdtemp(prefix="service-scale-"))
    try:
        run(args, url, log_dir)
    finally:
        if database and not args.keep:
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        elif database:
            print(f"kept: {url}")


def run(args: argparse.Namespace, url: str, log_dir: Path) -> None:
    print(f"{args.profiles} profiles, {args.profiles // 5} needs; PostgreSQL; {load()}")
    print(f"import: {prepare(url, args.profiles):.1f} s; server logs in {log_dir}")
    server = Server(url, args.port, 1, log_dir)
    token = httpx.post(
        f"{server.base}/api/auth/token", data={"username": "chief", "password": PASSWORD}
    ).json()["access_token"]
    client = httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"})
    needs = [n["id"] for n in client.get("/api/needs", params={"limit": 100}).json()["items"]]
    needs += [
        n["id"]
        for n in client.get("/api/needs", params={"limit": 100, "offset": 100}).json()["items"]
    ]
    orgs = [o["id"] for o in client.get("/api/organizations", params={"limit": 50}).json()["items"]]
    if args.load_only:
        server.stop()
    else:
        first_start(client, server, url, needs)
        if args.promote:
            server.stop()
            promote(url, args.promote)
            server = Server(url, args.port, 1, log_dir)
            total = warmed(client, server.base, workers=1, since=server.started)
            print(f"start with the promoted model: warm-up {total:.1f} s from the start; {load()}")
        server = restart(client, server, url, args, log_dir, needs)
        server = unchanged_restart(client, server, url, args, log_dir, needs)
        server = two_workers_start(client, server, url, args, log_dir)
        server = prepared_start(client, server, url, args, log_dir)
        warm(client, needs)
        server.stop()
    if not args.skip_load:
        load_figures(args, url, log_dir, client, token, needs, orgs)
    client.close()


def first_start(client: httpx.Client, server: Server, url: str, needs: list[int]) -> None:
    """1. The first start: nothing stored (skipped when something is)."""
    with psycopg.connect(url) as c:
        stored = c.execute("SELECT count(*) FROM suggestion").fetchone()
    if stored and stored[0]:
        print(f"first start skipped: {stored[0]} suggestions already stored")
    else:
        seconds, r = timed_get(client, f"/api/needs/{needs[0]}/suggestions")
        total = warmed(client, server.base, workers=1, since=server.started)
        print(
            f"first start: accepting after {server.accepted - server.started:.1f} s; the "
            f"first need's suggestions (nothing stored) {seconds:.1f} s after "
            f"({source(r)}, {len(r.json())} rows); warm-up {total:.1f} s from the start; "
            f"{load()}"
        )
    warmed(client, server.base, workers=1, since=server.started)


def promote(url: str, n_needs: int) -> None:
    """The coordinator decides the stored top 10 of ``n_needs`` needs (complete profiles
    confirmed, the rest rejected, as ``tests/service/test_training.py`` decides), then
    trains: a re-ranking model is promoted. In this process, the server stopped."""
    from service import reviews, training
    from service.index import MatchingIndex
    from service.models import RejectReason, Suggestion
    from service.schemas import BulkDecisionIn

    engine = make_engine(Settings(database_url=url).sqlalchemy_url)
    try:
        with Session(engine) as session:
            chief = session.exec(select(User).where(User.username == "chief")).one()
            complete = {
                o.id
                for o in session.exec(select(Organization)).all()
                if o.offerings
                and o.wishes
                and o.fields
                and o.legal_form
                and len(o.activities) >= 60
            }
            stored = session.exec(
                select(Suggestion).where(
                    Suggestion.rank.is_not(None),  # type: ignore[union-attr]
                    Suggestion.rank <= 10,  # type: ignore[operator]
                    Suggestion.status == "pending",
                )
            ).all()
            by_need: dict[int, list[tuple[int, int, bool]]] = {}
            for s in stored:
                assert s.id is not None
                by_need.setdefault(s.need_id, []).append(
                    (s.id, s.version, s.organization_id in complete)
                )
            t0 = time.perf_counter()
            decided = 0
            for need_id in sorted(by_need)[:n_needs]:
                for good in (True, False):
                    picked = [(i, v) for i, v, c in by_need[need_id] if c == good]
                    if picked:
                        body = BulkDecisionIn(
                            action="confirm" if good else "reject",
                            reason_code=None if good else RejectReason.lacks_capacity,
                        )
                        reviews.decide_many(session, picked, body, user=chief, base_url="")
                        decided += len(picked)
            t1 = time.perf_counter()
            index = MatchingIndex(engine, index_dir=Settings(database_url=url).saved_index_dir)
            model = training.train(session, index, user=chief)
            t2 = time.perf_counter()
        print(
            f"promote: {decided} decisions on {min(n_needs, len(by_need))} needs in "
            f"{t1 - t0:.1f} s; trained in {t2 - t1:.1f} s (the cold start loaded or fitted "
            f"first): {model.version}, α {model.report.get('alpha')}, β "
            f"{model.report.get('expansion')}; {load()}"
        )
        assert model.promoted, model.report
    finally:
        engine.dispose()


def publish(client: httpx.Client) -> int:
    """A need published through the API (the data then differ from the last fit's)."""
    return int(
        client.post(
            "/api/needs",
            json={
                "key": f"SN{uuid.uuid4().hex[:6]}",
                "department": "高齢福祉課",
                "title": "独居高齢者の見守り",
                "description": "一人暮らしの高齢者が地域で孤立しないよう、"
                "見守りの担い手を探している。",
                "goal": "サロンと訪問による見守り",
                "fields": [1],
            },
        ).json()["id"]
    )


def restart(
    client: httpx.Client,
    server: Server,
    url: str,
    args: argparse.Namespace,
    log_dir: Path,
    needs: list[int],
) -> Server:
    """2. A restart: every need stored but one published just before."""
    new = publish(client)
    server.stop()
    server = Server(url, args.port, 1, log_dir)
    accepted = server.accepted
    s_stored, r_stored = timed_get(client, f"/api/needs/{needs[1]}/suggestions")
    after_stored = time.perf_counter() - accepted
    s_new, r_new = timed_get(client, f"/api/needs/{new}/suggestions")
    after_new = time.perf_counter() - accepted
    total = warmed(client, server.base, workers=1, since=server.started)
    print(
        f"restart: accepting after {accepted - server.started:.1f} s; a stored need's "
        f"suggestions answered {after_stored * 1000:.0f} ms after (the request "
        f"{s_stored * 1000:.0f} ms; {source(r_stored)}, {len(r_stored.json())} rows); the need "
        f"published before the restart {after_new:.1f} s after (the request {s_new:.1f} s; "
        f"{source(r_new)}, {len(r_new.json())} rows); warm-up {total:.1f} s from the start; "
        f"{load()}"
    )
    return server


def unchanged_restart(
    client: httpx.Client,
    server: Server,
    url: str,
    args: argparse.Namespace,
    log_dir: Path,
    needs: list[int],
) -> Server:
    """2b. A restart on unchanged data: the saved fit is loaded, and the lists its refresh
    kept are taken (``service/kept_lists.py``): the warm-up ranks nothing."""
    server.stop()
    server = Server(url, args.port, 1, log_dir)
    accepted = server.accepted
    seconds, r = timed_get(client, f"/api/needs/{needs[2]}/suggestions")
    after = time.perf_counter() - accepted
    total = warmed(client, server.base, workers=1, since=server.started)
    index = client.get("/api/index").json()
    print(
        f"restart on unchanged data: accepting after {accepted - server.started:.1f} s; a "
        f"need's suggestions answered {after * 1000:.0f} ms after (the request "
        f"{seconds * 1000:.0f} ms; {source(r)}); warm-up {total:.1f} s from the start "
        f"(loaded: {index.get('loaded')}; last run: {index['progress']['last_state']} "
        f"{index['progress']['last_total']} in {index['progress']['last_seconds']} s); {load()}"
    )
    return server


def two_workers_start(
    client: httpx.Client, server: Server, url: str, args: argparse.Namespace, log_dir: Path
) -> Server:
    """2c. Two workers started on changed data (a need published since the last fit): one
    fits and ranks every need; the other loads that fit, waits for that refresh
    (``SavedIndexes.refreshing``) and takes its kept lists."""
    publish(client)
    server.stop()
    server = Server(url, args.port, 2, log_dir)
    seen: set[str] = set()
    ranked: set[int] = set()  # each worker's last run, once done

    def note(progress: dict[str, Any]) -> None:
        seen.add(progress["state"])
        if progress["state"] == "idle" and progress["last_state"] == "ranking":
            ranked.add(progress["last_total"])

    total = warmed(client, server.base, workers=2, since=server.started, seen=note)
    print(
        f"two workers, changed data: accepting after {server.accepted - server.started:.1f} "
        f"s; warm-up {total:.1f} s from the start (every worker); states seen "
        f"{sorted(seen)}; needs ranked by the workers' last runs {sorted(ranked)}; {load()}"
    )
    return server


def prepared_start(
    client: httpx.Client, server: Server, url: str, args: argparse.Namespace, log_dir: Path
) -> Server:
    """2d. A need published, the server stopped, ``python -m service prepare`` run, then a
    start: the new need's suggestions come from the index at once, the warm-up ranks
    nothing."""
    new = publish(client)
    server.stop()
    t0 = time.perf_counter()
    made = subprocess.run(
        [sys.executable, "-m", "service", "prepare"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    prepared = time.perf_counter() - t0
    server = Server(url, args.port, 1, log_dir)
    seconds, r = timed_get(client, f"/api/needs/{new}/suggestions")
    after = time.perf_counter() - server.accepted
    total = warmed(client, server.base, workers=1, since=server.started)
    index = client.get("/api/index").json()
    said = made.stdout.strip().splitlines()
    print(
        f"prepared start: prepare {prepared:.1f} s ({said[0] if said else '?'}); accepting "
        f"after {server.accepted - server.started:.1f} s; the need published before it "
        f"answered {after * 1000:.0f} ms after (the request {seconds * 1000:.0f} ms; "
        f"{source(r)}, {len(r.json())} rows); warm-up {total:.1f} s from the start (loaded: "
        f"{index.get('loaded')}; last run: {index['progress']['last_state']} "
        f"{index['progress']['last_total']}); {load()}"
    )
    return server


def warm(client: httpx.Client, needs: list[int]) -> None:
    """3. Once warm: one need's suggestions; a registration → in a need's suggestions."""
    latencies = [timed_get(client, f"/api/needs/{i}/suggestions")[0] * 1000 for i in needs]
    fresh, posts, gets, moved = [], [], [], []
    suggested: list[bool] = []
    for k in range(10):
        need_id = needs[k * 7 % len(needs)]
        top = client.get(f"/api/needs/{need_id}/suggestions").json()[0]
        twin = client.get(f"/api/organizations/{top['organization_id']}").json()
        body = {
            key: twin[key]
            for key in ("fields", "areas", "activities", "offerings", "wishes", "legal_form")
        }
        # the same name as well as text (the name is read): a twin ties with the first group
        body.update(key=f"SCALE{uuid.uuid4().hex[:6]}", name=twin["name"])
        t0 = time.perf_counter()
        created = client.post("/api/organizations", json=body).json()
        t1 = time.perf_counter()
        ranked = client.get(f"/api/needs/{need_id}/suggestions", timeout=600).json()
        t2 = time.perf_counter()
        # the cold start ranks the twin beside its original; a learned model may not (the
        # twin has none of the original's decisions): then the list is new, the twin not in it
        suggested.append(created["id"] in [s["organization_id"] for s in ranked])
        learned = {s["model_version"] for s in ranked} != {"cold-start"}
        assert suggested[-1] or learned, "not suggested"
        fresh.append((t2 - t0) * 1000)
        posts.append((t1 - t0) * 1000)
        gets.append((t2 - t1) * 1000)
        moved.append(client.get("/api/index").json()["progress"]["last_total"])
    print(
        f"warm: GET /api/needs/{{id}}/suggestions ({len(latencies)} needs) p50 "
        f"{percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms; "
        f"registered → suggested (POST + next GET, 10 groups) median "
        f"{statistics.median(fresh):.0f} ms, max {max(fresh):.0f} ms (POST median "
        f"{statistics.median(posts):.0f} ms, GET median {statistics.median(gets):.0f} ms; "
        f"needs ranked again median {statistics.median(moved):.0f}, max {max(moved)}); {load()}"
    )
    print("  each registration → suggested (ms): " + ", ".join(f"{t:.0f}" for t in fresh))
    print("  needs ranked again after each: " + ", ".join(str(m) for m in moved))
    print(f"  the new group in the need's suggestions: {sum(suggested)} of {len(suggested)}")


def load_figures(
    args: argparse.Namespace,
    url: str,
    log_dir: Path,
    client: httpx.Client,
    token: str,
    needs: list[int],
    orgs: list[int],
) -> None:
    """4. Load, per worker count, and each worker's memory."""
    from load_test import run as drive  # (benchmarks/ is on the path as a script)
    from load_test import said

    paths = (
        [f"/api/needs/{i}" for i in needs[:100]]
        + [f"/api/needs/{i}/suggestions" for i in needs[:100]]
        + [f"/api/organizations/{i}" for i in orgs]
        + ["/api/needs?limit=20"] * 20
    )
    print(f"load: {args.users} users, {args.seconds:g} s a phase, the driver on this machine")
    print("| workers | phase | requests | req/s | p50 ms | p95 ms | errors | load |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for workers in args.workers:
        server = Server(url, args.port, workers, log_dir)
        try:
            total = warmed(client, server.base, workers=workers, since=server.started)
            print(f"| {workers} | warm-up (every worker) | | | | | | {total:.0f} s, {load()} |")
            asyncio.run(drive(server.base, token, paths, args.users, 10, paced=False))
            for name, paced in (("paced (1 req/s each)", True), ("closed loop", False)):
                latencies, errors, elapsed = asyncio.run(
                    drive(server.base, token, paths, args.users, args.seconds, paced)
                )
                print(
                    f"| {workers} | {name} | {len(latencies)} | {len(latencies) / elapsed:.0f} "
                    f"| {statistics.median(latencies):.1f} | {percentile(latencies, 0.95):.1f} "
                    f"| {said(errors)} "
                    f"| {load()} |"
                )
            for pid in server.workers():
                rss, pss, peak = memory(pid)
                print(
                    f"| {workers} | memory, worker {pid} | | | | | | RSS {rss:.0f} MiB, "
                    f"PSS {pss:.0f} MiB, peak RSS {peak:.0f} MiB |"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
