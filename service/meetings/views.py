"""Pages: a pairing's meetings (``/suggestions/{id}/meetings``: the list, the form to set
one, the .ics links), a meeting's edit form (``/meetings/{id}/edit``) and its calendar
file (``/meetings/{id}.ics``). The three parties see them; the coordinator and the
department write (the department proposes dates)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from ..api.routes.meetings import ics_response
from ..deps import SessionDep, SettingsDep
from ..errors import Invalid
from ..models import Role, User
from ..web.core import Id, PageUser, checked_form, form_errors, redirect, render
from . import lifecycle, notices, service
from .models import OUTCOME_LABELS, PARTY_LABELS, STATUS_LABELS, Meeting, MeetingStatus
from .schemas import MeetingIn, MeetingUpdate
from .times import form_values, when_text

router = APIRouter(include_in_schema=False)
TEXT_FIELDS = (
    "date",
    "start",
    "end",
    "place",
    "online_url",
    "participants",
    "notes",
    "outcome_reason",
    "next_step",
)


def _values(form: FormData, *, user: User) -> dict[str, Any]:
    """The form as the API's input: text fields, the parties ticked, the outcome (the
    coordinator's form only; empty: none yet)."""
    values: dict[str, Any] = {
        k: v for k in TEXT_FIELDS if isinstance(v := form.get(k), str) and k in form
    }
    values["parties"] = [str(v) for v in form.getlist("parties")]
    if user.role == Role.coordinator and "outcome" in form:
        values["outcome"] = str(form.get("outcome") or "") or None
    else:
        values.pop("outcome_reason", None)
    return values


def _validated(model: type[MeetingIn] | type[MeetingUpdate], values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [{"field": k, "message": v} for k, v in form_errors(exc).items()]
        raise Invalid(
            "入力内容を確かめてください。", code="VALIDATION_ERROR", errors=errors
        ) from None


def _context(m: Meeting) -> dict[str, Any]:
    return {
        "m": m,
        "when": when_text(m),
        "parties": service.party_labels(m),
        "may_edit": False,
    }


def _list_page(
    request: Request,
    session: SessionDep,
    user: User,
    suggestion_id: int,
    *,
    values: dict[str, Any] | None = None,
    error: Invalid | None = None,
) -> Response:
    p, rows = service.list_meetings(session, suggestion_id, user=user)
    items = []
    for m in rows:
        item = _context(m)
        item["may_edit"] = m.status != MeetingStatus.cancelled and (
            user.role == Role.coordinator
            or (user.role == Role.department and m.status == MeetingStatus.proposed)
        )
        items.append(item)
    return render(
        request,
        "meetings/list.html",
        {
            "p": p,
            "items": items,
            "may_write": user.role in (Role.coordinator, Role.department),
            "values": values or {"parties": ["department", "group", "coordinator"]},
            "error": error.message if error else "",
            "errors": {e.get("field", ""): e["message"] for e in (error.errors if error else [])},
            **_labels(),
        },
        status=422 if error else 200,
    )


def _labels() -> dict[str, Any]:
    return {
        "outcome_labels": OUTCOME_LABELS,
        "party_labels": PARTY_LABELS,
        "meeting_status": STATUS_LABELS,
    }


@router.get("/suggestions/{suggestion_id}/meetings")
def meetings_page(
    request: Request, session: SessionDep, user: PageUser, suggestion_id: Id
) -> Response:
    return _list_page(request, session, user, suggestion_id)


@router.post("/suggestions/{suggestion_id}/meetings")
async def add_meeting(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    suggestion_id: Id,
) -> Response:
    form = await checked_form(request)
    service.pairing(session, suggestion_id, user=user)  # 404 for anyone not a party
    service.check_editor(user)  # 403 for the group
    values = _values(form, user=user)
    try:
        data = _validated(MeetingIn, values)
        service.create(session, suggestion_id, data, user=user, base_url=settings.base_url)
    except Invalid as exc:
        session.rollback()
        return _list_page(request, session, user, suggestion_id, values=values, error=exc)
    return redirect(f"/suggestions/{suggestion_id}/meetings", msg="meeting_saved")


def _edit_page(
    request: Request,
    session: SessionDep,
    user: User,
    meeting_id: int,
    *,
    values: dict[str, Any] | None = None,
    error: Invalid | None = None,
    cancel_reason: str | None = None,
) -> Response:
    """The edit form, and below it the form that calls the meeting off (``cancel_reason``:
    what was typed there when it was refused, ``error`` then shown beside it)."""
    m, p = service.get_meeting(session, meeting_id, user=user)
    service.check_editor(user, m)
    shown = {
        **m.model_dump(),
        **form_values(m),
        "parties": service.party_values(m),
        "outcome": m.outcome or "",
    }
    return render(
        request,
        "meetings/edit.html",
        {
            "p": p,
            **_context(m),
            "values": values or shown,
            "error": error.message if error and cancel_reason is None else "",
            "cancel_error": error.message if error and cancel_reason is not None else "",
            "cancel_reason": cancel_reason or "",
            "errors": {e.get("field", ""): e["message"] for e in (error.errors if error else [])},
            **_labels(),
        },
        status=422 if error else 200,
    )


@router.get("/meetings/{meeting_id}/edit")
def edit_page(request: Request, session: SessionDep, user: PageUser, meeting_id: Id) -> Response:
    return _edit_page(request, session, user, meeting_id)


@router.post("/meetings/{meeting_id}/edit")
async def edit_meeting(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    meeting_id: Id,
) -> Response:
    form = await checked_form(request)
    service.check_editor(user, service.get_meeting(session, meeting_id, user=user)[0])
    values = _values(form, user=user)
    values["version"] = str(form.get("version", ""))
    try:
        data = _validated(MeetingUpdate, values)
        saved = service.update(session, meeting_id, data, user=user, base_url=settings.base_url)
    except Invalid as exc:
        session.rollback()
        return _edit_page(request, session, user, meeting_id, values=values, error=exc)
    return redirect(f"/suggestions/{saved.suggestion_id}/meetings", msg="meeting_saved")


@router.post("/meetings/{meeting_id}/cancel")
async def cancel_meeting(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    meeting_id: Id,
) -> Response:
    form = await checked_form(request)
    m, _ = service.get_meeting(session, meeting_id, user=user)  # 404 for anyone not a party
    service.check_editor(user, m)  # 403 for the group, 409 once cancelled
    version = str(form.get("version", ""))
    reason = str(form.get("reason", ""))
    try:
        saved = lifecycle.cancel(
            session,
            meeting_id,
            reason=reason,
            version=int(version) if version.isdecimal() and len(version) < 10 else 0,
            user=user,
            base_url=settings.base_url,
        )
    except Invalid as exc:
        session.rollback()
        return _edit_page(request, session, user, meeting_id, cancel_reason=reason, error=exc)
    return redirect(f"/suggestions/{saved.suggestion_id}/meetings", msg="meeting_cancelled")


@router.get("/meetings/{meeting_id}.ics")
def meeting_ics(
    session: SessionDep, settings: SettingsDep, user: PageUser, meeting_id: Id
) -> Response:
    m, p = service.get_meeting(session, meeting_id, user=user)
    return ics_response(notices.calendar_file(m, p, base_url=settings.base_url), meeting_id)
