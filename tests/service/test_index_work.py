"""The index lock is held for the swap, not the work (#14): a refit fits outside it while
requests go on, the work's progress is shown, and a change replaces the ranker instead of
editing the one a request may be ranking with."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from sqlmodel import Session

import matching
from service import heap
from service.index import MatchingIndex
from service.warm_up import warm_up

from .conftest import Server
from .helpers import need_payload, ok, seed
from .test_pages import login


def test_a_refit_fits_outside_the_lock_and_shows_its_progress(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))  # fitted and stored
    index: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    entered, release = threading.Event(), threading.Event()
    fit = matching.TfidfRanker.fit

    def slow_fit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        entered.set()
        assert release.wait(30)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(matching.TfidfRanker, "fit", slow_fit)
    index.saved = None  # a fit (the same data would load the saved one: test_saved_index)
    before = index.ranker

    def refit() -> None:
        with Session(api.engine) as session:  # type: ignore[arg-type]
            index.refit(session)

    worker = threading.Thread(target=refit)
    worker.start()
    try:
        assert entered.wait(30)
        # while it fits: the lock is free, requests are answered, the progress says so
        assert index.lock.acquire(blocking=False)
        index.lock.release()
        info = ok(coord.get("/api/index"))
        assert info["progress"]["state"] == "fitting" and info["needs"] == len(needs)
        assert "索引を作り直しています" in login(api, "coord").get("/models").text
        ranked = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))
        assert ranked and index.ranker is before  # the old ranker serves meanwhile
    finally:
        release.set()
        worker.join(60)
    assert index.ranker is not before  # swapped in
    info = ok(coord.get("/api/index"))
    assert info["progress"]["state"] == "idle" and info["progress"]["last_state"] in (
        "fitting",
        "ranking",
    )
    assert "索引は最新です" in login(api, "coord").get("/models").text


def test_a_change_replaces_the_ranker_and_leaves_the_old_one_whole(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))
    index: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    old = index.ranker
    assert old is not None
    old_needs, old_vectors = list(old.need_ids_), old.need_vectors_
    created = ok(coord.post("/api/needs", json=need_payload(0, key="N77")), 201)
    ranked = ok(coord.get(f"/api/needs/{created['id']}/suggestions"))
    assert ranked
    assert index.ranker is not old and len(index.ranker.need_ids_) == len(old_needs) + 1
    # a request still ranking with the old one sees it as it was
    assert old.need_ids_ == old_needs and old.need_vectors_ is old_vectors
    assert old.rank_orgs([old_needs[0]], top=3)


def test_the_server_warms_the_index_up_in_the_background(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    index = MatchingIndex(api.engine)  # type: ignore[arg-type]
    assert index.ranker is None and index.suggestions_version == ""
    warm_up(api.engine, index, top=10).join(120)  # type: ignore[arg-type]
    assert index.ranker is not None and len(index.ranker.need_ids_) == len(needs)
    assert index.suggestions_version.startswith(index.version)
    assert index.progress.state == "idle" and index.progress.last_state == "ranking"


def test_the_warm_up_loads_the_rankers_loops_first_only_at_scale(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``KERNEL_FROM`` profiles or more the compiled loops are loaded when the
    warm-up starts (before the server accepts connections), not in the first ranking; a
    city's few profiles leave them unloaded."""
    from matching import _kernels
    from service import warm_up as warm_up_module

    coord = api.client("coord")
    _, orgs = seed(coord)
    _kernels._compiled_kernels.cache_clear()
    loaded = _kernels._compiled_kernels.cache_info
    index = MatchingIndex(api.engine)  # type: ignore[arg-type]
    warm_up(api.engine, index, top=10).join(120)  # type: ignore[arg-type]
    assert loaded().currsize == 0  # below the threshold: never loaded, ranked all the same
    assert index.ranker is not None and len(index.ranker.org_ids_) == len(orgs)
    monkeypatch.setattr(warm_up_module, "KERNEL_FROM", len(orgs))  # as if this were large
    index = MatchingIndex(api.engine)  # type: ignore[arg-type]
    thread = warm_up(api.engine, index, top=10)
    assert loaded().currsize == 1  # already when warm_up returned, before any ranking
    thread.join(120)


def test_a_large_index_is_frozen_out_of_full_collections_and_let_go_after_a_refit(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large fit is left out of the collector's full passes before the model is built
    over it (the first full pass after a 50k load fell inside the build), what the build
    made once it is built; a refit lets the frozen fit go."""
    monkeypatch.setattr(heap, "FREEZE_FROM", 1)  # as if the toy index were large
    coord = api.client("coord")
    seed(coord)
    gc.unfreeze()
    passes: list[int] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *args: passes.append(1) or collect(*args))
    at_build: list[bool] = []
    over_fit = MatchingIndex._learned_over_fit

    def building(self, session, ranker, key):  # type: ignore[no-untyped-def]
        at_build.append(any(o is ranker.orgs_ for o in gc.get_objects()))
        return over_fit(self, session, ranker, key)

    monkeypatch.setattr(MatchingIndex, "_learned_over_fit", building)
    ok(coord.get("/api/review-queue"))  # fitted, every need stored: frozen first
    assert gc.get_freeze_count() > 0
    assert at_build == [False]  # the fit's objects were frozen before the build
    assert passes == []  # the first freeze makes no full pass (nothing to let go)
    index: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    fitted = weakref.ref(index.ranker)  # type: ignore[arg-type]
    ok(coord.post("/api/index/refit"))
    ok(coord.get("/api/review-queue"))  # the new fit's refresh: the old one let go
    assert passes  # unfrozen and collected before the new fit is frozen
    assert index.ranker is not fitted() and fitted() is None
    gc.unfreeze()
