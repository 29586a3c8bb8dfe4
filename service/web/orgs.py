"""Groups: the list, one group, and the form a group registers and edits its profile with."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import matching

from .. import organizations as orgs_service
from .. import suggestions as sugg
from ..deps import IndexDep, SessionDep
from ..errors import Conflict, DomainError, PermissionDenied
from ..models import Organization, OrgStatus, Role, User, from_tags, int_tags
from ..schemas import OrgCreate, OrgUpdate
from ..stale import version_of
from .core import (
    Id,
    PageUser,
    checked_form,
    form_errors,
    new_form_key,
    pager,
    posted_form_key,
    query_int,
    redirect,
    render,
    require,
)
from .needs import _areas
from .stale import VERSION_FIELD, differences, sent_version
from .stale import notice as stale_notice

router = APIRouter()
PER_PAGE = 20

LEGAL_FORMS = (
    "特定非営利活動法人",
    "一般社団法人",
    "公益社団法人",
    "一般財団法人",
    "公益財団法人",
    "社会福祉法人",
    "任意団体",
    "自治会",
    "企業",
    "大学",
)
HELP = {
    "name": "正式な名前を書いてください（例: 特定非営利活動法人 若葉子ども応援ネット）。",
    "legal_form": "法人格がなければ「任意団体」を選んでください。",
    "fields": "主に活動している分野を選んでください。",
    "areas": "活動している区・地区の名前を「、」で区切って書きます。"
    "市内全域なら空のままで構いません。",
    "activities": "ふだんの活動を、誰に・どこで・何をしているかが分かるように書いてください。"
    "市の課題と照らし合わせて紹介するので、具体的な言葉ほど合う課題が見つかります。",
    "offerings": "市の課と組むときに提供できること"
    "（人手、専門知識、場所、ネットワークなど）を書いてください。",
    "wishes": "取り組んでみたいテーマや、希望する協働の形があれば書いてください。",
    "contact": "連絡先は市民自治推進課と、あなたの団体の利用者にだけ表示されます。",
}


def _values(form: Any) -> dict[str, Any]:
    keys = (
        "name",
        "legal_form",
        "activities",
        "offerings",
        "wishes",
        "contact_name",
        "contact_email",
        "contact_phone",
    )
    out: dict[str, Any] = {k: str(form.get(k, "")) for k in keys}
    out["fields"] = [int(v) for v in form.getlist("fields") if str(v).isdigit()]
    out["areas"] = matching.parse_areas(str(form.get("areas", "")))
    return out


def _form(
    request: Request,
    session: Session,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    org: Organization | None = None,
    error: str | None = None,
    stale_notice: dict[str, Any] | None = None,
    status: int | None = None,
) -> Response:
    return render(
        request,
        "org_form.html",
        {
            "org": org,
            "values": values,
            "errors": errors,
            "error": error,
            "stale": stale_notice,
            "help": HELP,
            "legal_forms": LEGAL_FORMS,
            "areas": _areas(session),
        },
        status=status or (409 if stale_notice else 422 if errors or error else 200),
    )


def _may_register(user: User) -> None:
    if user.role == Role.department:
        raise PermissionDenied(
            "団体の登録は、団体の利用者（まだ登録していない方）か市民自治推進課が行います。"
        )
    if user.role == Role.npo and user.organization_id is not None:  # one group per user
        raise Conflict(orgs_service.ALREADY_REGISTERED, code="ALREADY_REGISTERED")


@router.get("/orgs/new")
def new_org_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    _may_register(user)
    values = {"fields": [], "areas": [], "form_key": new_form_key()}
    return _form(request, session, values=values, errors={})


def _made_by_form(session: Session, user: User, key: str | None) -> Response | None:
    """Where to go when this form already created its group (a second post of it)."""
    if key is None:
        return None
    org_id = session.exec(select(Organization.id).where(Organization.key == key)).first()
    if org_id is None or not (user.role == Role.coordinator or user.organization_id == org_id):
        return None
    return redirect("/my" if user.role == Role.npo else f"/orgs/{org_id}", msg="org_saved")


@router.post("/orgs/new")
async def create_org(request: Request, session: SessionDep, user: PageUser) -> Response:
    form = await checked_form(request)
    key = posted_form_key(form)
    if (made := _made_by_form(session, user, key)) is not None:
        return made  # posted twice: one record
    _may_register(user)
    values = _values(form)
    values["form_key"] = key or new_form_key()
    data = {k: v for k, v in values.items() if k != "form_key"}
    try:
        org = orgs_service.create_org(session, OrgCreate(**data, key=values["form_key"]), user=user)
    except ValidationError as exc:
        return _form(request, session, values=values, errors=form_errors(exc))
    except (DomainError, IntegrityError) as exc:
        session.rollback()
        session.expire_all()
        if (made := _made_by_form(session, session.get(User, user.id) or user, key)) is not None:
            return made  # the other post won
        if isinstance(exc, IntegrityError):
            raise
        return _form(
            request, session, values=values, errors={}, error=exc.message, status=exc.status
        )
    return redirect("/my" if user.role == Role.npo else f"/orgs/{org.id}", msg="org_saved")


@router.get("/orgs/{org_id}/edit")
def edit_org_page(request: Request, session: SessionDep, user: PageUser, org_id: Id) -> Response:
    org = orgs_service.get_org(session, org_id, user=user)
    if not orgs_service.can_edit(user, org):
        raise PermissionDenied("この団体の情報を編集する権限がありません。")
    values = {**_saved(org), VERSION_FIELD: version_of(org.updated_at)}
    return _form(request, session, values=values, errors={}, org=org)


def _saved(org: Organization) -> dict[str, Any]:
    """The profile's stored values, as the form holds them."""
    values = org.model_dump()
    values["fields"] = int_tags(org.fields)
    values["areas"] = from_tags(org.areas)
    return values


