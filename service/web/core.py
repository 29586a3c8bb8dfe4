"""What every page shares: templates, the session cookie, CSRF, the logged-in user.

Pages log in with a session cookie (a server-side token, the same table as the API's
bearer tokens, so logging out ends it everywhere). The JSON API never reads that cookie;
every form a page posts carries a CSRF token bound to the session (before login, to a
random cookie), and the app sends a Content-Security-Policy that allows no inline script.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

import matching

from ..deps import SessionDep
from ..errors import DomainError, PermissionDenied, validation_message
from ..models import Department, Organization, Role, TokenKind, User
from ..registrations.service import pending_count
from ..report import japan_time
from ..security import issue_token, user_for_token
from .model_report import model_label

SESSION_COOKIE = "kyodo_session"
CSRF_COOKIE = "kyodo_csrf"

templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
env = templates.env

ROLE_LABELS = {
    Role.coordinator: "コーディネーター（市民自治推進課）",
    Role.department: "担当課（協働推進員）",
    Role.npo: "団体",
}
STATUS_LABELS = {
    "draft": "下書き",
    "published": "公開中",
    "withdrawn": "取り下げ",
    "active": "登録中",
    "pending": "未判断",
    "confirmed": "承認",
    "rejected": "見送り",
    "meeting_arranged": "事前打ち合わせ設定",
    "project_started": "協働事業化",
    "dropped": "見送り（打ち合わせ後）",
    "dropped_before_meeting": "見送り（打ち合わせ前）",
    "stage_undone": "段階の取り消し",
}
AREA_LABELS = {
    "same": "地域が一致",
    "ward": "団体は区全体・区内の別地区",
    "both_citywide": "ともに市全域",
    "citywide_org": "団体は市全域",
    "citywide_need": "課題は市全域",
    "unknown": "地域の関係は不明",
    "other": "地域が異なる",
}
FORMS = ("委託", "補助", "共催", "後援", "実行委員会", "事業協力", "情報提供・交換")
MESSAGES = {
    "login": "ログインしました。",
    "logout": "ログアウトしました。",
    "proposed": "団体を提案しました。市民自治推進課の確認待ちの一覧に入りました"
    "（「検討されている団体」に載っています）。",
    "confirmed": "提案を承認しました。",
    "rejected": "提案を見送りました。",
    "bulk_confirmed": "選んだ提案をまとめて承認しました。",
    "bulk_rejected": "選んだ提案をまとめて見送りました。",
    "stage": "協働の段階を記録しました。",
    "paired": "団体を組み合わせて承認しました。次の再学習から順位付けにも生かされます。",
    "already_suggested": "この団体はすでに提案にあります。ここで承認・見送りを決めてください。",
    "need_saved": "協働の種を保存しました。",
    "need_withdrawn": "協働の種を取り下げました。",
    "org_saved": "団体の情報を保存しました。",
    "org_withdrawn": "団体の登録を取り消しました。提案には出なくなります。",
    "interest": "「関心あり」を市民自治推進課に伝えました。",
    "uninterest": "「関心あり」を取り消しました。",
    "imported": "取り込みました。",
    "import_cancelled": "取り込みを中止しました。何も変更していません。",
    "welcome": "ようこそ。利用者登録が完了しました。",
    "user_updated": "利用者の状態を変えました。",
    "login_unlocked": "ログインの制限を解除しました。",
    "stage_undone": "記録した段階を取り消しました。",
    "training_started": (
        "再学習を始めました。数分かかることがあります。進み具合はこのページに出ます"
        "（終わるまで自動で読み込み直します）。"
    ),
    "training_running": "再学習はすでに実行中です。終わるまでお待ちください。",
    "password": "パスワードを変えました。ほかの端末ではもう一度ログインしてください。",
    "mail_saved": "メール通知の設定を保存しました。",
    "registration_declined": "登録の申し込みをお断りとして記録しました。",
    "meeting_saved": "事前打ち合わせを記録しました。",
    "meeting_cancelled": (
        "打ち合わせを中止として記録しました（日程が決まっていたものは団体と担当課に知らせます）。"
        "組み合わせの段階はそのままです。ほかに打ち合わせがなければ、組み合わせのページで"
        "段階を取り消せます。"
    ),
}


class LoginRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the login page."""


class CsrfFailed(DomainError):
    status = 403
    default_code = "CSRF_FAILED"


# ---- template helpers -------------------------------------------------------------


def highlight(text: str | None, terms: Iterable[str]) -> Markup:
    """``text`` escaped, with every occurrence of ``terms`` in <mark> (longest first).

    One-character terms are listed among the reasons but not marked in the text: a
    single kanji occurs inside too many unrelated words to guide the eye."""
    text = text or ""
    words = sorted({t for t in terms if len(t) >= 2}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words))
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    # every piece of the text was escaped above; only our own <mark> tags are markup
    return Markup("".join(out))  # nosec B704


def jst(value: datetime | None, fmt: str = "%Y年%m月%d日 %H:%M") -> str:
    return japan_time(value).strftime(fmt) if value is not None else ""


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def signed(value: int | None) -> str:
    """A change with its sign; 「—」 when there is nothing to compare with."""
    if value is None:
        return "—"
    return f"+{value}" if value > 0 else str(value)


def days(value: float) -> str:
    """A median of days: a whole number as such, a half as 「4.5」."""
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


