"""/models: the coordinator retrains the ranking from the decisions (in the background,
``service.training_run``), follows the run, and reads each model's validation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import col, select

import matching

from .. import training, training_run
from ..deps import IndexDep, SessionDep
from ..models import RankingModel, Role, TrainingRun, as_utc
from ..report import JST
from .core import PageUser, checked_form, redirect, render, require
from .model_report import describe_model, model_label, stage_lines

router = APIRouter()

PROGRESS_LABELS = {
    "fitting": "索引を作り直しています",
    "ranking": "提案を計算し直しています",
    "waiting": "別のワーカーが提案を計算し終えるのを待っています",
}
RUN_STAGES = {
    "preparing": "判断と索引を準備しています",
    "learning": "判断から学び、伏せた判断で確かめています",
    "comparing": "今使っているモデルと比べています",
}
RUN_ENDS = {
    "done": "終わりました。結果は下の表の最新の行です",
    "failed": "失敗しました。もう一度実行してください。続くときはシステム担当者に連絡してください",
    "interrupted": "途中で止まりました（サーバーの再起動など）。もう一度実行してください",
}
REFRESH_SECONDS = 5  # the page reloads itself this often while a run goes on


def progress_line(progress: dict[str, object]) -> str:
    """The index's work, as the coordinator reads it on /models."""
    state = str(progress["state"])
    if state in PROGRESS_LABELS:
        done, total = progress["done"], progress["total"]
        counted = f"（{done} / {total} 件）" if state == "ranking" and total else ""
        return f"{PROGRESS_LABELS[state]}{counted}。{progress['seconds']} 秒経過。"
    last = str(progress["last_state"])
    if last in PROGRESS_LABELS:
        seconds, total = progress["last_seconds"], progress.get("last_total")
        counted = f"（{total} 件）" if last == "ranking" and total else ""
        return f"索引は最新です（前回の処理: {PROGRESS_LABELS[last]}{counted}、{seconds} 秒）。"
    return "索引は最新です。"


def run_line(run: TrainingRun | None) -> str:
    """The latest retraining run, in Japanese: where it stands, or how it ended."""
    if run is None:
        return ""
    state, seconds = training_run.state_of(run), round(training_run.seconds(run))
    if state == "running":
        return f"再学習を実行中です: {RUN_STAGES.get(run.stage, run.stage)}（{seconds} 秒経過）。"
    started = as_utc(run.started_at)
    assert started is not None
    when = started.astimezone(JST).strftime("%Y年%m月%d日 %H:%M")
    code = f"（{run.error_code}）" if state == "failed" and run.error_code else ""
    return f"{when} に始めた再学習は{seconds} 秒で{RUN_ENDS[state]}{code}。"


@router.get("/models")
def models_page(request: Request, session: SessionDep, index: IndexDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    rows = session.exec(select(RankingModel).order_by(col(RankingModel.id).desc()).limit(50)).all()
    current = training.current_model(session)
    decisions = training.stored_decisions(session)
    run = training_run.latest(session)
    running = run is not None and training_run.state_of(run) == "running"
    return render(
        request,
        "models.html",
        {
            "models": [(row, describe_model(row.report)) for row in rows],
            "current": model_label(current.version if current else "cold-start"),
            "decisions": len(decisions),
            "stages": stage_lines(
                matching.LearnedRanker().requirements(),
                {
                    "needs": len({d.need_id for d in decisions if d.decision == "confirm"}),
                    "confirmations": sum(d.decision == "confirm" for d in decisions),
                    "decisions": len(decisions),
                },
            ),
            "progress": progress_line(index.progress.as_dict()),
            "run": run_line(run),
            "running": running,
            "refresh_seconds": REFRESH_SECONDS if running else None,
        },
    )


@router.post("/models/train")
async def retrain(
    request: Request, session: SessionDep, index: IndexDep, user: PageUser
) -> Response:
    await checked_form(request)
    require(user, Role.coordinator)
    try:
        training_run.start(session.get_bind(), index, user=user)  # type: ignore[arg-type]
    except training_run.TrainingRunning:
        return redirect("/models", msg="training_running")
    return redirect("/models", msg="training_started")
