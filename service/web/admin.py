"""The coordinator's office work: the year's figures, users and invitations, files in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import col, delete, select

import matching

from .. import exports, imports, invitations, report, throttle, users
from ..deps import SessionDep, SettingsDep
from ..errors import Invalid, NotFound
from ..models import Department, Organization, PendingUpload, Role, User, utcnow
from ..report import JST
from .auth import HOME
from .core import Id, PageUser, checked_form, redirect, render, require, start_session

router = APIRouter()

KIND_LABELS = {"needs": "協働の種", "organizations": "団体"}
EXPORT_LABELS = {
    "needs": "協働の種",
    "organizations": "団体（連絡先つき）",
    "suggestions": "提案",
    "decisions": "判断の記録",
    "pairings": "承認した組み合わせ",
}


def current_fiscal_year(now: datetime | None = None) -> int:
    local = (now or utcnow()).astimezone(JST)
    return local.year if local.month >= 4 else local.year - 1


# a chart shows at most this many bars; the rest are summed in one bar, named with its count
CHART_BARS = 15


def _by_department(table: dict[str, dict[str, int]], metric: str) -> list[tuple[str, int]]:
    """Every department with a figure, the largest first; past ``CHART_BARS`` the smaller
    ones in one bar 「その他（N 課）」, so the bars still add up to the total."""
    rows = sorted(
        ((name, values[metric]) for name, values in table.items() if values[metric]),
        key=lambda r: (-r[1], r[0]),
    )
    if len(rows) <= CHART_BARS:
        return rows
    rest = rows[CHART_BARS - 1 :]
    return [*rows[: CHART_BARS - 1], (f"その他（{len(rest)} 課）", sum(n for _, n in rest))]


def _by_field(table: dict[str, dict[str, int]], metric: str) -> list[tuple[str, int]]:
    """Every 活動分野 with a figure, in the law's order (``report`` keeps it)."""
    return [(name, values[metric]) for name, values in table.items() if values[metric]]


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    this_year = current_fiscal_year()
    year = request.query_params.get("fy", "")
    fy = int(year) if year.isdigit() and 2000 <= int(year) <= this_year + 1 else this_year
    figures = report.yearly_report(session, fy)
    return render(
        request,
        "dashboard.html",
        {
            "fy": fy,
            "years": list(range(this_year, this_year - 6, -1)),
            "f": figures,
            "labels": report.LABELS,
            "metrics": report.METRICS,
            "pace_labels": report.PACE_LABELS,
            "held_labels": report.HELD_LABELS,
            "by_department": _by_department(figures.by_department, "needs_posted"),
            "confirmed_by_department": _by_department(figures.by_department, "confirmed"),
            "by_field": _by_field(figures.by_field, "needs_posted"),
            "confirmed_by_field": _by_field(figures.by_field, "confirmed"),
            "reasons": list(figures.rejection_reasons.items()),
            "chart_bars": CHART_BARS,
        },
    )


@router.get("/dashboard/{fy}.xlsx")
def dashboard_xlsx(session: SessionDep, user: PageUser, fy: Id) -> Response:
    require(user, Role.coordinator)
    if not 2000 <= fy <= 2100:
        raise NotFound("年度")
    content = report.report_xlsx(report.yearly_report(session, fy))
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="kyodo-report-{fy}.xlsx"'},
    )


# ---- users and invitations --------------------------------------------------------


def _users_page(request: Request, session: SessionDep, **extra: object) -> Response:
    people = session.exec(select(User).order_by(col(User.id))).all()
    departments = dict(session.exec(select(Department.id, Department.name)).all())
    orgs = dict(
        session.exec(
            select(Organization.id, Organization.name).where(
                col(Organization.id).in_([u.organization_id for u in people if u.organization_id])
            )
        ).all()
    )
    return render(
        request,
        "users.html",
        {
            "users": people,
            "departments": departments,
            "orgs": orgs,
            "department_names": sorted(departments.values()),
            "locks": throttle.locks(session),
            **extra,
        },
        status=422 if extra.get("error") else 200,
    )


@router.get("/users")
def users_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    return _users_page(request, session)


