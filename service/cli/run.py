"""The commands that run or refresh the service: refit, prepare, train, serve, mail, remind,
digest."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlmodel import Session

from matching._console import Progress, ProgressOpt

from ..config import Settings
from ..db import make_engine
from ..migrate import upgrade
from ..models import Role

DEMO_USERS = [
    ("coordinator", "kyodo-demo-2026", Role.coordinator, None),
    ("bousai", "kyodo-demo-2026", Role.department, "防災危機管理室"),
    ("kourei", "kyodo-demo-2026", Role.department, "高齢福祉課"),
    ("npo", "kyodo-demo-2026", Role.npo, "P001"),  # staff of the corpus group P001
]


def refit() -> None:
    """索引を全データで作り直すよう依頼 / refit the matching index on all stored data."""
    from ..audit import audit

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as session:
        audit(session, None, "refit", "index")
        session.commit()
    engine.dispose()
    typer.echo("索引の作り直しを依頼しました: 各サーバープロセスが次のリクエストで作り直します")


def prepare(progress: ProgressOpt = None) -> None:
    """起動前に索引と全課題の提案を用意 / fit and rank every need ahead of serving.

    大量の取り込みの後に実行すると、次のサーバー起動（全ワーカー）は保存済みの索引と提案一覧を
    読み込むだけです / after a bulk load, the next start (every worker) loads the saved fit
    and kept lists instead of fitting and ranking every need. ``load`` does it by itself
    when nothing is saved yet."""
    settings = Settings()
    upgrade(settings.sqlalchemy_url)
    prepare_index(settings, Progress(progress))


def prepare_index(settings: Settings, say: Progress) -> None:
    """``prepare``'s work on a migrated database: fit (or load) the index, store every
    need's suggestions, keep the fit and the lists; say what was done on stdout."""
    import time

    from ..index import MatchingIndex
    from ..refresh import ensure_fresh

    engine = make_engine(settings.sqlalchemy_url)
    started = time.perf_counter()
    try:
        index = MatchingIndex(
            engine,
            mail_base_url=settings.base_url,
            index_dir=settings.saved_index_dir,
            resume=False,
        )
        with Session(engine) as session:
            say("索引を準備中（保存済みがあれば読み込み、なければ作成）")
            ensure_fresh(session, index, top=settings.suggestions_per_need)
        ranker, done = index.ranker, index.progress
        if ranker is None:
            typer.echo("課題か団体がまだないため、索引は作りませんでした。")
            return
        how = "読み込みました" if index.loaded else "作成しました"
        needs, orgs = len(ranker.need_ids_), len(ranker.org_ids_)
        typer.echo(
            f"索引を{how}: 課題 {needs} 件、団体 {orgs} 件。"
            f"提案を計算した課題 {done.last_total} 件（{time.perf_counter() - started:.1f} 秒）"
        )
        if index.saved is None:
            typer.echo(
                "索引の保存先が無効（KYODO_INDEX_DIR=off）のため、サーバーは起動時に索引を作り直します。"
            )
        else:
            typer.echo(f"保存先: {index.saved.folder}")
    finally:
        engine.dispose()


def train(progress: ProgressOpt = None) -> None:
    """蓄積した判断から順位づけのモデルを学習 / retrain the ranking model from decisions.

    検証に合格したときだけ採用 / promoted only if it validates."""
    from .. import training, training_run
    from ..index import MatchingIndex
    from ..models import RankingModel

    say = Progress(progress)
    settings = Settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        say("索引を準備し、判断から学習中")
        index = MatchingIndex(engine, index_dir=settings.saved_index_dir)
        # one run at a time, with the server's runs too (``training_run``)
        try:
            run = training_run.run_now(engine, index)
        except training_run.TrainingRunning as exc:
            typer.echo(f"{exc.message} [{exc.code}]", err=True)
            raise typer.Exit(1) from None
        with Session(engine) as session:
            row = session.get(RankingModel, run.model_id) if run.model_id else None
            if row is None:
                typer.echo(f"再学習に失敗しました（{run.error_code}）。", err=True)
                raise typer.Exit(1)
            serving = training.current_model(session)
            kept = serving.version if serving else "cold-start"
            verdict = "採用" if row.promoted else f"不採用（{kept} を継続）"
            typer.echo(f"モデル {row.version}: 判断 {row.decisions}件、{verdict}")
            typer.echo(json.dumps(row.report, ensure_ascii=False))
        say("完了")
    finally:
        engine.dispose()


