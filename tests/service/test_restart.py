"""A restarted server answers a need's suggestions while it warms up (#14): from the store,
saying so, before its index is fitted; a need with nothing stored, ranked on demand with
the snapshot the warm-up's refresh ranks with; and the refresh, stored a chunk at a
time around it, leaves the rows a full refresh would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

import matching
from service import refresh
from service.index import MatchingIndex, item_key
from service.main import create_app
from service.models import Suggestion

from ..serving import TLS, serve
from .conftest import TOKENS, Server
from .helpers import need_payload, ok
from .test_pages import login
from .test_refresh_scope import _full_refresh, _same, _stored
from .test_refresh_scope import corpus_c as corpus_c  # the fixture: corpus c, every need stored


@contextmanager
def restarted(api: Server) -> Iterator[tuple[Server, httpx.Client]]:
    """Another server over the same database, as after a restart: a new process's
    empty index, warmed up in the background as ``serve`` starts it."""
    app = create_app(api.settings.model_copy(update={"warm_up": True}))
    with serve(app) as url:
        srv = Server(url, app, app.state.engine, api.settings)
        client = httpx.Client(
            verify=TLS,
            base_url=url,
            headers={"Authorization": f"Bearer {TOKENS['coord']}"},
            timeout=60,
        )
        try:
            yield srv, client
        finally:
            client.close()
            srv.close_clients()


def _warmed(index: MatchingIndex) -> None:
    deadline = time.monotonic() + 120
    while index.warming:
        assert time.monotonic() < deadline, "the warm-up did not end"
        time.sleep(0.05)


def _held(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *, after: int = 0):  # type: ignore[no-untyped-def]
    """Hold ``target.name`` in the warm-up thread from its ``after``-th call until released."""
    entered, release = threading.Event(), threading.Event()
    original = getattr(target, name)
    calls = [0]

    def held(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "kyodo-warm-up":
            calls[0] += 1
            if calls[0] > after:
                entered.set()
                assert release.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, held)
    return entered, release


def test_a_restarted_server_answers_from_the_store_before_its_index_is_fitted(
    corpus_c: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = corpus_c
    coord = api.client("coord")
    need_id = ok(coord.get("/api/needs", params={"limit": 1}))["items"][0]["id"]
    before = coord.get(f"/api/needs/{need_id}/suggestions")
    old_version = api.app.state.index.version  # type: ignore[attr-defined]
    assert before.headers["X-Suggestions-Source"] == "index"
    assert before.headers["X-Index-Version"] == old_version and before.json()
    ok(coord.post("/api/needs", json=need_payload(0, key="NEW1")), 201)  # a change since
    # and the saved fit has no note (saved by an earlier version): the start fits, where
    # it would otherwise resume the saved fit (``test_saved_index``)
    folder = api.settings.saved_index_dir
    assert folder is not None
    for note in folder.glob("ranker-*.json"):
        note.unlink()

    entered, release = _held(monkeypatch, matching.TfidfRanker, "fit")
    with restarted(api) as (srv, client):
        index: MatchingIndex = srv.app.state.index  # type: ignore[attr-defined]
        try:
            assert entered.wait(30) and index.ranker is None  # fitting
            # the stored list at once, said to be the stored one, each row with its version
            r = client.get(f"/api/needs/{need_id}/suggestions")
            assert r.status_code == 200 and r.json() == before.json()
            assert r.headers["X-Suggestions-Source"] == "stored"
            assert "X-Index-Version" not in r.headers
            assert {s["index_version"] for s in r.json()} == {old_version}
            queue = client.get("/api/review-queue")
            assert queue.status_code == 200 and queue.json()["total"] > 0
            assert queue.headers["X-Suggestions-Source"] == "stored"
            info = ok(client.get("/api/index"))  # the progress, not a wait for the fit
            assert info["progress"]["state"] == "fitting" and info["version"] == "fit0+0"
            page = login(srv, "coord").get(f"/needs/{need_id}").text
            assert "索引を準備しています" in page and before.json()[0]["organization_name"] in page
            assert "索引を準備しています" in login(srv, "coord").get("/queue").text
        finally:
            release.set()
        _warmed(index)
        after = client.get(f"/api/needs/{need_id}/suggestions")
        assert after.headers["X-Suggestions-Source"] == "index"
        assert after.headers["X-Index-Version"] == index.version != old_version
        assert index.version.startswith("fit") and after.json()
        assert "索引を準備しています" not in login(srv, "coord").get(f"/needs/{need_id}").text


def test_a_need_with_nothing_stored_is_ranked_on_demand_during_the_warm_up(
    corpus_c: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = corpus_c
    coord = api.client("coord")
    created = ok(coord.post("/api/needs", json=need_payload(0, key="NEW1")), 201)
    listed = [n["id"] for n in ok(coord.get("/api/needs", params={"limit": 100}))["items"]]
    monkeypatch.setattr(refresh, "CHUNK", 3)
    # the warm-up stores its first chunk, then is held before its second
    entered, release = _held(monkeypatch, refresh, "_store_once", after=1)
    with restarted(api) as (srv, client):
        index: MatchingIndex = srv.app.state.index  # type: ignore[attr-defined]
        try:
            assert entered.wait(60)
            run = index.running
            assert run is not None and run.full
            first, later = sorted(run.done), sorted(run.todo)
            assert len(first) == 3 and item_key(created["id"]) in later
            # the new need: ranked now, with the refresh's snapshot, and stored
            r = client.get(f"/api/needs/{created['id']}/suggestions")
            assert r.status_code == 200, r.text
            assert r.headers["X-Suggestions-Source"] == "index"
            assert r.headers["X-Index-Version"] == run.snap.version
            ranked = r.json()
            assert ranked and [s["rank"] for s in ranked] == list(range(1, len(ranked) + 1))
            assert {s["index_version"] for s in ranked} == {run.snap.version}
            # a need of the chunk already stored: ranked by this index; of a later one: stored
            done = client.get(f"/api/needs/{int(first[0])}/suggestions")
            assert done.headers["X-Index-Version"] == run.snap.version
            assert int(later[0]) in listed
            waiting = client.get(f"/api/needs/{int(later[0])}/suggestions")
            assert waiting.headers["X-Suggestions-Source"] == "stored"
        finally:
            release.set()
        _warmed(index)
        assert index.suggestions_version.startswith(index.version)
        assert index.progress.last_total == len(index.ranker.need_ids_)  # type: ignore[union-attr]
        with Session(api.engine) as session:  # type: ignore[arg-type]
            rows = session.exec(select(Suggestion).where(Suggestion.need_id == created["id"]))
            stored = {(s.organization_id, s.rank, s.index_version) for s in rows.all()}
        # stored once, by the request (the refresh left the need out), as it was answered
        assert stored == {(s["organization_id"], s["rank"], s["index_version"]) for s in ranked}
        warmed = _stored(srv)
        monkeypatch.setattr(refresh, "CHUNK", 200)
        _full_refresh(srv, index)  # every need at once, over the same index
        full = _stored(srv)
        # a block of another shape may give float32 scores another last digit
        assert _same(full, warmed, tolerance=2e-5)
