"""Routes: the public 「この課題に取り組みたい」 form, and the coordinator's queue.

- ``POST /public/needs/{id}/register`` (no login): CSRF, a honeypot field, a rate limit
  per address; then ``GET /public/needs/{id}/registered`` thanks the sender. A filled
  honeypot gets the same thanks, and nothing is stored.
- ``GET /registrations``, ``POST /registrations/{id}/approve|decline``: coordinator only.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..deps import SessionDep, SettingsDep, TodayDep
from ..errors import Invalid
from ..models import Role
from ..privacy import service as privacy
from ..public import service as public_service
from ..throttle import client_address
from ..web.core import Id, PageUser, checked_form, redirect, render, require
from . import service
from .models import RequestStatus

router = APIRouter(include_in_schema=False)

# the field a person never sees (hidden by CSS, skipped by screen readers and the Tab key)
HONEYPOT = "website"
STATUS_LABELS = {
    RequestStatus.pending: "未対応",
    RequestStatus.approved: "招待済み",
    RequestStatus.declined: "お断り",
}


@router.post("/public/needs/{need_id}/register")
async def register(request: Request, session: SessionDep, today: TodayDep, need_id: Id) -> Response:
    form = await checked_form(request)
    need = public_service.get_need(session, today=today, need_id=need_id)  # 404 unless open
    thanks = redirect(f"/public/needs/{need_id}/registered")
    if str(form.get(HONEYPOT, "")).strip():
        return thanks
    values = {name: str(form.get(name, "")) for name, *_ in service.FIELDS}
    try:
        service.submit(session, need_id=need_id, values=values, address=client_address(request))
    except Invalid as exc:
        errors = {e["field"]: e["message"] for e in exc.errors}
        return render(
            request,
            "public/need_detail.html",
            {"need": need, "values": values, "errors": errors, "error": exc.message},
            status=422,
        )
    except service.TooManyRequests as exc:
        page = render(
            request,
            "error.html",
            {
                "title": "申し込みが多すぎます",
                "message_text": exc.message,
                "code": exc.code,
                "errors": [],
            },
            status=exc.status,
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return thanks


@router.get("/public/needs/{need_id}/registered")
def registered(request: Request, session: SessionDep, today: TodayDep, need_id: Id) -> Response:
    need = public_service.get_need(session, today=today, need_id=need_id)
    return render(request, "registrations/thanks.html", {"need": need})


def _queue_page(request: Request, session: SessionDep, user: PageUser, **extra: object) -> Response:
    pending, decided = service.queue(session, user=user)
    shown = [p.request.id for p in pending if p.request.id is not None]  # contacts
    privacy.viewed(session, user, "registration_request", ids=shown, where="/registrations")
    viewer = getattr(request.state, "user", None)
    if viewer is not None:  # the menu's count as it is after this request's decision
        request.state.user = replace(viewer, requests=len(pending))
    return render(
        request,
        "registrations/queue.html",
        {"pending": pending, "decided": decided, "labels": STATUS_LABELS, **extra},
        status=422 if extra.get("error") else 200,
    )


@router.get("/registrations")
def queue_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    return _queue_page(request, session, user)


@router.post("/registrations/{request_id}/approve")
async def approve(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser, request_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    email = str(form.get("email", ""))
    try:
        approved, token = service.approve(
            session, request_id=request_id, by=user, email=email, mail_base_url=settings.base_url
        )
    except Invalid as exc:
        session.rollback()
        return _queue_page(request, session, user, error=exc.message)
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return _queue_page(
        request,
        session,
        user,
        invitation_link=link,
        invited_group=approved.group_name,
        invitation_email=email.strip(),
        sending=bool(settings.smtp_host),
    )


@router.post("/registrations/{request_id}/decline")
async def decline(
    request: Request, session: SessionDep, user: PageUser, request_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    try:
        service.decline(session, request_id=request_id, by=user, reason=str(form.get("reason", "")))
    except Invalid as exc:
        return _queue_page(request, session, user, error=exc.message)
    return redirect("/registrations", msg="registration_declined")
