"""Service latency on the bundled corpus, through a real server over HTTP.

    python benchmarks/service_latency.py [--database-url URL] [--rounds 3] [--profiles N]

Prints: the first request that fits the index and stores every need's suggestions;
p50/p95 of ``GET /api/needs/{id}/suggestions`` over every need; and the time from
registering a profile (POST) to seeing it in a need's suggestions (the next GET), with
the POST and GET separately; and p50/p95 of the coordinator's main pages (the queue
draws 50 suggestions). Uses a throw-away SQLite file unless a URL is given. With
``--profiles N``, the data are N profiles and N / 5 needs recombined from the corpus as
``benchmarks/scale.py`` makes them (the first request then fits and stores every need's
suggestions at that size; a registration refreshes the needs it can move).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from sqlmodel import Session

from corpus import load_corpus
from service import loader, search_fill
from service.config import Settings
from service.db import make_engine
from service.main import create_app
from service.migrate import upgrade
from service.models import Role
from service.schemas import UserCreate
from service.users import create_user

PAGES = ("/queue", "/needs", "/needs/{id}", "/orgs", "/dashboard", "/pairings")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profiles", type=int, help="recombined data of this size")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    # no warm-up thread: the first request fits and stores every need's suggestions, as
    # timed below (with one, requests meanwhile are answered from the store)
    settings = Settings(database_url=url, warm_up=False)
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    if args.profiles:
        from scale import recombined  # (benchmarks/ is on the path when run as a script)

        needs, orgs = recombined(args.profiles)
    else:
        needs, orgs, _ = load_corpus()
    with Session(engine) as session:
        loader.import_organizations(session, orgs, user=None)
        loader.import_needs(session, needs, user=None)
        search_fill.fill(session)  # a big file's search text, before anything is timed
        create_user(
            session,
            UserCreate(username="bench", password="latency-check-2026", role=Role.coordinator),
            by=None,
        )
    engine.dispose()

    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=8765, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = "http://127.0.0.1:8765"
    token = httpx.post(
        f"{base}/api/auth/token", data={"username": "bench", "password": "latency-check-2026"}
    ).json()["access_token"]
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    t0 = time.perf_counter()
    client.get("/api/review-queue", timeout=1800).raise_for_status()  # fits, stores every need
    first = time.perf_counter() - t0
    ids = [n["id"] for n in client.get("/api/needs", params={"limit": 100}).json()["items"]]
    ids += [
        n["id"]
        for n in client.get("/api/needs", params={"limit": 100, "offset": 100}).json()["items"]
    ]
    latencies = []
    for _ in range(args.rounds):
        for need_id in ids:
            t0 = time.perf_counter()
            client.get(f"/api/needs/{need_id}/suggestions").raise_for_status()
            latencies.append((time.perf_counter() - t0) * 1000)

    fresh, posts, gets = [], [], []
    for k in range(10):
        need_id = ids[k * 7 % len(ids)]
        top = client.get(f"/api/needs/{need_id}/suggestions").json()[0]
        twin = client.get(f"/api/organizations/{top['organization_id']}").json()
        body = {
            "key": f"BENCH{k}",
            "name": twin["name"],  # the name is read too: the same one
            "fields": twin["fields"],
            "areas": twin["areas"],
            "activities": twin["activities"],
            "offerings": twin["offerings"],
            "wishes": twin["wishes"],  # the same name and text: a twin ties with the first group
            "legal_form": twin["legal_form"],
        }
        t0 = time.perf_counter()
        created = client.post("/api/organizations", json=body).json()
        t1 = time.perf_counter()
        ranked = client.get(f"/api/needs/{need_id}/suggestions").json()
        t2 = time.perf_counter()
        assert created["id"] in [s["organization_id"] for s in ranked], "new profile not suggested"
        fresh.append((t2 - t0) * 1000)
        posts.append((t1 - t0) * 1000)
        gets.append((t2 - t1) * 1000)

    # the pages, as a browser asks for them (session cookie from the login form)
    pages = httpx.Client(base_url=base, timeout=60)
    form = pages.get("/login").text
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    pages.post(
        "/login", data={"username": "bench", "password": "latency-check-2026", "csrf_token": csrf}
    )
    page_times: dict[str, list[float]] = {}
    for path in PAGES:
        for _ in range(args.rounds * 5):
            t0 = time.perf_counter()
            pages.get(path.format(id=ids[0])).raise_for_status()
            page_times.setdefault(path, []).append((time.perf_counter() - t0) * 1000)
    pages.close()

    kind = settings.sqlalchemy_url.split("://")[0]
    print(f"database: {kind}; {len(needs)} needs, {len(orgs)} profiles")
    print(f"first ranking request (fit + store all suggestions): {first * 1000:8.1f} ms")
    print(
        f"GET /api/needs/{{id}}/suggestions, {len(latencies)} requests: "
        f"p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms"
    )
    print(
        f"register → suggested (POST + next GET), 10 profiles: "
        f"median {statistics.median(fresh):.1f} ms, max {max(fresh):.1f} ms "
        f"(POST median {statistics.median(posts):.1f} ms, "
        f"GET median {statistics.median(gets):.1f} ms)"
    )
    for path, times in page_times.items():
        print(
            f"page {path:<16} {len(times):3d} requests: "
            f"p50 {percentile(times, 0.5):6.1f} ms, p95 {percentile(times, 0.95):6.1f} ms"
        )
    client.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
