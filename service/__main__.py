"""``python -m service`` (or ``kyodo``): serve, migrate, load, create-user, refit, mail,
remind."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session, select

import matching

from . import imports
from .config import Settings
from .db import make_engine
from .errors import DomainError
from .migrate import upgrade
from .models import Organization, Role
from .schemas import UserCreate
from .users import create_user

app = typer.Typer(add_completion=False, no_args_is_help=True, help="協働マッチング service")
# the file limits the API keeps; ``load --max-bytes / --max-rows`` may raise them
_LIMITS = matching.Limits()

DEMO_USERS = [
    ("coordinator", "kyodo-demo-2026", Role.coordinator, None),
    ("bousai", "kyodo-demo-2026", Role.department, "防災危機管理室"),
    ("kourei", "kyodo-demo-2026", Role.department, "高齢福祉課"),
    ("npo", "kyodo-demo-2026", Role.npo, "P001"),  # staff of the corpus group P001
]


def _settings() -> Settings:
    return Settings()


@app.command()
def migrate() -> None:
    """Apply the schema migrations (creates the SQLite file on first run)."""
    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    typer.echo(f"migrated: {settings.sqlalchemy_url.split('@')[-1]}")


@app.command()
def load(
    needs: Annotated[Path | None, typer.Option(help="needs file (CSV/XLSX)")] = None,
    npos: Annotated[Path | None, typer.Option(help="profiles file (CSV/XLSX)")] = None,
    corpus: Annotated[bool, typer.Option(help="load the bundled corpus")] = False,
    dry_run: Annotated[bool, typer.Option(help="only show what would change")] = False,
    accept_valid: Annotated[
        bool, typer.Option(help="import the valid rows of a file that has rejected ones")
    ] = False,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="largest file accepted, in bytes (the API's limit)")
    ] = _LIMITS.file_bytes,
    max_rows: Annotated[
        int, typer.Option(min=1, help="most data rows per file (the API's limit)")
    ] = _LIMITS.rows,
) -> None:
    """Import needs and profiles (DATA_FORMAT.md); a file with a bad row changes nothing."""
    if needs is None and npos is None and not corpus:
        raise typer.BadParameter("--needs, --npos or --corpus")
    limits = dataclasses.replace(_LIMITS, file_bytes=max_bytes, rows=max_rows)
    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    failed = False
    try:
        with Session(engine) as session:
            if corpus:
                from corpus import PARTS, part_paths

                files = [
                    (k, p)
                    for part in PARTS
                    for k, p in zip(("npos", "needs"), part_paths(part)[1::-1], strict=True)
                ]
            else:
                files = [(k, p) for k, p in (("npos", npos), ("needs", needs)) if p is not None]
            for kind, path in files:
                failed |= _load_file(
                    session,
                    kind,
                    path,
                    dry_run=dry_run,
                    accept_valid=accept_valid,
                    limits=limits,
                )
    finally:
        engine.dispose()
    if failed:
        raise typer.Exit(2)


def _load_file(
    session: Session,
    kind: str,
    path: Path,
    *,
    dry_run: bool,
    accept_valid: bool,
    limits: matching.Limits,
) -> bool:
    """Import (or preview) one file; print its counts and problems. True if it was refused."""
    label = "団体" if kind == "npos" else "課題"
    try:
        data = path.read_bytes()
    except OSError as exc:
        typer.echo(
            f"エラー: {path}: ファイルを読めません（{exc.strerror}） [FILE_UNREADABLE]", err=True
        )
        return True
    try:
        report = imports.run_import(
            session,
            "organizations" if kind == "npos" else "needs",
            data,
            str(path),
            user=None,
            apply=not dry_run,
            accept_valid=accept_valid,
            limits=limits,
        )
    except DomainError as exc:
        for problem in exc.errors:
            typer.echo(f"エラー: {matching.Problem(**problem)}", err=True)
        typer.echo(f"{label}: {exc.message} [{exc.code}]", err=True)
        return True
    for problem in report.rejected:
        typer.echo(f"エラー: {matching.Problem(**problem)}", err=True)
    for warning in report.warnings:
        typer.echo(f"注意: {matching.Problem(**warning)}", err=True)
    prefix = "（確認のみ）" if dry_run else ""
    typer.echo(
        f"{label}{prefix}: 新規 {len(report.created)}・更新 {len(report.updated)}"
        f"・変更なし {len(report.unchanged)}・不備 {len(report.rejected)}"
    )
    return bool(report.rejected) and not accept_valid


@app.command("create-user")
def create_user_command(
    username: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    department: Annotated[str | None, typer.Option(help="担当課 (department users)")] = None,
    organization: Annotated[str | None, typer.Option(help="団体ID (npo users)")] = None,
    display_name: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a user (the first coordinator comes from here)."""
    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            org_id = None
            if organization:
                org_id = session.exec(
                    select(Organization.id).where(Organization.key == organization)
                ).first()
            data = UserCreate(
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                department=department,
                organization_id=org_id,
            )
            user = create_user(session, data, by=None)
            typer.echo(f"created user {user.username} ({user.role})")
    except DomainError as exc:
        typer.echo(f"エラー: {exc.message} [{exc.code}]", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


@app.command()
def refit() -> None:
    """Refit the matching index on all stored needs and profiles (new vocabulary)."""
    from .audit import audit

    settings = _settings()
    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as session:
        audit(session, None, "refit", "index")
        session.commit()
    engine.dispose()
    typer.echo("refit requested: every server process refits at its next request")


@app.command()
def train() -> None:
    """Retrain the ranking model from the stored decisions (promoted only if it validates)."""
    from . import training
    from .index import MatchingIndex

    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            row = training.train(session, MatchingIndex(engine), user=None)
            serving = training.current_model(session)
            kept = serving.version if serving else "cold-start"
            verdict = "採用" if row.promoted else f"不採用（{kept} を継続）"
            typer.echo(f"model {row.version}: decisions {row.decisions}, {verdict}")
            typer.echo(json.dumps(row.report, ensure_ascii=False))
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    demo: Annotated[bool, typer.Option(help="load the corpus and demo users if empty")] = False,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            help="addresses of a TLS proxy whose X-Forwarded-For is trusted "
            "(login limits count the client's address)"
        ),
    ] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="server processes (PostgreSQL); each holds its own index, kept in step "
            "through the audit log",
        ),
    ] = 1,
) -> None:
    """Migrate, then serve the API (and, with --demo, the bundled corpus)."""
    import os

    import uvicorn

    from .demo import prepare_demo
    from .logs import log_config
    from .main import create_app

    settings = _settings()
    if demo:
        if settings.environment == "production":
            raise typer.BadParameter(
                "本番（KYODO_ENVIRONMENT=production）ではデモを使えません。", param_hint="--demo"
            )
        settings = settings.model_copy(update={"demo_mode": True})
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
    uvicorn.run("service.main:create_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]


@app.command()
def mail(
    once: Annotated[bool, typer.Option(help="send what is due once, then stop")] = False,
    interval: Annotated[int, typer.Option(min=1, max=3600, help="seconds between runs")] = 30,
) -> None:
    """Send the e-mail outbox through SMTP (KYODO_SMTP_*), failures retried with backoff."""
    import time

    from .mail.delivery import deliver_due

    settings = _settings()
    if not settings.smtp_host:
        typer.echo("KYODO_SMTP_HOST が未設定です（デモモード）: 送らず /mail に残します。")
        return
    engine = make_engine(settings.sqlalchemy_url)
    try:
        while True:
            done = deliver_due(engine, settings=settings)
            if done.sent or done.failed:
                typer.echo(f"mail: sent {len(done.sent)}, failed {len(done.failed)}")
            if once:
                return
            time.sleep(interval)
    finally:
        engine.dispose()


@app.command()
def remind() -> None:
    """Queue 「募集期限が近づいています」 for needs whose 募集期限 is 7 days away (run once
    a day, e.g. from cron; running it again queues nothing twice). The worker sends them."""
    from .deadlines import queue_reminders, today_jst

    settings = _settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            n = queue_reminders(session, today=today_jst(), base_url=settings.base_url)
        typer.echo(f"remind: queued {n}")
    finally:
        engine.dispose()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
