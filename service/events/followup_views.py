"""Pages of a 分野別発表会's follow-up (coordinator only), beside ``views``:

- ``POST /events/{id}/invite``: send the invitations through the mail outbox (the groups
  not invited yet);
- ``POST /events/{id}/attendance``: record who came and the needs each group showed
  interest in (from the event's day on).

Both answer with the event's page: a redirect with a message, or the page with the
refusal (422).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from ..deps import SessionDep, SettingsDep, TodayDep
from ..errors import Invalid
from ..models import Role
from ..web.core import Id, PageUser, checked_form, redirect, require
from . import followup
from .views import event_page

router = APIRouter(include_in_schema=False)


@router.post("/events/{event_id}/invite")
async def invite(
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    today: TodayDep,
    event_id: Id,
) -> Response:
    await checked_form(request)
    require(user, Role.coordinator)
    try:
        sent = followup.send_invitations(
            session, event_id, user=user, base_url=settings.base_url, today=today
        )
    except Invalid as exc:
        session.rollback()
        return event_page(request, session, user, today, event_id, error=exc.message, status=422)
    return redirect(
        f"/events/{event_id}",
        msg="invited",
        groups=str(len(sent.groups)),
        mails=str(sent.mails),
        missed=str(len(sent.not_reached)),
        anchor="invite",
    )


def _pairs(form: FormData) -> tuple[set[int], set[tuple[int, int]]]:
    """The attendance form: ``attended`` = group ids, ``interest`` = "group:need"."""
    came: set[int] = set()
    for value in form.getlist("attended"):
        text = str(value)
        if not text.isdecimal() or len(text) > 10:
            raise Invalid("出席の記録を読み取れません。", code="BAD_ID")
        came.add(int(text))
    pairs: set[tuple[int, int]] = set()
    for value in form.getlist("interest"):
        org, _, need = str(value).partition(":")
        if not (org.isdecimal() and need.isdecimal() and len(org) <= 10 and len(need) <= 10):
            raise Invalid("関心ありの記録を読み取れません。", code="BAD_ID")
        pairs.add((int(org), int(need)))
    return came, pairs


@router.post("/events/{event_id}/attendance")
async def attendance(
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    today: TodayDep,
    event_id: Id,
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    try:
        came, pairs = _pairs(form)
        followup.record(
            session,
            event_id,
            user=user,
            attended=came,
            interests=pairs,
            today=today,
            base_url=settings.base_url,
        )
    except Invalid as exc:
        session.rollback()
        return event_page(request, session, user, today, event_id, error=exc.message, status=422)
    return redirect(f"/events/{event_id}", msg="recorded", anchor="attendance")
