"""協働の種 (needs): the list with search, one need, the form departments post with, and
the group's 関心あり. Also ``/my``, each department's and each group's own start page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

import matching

from .. import interests
from .. import needs as needs_service
from .. import suggestions as sugg
from ..deadlines import is_open
from ..deps import IndexDep, SessionDep, SettingsDep, TodayDep
from ..errors import Conflict, DomainError, PermissionDenied
from ..models import (
    Department,
    Need,
    NeedStatus,
    Organization,
    Role,
    Suggestion,
    SuggestionStatus,
    User,
    from_tags,
    int_tags,
)
from ..organizations import org_public
from ..schemas import NeedCreate, NeedUpdate, SuggestionPublic
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
from .stale import VERSION_FIELD, differences, sent_version
from .stale import notice as stale_notice

router = APIRouter()
PER_PAGE = 20

HELP = {
    "title": "何に困っているかが一目で分かる件名にしてください（例: 避難所運営の担い手不足）。",
    "description": "いま起きていること、対象になる人や場所、これまでの取り組みを書いてください。"
    "団体の活動内容と照らし合わせて提案を作るので、具体的な言葉ほどよく合います。",
    "goal": "団体と一緒に実現したいこと、お願いしたい役割を書いてください。",
    "fields": "課題に関係する分野を選んでください。分野が重なる団体が上位に来ます。",
    "areas": "区・地区・校区の名前を「、」で区切って書きます。"
    "市全域が対象なら空のままにしてください。",
    "forms": "考えている協働の形を選んでください（まだ決まっていなければ空のままで構いません）。",
    "contact_name": "団体との調整の窓口になる職員の名前です。団体には表示されません。",
    "status": "「下書き」のうちは団体に公開されず、提案も作られません。",
    "deadline": "団体を募る最終日です（その日の終わりまで募集します）。過ぎると公開ページや"
    "団体の画面に出なくなり、7日前に担当課へお知らせのメールが届きます。"
    "期限がなければ空のままにしてください。延ばすときはここを変えてください。",
}


def _areas(session: Session) -> list[str]:
    """Area names already in use, for the form's suggestions."""
    seen: set[str] = set()
    for tags in session.exec(select(Need.areas).where(Need.areas != "")):
        seen.update(from_tags(tags))
    for tags in session.exec(select(Organization.areas).where(Organization.areas != "")):
        seen.update(from_tags(tags))
    return sorted(seen)[:300]


def _departments(session: Session) -> list[str]:
    return list(session.exec(select(Department.name).order_by(Department.name)))


def _need_values(form: Any) -> dict[str, Any]:
    return {
        "title": str(form.get("title", "")),
        "description": str(form.get("description", "")),
        "goal": str(form.get("goal", "")),
        "fields": [int(v) for v in form.getlist("fields") if str(v).isdigit()],
        "areas": matching.parse_areas(str(form.get("areas", ""))),
        "forms": [str(v) for v in form.getlist("forms") if str(v)],
        "contact_name": str(form.get("contact_name", "")),
        "status": str(form.get("status", NeedStatus.published)),
        "deadline": str(form.get("deadline", "")).strip() or None,
    }


def _form_page(
    request: Request,
    session: Session,
    user: User,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    need: Need | None = None,
    error: str | None = None,
    stale_notice: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "need_form.html",
        {
            "need": need,
            "values": values,
            "errors": errors,
            "error": error,
            "stale": stale_notice,
            "help": HELP,
            "areas": _areas(session),
            "departments": _departments(session) if user.role == Role.coordinator else [],
        },
        status=409 if stale_notice else 422 if errors or error else 200,
    )


@router.get("/needs/new")
def new_need_page(request: Request, session: SessionDep, user: PageUser) -> Response:
    require(user, Role.coordinator, Role.department)
    values = {"fields": [], "areas": [], "forms": [], "status": "published"}
    values["form_key"] = new_form_key()
    return _form_page(request, session, user, values=values, errors={})


def _made_by_form(session: Session, user: User, key: str | None) -> int | None:
    """The need this form already created (a second post of the same form), if the user
    may see it."""
    if key is None:
        return None
    row = session.exec(select(Need.id, Need.department_id).where(Need.key == key)).first()
    if row is None or not (user.role == Role.coordinator or row[1] == user.department_id):
        return None
    return row[0]


