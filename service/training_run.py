"""Retraining as a background job: ``POST /api/model/train`` and the /models page start a
run and answer at once; the run learns in a thread of the process that took the request
(229 s at 50,000 profiles, far beyond a request's time) and records its model as the
synchronous ``training.train`` does. Its row (``TrainingRun``) tells every worker where
it stands: ``running`` at a stage (``preparing``, ``learning``, ``comparing``), then
``done`` with its model, ``failed`` with an error code, or ``interrupted``.

One run at a time across every worker process: a run holds ``slot`` = 1 until it ends, and
the column is unique, so a second start fails with ``TRAINING_RUNNING`` (409). A running
row's ``heartbeat_at`` moves every ``BEAT`` seconds; one left behind by a process that
died (no beat for ``STALE``) is shown as interrupted, and marked so by the next start; a
server that stops marks its own at once (``interrupt_own``, at the lifespan's end).
The command line (``python -m service train``) goes through the same row, in its own
process and without a thread (``run_now``).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from . import training
from .errors import Conflict, DomainError
from .index import MatchingIndex
from .models import TrainingRun, User, as_utc, utcnow

log = logging.getLogger(__name__)

BEAT = 10.0  # seconds between a running row's heartbeats
STALE = timedelta(seconds=60)  # no heartbeat for this long: the run's process is gone
_threads: dict[threading.Thread, int] = {}  # this process's runs under way: their ids


class TrainingRunning(Conflict):
    default_code = "TRAINING_RUNNING"

    def __init__(self) -> None:
        super().__init__(
            "再学習を実行中です。終わってから（/models で進み具合を確かめてから）実行してください。"
        )


def start(engine: Engine, index: MatchingIndex, *, user: User | None) -> TrainingRun:
    """Record a run and start it in a background thread; the row as it starts."""
    training.may_train(user)
    run = _open(engine, user)
    assert run.id is not None
    thread = threading.Thread(
        target=_work,
        args=(engine, index, run.id, user.id if user else None),
        name="kyodo-training",
        daemon=True,
    )
    _threads[thread] = run.id
    thread.start()
    return run


def join(timeout: float | None = None) -> bool:
    """Wait for this process's runs under way; ``True`` when none is left."""
    for thread in list(_threads):
        thread.join(timeout)
    return not any(t.is_alive() for t in _threads)


def run_now(engine: Engine, index: MatchingIndex, *, user: User | None = None) -> TrainingRun:
    """Record a run and do it here (the command line); the row as it ended."""
    training.may_train(user)
    run = _open(engine, user)
    assert run.id is not None
    _work(engine, index, run.id, user.id if user else None)
    with Session(engine) as session:
        ended = session.get(TrainingRun, run.id)
        assert ended is not None
        return ended


def interrupt_own(engine: Engine) -> None:
    """At the server's shutdown: this process's runs under way end with it (their threads
    die with the process), so they are marked interrupted now, not 60 s later."""
    for thread, run_id in list(_threads.items()):
        if thread.is_alive():
            log.warning("training run %s: the server stops; interrupted", run_id)
            _finish(engine, run_id, "interrupted", code="SHUTDOWN")


def latest(session: Session) -> TrainingRun | None:
    return session.exec(select(TrainingRun).order_by(col(TrainingRun.id).desc())).first()


def state_of(run: TrainingRun) -> str:
    """The run's state as people should read it: a running row without a recent heartbeat
    is ``interrupted`` (its process stopped), even before the next start marks it."""
    if run.state == "running" and _stale(run):
        return "interrupted"
    return run.state


def seconds(run: TrainingRun) -> float:
    """How long the run took, or has taken so far."""
    started = as_utc(run.started_at)
    assert started is not None
    return ((as_utc(run.finished_at) or utcnow()) - started).total_seconds()


def _stale(run: TrainingRun) -> bool:
    beat = as_utc(run.heartbeat_at)
    return beat is not None and utcnow() - beat > STALE


def _open(engine: Engine, user: User | None) -> TrainingRun:
    with Session(engine) as session:
        for left in session.exec(select(TrainingRun).where(col(TrainingRun.slot) == 1)).all():
            if _stale(left):
                log.warning(
                    "training run %s: no heartbeat since %s; interrupted",
                    left.id,
                    left.heartbeat_at,
                )
                _end(left, "interrupted", code="NO_HEARTBEAT")
                session.add(left)
        session.commit()
        run = TrainingRun(created_by=user.id if user else None)
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise TrainingRunning() from None
        session.refresh(run)
        return run


def _work(engine: Engine, index: MatchingIndex, run_id: int, user_id: int | None) -> None:
    stop = threading.Event()
    beat = threading.Thread(
        target=_beat, args=(engine, run_id, stop), name="kyodo-training-beat", daemon=True
    )
    beat.start()
    try:
        with Session(engine) as session:
            user = session.get(User, user_id) if user_id is not None else None
            row = training.train(
                session, index, user=user, on_stage=lambda stage: _update(engine, run_id, stage)
            )
            log.info("training run %s: model %s, promoted %s", run_id, row.version, row.promoted)
            _finish(engine, run_id, "done", model_id=row.id)
    except DomainError as error:
        log.warning("training run %s failed: %s", run_id, error.code)
        _finish(engine, run_id, "failed", code=error.code)
    except Exception:
        log.exception("training run %s failed", run_id)
        _finish(engine, run_id, "failed", code="TRAINING_FAILED")
    finally:
        stop.set()
        beat.join()
        _threads.pop(threading.current_thread(), None)


def _beat(engine: Engine, run_id: int, stop: threading.Event) -> None:
    while not stop.wait(BEAT):
        try:
            _update(engine, run_id, None)
        except Exception:  # the database away for a moment: the next beat tries again
            log.exception("training run %s: heartbeat not written", run_id)


def _update(engine: Engine, run_id: int, stage: str | None) -> None:
    with Session(engine) as session:
        run = session.get(TrainingRun, run_id)
        if run is None or run.state != "running":
            return
        if stage is not None:
            run.stage = stage
        run.heartbeat_at = utcnow()
        session.add(run)
        session.commit()


def _finish(
    engine: Engine, run_id: int, state: str, *, model_id: int | None = None, code: str = ""
) -> None:
    with Session(engine) as session:
        run = session.get(TrainingRun, run_id)
        if run is None:  # the tables were emptied meanwhile
            return
        _end(run, state, code=code)
        run.model_id = model_id
        session.add(run)
        session.commit()


def _end(run: TrainingRun, state: str, *, code: str = "") -> None:
    run.state, run.slot, run.error_code = state, None, code
    run.finished_at = run.heartbeat_at = utcnow()
