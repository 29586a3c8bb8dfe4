"""FastAPI dependencies as ``Annotated`` aliases: ``SessionDep``, ``CurrentUser``, ``IndexDep``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from .config import Settings
from .deadlines import today_jst
from .errors import DomainError
from .index import MatchingIndex
from .models import User
from .security import user_for_token

bearer_scheme = HTTPBearer(auto_error=False, description="POST /api/auth/token で得たトークン")


class Unauthorized(DomainError):
    status = 401
    default_code = "UNAUTHORIZED"


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_index(request: Request) -> MatchingIndex:
    return cast(MatchingIndex, request.app.state.index)


def get_today() -> date:
    """The day in Japan: what 募集期限 are compared with (tests override it)."""
    return today_jst()


SettingsDep = Annotated[Settings, Depends(get_settings)]
TodayDep = Annotated[date, Depends(get_today)]
SessionDep = Annotated[Session, Depends(get_session)]
IndexDep = Annotated[MatchingIndex, Depends(get_index)]


def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    # Bearer tokens only: a cookie would make every JSON endpoint open to cross-site
    # requests; the pages (their own issue) will use a session cookie with a CSRF check.
    token = credentials.credentials if credentials else None
    user = user_for_token(session, token) if token else None
    if user is None:
        raise Unauthorized("ログインが必要です。トークンが無いか、期限が切れています。")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