@router.post("/needs/new")
async def create_need(request: Request, session: SessionDep, user: PageUser) -> Response:
    form = await checked_form(request)
    require(user, Role.coordinator, Role.department)
    key = posted_form_key(form)
    if (made := _made_by_form(session, user, key)) is not None:
        return redirect(f"/needs/{made}", msg="need_saved")  # posted twice: one record
    values = _need_values(form)
    values["form_key"] = key or new_form_key()
    if user.role == Role.coordinator:
        values["department"] = str(form.get("department", "")) or None
    data = {k: v for k, v in values.items() if k != "form_key"}
    try:
        need, _ = needs_service.create_need(
            session, NeedCreate(**data, key=values["form_key"]), user=user
        )
    except ValidationError as exc:
        return _form_page(request, session, user, values=values, errors=form_errors(exc))
    except (DomainError, IntegrityError) as exc:
        session.rollback()
        if (made := _made_by_form(session, user, key)) is not None:
            return redirect(f"/needs/{made}", msg="need_saved")  # the other post won
        if isinstance(exc, IntegrityError):
            raise
        errors = {e["field"]: e["message"] for e in exc.errors if "field" in e}
        return _form_page(request, session, user, values=values, errors=errors, error=exc.message)
    return redirect(f"/needs/{need.id}", msg="need_saved")


@router.get("/needs/{need_id}/edit")
def edit_need_page(request: Request, session: SessionDep, user: PageUser, need_id: Id) -> Response:
    need, dept = needs_service.get_need(session, need_id, user=user)
    if not needs_service.can_edit(user, need):
        raise PermissionDenied("この協働の種を編集する権限がありません。")
    values = {**_saved(need), "department": dept, VERSION_FIELD: version_of(need.updated_at)}
    return _form_page(request, session, user, values=values, errors={}, need=need)


def _saved(need: Need) -> dict[str, Any]:
    """The need's stored values, as the form holds them."""
    return {
        "title": need.title,
        "description": need.description,
        "goal": need.goal,
        "fields": int_tags(need.fields),
        "areas": from_tags(need.areas),
        "forms": from_tags(need.forms),
        "contact_name": need.contact_name,
        "status": need.status,
        "deadline": need.deadline,
    }


@router.post("/needs/{need_id}/edit")
async def update_need(
    request: Request, session: SessionDep, user: PageUser, need_id: Id
) -> Response:
    form = await checked_form(request)
    need, _ = needs_service.get_need(session, need_id, user=user)
    values = _need_values(form)
    read = sent_version(form)
    kept = {**values, VERSION_FIELD: str(form.get(VERSION_FIELD, ""))}
    try:
        sent = NeedUpdate(**values, updated_at=read) if read else NeedUpdate(**values)
        needs_service.update_need(session, need_id, sent, user=user)
    except ValidationError as exc:
        return _form_page(request, session, user, values=kept, errors=form_errors(exc), need=need)
    except Conflict as exc:
        if exc.code != "STALE_VERSION":
            raise
        # someone saved it meanwhile: the typed form again, beside what is saved now
        session.expire_all()
        need, _ = needs_service.get_need(session, need_id, user=user)
        kept[VERSION_FIELD] = version_of(need.updated_at)  # saving again overwrites, knowingly
        if not differences(values, _saved(need)):  # the same form posted twice: saved
            return redirect(f"/needs/{need_id}", msg="need_saved")
        notice = stale_notice(
            message=exc.message,
            item_page=f"/needs/{need_id}",
            saved_at=need.updated_at,
            typed=values,
            saved=_saved(need),
        )
        return _form_page(
            request, session, user, values=kept, errors={}, need=need, stale_notice=notice
        )
    return redirect(f"/needs/{need_id}", msg="need_saved")


@router.post("/needs/{need_id}/withdraw")
async def withdraw_need(
    request: Request, session: SessionDep, user: PageUser, need_id: Id
) -> Response:
    await checked_form(request)
    needs_service.withdraw_need(session, need_id, user=user)
    return redirect(f"/needs/{need_id}", msg="need_withdrawn")


@router.post("/needs/{need_id}/interest")
async def interest(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser, need_id: Id
) -> Response:
    form = await checked_form(request)
    if form.get("withdraw"):
        interests.withdraw(session, need_id, user=user)
        msg = "uninterest"
    else:
        comment = str(form.get("comment", ""))
        interests.express(session, need_id, user=user, comment=comment, base_url=settings.base_url)
        msg = "interest"
    return redirect(f"/needs/{need_id}", msg=msg)


def _list_params(request: Request) -> dict[str, Any]:
    params = request.query_params
    status = params.get("status", "")
    return {
        "q": params.get("q", "")[:100].strip() or None,
        "field": query_int(params.get("field"), low=1, high=20),
        "area": params.get("area", "")[:50].strip() or None,
        "status": NeedStatus(status) if status in {s.value for s in NeedStatus} else None,
        "department": params.get("department", "")[:100] or None,
    }