@router.post("/orgs/{org_id}/edit")
async def update_org(request: Request, session: SessionDep, user: PageUser, org_id: Id) -> Response:
    form = await checked_form(request)
    org = orgs_service.get_org(session, org_id, user=user)
    values = _values(form)
    read = sent_version(form)
    kept = {**values, VERSION_FIELD: str(form.get(VERSION_FIELD, ""))}
    try:
        sent = OrgUpdate(**values, updated_at=read) if read else OrgUpdate(**values)
        orgs_service.update_org(session, org_id, sent, user=user)
    except ValidationError as exc:
        return _form(request, session, values=kept, errors=form_errors(exc), org=org)
    except Conflict as exc:
        if exc.code != "STALE_VERSION":
            raise
        # someone saved it meanwhile: the typed form again, beside what is saved now
        session.expire_all()
        org = orgs_service.get_org(session, org_id, user=user)
        kept[VERSION_FIELD] = version_of(org.updated_at)  # saving again overwrites, knowingly
        if not differences(values, _saved(org)):
            # the same form posted twice: saved already
            return redirect("/my" if user.role == Role.npo else f"/orgs/{org_id}", msg="org_saved")
        notice = stale_notice(
            message=exc.message,
            item_page=f"/orgs/{org_id}",
            saved_at=org.updated_at,
            typed=values,
            saved=_saved(org),
        )
        return _form(request, session, values=kept, errors={}, org=org, stale_notice=notice)
    return redirect("/my" if user.role == Role.npo else f"/orgs/{org_id}", msg="org_saved")


@router.get("/orgs")
def orgs_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator, Role.department)
    params = request.query_params
    status = params.get("status", "")
    f: dict[str, Any] = {
        "q": params.get("q", "")[:100].strip() or None,
        "field": query_int(params.get("field"), low=1, high=20),
        "area": params.get("area", "")[:50].strip() or None,
        "status": OrgStatus(status) if status in {s.value for s in OrgStatus} else None,
    }
    page = query_int(params.get("page"), low=1, high=100_000) or 1
    result = orgs_service.list_orgs(
        session, user=user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, **f
    )
    filters = urlencode({k: (v.value if hasattr(v, "value") else v) for k, v in f.items() if v})
    return render(
        request,
        "org_list.html",
        {
            "items": result.items,
            "p": pager(result.total, page, PER_PAGE),
            "f": f,
            "filters": filters,
            "statuses": [s.value for s in OrgStatus] if user.role == Role.coordinator else [],
            "areas": _areas(session),
        },
    )


@router.get("/orgs/{org_id}")
def org_page(
    request: Request, session: SessionDep, index: IndexDep, user: PageUser, org_id: Id
) -> Response:
    org = orgs_service.get_org(session, org_id, user=user)
    suited = []
    if user.role == Role.coordinator or (user.role == Role.npo and user.organization_id == org_id):
        suited = sugg.for_org(session, index, org_id, user=user, top=10)
    return render(
        request,
        "org_detail.html",
        {
            "org": orgs_service.org_public(org, viewer=user),
            "suited": suited,
            "can_edit": orgs_service.can_edit(user, org),
        },
    )


@router.post("/orgs/{org_id}/withdraw")
async def withdraw_org(
    request: Request, session: SessionDep, user: PageUser, org_id: Id
) -> Response:
    await checked_form(request)
    orgs_service.withdraw_org(session, org_id, user=user)
    return redirect(f"/orgs/{org_id}", msg="org_withdrawn")
