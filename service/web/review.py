"""The coordinator's work: the review queue, one suggestion, the pipeline after confirmation."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from .. import interests, reviews, stages
from .. import suggestions as sugg
from ..config import Settings
from ..db import page_of
from ..deadlines import days_waited
from ..deps import IndexDep, SessionDep, SettingsDep, TodayDep
from ..errors import Conflict, Invalid
from ..events.followup import met as met_at_events
from ..index import MatchingIndex
from ..meetings.models import OUTCOME_LABELS
from ..meetings.service import Summary as MeetingSummary
from ..meetings.service import meetings_of
from ..meetings.service import summaries as meeting_summaries
from ..meetings.times import when_text
from ..models import (
    STAGE_LABELS,
    Department,
    RejectReason,
    Role,
    Stage,
    Suggestion,
    SuggestionStatus,
    User,
)
from ..models import int_tags as tags_int
from ..schemas import DecisionIn, PairIn, StageIn, StageUndoIn
from .core import (
    Id,
    PageUser,
    checked_form,
    form_errors,
    pager,
    query_int,
    redirect,
    render,
    require,
    safe_next,
)

router = APIRouter()

NEEDS_PER_PAGE = 5
REASONS = [r.value for r in RejectReason]


def _terms(reasons: dict[str, Any]) -> list[str]:
    return [t["term"] for t in reasons.get("terms", [])] + [
        t["term"] for t in reasons.get("related_terms", [])
    ]


def _departments(session: Any) -> list[str]:
    return list(session.exec(select(Department.name).order_by(Department.name)))


M = TypeVar("M", bound=BaseModel)


def _posted(model: type[M], form: FormData, message: str) -> M:
    """The API's input model from a page's form (empty fields left out, so the model's
    defaults apply); a form it refuses is a 422 with each field's reason in Japanese."""
    values = {
        name: value
        for name in model.model_fields
        if isinstance(value := form.get(name), str) and value != ""
    }
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [{"field": k, "message": v} for k, v in form_errors(exc).items()]
        raise Invalid(message, code="VALIDATION_ERROR", errors=errors) from None


def _next_stages(stage: str | None) -> list[Stage]:
    """The stages a pairing may move on to, forward ones first and 見送り last."""
    allowed = stages.TRANSITIONS.get(stage, set())
    return [s for s in Stage if s in allowed]


def _here(request: Request) -> str:
    """This page's address without its one-time message, for a form to come back to."""
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "msg"])
    return request.url.path + (f"?{query}" if query else "")


@router.get("/queue")
def queue_page(
    request: Request,
    session: SessionDep,
    index: IndexDep,
    settings: SettingsDep,
    today: TodayDep,
    user: PageUser,
) -> Response:
    require(user, Role.coordinator)
    return render_queue(request, session, index, settings, today, user, request.query_params)