@router.post("/users/invite")
async def invite(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    role = str(form.get("role", ""))
    if role not in {r.value for r in Role}:
        return _users_page(request, session, error="役割を選んでください。")
    if role == Role.coordinator and form.get("confirm_coordinator") != "1":
        return _users_page(
            request,
            session,
            error="コーディネーターはすべての情報を見て変えられます。"
            "招待してよければ、確認のチェックを入れてからもう一度送ってください。",
        )
    org_key = str(form.get("organization", "")).strip()
    org_id = None
    if org_key:
        org = session.exec(select(Organization).where(Organization.key == org_key)).first()
        if org is None:
            return _users_page(request, session, error=f"団体ID「{org_key}」の団体はありません。")
        org_id = org.id
    try:
        invitation, token = invitations.create_invitation(
            session,
            by=user,
            role=Role(role),
            display_name=str(form.get("display_name", "")),
            department=str(form.get("department", "")) or None,
            organization_id=org_id,
            email=str(form.get("email", "")),
            mail_base_url=settings.base_url,
        )
    except Invalid as exc:
        session.rollback()
        return _users_page(request, session, error=exc.message)
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return _users_page(
        request,
        session,
        invitation_link=link,
        invited_role=Role(role),
        invitation_email=invitation.email,
        sending=bool(settings.smtp_host),
    )


@router.post("/users/{user_id}/active")
async def set_active(
    request: Request, session: SessionDep, user: PageUser, user_id: Id
) -> Response:
    form = await checked_form(request)
    users.set_active(session, user_id, form.get("active") == "1", by=user)
    return redirect("/users", msg="user_updated")


@router.post("/users/unlock")
async def unlock_login(request: Request, session: SessionDep, user: PageUser) -> Response:
    form = await checked_form(request)
    users.unlock_login(
        session, str(form.get("username", "")), str(form.get("address", "")), by=user
    )
    return redirect("/users", msg="login_unlocked")


@router.post("/users/{user_id}/reset")
async def reset_link(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser, user_id: Id
) -> Response:
    await checked_form(request)
    _, token = invitations.create_reset(
        session, by=user, user_id=user_id, mail_base_url=settings.base_url
    )
    target = session.get(User, user_id)
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return _users_page(
        request, session, reset_link=link, reset_user=target.username if target else ""
    )


@router.get("/account")
def account_page(request: Request, user: PageUser) -> Response:
    return render(request, "account.html", {"errors": {}})


@router.post("/account")
async def change_password(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> Response:
    form = await checked_form(request)
    new = str(form.get("new_password", ""))
    if new != str(form.get("new_password2", "")):
        return render(
            request,
            "account.html",
            {"errors": {"new_password2": "確認用のパスワードが一致しません。"}},
            status=422,
        )
    try:
        users.change_password(session, user, str(form.get("current_password", "")), new)
    except Invalid as exc:
        session.rollback()
        return render(request, "account.html", {"error": exc.message, "errors": {}}, status=422)
    return start_session(
        request, session, user, settings.token_ttl_hours, HOME[Role(user.role)], msg="password"
    )


# ---- files ------------------------------------------------------------------------


@router.get("/files")
def files_page(request: Request, user: PageUser) -> Response:
    require(user, Role.coordinator)
    return render(
        request,
        "files.html",
        {"kinds": KIND_LABELS, "exports": EXPORT_LABELS, "limits": matching.Limits()},
    )


@router.post("/files/import")
async def upload(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator)
    limit = matching.Limits().file_bytes
    form = await checked_form(request)
    try:
        kind = str(form.get("kind", ""))
        upload_file = form.get("file")
        if kind not in KIND_LABELS:
            raise Invalid("取り込む内容（協働の種か団体か）を選んでください。", code="BAD_KIND")
        if upload_file is None or isinstance(upload_file, str) or not upload_file.filename:
            raise Invalid("ファイルを選んでください。", code="NO_FILE")
        data = await upload_file.read(limit + 1)
        filename = upload_file.filename[:255]
    finally:
        await form.close()  # the upload's temporary file
    if len(data) > limit:
        raise Invalid(
            f"ファイルが大きすぎます（上限 {limit // (1024 * 1024)} MB）。", code="FILE_TOO_LARGE"
        )
    preview = imports.run_import(
        session, cast(imports.Kind, kind), data, filename, user=user, apply=False
    )
    if preview.rejected and not (preview.created or preview.updated or preview.unchanged):
        # nothing in the file could be imported: the reasons, and nothing kept
        return render(
            request,
            "import_preview.html",
            {"r": preview, "pending": None, "kind_label": KIND_LABELS[kind]},
            status=422,
        )
    assert user.id is not None
    # one pending file per user: an older preview that was never applied is dropped
    session.exec(delete(PendingUpload).where(col(PendingUpload.user_id) == user.id))
    pending = PendingUpload(
        user_id=user.id, kind=kind, filename=filename, sha256=preview.sha256, data=data
    )
    session.add(pending)
    session.commit()
    return render(
        request,
        "import_preview.html",
        {"r": preview, "pending": pending, "kind_label": KIND_LABELS[kind]},
    )


@router.post("/files/import/{upload_id}")
async def apply_upload(
    request: Request, session: SessionDep, user: PageUser, upload_id: Id
) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator)
    pending = session.get(PendingUpload, upload_id)
    if pending is None or pending.user_id != user.id:
        raise NotFound("取り込み待ちのファイル")
    choice = str(form.get("choice", ""))
    if choice == "cancel":
        session.delete(pending)
        session.commit()
        return redirect("/files", msg="import_cancelled")
    # blocking work, and it may wait for another import: off the event loop
    result = await run_in_threadpool(
        imports.run_import,
        session,
        cast(imports.Kind, pending.kind),
        pending.data,
        pending.filename,
        user=user,
        apply=True,
        accept_valid=choice == "valid",
    )
    if result.applied and (result.created or result.updated):
        # a big import's search text gets its lemma line in the background (search_fill)
        request.app.state.search_fill.start()
    session.delete(pending)
    session.commit()
    return render(
        request,
        "import_preview.html",
        {"r": result, "pending": None, "kind_label": KIND_LABELS[pending.kind]},
    )


ExportKind = Literal["needs", "organizations", "suggestions", "decisions", "pairings"]


@router.get("/files/export/{kind}.{fmt}")
def download(session: SessionDep, user: PageUser, kind: str, fmt: str) -> Response:
    if kind not in EXPORT_LABELS or fmt not in ("csv", "xlsx"):
        raise NotFound("書き出しの種類")
    name, media, content = exports.export(
        session,
        cast(ExportKind, kind),
        cast(Literal["csv", "xlsx"], fmt),
        user=user,
        where=f"/files/export/{kind}.{fmt}",
    )
    stamp = utcnow().astimezone(JST).strftime("%Y%m%d")
    filename = name.replace(".", f"-{stamp}.", 1)
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