@router.get("/needs")
def needs_page(
    request: Request, session: SessionDep, index: IndexDep, today: TodayDep, user: PageUser
) -> Response:
    f = _list_params(request)
    if user.role != Role.coordinator:
        f["department"] = None
    page = query_int(request.query_params.get("page"), low=1, high=100_000) or 1
    result = needs_service.list_needs(
        session, user=user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, today=today, **f
    )
    suited: list[tuple[Any, float, dict[str, Any]]] = []
    mine: set[int] = set()
    if user.role == Role.npo and user.organization_id is not None:
        mine = interests.needs_of(session, user.organization_id)
        if page == 1 and not any(f.values()):
            suited = sugg.for_org(
                session, index, user.organization_id, user=user, top=5, unpaired=True, today=today
            )
    filters = urlencode({k: (v.value if hasattr(v, "value") else v) for k, v in f.items() if v})
    return render(
        request,
        "need_list.html",
        {
            "items": result.items,
            "p": pager(result.total, page, PER_PAGE),
            "f": f,
            "filters": filters,
            "suited": suited,
            "interested": mine,
            "statuses": [] if user.role == Role.npo else [s.value for s in NeedStatus],
            "departments": _departments(session) if user.role == Role.coordinator else [],
            "areas": _areas(session),
        },
    )


@router.get("/needs/{need_id}")
def need_page(
    request: Request,
    session: SessionDep,
    index: IndexDep,
    settings: SettingsDep,
    today: TodayDep,
    user: PageUser,
    need_id: Id,
) -> Response:
    need, dept = needs_service.get_need(session, need_id, user=user, today=today)
    public = needs_service.need_public(need, dept, viewer=user, today=today)
    suggestions: list[SuggestionPublic] = []
    stored = False  # the lists as stored before: the index is being prepared
    interested: list[tuple[Any, Organization]] = []
    similar: list[tuple[Any, float]] = []
    if user.role in (Role.coordinator, Role.department):
        suggestions, served = sugg.for_need(
            session, index, need_id, user=user, top=settings.suggestions_per_need
        )
        stored = served.version is None
        interested = interests.for_need(session, need_id, user=user)
        similar = sugg.similar_needs(session, index, need_id, user=user, top=5)
    considered: list[tuple[Any, Organization]] = []
    if user.role == Role.department and need.department_id == user.department_id:
        considered = sugg.considered_for_need(
            session, index, need_id, user=user, top=settings.suggestions_per_need
        )
    mine = (
        user.role == Role.npo
        and user.organization_id is not None
        and need_id in interests.needs_of(session, user.organization_id)
    )
    return render(
        request,
        "need_detail.html",
        {
            "need": public,
            "suggestions": suggestions,
            "stored": stored,
            "considered": considered,
            "tags_int": int_tags,
            "interested": [(i, org_public(o, viewer=user)) for i, o in interested],
            "mine": mine,
            "similar": [(n, score) for n, score in similar if score >= 0.2],
            "can_edit": needs_service.can_edit(user, need),
            "can_pair": user.role == Role.coordinator and need.status == NeedStatus.published,
            "can_propose": user.role == Role.department
            and need.department_id == user.department_id
            and need.status == NeedStatus.published
            and not public.expired,
        },
    )


@router.get("/my")
def my_page(
    request: Request, session: SessionDep, index: IndexDep, today: TodayDep, user: PageUser
) -> Response:
    require(user, Role.department, Role.npo)
    if user.role == Role.npo:
        if user.organization_id is None:
            return redirect("/orgs/new")
        org = session.get(Organization, user.organization_id)
        assert org is not None
        suited = sugg.for_org(
            session, index, user.organization_id, user=user, top=10, unpaired=True, today=today
        )
        matched = session.exec(
            sugg.joined()
            .where(Suggestion.organization_id == user.organization_id)
            .where(Suggestion.status == SuggestionStatus.confirmed)
            .order_by(col(Suggestion.updated_at).desc())
        ).all()
        return render(
            request,
            "my_org.html",
            {
                "org": org_public(org, viewer=user),
                "suited": suited,
                "matched": [(s, need, dept) for s, need, dept, _ in matched],
                "interested": interests.needs_of(session, user.organization_id),
            },
        )
    rows = session.exec(
        select(Need).where(Need.department_id == user.department_id).order_by(col(Need.id).desc())
    ).all()
    confirmed: dict[int, int] = dict(
        session.exec(
            select(Suggestion.need_id, func.count())
            .where(Suggestion.status == SuggestionStatus.confirmed)
            .where(col(Suggestion.need_id).in_([n.id for n in rows]))
            .group_by(col(Suggestion.need_id))
        ).all()
    )
    dept = session.get(Department, user.department_id) if user.department_id else None
    return render(
        request,
        "my_department.html",
        {
            "needs": rows,
            "confirmed": confirmed,
            "expired": {n.id for n in rows if not is_open(n, today)},
            "department": dept.name if dept else "",
        },
    )
