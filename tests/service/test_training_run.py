"""Retraining in the background (``service.training_run``): the request answers at once,
the run's progress is on the API and /models, one run at a time across processes, a run
left by a stopped process does not block the next, a failure is recorded with its code."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

import matching
from service import training_run
from service.models import TrainingRun, utcnow

from .conftest import Server
from .helpers import ok, post_form, seed, train
from .test_cli import run as cli
from .test_pages import login


def _decide_one(coord: httpx.Client, need_id: int) -> None:
    s = ok(coord.get(f"/api/needs/{need_id}/suggestions"))[0]
    body = {"action": "confirm", "version": s["version"]}
    ok(coord.post(f"/api/suggestions/{s['id']}/decision", json=body))


def _until_ended(coord: httpx.Client, run_id: int) -> dict:  # type: ignore[type-arg]
    for _ in range(12_000):
        run = ok(coord.get(f"/api/model/training/{run_id}"))
        if run["state"] != "running":
            return run  # type: ignore[no-any-return]
        threading.Event().wait(0.05)
    raise AssertionError("the training run did not end")


def test_the_request_answers_while_the_run_waits_and_its_progress_is_shown(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    _decide_one(coord, needs["N1"])
    assert ok(coord.get("/api/model/training"), 404)["code"] == "NOT_FOUND"
    assert coord.get("/api/model/training/18871476026591313920").status_code == 422  # no 500
    index = api.app.state.index  # type: ignore[attr-defined]
    answers: list[httpx.Response] = []
    # the index is held: a run that learned inside the request could not answer
    with index.lock:
        asking = threading.Thread(target=lambda: answers.append(coord.post("/api/model/train")))
        asking.start()
        asking.join(timeout=30)
        assert not asking.is_alive() and answers, "the request waited for the training"
        started = ok(answers[0], 202)
        assert answers[0].headers["location"] == f"/api/model/training/{started['id']}"
        assert (started["state"], started["stage"], started["model"]) == (
            "running",
            "preparing",
            None,
        )
        assert ok(coord.get("/api/model/training"))["id"] == started["id"]
        # one run at a time: the API says so with a code, the page with a message
        second = coord.post("/api/model/train")
        assert second.status_code == 409 and second.json()["code"] == "TRAINING_RUNNING"
        page = login(api, "coord")
        models = page.get("/models")
        assert "再学習を実行中です: 判断と索引を準備しています" in models.text
        assert '<meta http-equiv="refresh" content="5; url=/models">' in models.text
        assert "disabled>判断から再学習する" in models.text
        r = post_form(page, "/models", "/models/train", {})
        assert r.headers["location"] == "/models?msg=training_running"
        assert "再学習はすでに実行中です" in page.get(r.headers["location"]).text
    ended = _until_ended(coord, started["id"])
    assert (ended["state"], ended["code"]) == ("done", "")
    assert ended["finished_at"] is not None and ended["seconds"] >= 0
    model = ended["model"]
    assert (model["version"], model["decisions"], model["promoted"]) == ("cold-start-1", 1, False)
    assert [m["version"] for m in ok(coord.get("/api/models"))] == ["cold-start-1"]
    models = login(api, "coord").get("/models").text
    assert "秒で終わりました。結果は下の表の最新の行です" in models
    assert "http-equiv" not in models and "disabled>" not in models
    # the slot is free again: the next run starts and ends
    assert train(coord)["version"] == "cold-start-2"


def test_a_run_under_way_when_the_server_stops_is_marked_interrupted(api: Server) -> None:
    """At shutdown (the app's lifespan) this process's run is marked interrupted at once:
    its thread dies with the process, and the next start need not wait for the heartbeat."""
    coord = api.client("coord")
    needs, _ = seed(coord)
    _decide_one(coord, needs["N1"])
    index = api.app.state.index  # type: ignore[attr-defined]
    with index.lock:  # the run waits for the index: still under way at the "shutdown"
        started = ok(coord.post("/api/model/train"), 202)
        training_run.interrupt_own(api.engine)  # type: ignore[arg-type]
        shown = ok(coord.get("/api/model/training"))
        assert (shown["id"], shown["state"], shown["code"]) == (
            started["id"],
            "interrupted",
            "SHUTDOWN",
        )
        # the slot is free: a start after the restart is not refused
        with Session(api.engine) as session:  # type: ignore[arg-type]
            row = session.get(TrainingRun, started["id"])
            assert row is not None and row.slot is None
    # (here the process goes on: its run ends and says so)
    assert training_run.join(timeout=600)
    assert ok(coord.get("/api/model/training"))["state"] == "done"


def test_a_run_of_another_process_blocks_until_its_heartbeat_stops(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    _decide_one(coord, needs["N1"])
    with Session(api.engine) as session:  # type: ignore[arg-type]
        other = TrainingRun(stage="learning")  # another worker's run, beating
        session.add(other)
        session.commit()
        session.refresh(other)
    shown = ok(coord.get("/api/model/training"))
    assert (shown["id"], shown["state"], shown["stage"]) == (other.id, "running", "learning")
    refused = coord.post("/api/model/train")
    assert refused.status_code == 409 and refused.json()["code"] == "TRAINING_RUNNING"
    assert "判断から学び、伏せた判断で確かめています" in login(api, "coord").get("/models").text
    # that worker stopped: no heartbeat for longer than STALE
    with Session(api.engine) as session:  # type: ignore[arg-type]
        row = session.get(TrainingRun, other.id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(minutes=5)
        session.add(row)
        session.commit()
    assert ok(coord.get("/api/model/training"))["state"] == "interrupted"
    models = login(api, "coord").get("/models").text
    assert "途中で止まりました（サーバーの再起動など）" in models and "disabled>" not in models
    assert train(coord)["version"] == "cold-start-1"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        rows = {r.id: r for r in session.exec(select(TrainingRun)).all()}
    left = rows[other.id]
    assert (left.state, left.slot, left.error_code) == ("interrupted", None, "NO_HEARTBEAT")
    assert [r.state for r in rows.values() if r.id != other.id] == ["done"]


def test_a_failed_run_is_recorded_with_its_code_and_frees_the_slot(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    _decide_one(coord, needs["N1"])

    def broken(self, base, decisions=(), *, stages=None):  # type: ignore[no-untyped-def]
        raise MemoryError("out of memory while learning")

    with monkeypatch.context() as patch:
        patch.setattr(matching.LearnedRanker, "fit_on", broken)
        started = ok(coord.post("/api/model/train"), 202)
        ended = _until_ended(coord, started["id"])
    assert (ended["state"], ended["code"], ended["model"]) == ("failed", "TRAINING_FAILED", None)
    assert ok(coord.get("/api/models")) == []  # no model recorded
    models = login(api, "coord").get("/models").text
    assert "失敗しました。もう一度実行してください" in models and "（TRAINING_FAILED）" in models
    assert train(coord)["version"] == "cold-start-1"


def test_the_command_line_trains_through_a_run_and_waits_for_none(api: Server) -> None:
    """``python -m service train`` (another process) records a run like the server's and
    refuses, with the code, while a run goes on."""
    coord = api.client("coord")
    needs, _ = seed(coord)
    _decide_one(coord, needs["N1"])
    url = api.settings.database_url
    done = cli(url, "train")
    assert done.returncode == 0, done.stderr
    assert "モデル cold-start-1: 判断 1件、不採用（cold-start を継続）" in done.stdout
    assert ok(coord.get("/api/model/training"))["model"]["version"] == "cold-start-1"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        session.add(TrainingRun())
        session.commit()
    busy = cli(url, "train")
    assert busy.returncode == 1 and "[TRAINING_RUNNING]" in busy.stderr
    assert [m["version"] for m in ok(coord.get("/api/models"))] == ["cold-start-1"]
