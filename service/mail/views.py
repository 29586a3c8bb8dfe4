"""Pages: the outbox (``/mail``, coordinator only) and one's own mail settings
(``/account/mail``: the address and the kinds wanted)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..deps import SessionDep, SettingsDep
from ..errors import Invalid
from ..models import Role
from ..privacy import service as privacy
from ..web.core import PageUser, checked_form, pager, query_int, redirect, render, require
from . import service
from .models import KIND_LABELS

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
STATES = {"queued": "送信待ち", "failed": "再送待ち（失敗あり）", "sent": "送信済み"}


@router.get("/mail")
def outbox_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    state: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    require(user, Role.coordinator)
    state = state if state in STATES else None
    number = query_int(page, low=1, high=100_000) or 1
    total, rows = service.outbox(
        session, state=state, limit=PER_PAGE, offset=(number - 1) * PER_PAGE
    )
    # the addresses mail went to are personal data
    ids = [r.id for r in rows if r.id is not None]
    privacy.viewed(session, user, "mail_outbox", ids=ids, where="/mail", state=state or "")
    return render(
        request,
        "mail_outbox.html",
        {
            "rows": rows,
            "p": pager(total, number, PER_PAGE),
            "state": state or "",
            "states": STATES,
            "kinds": KIND_LABELS,
            "sending": bool(settings.smtp_host),
            "params": f"state={state}" if state else "",
        },
    )


def _settings_page(
    request: Request, session: SessionDep, user: PageUser, *, error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "account_mail.html",
        {
            "prefs": service.preferences(session, user),
            "kinds": KIND_LABELS,
            "email": user.email,
            "error": error,
        },
        status=status,
    )


@router.get("/account/mail")
def settings_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    return _settings_page(request, session, user)


@router.post("/account/mail")
async def save_settings(request: Request, session: SessionDep, user: PageUser) -> Response:
    form = await checked_form(request)
    wanted = {str(v) for v in form.getlist("kind")}
    try:
        service.save_preferences(session, user, email=str(form.get("email", "")), wanted=wanted)
    except Invalid as exc:
        session.rollback()
        return _settings_page(request, session, user, error=exc.message, status=422)
    return redirect("/account/mail", msg="mail_saved")