def render_queue(
    request: Request,
    session: Session,
    index: MatchingIndex,
    settings: Settings,
    today: date,
    user: User,
    params: Mapping[str, str],
    *,
    picked: Collection[int] = (),
    problem: str | None = None,
    bulk: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The queue page for ``params`` (its filters and page); after a refused bulk decision
    (``problem``) with the suggestions ``picked`` still ticked and the form as it was."""
    department = params.get("department", "")[:100] or None
    field = query_int(params.get("field"), low=1, high=20)
    q = params.get("q", "")[:100].strip() or None
    page = query_int(params.get("page"), low=1, high=100_000) or 1
    total_needs, total, groups, served = sugg.queue_by_need(
        session,
        index,
        user=user,
        top=settings.suggestions_per_need,
        department=department,
        field=field,
        q=q,
        limit=NEEDS_PER_PAGE,
        offset=(page - 1) * NEEDS_PER_PAGE,
        today=today,
    )
    org_ids = sorted({o.id for _, _, items in groups for _, o in items if o.id is not None})
    history = sugg.group_history(session, org_ids, user=user)
    interested = interests.counts(session, [n.id for n, _, _ in groups if n.id is not None])
    met = met_at_events(
        session, [(n.id or 0, o.id or 0) for n, _, items in groups for _, o in items]
    )
    filters = urlencode(
        {k: v for k, v in {"department": department, "field": field, "q": q}.items() if v}
    )
    blocks = []
    for need, dept, items in groups:
        cards = []
        all_terms: set[str] = set()
        for s, org in items:
            terms = _terms(s.reasons)
            all_terms.update(terms)
            cards.append(
                {
                    "s": s,
                    "org": org,
                    "terms": terms,
                    "history": history.get(org.id or 0),
                    "interested": org.id in interested.get(need.id or 0, []),
                    "met": met.get((need.id or 0, org.id or 0)),
                    "waited": days_waited(s.created_at, today),
                }
            )
        blocks.append({"need": need, "dept": dept, "cards": cards, "terms": sorted(all_terms)})
    return render(
        request,
        "queue.html",
        {
            "blocks": blocks,
            "stored": served.version is None,
            "total": total,
            "p": pager(total_needs, page, NEEDS_PER_PAGE),
            "filters": filters,
            "departments": _departments(session),
            "department": department or "",
            "field": field,
            "q": q or "",
            "reasons": REASONS,
            "return_to": _here(request) if problem is None else _queue_address(params),
            "tags_int": tags_int,
            "picked": set(picked),
            "problem": problem,
            "bulk": bulk or {},
            "batch_max": reviews.BATCH_MAX,
        },
        status=status,
    )


def _queue_address(params: Mapping[str, str]) -> str:
    query = urlencode({k: params[k] for k in ("q", "department", "field", "page") if params.get(k)})
    return "/queue" + (f"?{query}" if query else "")


@router.post("/suggestions/{suggestion_id}/decide")
async def decide(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    suggestion_id: Id,
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    data = _posted(DecisionIn, form, "判断の内容を読み取れません。")
    result = reviews.decide(session, suggestion_id, data, user=user, base_url=settings.base_url)
    back = safe_next(str(form.get("return", "")), "/queue")
    anchor = f"need-{result.need_id}" if back.startswith("/queue") else ""
    msg = "confirmed" if data.action == "confirm" else "rejected"
    return redirect(back, anchor=anchor, msg=msg)


@router.get("/suggestions/{suggestion_id}")
def suggestion_page(
    request: Request, session: SessionDep, user: PageUser, suggestion_id: Id
) -> Response:
    require(user, Role.coordinator, Role.department)
    s, need, dept, org = reviews.load(session, suggestion_id, user=user)
    steps = reviews.history(session, suggestion_id, user=user)
    history = sugg.group_history(session, [org.id or 0], user=user, exclude_need=need.id)
    return render(
        request,
        "suggestion.html",
        {
            "s": s,
            "need": need,
            "dept": dept,
            "org": org,
            "terms": _terms(s.reasons),
            "steps": steps,
            "history": history.get(org.id or 0),
            "reasons": REASONS,
            "next_stages": _next_stages(s.stage) if s.status == SuggestionStatus.confirmed else [],
            "stage_labels": STAGE_LABELS,
            "stage_badge": stages.badge(s.stage, stages.stage_path(steps)),
            "tags_int": tags_int,
            "meetings": [(m, when_text(m)) for m in meetings_of(session, suggestion_id)],
            "outcome_labels": OUTCOME_LABELS,
            "met": met_at_events(session, [(need.id or 0, org.id or 0)]).get(
                (need.id or 0, org.id or 0)
            ),
        },
    )


@router.post("/suggestions/{suggestion_id}/stage")
async def stage(
    request: Request, session: SessionDep, user: PageUser, suggestion_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    data = _posted(StageIn, form, "段階の指定を読み取れません。")
    stages.advance(session, suggestion_id, data, user=user)
    return redirect(safe_next(str(form.get("return", "")), "/pairings"), msg="stage")


@router.get("/suggestions/{suggestion_id}/drop")
def drop_page(request: Request, session: SessionDep, user: PageUser, suggestion_id: Id) -> Response:
    """見送り (ending a confirmed pairing) asks first, and for a reason."""
    require(user, Role.coordinator)
    s, need, dept, org = reviews.load(session, suggestion_id, user=user)
    if Stage.dropped not in _next_stages(s.stage) or s.status != SuggestionStatus.confirmed:
        return redirect(f"/suggestions/{suggestion_id}")
    path = stages.effective_stages(session, [suggestion_id])[suggestion_id]
    return render(
        request,
        "stage_drop.html",
        {"s": s, "need": need, "dept": dept, "org": org, "met": Stage.meeting_arranged in path},
    )


@router.post("/suggestions/{suggestion_id}/stage/undo")
async def undo_stage(
    request: Request, session: SessionDep, user: PageUser, suggestion_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    data = _posted(StageUndoIn, form, "取り消す理由を入力してください。")
    stages.undo(session, suggestion_id, data, user=user)
    return redirect(f"/suggestions/{suggestion_id}", msg="stage_undone")


@router.post("/needs/{need_id}/pair")
async def pair(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    index: IndexDep,
    user: PageUser,
    need_id: Id,
) -> Response:
    """A group the ranking did not suggest, confirmed for the need by the coordinator."""
    form = await checked_form(request)
    require(user, Role.coordinator)
    data = _posted(PairIn, form, "組み合わせる団体を選んでください。")
    try:
        s = reviews.pair_by_hand(
            session, index, need_id, data, user=user, base_url=settings.base_url
        )
    except Conflict as exc:
        existing = next((e.get("suggestion_id") for e in exc.errors), None)
        if exc.code == "ALREADY_SUGGESTED" and existing:
            return redirect(f"/suggestions/{existing}", msg="already_suggested")
        raise
    return redirect(f"/suggestions/{s.id}", msg="paired")


PAIRINGS_PER_PAGE = 20


@router.get("/pairings")
def pairings_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    wanted = request.query_params.get("stage", "")
    page = query_int(request.query_params.get("page"), low=1, high=100_000) or 1
    query = sugg.joined().where(Suggestion.status == SuggestionStatus.confirmed)
    if wanted == "confirmed":
        query = query.where(col(Suggestion.stage).is_(None))
    elif wanted in {s.value for s in Stage}:
        query = query.where(Suggestion.stage == wanted)
    total, rows = page_of(
        session,
        query,
        col(Suggestion.updated_at).desc(),
        col(Suggestion.id),
        limit=PAIRINGS_PER_PAGE,
        offset=(page - 1) * PAIRINGS_PER_PAGE,
    )
    ids = [s.id for s, _, _, _ in rows if s.id is not None]
    paths = stages.effective_stages(session, ids)
    meetings = meeting_summaries(session, ids)
    items = [
        {
            "s": s,
            "need": need,
            "dept": dept,
            "org": org,
            "next_stages": _next_stages(s.stage),
            "badge": stages.badge(s.stage, paths.get(s.id or 0, [])),
            "meetings": meetings.get(s.id or 0, MeetingSummary()),
        }
        for s, need, dept, org in rows
    ]
    return render(
        request,
        "pairings.html",
        {
            "items": items,
            "stage": wanted,
            "p": pager(total, page, PAIRINGS_PER_PAGE),
            "stage_labels": STAGE_LABELS,
            "filters": urlencode({"stage": wanted} if wanted else {}),
        },
    )


__all__ = ["router"]
