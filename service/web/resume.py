"""A form posted after the session ended is not lost.

A department's staff member types a long need, the session expires, 登録 is pressed: the
form's text comes back with the login page (「ログインの期限が切れました」), is carried
through the login as one hidden field, and after logging in the person sees what was typed
and sends it with one button (with a fresh CSRF token), or leaves it. Nothing is sent
without that button: the data only ever goes back to the browser that typed it.

Only a same-site post is kept (its ``Origin`` or ``Sec-Fetch-Site`` says so): another
site cannot plant a form for someone to send after logging in. Passwords, the CSRF token
and files are never carried (a file must be chosen again; the page says so).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from .core import render, safe_next

__all__ = ["MAX_RESUME_CHARS", "expired_form_page", "parse_resume", "resume_page"]

# what a login page may carry back (the body limit bounds the post already)
MAX_RESUME_CHARS = 200_000
_DROPPED = ("csrf_token", "password", "new_password", "current_password", "password_again")
EXPIRED = (
    "ログインの期限が切れました。もう一度ログインしてください。"
    "入力した内容は消えていません。ログインの後、確かめてから送信できます。"
)


# how the page that asks to send the form again names what was typed (other fields, such
# as the form's key or a version, travel hidden and unnamed)
LABELS = {
    "department": "担当課",
    "title": "件名",
    "description": "課題の内容",
    "goal": "協働で実現したいこと",
    "areas": "地域",
    "contact_name": "担当者名",
    "name": "団体名",
    "legal_form": "法人格",
    "activities": "活動内容",
    "offerings": "協働でできること（メニュー）",
    "wishes": "協働の希望",
    "contact_email": "メールアドレス",
    "contact_phone": "電話番号",
    "comment": "コメント",
    "reason": "理由",
    "display_name": "表示名",
}


def _same_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin.rstrip("/") == str(request.base_url).rstrip("/")
    return request.headers.get("sec-fetch-site") == "same-origin"


async def expired_form_page(request: Request, demo: bool) -> Response | None:
    """The login page carrying a form that was posted after the session ended, or
    ``None`` when there is nothing to keep (not a same-site form post)."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    if not _same_site(request):
        return None
    form = await request.form(max_files=2, max_fields=500)
    fields: list[list[str]] = []
    files = False
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            files = files or bool(value.filename)
        elif key not in _DROPPED:
            fields.append([key, value])
    await form.close()
    action = safe_next(request.url.path, "")
    resume = json.dumps({"action": action, "fields": fields, "files": files}, ensure_ascii=False)
    if not action or not fields or len(resume) > MAX_RESUME_CHARS:
        return None
    return render(
        request,
        "login.html",
        {"error": EXPIRED, "resume": resume, "next": "", "demo": demo},
        status=401,
    )


def parse_resume(raw: Any) -> dict[str, Any] | None:
    """The carried form (``{"action", "fields", "files"}``) from the login form's hidden
    field, or ``None`` when it is missing or not what ``expired_form_page`` wrote."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_RESUME_CHARS:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    action = data.get("action")
    fields = data.get("fields")
    if not isinstance(action, str) or safe_next(action, "") != action or action == "/login":
        return None
    if not isinstance(fields, list) or not all(
        isinstance(f, list) and len(f) == 2 and all(isinstance(p, str) for p in f) for f in fields
    ):
        return None
    kept = [f for f in fields if f[0] not in _DROPPED]
    return {"action": action, "fields": kept, "files": bool(data.get("files"))}


def resume_page(request: Request, resume: dict[str, Any], csrf: str) -> Response:
    """After the login: what was typed, and one button that sends it where it was going
    (``csrf``: the token of the new session)."""
    shown = [(LABELS[k], v) for k, v in resume["fields"] if k in LABELS and v.strip()]
    return render(
        request,
        "resume.html",
        {
            "action": resume["action"],
            "fields": resume["fields"],
            "shown": shown,
            "files": resume["files"],
            "resume_csrf": csrf,
        },
    )
