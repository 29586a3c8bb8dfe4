from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from ...deps import CurrentUser, SessionDep, SettingsDep, bearer_scheme
from ...errors import DomainError
from ...schemas import TokenOut, UserPublic
from ...security import authenticate, issue_token, revoke_token
from ...throttle import client_address
from ...users import user_public

router = APIRouter(prefix="/auth", tags=["auth"])


class BadCredentials(DomainError):
    status = 401
    default_code = "BAD_CREDENTIALS"


@router.post("/token", response_model=TokenOut, summary="ログインしてトークンを得る")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
) -> TokenOut:
    """OAuth2 password form (``username``, ``password``) → bearer token."""
    user = authenticate(session, username, password, client_address(request))
    if user is None:
        raise BadCredentials("ユーザー名またはパスワードが違います。")
    return TokenOut(access_token=issue_token(session, user, settings.token_ttl_hours))


@router.post("/logout", status_code=204, summary="トークンを無効にする")
def logout(
    request: Request,
    session: SessionDep,
    _user: CurrentUser,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Response:
    # the scheme is read as the authentication read it (``bearer`` or ``Bearer``): the
    # token that authenticated this request is the one revoked
    assert credentials is not None  # CurrentUser has authenticated with it
    revoke_token(session, credentials.credentials, address=client_address(request))
    return Response(status_code=204)


@router.get("/me", response_model=UserPublic, summary="ログイン中の利用者")
def me(session: SessionDep, user: CurrentUser) -> UserPublic:
    return user_public(session, user)
