"""Login, logout, invitations, and each role's start page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from .. import invitations
from ..config import Settings
from ..deps import SessionDep, SettingsDep
from ..errors import DomainError
from ..models import Invitation, Role, TokenKind, User
from ..security import authenticate, issue_token, revoke_token
from ..throttle import LoginBusy, TooManyAttempts, client_address
from .core import (
    SESSION_COOKIE,
    MaybeUser,
    checked_form,
    form_errors,
    redirect,
    render,
    safe_next,
    session_csrf,
    set_session_cookie,
    start_session,
)
from .resume import parse_resume, resume_page

router = APIRouter()

HOME = {Role.coordinator: "/queue", Role.department: "/my", Role.npo: "/my"}


@router.get("/")
def home(user: MaybeUser) -> Response:
    if user is None:
        return redirect("/login")
    return redirect(HOME[Role(user.role)])


@router.get("/login")
def login_page(request: Request, settings: SettingsDep, user: MaybeUser) -> Response:
    if user is not None:
        return redirect(HOME[Role(user.role)])
    return render(
        request,
        "login.html",
        {"next": safe_next(request.query_params.get("next"), ""), "demo": settings.demo_mode},
    )


@router.post("/login")
async def login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await checked_form(request)
    username = str(form.get("username", ""))[:100]
    password = str(form.get("password", ""))[:200]
    try:
        # argon2 is slow on purpose: off the event loop, so other requests go on
        user = await run_in_threadpool(
            authenticate, session, username, password, client_address(request), via="page"
        )
    except (TooManyAttempts, LoginBusy) as exc:
        page = render(
            request,
            "login.html",
            {"error": exc.message, "username": username, "demo": settings.demo_mode},
            status=exc.status,
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if user is None:
        return render(
            request,
            "login.html",
            {
                "error": "ユーザー名またはパスワードが違います。",
                "username": username,
                "next": safe_next(str(form.get("next", "")), ""),
                "demo": settings.demo_mode,
            },
            status=401,
        )
    resume = parse_resume(form.get("resume"))
    if resume is not None:  # a form posted after the session ended: show it, send on a click
        token = issue_token(session, user, settings.token_ttl_hours, TokenKind.session)
        resumed = resume_page(request, resume, session_csrf(token))
        set_session_cookie(resumed, request, token, settings.token_ttl_hours)
        return resumed
    target = safe_next(str(form.get("next", "")), HOME[Role(user.role)])
    return start_session(request, session, user, settings.token_ttl_hours, target, msg="login")


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    await checked_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        revoke_token(session, token, address=client_address(request), via="page")
    response = redirect("/login", msg="logout")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invite/{token}")
def invite_page(request: Request, session: SessionDep, token: str) -> Response:
    invitation = invitations.open_invitation(session, token[:100])
    if invitation.for_user is not None:
        return _reset_page(request, session, invitation)
    return render(
        request,
        "invite.html",
        {
            "invitation": invitation,
            "department": invitations.department_of(session, invitation),
            "values": {},
            "errors": {},
        },
    )


@router.post("/invite/{token}")
async def accept_invite(
    request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    form = await checked_form(request)
    invitation = invitations.open_invitation(session, token[:100])
    if invitation.for_user is not None:
        return _reset(request, session, settings, token[:100], form, invitation)
    values = {k: str(form.get(k, "")) for k in ("username", "display_name")}
    errors: dict[str, str] = {}
    password = str(form.get("password", ""))
    if password != str(form.get("password2", "")):
        errors["password2"] = "確認用のパスワードが一致しません。"
    error = None
    if not errors:
        try:
            user = invitations.accept_invitation(
                session,
                token[:100],
                username=values["username"],
                password=password,
                display_name=values["display_name"],
            )
        except ValidationError as exc:
            errors = form_errors(exc)
        except DomainError as exc:
            error = exc.message
            # a field's own error (BAD_USERNAME, BAD_DISPLAY_NAME…) shows beside the field
            errors = {e["field"]: e["message"] for e in exc.errors if e.get("field") in values}
            if exc.code == "BAD_USERNAME":
                errors["username"] = exc.message
        else:
            return start_session(
                request,
                session,
                user,
                settings.token_ttl_hours,
                HOME[Role(user.role)],
                msg="welcome",
            )
    return render(
        request,
        "invite.html",
        {
            "invitation": invitation,
            "department": invitations.department_of(session, invitation),
            "values": values,
            "errors": errors,
            "error": error or "入力内容を確かめてください。",
        },
        status=422,
    )


def _reset_page(
    request: Request,
    session: Session,
    invitation: Invitation,
    errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    user = session.get(User, invitation.for_user)
    return render(
        request,
        "reset.html",
        {"username": user.username if user else "", "errors": errors or {}, "error": error},
        status=422 if errors or error else 200,
    )


def _reset(
    request: Request,
    session: Session,
    settings: Settings,
    token: str,
    form: FormData,
    invitation: Invitation,
) -> Response:
    password = str(form.get("password", ""))
    if password != str(form.get("password2", "")):
        return _reset_page(
            request, session, invitation, {"password2": "確認用のパスワードが一致しません。"}
        )
    try:
        user = invitations.reset_password(session, token, password=password)
    except DomainError as exc:
        session.rollback()
        return _reset_page(request, session, invitation, error=exc.message)
    return start_session(
        request, session, user, settings.token_ttl_hours, HOME[Role(user.role)], msg="password"
    )
