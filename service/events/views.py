"""Pages of the 分野別発表会 planner (coordinator only), under ``/events``.

- ``GET /events``: the events; ``GET|POST /events/new``: a new event (the proposal is
  made when it is created);
- ``GET /events/{id}``: the event, its needs and invited groups with why each suits;
  search boxes (``need_q``, ``org_q``) to add a need or a group;
- ``POST /events/{id}/edit|propose``, ``POST /events/{id}/needs|groups`` (add),
  ``POST /events/{id}/needs/{need_id}/remove``, ``…/groups/{org_id}/remove``;
- ``GET /events/{id}/invitations.csv|.xlsx``: the invitation list;
- the invitations by mail and the record of the day: ``followup_views``.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import FormData

from ..deps import IndexDep, SessionDep, SettingsDep, TodayDep
from ..errors import Invalid, NotFound
from ..exports import table_file
from ..models import Role, int_tags
from ..privacy import service as privacy
from ..web.core import (
    Id,
    PageUser,
    checked_form,
    new_form_key,
    posted_form_key,
    redirect,
    render,
    require,
)
from . import followup, inputs, lists, service

router = APIRouter(include_in_schema=False)

MESSAGES = {
    "created": (
        "発表会を作り、発表する協働の種と招待する団体を提案しました。一覧を確かめて直してください。"
    ),
    "saved": "発表会の内容を保存しました。一覧はそのままです（提案し直すこともできます）。",
    "proposed": "テーマに合わせて、発表する協働の種と招待する団体を提案し直しました。",
    "need_added": "協働の種を発表に加えました。",
    "need_removed": "協働の種を発表から外しました。",
    "group_added": "団体を招待に加えました。",
    "group_removed": "団体を招待から外しました。",
    "unchanged": "すでに一覧にあるため、変更はありません。",
    "recorded": "当日の記録（出席と関心あり）を保存しました。関心ありは担当課に知らせました。",
}


def _count(request: Request, name: str) -> int:
    value = request.query_params.get(name, "")
    return int(value) if value.isdecimal() and len(value) <= 6 else 0


def _message(request: Request) -> str | None:
    msg = request.query_params.get("msg", "")
    if msg == "invited":
        text = (
            f"招待のメールを{_count(request, 'groups')}団体あて"
            f"（{_count(request, 'mails')}通）、送信待ちに入れました。"
        )
        if missed := _count(request, "missed"):
            text += (
                f"{missed}団体には送れるメールアドレスがありません"
                "（「招待メール未送信」の団体）。招待する団体の一覧で連絡してください。"
            )
        return text
    return MESSAGES.get(msg)


def _values(form: FormData) -> dict[str, Any]:
    return {
        "title": str(form.get("title", "")),
        "held_on": str(form.get("held_on", "")),
        "fields": [str(v) for v in form.getlist("fields")],
        "keywords": str(form.get("keywords", "")),
    }


def _errors(exc: Invalid) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc.errors if "field" in e}


@router.get("/events")
def list_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    rows = service.list_events(session, user=user)
    return render(
        request,
        "events/list.html",
        {"rows": [(e, inputs.theme_label(e), n, g) for e, n, g in rows]},
    )


def _form(
    request: Request, values: dict[str, Any], errors: dict[str, str], **extra: Any
) -> Response:
    selected = {int(v) for v in values.get("fields", []) if str(v).isdecimal()}
    return render(
        request,
        "events/form.html",
        {"values": values, "selected": selected, "errors": errors, **extra},
        status=422 if errors else 200,
    )


@router.get("/events/new")
def new_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    values = {"title": "", "held_on": "", "fields": [], "keywords": "", "form_key": new_form_key()}
    return _form(request, values, {})


@router.post("/events/new")
async def create(
    request: Request,
    session: SessionDep,
    user: PageUser,
    index: IndexDep,
    settings: SettingsDep,
    today: TodayDep,
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    key = posted_form_key(form)
    if (made := service.made_by_form(session, key)) is not None:
        return redirect(f"/events/{made}", msg="created")  # posted twice: one event
    values = _values(form) | {"form_key": key or new_form_key()}
    try:
        data = inputs.clean_input(
            title=values["title"],
            held_on=values["held_on"],
            fields=values["fields"],
            keywords=values["keywords"],
            today=today,
        )
    except Invalid as exc:
        return _form(request, values, _errors(exc), error=exc.message, code=exc.code)
    try:
        event = service.create_event(
            session,
            index,
            data,
            user=user,
            top=settings.suggestions_per_need,
            today=today,
            form_key=values["form_key"],
        )
    except IntegrityError:  # the same form posted at once: the other post made the event
        session.rollback()
        if (made := service.made_by_form(session, key)) is None:
            raise
        return redirect(f"/events/{made}", msg="created")
    return redirect(f"/events/{event.id}", msg="created")


def event_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    today: TodayDep,
    event_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int | None = None,
) -> Response:
    """The event's page (after a refused form: what was typed, the errors, ``status``)."""
    view = lists.event_view(session, event_id, user=user, today=today)
    need_q = request.query_params.get("need_q", "")[:100].strip()
    org_q = request.query_params.get("org_q", "")[:100].strip()
    event = view.event
    values = values or {
        "title": event.title,
        "held_on": event.held_on.isoformat(),
        "fields": [str(f) for f in int_tags(event.fields)],
        "keywords": event.keywords,
    }
    context = {
        "view": view,
        "values": values,
        "selected": {int(v) for v in values["fields"] if str(v).isdecimal()},
        "errors": errors or {},
        "error": error,
        "need_q": need_q,
        "org_q": org_q,
        "need_choices": lists.need_choices(session, event_id, user=user, q=need_q, today=today)
        if need_q
        else [],
        "org_choices": lists.group_choices(session, event_id, user=user, q=org_q) if org_q else [],
        "held": event.held_on <= today,
        "recorded": followup.recorded_pairs(session, event_id),
        "to_invite": sum(1 for g in view.groups if g.invited_at is None),
        "today": today,
    }
    if (message := _message(request)) is not None:
        context["message"] = message
    return render(request, "events/detail.html", context, status=status or (422 if errors else 200))