def serve(
    host: Annotated[str, typer.Option(help="待ち受けるアドレス / address to listen on")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="ポート番号 / port")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            help="空ならコーパスとデモ用の利用者を入れる / load the corpus and demo users if empty"
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            help="X-Forwarded-For を信頼する TLS プロキシのアドレス / addresses of a TLS proxy "
            "whose X-Forwarded-For is trusted (login limits count the client's address)"
        ),
    ] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="サーバーのプロセス数（PostgreSQL） / server processes (PostgreSQL); each "
            "holds its own index, kept in step through the audit log",
        ),
    ] = 1,
    deliver_mail: Annotated[
        bool | None,
        typer.Option(
            "--deliver-mail/--no-deliver-mail",
            help="送信待ちのメールをサーバーの中でも送る（KYODO_DELIVER_MAIL） / send the "
            "outbox from inside the server too (needs KYODO_SMTP_HOST)",
        ),
    ] = None,
) -> None:
    """データベースを更新してから Web 画面と API を起動 / migrate, then serve the pages and API."""
    import os

    import uvicorn

    from ..demo import prepare_demo
    from ..logs import log_config
    from ..main import create_app

    settings = Settings()
    if demo:
        if settings.environment == "production":
            raise typer.BadParameter(
                "本番（KYODO_ENVIRONMENT=production）ではデモを使えません。", param_hint="--demo"
            )
        settings = settings.model_copy(update={"demo_mode": True})
    if deliver_mail is not None:
        settings = settings.model_copy(update={"deliver_mail": deliver_mail})
    if settings.deliver_mail and not settings.smtp_host:
        typer.echo("KYODO_SMTP_HOST が未設定です（デモモード）: メールは送らず /mail に残します。")
    if workers > 1 and settings.sqlalchemy_url.startswith("sqlite"):
        raise typer.BadParameter(
            "複数のプロセスで動かすには PostgreSQL（DATABASE_URL）を指定してください。",
            param_hint="--workers",
        )
    upgrade(settings.sqlalchemy_url)
    if settings.demo_mode:
        prepare_demo(settings, DEMO_USERS)
    typer.echo(f"協働マッチング: http://{host}:{port}/ （API の説明: http://{host}:{port}/docs）")
    options = {
        "host": host,
        "port": port,
        "log_level": "info",
        "proxy_headers": True,
        "forwarded_allow_ips": forwarded_allow_ips,
        "log_config": log_config(),  # no invitation or reset secret in the access log
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    # each worker process builds the app from the environment (the same settings)
    os.environ["KYODO_DEMO_MODE"] = "true" if settings.demo_mode else "false"
    os.environ["KYODO_DELIVER_MAIL"] = "true" if settings.deliver_mail else "false"
    uvicorn.run("service.main:create_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def mail(
    once: Annotated[
        bool, typer.Option(help="送るべきものを1回送って終了 / send what is due once, then stop")
    ] = False,
    interval: Annotated[
        int,
        typer.Option(min=1, max=3600, help="送信の間隔（秒） / seconds between runs"),
    ] = 30,
) -> None:
    """送信待ちのメールを SMTP で送る（失敗は間隔をあけて再送） / send the e-mail outbox.

    KYODO_SMTP_* の設定で送信 / through SMTP (KYODO_SMTP_*), failures retried with backoff."""
    import time

    from ..mail.delivery import deliver_due

    settings = Settings()
    if not settings.smtp_host:
        typer.echo("KYODO_SMTP_HOST が未設定です（デモモード）: 送らず /mail に残します。")
        return
    engine = make_engine(settings.sqlalchemy_url)
    try:
        while True:
            done = deliver_due(engine, settings=settings)
            if done.sent or done.failed:
                typer.echo(f"メール: 送信 {len(done.sent)}件・失敗 {len(done.failed)}件")
            if once:
                return
            time.sleep(interval)
    finally:
        engine.dispose()


def remind() -> None:
    """募集期限の7日前のお知らせをメール送信待ちに入れる / queue deadline reminders.

    1日1回（cron など）で実行し、2回目以降は何も重ねない / run once a day (e.g. from cron);
    a second run queues nothing twice. The mail worker sends them."""
    from ..deadlines import queue_reminders, today_jst

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            n = queue_reminders(session, today=today_jst(), base_url=settings.base_url)
        typer.echo(f"期限のお知らせ: {n}件を送信待ちに入れました")
    finally:
        engine.dispose()


def digest() -> None:
    """コーディネーターへ週のまとめをメール送信待ちに入れる / queue the weekly digest.

    週1回（cron など）で実行し、同じ週（ISO 週、日本時間）の2回目以降は何も重ねない / run
    once a week (e.g. from cron); a second run in the same ISO week (Japan time) queues
    nothing. The mail worker sends it."""
    from ..mail.digest import queue_digest

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            n = queue_digest(session, base_url=settings.base_url)
        typer.echo(f"週のまとめ: {n}件を送信待ちに入れました")
    finally:
        engine.dispose()
