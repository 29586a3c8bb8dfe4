"""Bulk review: the coordinator ticks several suggestions in the queue and decides them
together, with one comment (and, to reject, one reason). Each keeps its own reasons and
gets its own decision, audit row and mail; a stale one stops the whole batch."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import select

from .. import reviews
from ..deps import IndexDep, SessionDep, SettingsDep, TodayDep
from ..errors import Conflict, Invalid
from ..models import Need, Organization, Role, Suggestion
from ..schemas import BulkDecisionIn
from .core import PageUser, checked_form, redirect, require, safe_next
from .review import _posted, render_queue

router = APIRouter()


def _picked(values: list[str]) -> list[tuple[int, int]]:
    """``pick`` values are ``"<suggestion id>:<version read>"``; duplicates count once."""
    out: dict[int, int] = {}
    for value in values:
        sid, _, version = value.partition(":")
        if not (sid.isdigit() and version.isdigit()) or len(sid) > 10 or len(version) > 10:
            raise Invalid("選んだ提案を読み取れません。", code="VALIDATION_ERROR")
        out.setdefault(int(sid), int(version))
    return list(out.items())


def _name_of(session: SessionDep, suggestion_id: int) -> str:
    row = session.exec(
        select(Organization.name, Need.title)
        .join(Suggestion, Suggestion.organization_id == Organization.id)  # type: ignore[arg-type]
        .join(Need, Need.id == Suggestion.need_id)  # type: ignore[arg-type]
        .where(Suggestion.id == suggestion_id)
    ).first()
    if row is None:
        return f"提案 {suggestion_id}"
    return f"「{row[1]}」への「{row[0]}」の提案"


@router.post("/queue/decide")
async def decide_selected(
    request: Request,
    session: SessionDep,
    index: IndexDep,
    settings: SettingsDep,
    today: TodayDep,
    user: PageUser,
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    back = safe_next(str(form.get("return", "")), "/queue")
    if not back.startswith("/queue"):
        back = "/queue"
    params = dict(parse_qsl(urlsplit(back).query))
    raw = [v for v in form.getlist("pick") if isinstance(v, str)]
    kept = {
        "comment": str(form.get("comment", ""))[:2000],
        "reason_code": str(form.get("reason_code", "")),
    }
    try:
        picked = _picked(raw)
        data = _posted(BulkDecisionIn, form, "判断の内容を読み取れません。")
        reviews.decide_many(session, picked, data, user=user, base_url=settings.base_url)
    except (Conflict, Invalid) as exc:
        ids = {int(v.partition(":")[0]) for v in raw if v.partition(":")[0].isdigit()}
        stale = next((e["suggestion_id"] for e in exc.errors if "suggestion_id" in e), None)
        if stale is not None:
            ids.discard(stale)
            problem = (
                f"{_name_of(session, stale)}は、読み込んだ後に他の人が判断または更新しました。"
                "どの提案も保存していません。最新の状態を確かめて、もう一度送ってください。"
            )
        else:
            problem = exc.message + "（どの提案も保存していません）"
        return render_queue(
            request,
            session,
            index,
            settings,
            today,
            user,
            params,
            picked=ids,
            problem=problem,
            bulk=kept,
            status=exc.status,
        )
    msg = "bulk_confirmed" if data.action == "confirm" else "bulk_rejected"
    return redirect(back, msg=msg)


__all__ = ["router"]