@router.get("/events/{event_id}")
def detail_page(
    request: Request, session: SessionDep, user: PageUser, today: TodayDep, event_id: Id
) -> Response:
    require(user, Role.coordinator)
    return event_page(request, session, user, today, event_id)


@router.post("/events/{event_id}/edit")
async def edit(
    request: Request, session: SessionDep, user: PageUser, today: TodayDep, event_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    event = service.get_event(session, event_id, user=user)
    values = _values(form)
    try:
        data = inputs.clean_input(**values, today=today, was=event.held_on)
    except Invalid as exc:
        return event_page(
            request,
            session,
            user,
            today,
            event_id,
            values=values,
            errors=_errors(exc),
            error=exc.message,
        )
    service.update_event(session, event_id, data, user=user)
    return redirect(f"/events/{event_id}", msg="saved")


@router.post("/events/{event_id}/propose")
async def propose(
    request: Request,
    session: SessionDep,
    user: PageUser,
    index: IndexDep,
    settings: SettingsDep,
    today: TodayDep,
    event_id: Id,
) -> Response:
    await checked_form(request)
    require(user, Role.coordinator)
    service.repropose(
        session, index, event_id, user=user, top=settings.suggestions_per_need, today=today
    )
    return redirect(f"/events/{event_id}", msg="proposed")


def _posted_id(form: FormData, name: str, label: str) -> int:
    value = str(form.get(name, ""))
    if not value.isdecimal() or not 1 <= int(value) <= 2_147_483_647:
        raise Invalid(f"{label}を選んでください。", code="BAD_ID")
    return int(value)


@router.post("/events/{event_id}/needs")
async def add_need(
    request: Request, session: SessionDep, user: PageUser, today: TodayDep, event_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    need_id = _posted_id(form, "need_id", "加える協働の種")
    added = service.add_need(session, event_id, need_id, user=user, today=today)
    return redirect(
        f"/events/{event_id}", msg="need_added" if added else "unchanged", anchor="needs"
    )


@router.post("/events/{event_id}/needs/{need_id}/remove")
async def remove_need(
    request: Request, session: SessionDep, user: PageUser, event_id: Id, need_id: Id
) -> Response:
    await checked_form(request)
    require(user, Role.coordinator)
    removed = service.remove_need(session, event_id, need_id, user=user)
    return redirect(
        f"/events/{event_id}", msg="need_removed" if removed else "unchanged", anchor="needs"
    )


@router.post("/events/{event_id}/groups")
async def add_group(
    request: Request, session: SessionDep, user: PageUser, event_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    org_id = _posted_id(form, "organization_id", "招待する団体")
    added = service.add_group(session, event_id, org_id, user=user)
    return redirect(
        f"/events/{event_id}", msg="group_added" if added else "unchanged", anchor="groups"
    )


@router.post("/events/{event_id}/groups/{org_id}/remove")
async def remove_group(
    request: Request, session: SessionDep, user: PageUser, event_id: Id, org_id: Id
) -> Response:
    await checked_form(request)
    require(user, Role.coordinator)
    removed = service.remove_group(session, event_id, org_id, user=user)
    return redirect(
        f"/events/{event_id}", msg="group_removed" if removed else "unchanged", anchor="groups"
    )


@router.get("/events/{event_id}/invitations.{fmt}")
def invitations(
    session: SessionDep, user: PageUser, today: TodayDep, event_id: Id, fmt: str
) -> Response:
    require(user, Role.coordinator)
    if fmt not in ("csv", "xlsx"):
        raise NotFound("書き出しの形式")
    event, header, rows = lists.invitation_table(session, event_id, user=user, today=today)
    name = f"event-{event.id}-invitations-{event.held_on:%Y%m%d}"
    filename, media, content = table_file(name, header, rows, cast(Literal["csv", "xlsx"], fmt))
    privacy.exported(
        session,
        user,
        "organization",
        ids=lists.contact_ids(session, rows),
        where=f"/events/{event_id}/invitations.{fmt}",
        export="event_invitations",
        format=fmt,
        event_id=event_id,
    )
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