env.filters.update(
    highlight=highlight,
    jst=jst,
    percent=percent,
    signed=signed,
    model_label=model_label,
    days=days,
)
env.globals.update(
    FIELD_NAMES=matching.FIELD_NAMES,
    FEATURE_LABELS=matching.FEATURE_LABELS,
    ROLE_LABELS=ROLE_LABELS,
    STATUS_LABELS=STATUS_LABELS,
    AREA_LABELS=AREA_LABELS,
    FORMS=FORMS,
)


# ---- one record per form ----------------------------------------------------------

# A form that creates a record carries the record's id, chosen when the form was drawn:
# Back + resubmit, or a double click, posts the same id again and finds the record made.
_FORM_KEY = re.compile(r"^W[0-9A-F]{10}$")


def new_form_key() -> str:
    return f"W{uuid.uuid4().hex[:10].upper()}"


def posted_form_key(form: FormData) -> str | None:
    value = form.get("form_key")
    return value if isinstance(value, str) and _FORM_KEY.match(value) else None


# ---- session and CSRF -------------------------------------------------------------


def _csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"kyodo-match csrf", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token a form on this page carries: bound to the session, or before login to
    a random cookie this response sets (double submit)."""
    secret = request.cookies.get(SESSION_COOKIE) or request.cookies.get(CSRF_COOKIE)
    if not secret:
        secret = getattr(request.state, "new_csrf_cookie", None) or secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = secret
    return _csrf_for(secret)


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https"


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token and (when sent) its Origin are right."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.rstrip("/") != str(request.base_url).rstrip("/"):
        raise CsrfFailed("別のサイトから送信されたフォームは受け付けません。")
    form = await request.form(max_files=2, max_fields=500)
    secret = request.cookies.get(SESSION_COOKIE) or request.cookies.get(CSRF_COOKIE)
    sent = form.get("csrf_token")
    if not secret or not isinstance(sent, str) or not hmac.compare_digest(sent, _csrf_for(secret)):
        await form.close()
        raise CsrfFailed(
            "フォームの有効期限が切れたか、別のページから送信されました。"
            "ページを読み込み直して、もう一度送信してください。"
        )
    return form


def start_session(
    request: Request, session: Session, user: User, ttl_hours: int, url: str, **params: Any
) -> RedirectResponse:
    """Log ``user`` in (a new server-side token in the session cookie) and go to ``url``."""
    response = redirect(url, **params)
    set_session_cookie(
        response, request, issue_token(session, user, ttl_hours, TokenKind.session), ttl_hours
    )
    return response


def set_session_cookie(response: Response, request: Request, token: str, ttl_hours: int) -> None:
    """Put the session ``token`` (``issue_token``) on ``response``."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/")  # the pre-login token has done its job


def session_csrf(token: str) -> str:
    """The CSRF token the forms of the session ``token`` carry."""
    return _csrf_for(token)


@dataclass(frozen=True)
class Viewer:
    """Who is looking, as the templates need it: a plain copy, still readable when an error
    page is drawn after the request's database session has closed."""

    username: str
    display_name: str
    role: str
    unit: str = ""  # the section or the group the header names
    requests: int = 0  # registration requests waiting for the coordinator (the menu shows it)


def _unit(session: Session, user: User) -> str:
    """The department's or the group's name (the coordinator's office for a coordinator)."""
    if user.role == Role.coordinator:
        return "市民自治推進課"
    if user.department_id is not None:
        department = session.get(Department, user.department_id)
        return department.name if department else ""
    if user.organization_id is not None:
        org = session.get(Organization, user.organization_id)
        return org.name if org else ""
    return ""


def current_user(request: Request, session: SessionDep) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    user = user_for_token(session, token, TokenKind.session) if token else None
    request.state.user = (
        Viewer(
            user.username,
            user.display_name,
            user.role,
            _unit(session, user),
            pending_count(session) if user.role == Role.coordinator else 0,
        )
        if user
        else None
    )
    return user


def page_user(request: Request, session: SessionDep) -> User:
    user = current_user(request, session)
    if user is None:
        raise LoginRequired()
    return user


MaybeUser = Annotated[User | None, Depends(current_user)]
PageUser = Annotated[User, Depends(page_user)]


def require(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise PermissionDenied("このページを見る権限がありません。")


# ---- rendering --------------------------------------------------------------------


def render(
    request: Request, name: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request),
        "message": MESSAGES.get(request.query_params.get("msg", "")),
        "path": request.url.path,
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    fresh = getattr(request.state, "new_csrf_cookie", None)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, fresh, httponly=True, samesite="strict", secure=secure_cookies(request)
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(url: str, *, anchor: str = "", **params: Any) -> RedirectResponse:
    """303 to ``url`` (which may have a query already) with ``params`` added, then ``#anchor``."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    if query:
        url += ("&" if "?" in url else "?") + query
    return RedirectResponse(url + (f"#{anchor}" if anchor else ""), status_code=303)


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site paths: a login link must not send the user elsewhere."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


def form_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as {field: Japanese message} for the form to show beside each field."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.setdefault(loc[0] if loc else "", validation_message(dict(err))[1])
    return out


def query_int(value: str | None, *, low: int, high: int) -> int | None:
    """A filter's number from the query string, or None when empty or out of range."""
    try:
        number = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and low <= number <= high else None


def pager(total: int, page: int, per_page: int) -> dict[str, int]:
    """Paging figures; ``missing`` is the page asked for when there is no such page (the
    list then says so, instead of showing nothing under the last page's number)."""
    pages = max(1, -(-total // per_page))
    return {
        "page": min(max(page, 1), pages),
        "pages": pages,
        "total": total,
        "per_page": per_page,
        "missing": page if page > pages and total else 0,
    }


Id = Annotated[int, PathParam(ge=1, le=2_147_483_647)]
