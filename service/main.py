"""``create_app(settings)``: the FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from sqlmodel import Session

from . import public, training_run, web
from .api.routes import (
    admin,
    auth,
    exports,
    imports,
    meetings,
    needs,
    organizations,
    reports,
    suggestions,
)
from .config import Settings
from .db import make_engine
from .docs import install_docs
from .errors import install_handlers
from .events import api as event_api
from .events import followup_views as event_followup_views
from .events import programme as event_programme
from .events import views as event_views
from .index import MatchingIndex
from .limits import BodyLimit
from .mail import views as mail_views
from .mail.delivery import start_worker
from .meetings import views as meeting_views
from .openapi import install_openapi
from .privacy import views as privacy_views
from .proposals import views as proposal_views
from .refresh import ensure_fresh
from .registrations import views as registration_views
from .search_fill import SearchFill
from .warm_up import warm_up


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.sqlalchemy_url)

    def refresh() -> None:
        with Session(engine) as session:
            ensure_fresh(session, app.state.index, top=settings.suggestions_per_need)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.warm_up:  # fit and rank in the background, not in the first request
            warm_up(engine, app.state.index, top=settings.suggestions_per_need)
        # the search text a stopped process left without its lemma line (``search_fill``)
        app.state.search_fill.start()
        # the outbox sent from a thread of the server (KYODO_DELIVER_MAIL), if asked; each
        # run first stores fresh suggestions (a just-published need's mail is queued there)
        app.state.mail_worker = start_worker(engine, settings=settings, before=refresh)
        yield
        if app.state.mail_worker is not None:
            app.state.mail_worker.stop(timeout=10)
        app.state.search_fill.stop(timeout=10)  # the rest is filled at the next start
        training_run.interrupt_own(engine)  # a retraining under way ends with the process
        engine.dispose()

    app = FastAPI(
        title="協働マッチング API",
        description=(
            "市の協働の種（課題）と NPO・市民活動団体を結び、コーディネーターの判断を記録する。"
        ),
        version="0.1.0",
        lifespan=lifespan,
        # /docs is served from a package (``docs``), never a CDN; no ReDoc (see there)
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    # the index is fitted lazily on the first request that ranks (never at import time)
    # a fit is saved to ``KYODO_INDEX_DIR`` (or its default) and memory-mapped from there
    app.state.index = MatchingIndex(
        engine, mail_base_url=settings.base_url, index_dir=settings.saved_index_dir
    )
    # a big import's search text gets its lemma line in the background (``search_fill``)
    app.state.search_fill = SearchFill(engine)
    install_handlers(app)
    api = APIRouter(prefix="/api")
    for module in (
        auth,
        needs,
        organizations,
        suggestions,
        meetings,
        admin,
        imports,
        exports,
        reports,
    ):
        api.include_router(module.router)
    api.include_router(event_api.router)  # /api/events: the 分野別発表会 planner

    @api.get("/health", tags=["meta"], summary="死活確認")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api)
    app.include_router(proposal_views.api_router)  # a department's proposal, in the API
    install_openapi(app)  # every operation's error answers, and the files it sends

    install_docs(app)  # before the pages' /static mount
    web.install(app)  # the pages people use: /, /login, /queue, /needs, …
    app.include_router(public.router)  # /public: published needs and open data, no login
    # 「この課題に取り組みたい」 (/public/needs/{id}/register) and the coordinator's queue
    app.include_router(registration_views.router)
    app.include_router(mail_views.router)  # /mail (the outbox), /account/mail
    # 事前打ち合わせ: /suggestions/{id}/meetings, /meetings/{id}/edit, /meetings/{id}.ics
    app.include_router(meeting_views.router)
    app.include_router(event_views.router)  # /events: the 分野別発表会 planner
    app.include_router(event_followup_views.router)  # its invitations and the day's record
    app.include_router(event_programme.router)  # its printable programme (A4)
    app.include_router(proposal_views.router)  # /needs/{id}/propose: a department's proposal
    app.include_router(privacy_views.router)  # /audit: the audit log, and its CSV
    # outermost: a body is bounded before any other layer reads it
    app.add_middleware(BodyLimit)
    return app
