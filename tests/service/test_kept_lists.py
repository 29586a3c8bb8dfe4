"""The lists a refresh of every need stored, kept beside the saved fit (#14,
``service.kept_lists``): a restart on the same data takes them instead of ranking every
need again, and so does a second worker started with the first (it waits for the first's
refresh); rows changed by other means make every need ranked again."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from corpus import load_corpus
from service import loader, refresh
from service.index import MatchingIndex
from service.refresh import ensure_fresh

from .conftest import Server
from .helpers import ok, restarted_index
from .test_pages import login


def _rows(api: Server) -> list[tuple[Any, ...]]:
    """Every stored suggestion as a refresh writes it."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return sorted(
            session.exec(
                text(
                    "SELECT need_id, organization_id, rank, score, status, index_version, "
                    "model_version, updated_at FROM suggestion"
                )
            ).all()
        )


def _import_part_c(api: Server) -> list[int]:
    """Part c of the corpus (71 needs, 133 groups) imported; the needs' ids."""
    needs, orgs, _ = load_corpus(("c",))
    with Session(api.engine) as session:  # type: ignore[arg-type]
        loader.import_organizations(session, orgs, user=None)
        loader.import_needs(session, needs, user=None)
        return sorted(i for (i,) in session.exec(text("SELECT id FROM need")).all())  # type: ignore[call-overload]


def test_a_restart_on_the_same_data_takes_the_kept_lists_instead_of_ranking_again(
    api: Server, fits: list[int], ranked: list[int], tmp_path: Path
) -> None:
    coord = api.client("coord")
    first = restarted_index(api, tmp_path)
    need_ids = _import_part_c(api)
    ok(coord.get(f"/api/needs/{need_ids[0]}/suggestions"))
    assert sum(ranked) == len(need_ids)  # the first refresh ranks every need
    assert len(list(tmp_path.glob("lists-*.joblib"))) == 1  # and keeps its lists
    # a decision after it: a refresh never rewrites a decided row, so the lists hold
    queue = ok(coord.get("/api/review-queue"))["items"]
    ok(
        coord.post(
            f"/api/suggestions/{queue[0]['id']}/decision",
            json={"action": "confirm", "version": queue[0]["version"]},
        )
    )
    rows = _rows(api)

    second = restarted_index(api, tmp_path)
    ranked.clear()
    ok(coord.get(f"/api/needs/{need_ids[0]}/suggestions"))
    assert second.loaded and len(fits) == 1
    assert ranked == []  # no need ranked: the kept lists were taken, nothing written
    progress = ok(coord.get("/api/index"))["progress"]
    assert (progress["last_state"], progress["last_total"]) == ("ranking", 0)
    assert _rows(api) == rows
    assert first.refreshed is not None and second.refreshed is not None
    assert second.refreshed.lists == first.refreshed.lists
    # they are what ranking every need with the loaded fit gives
    top = api.settings.suggestions_per_need
    assert second.ranker is not None
    every = second.ranker.rank_orgs(top=top)
    assert second.refreshed.lists == {n: [(o, s) for o, s in r if s > 0] for n, r in every}

    # an edit then ranks only the needs it can move, from the kept lists
    edited = need_ids[5]
    ok(coord.patch(f"/api/needs/{edited}", json={"goal": "見守り訪問の担い手を増やしたい。"}))
    ranked.clear()
    ok(coord.get(f"/api/needs/{need_ids[0]}/suggestions"))
    assert 0 < sum(ranked) < len(need_ids)
    assert edited in {r[0] for r in set(_rows(api)) - set(rows)}


def test_kept_lists_are_not_taken_when_the_stored_rows_changed_by_other_means(
    api: Server, ranked: list[int], tmp_path: Path
) -> None:
    coord = api.client("coord")
    restarted_index(api, tmp_path)
    need_ids = _import_part_c(api)
    ok(coord.get(f"/api/needs/{need_ids[0]}/suggestions"))
    rows = _rows(api)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        session.exec(text("DELETE FROM suggestion WHERE rank = 1"))  # type: ignore[call-overload]
        session.commit()
    assert len(_rows(api)) == len(rows) - len(need_ids)
    index = restarted_index(api, tmp_path)
    ranked.clear()
    ok(coord.get(f"/api/needs/{need_ids[0]}/suggestions"))
    assert index.loaded and sum(ranked) == len(need_ids)  # every need ranked again
    assert [r[:5] for r in _rows(api)] == [r[:5] for r in rows]  # the rows stored again


def test_a_second_worker_waits_for_the_first_refresh_and_takes_its_lists(
    api: Server, fits: list[int], ranked: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers started together over one folder of saved fits: one fits and ranks
    every need; the other loads that fit, waits for that refresh (answering from the
    store meanwhile), then takes its lists: every need is ranked once, not twice."""
    coord = api.client("coord")
    need_ids = _import_part_c(api)
    top = api.settings.suggestions_per_need
    first = MatchingIndex(api.engine, index_dir=tmp_path)  # type: ignore[arg-type]
    second = restarted_index(api, tmp_path)  # the server's: requests go to it
    paused, go = threading.Event(), threading.Event()
    store = refresh.store

    def held(*args: Any, **kwargs: Any) -> Any:  # the first worker stops after its chunk
        out = store(*args, **kwargs)
        if threading.current_thread().name == "first":
            paused.set()
            assert go.wait(60)
        return out

    monkeypatch.setattr(refresh, "store", held)

    def fresh(index: MatchingIndex) -> None:
        with Session(api.engine) as session:  # type: ignore[arg-type]
            ensure_fresh(session, index, top=top)

    workers = [
        threading.Thread(target=fresh, args=(i,), name=n)
        for i, n in ((first, "first"), (second, "second"))
    ]
    try:
        workers[0].start()
        assert paused.wait(60)  # every need's rows stored, the lists not kept yet
        workers[1].start()
        deadline = time.monotonic() + 60
        while second.progress.state != "waiting" and time.monotonic() < deadline:
            if not workers[1].is_alive():
                break  # done without waiting: the assertions below say so
            time.sleep(0.05)
        assert workers[1].is_alive()  # waiting for the first
        assert second.loaded and len(fits) == 1
        assert ok(coord.get("/api/index"))["progress"]["state"] == "waiting"
        assert (
            "別のワーカーが提案を計算し終えるのを待っています"
            in login(api, "coord").get("/models").text
        )
        answer = coord.get(f"/api/needs/{need_ids[0]}/suggestions")  # not kept waiting
        assert answer.status_code == 200 and answer.headers["X-Suggestions-Source"] == "stored"
        assert ok(answer)
        rows = _rows(api)
    finally:
        go.set()
    for worker in workers:
        worker.join(60)
        assert not worker.is_alive()
    assert sum(ranked) == len(need_ids)  # the first worker's ranking only
    assert first.refreshed is not None and second.refreshed is not None
    assert second.refreshed.lists == first.refreshed.lists
    assert second.suggestions_version is not None
    assert _rows(api) == rows  # the second wrote nothing
    progress = ok(coord.get("/api/index"))["progress"]
    assert (progress["state"], progress["last_state"], progress["last_total"]) == (
        "idle",
        "ranking",
        0,
    )
    # from then on it serves as its own: an edit ranks only the needs it can move
    ok(coord.patch(f"/api/needs/{need_ids[5]}", json={"goal": "見守り訪問の担い手を増やしたい。"}))
    ranked.clear()
    ok(coord.get(f"/api/needs/{need_ids[0]}/suggestions"))
    assert 0 < sum(ranked) < len(need_ids)
