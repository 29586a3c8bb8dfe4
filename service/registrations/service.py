"""Registration requests: keyword-only functions, no HTTP.

A request is sent from a published need's public page by a group not yet registered;
the coordinator approves it (an organisation and a one-time invitation are made from it,
in one transaction) or declines it with a reason. Both decisions are audited.

Rate limit: at most ``LIMIT`` requests per ``WINDOW`` from one address. A request is
written (and committed) before the address's requests are counted, as logins are
(``service.throttle``): of simultaneous requests no more than the limit are kept.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from ..audit import audit
from ..errors import Conflict, DomainError, Invalid, NotFound, PermissionDenied
from ..invitations import create_invitation
from ..keys import keyed_hash
from ..mail.service import clean_address, notify_proposal
from ..models import Department, Need, NeedStatus, Organization, Role, User, to_tags, utcnow
from ..security import clean_display_name
from .models import RegistrationRequest, RequestStatus

__all__ = [
    "FIELDS",
    "LIMIT",
    "WINDOW",
    "Pending",
    "TooManyRequests",
    "address_hash",
    "approve",
    "decline",
    "pending_count",
    "queue",
    "submit",
]

LIMIT = 5
WINDOW = timedelta(hours=1)
# (form field, label, maximum length, required)
FIELDS: tuple[tuple[str, str, int, bool], ...] = (
    ("group_name", "団体名", 200, True),
    ("contact_name", "担当者名", 100, True),
    ("email", "メールアドレス", 254, True),
    ("phone", "電話番号", 40, False),
    ("profile", "団体の紹介", 1000, True),
    ("area", "活動地域", 100, False),
)
REASON_LENGTH = 1000
# control characters other than the line breaks and tabs a text area may send
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE = re.compile(r"^[0-9+()\- ]{6,40}$")
_SINGLE_LINE = {"group_name", "contact_name", "email", "phone", "area"}


class TooManyRequests(DomainError):
    status = 429
    default_code = "TOO_MANY_REQUESTS"
    retry_after = int(WINDOW.total_seconds())


def address_hash(session: Session, address: str) -> str:
    """What is kept of the sender's address: enough to count, not to show, nor to find
    by hashing every address (a keyed hash, ``service.keys``)."""
    return keyed_hash(session, "registration-address", address)


def _clean(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``(cleaned values, {field: Japanese error})``; NFKC for e-mail and phone."""
    out: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, label, limit, required in FIELDS:
        value = values.get(name, "").replace("\r\n", "\n").strip()
        if name in ("email", "phone"):
            value = unicodedata.normalize("NFKC", value)
        out[name] = value
        if _CONTROL.search(value) or (name in _SINGLE_LINE and ("\n" in value or "\t" in value)):
            errors[name] = f"{label}に使えない文字（制御文字や改行）が含まれています。"
        elif required and not value:
            errors[name] = f"{label}は必須です。"
        elif len(value) > limit:
            errors[name] = f"{label}は{limit}文字以内で入力してください。"
        elif name == "email" and not _EMAIL.match(value):
            errors[name] = "メールアドレスの形（例: info@example.jp）で入力してください。"
        elif name == "phone" and value and not _PHONE.match(value):
            errors[name] = "電話番号は数字とハイフンで入力してください（例: 045-123-4567）。"
    return out, errors


def _published_need(session: Session, need_id: int) -> Need:
    need = session.get(Need, need_id)
    if need is None or need.status != NeedStatus.published:
        raise NotFound("公開中の協働の種")
    return need


def submit(
    session: Session, *, need_id: int, values: dict[str, str], address: str
) -> RegistrationRequest:
    """Store a pending request about the published need ``need_id``.

    Raises ``NotFound`` (not a published need), ``Invalid`` (``errors`` name the fields)
    or ``TooManyRequests`` (past the limit for ``address``; nothing is kept then)."""
    _published_need(session, need_id)
    data, errors = _clean(values)
    if errors:
        raise Invalid(
            "入力内容を確かめてください。",
            code="INVALID_REQUEST",
            errors=[{"field": k, "code": "INVALID", "message": v} for k, v in errors.items()],
        )
    request = RegistrationRequest(
        need_id=need_id,
        group_name=data["group_name"],
        contact_name=data["contact_name"],
        email=data["email"],
        phone=data["phone"],
        profile=data["profile"],
        area=data["area"],
        address_hash=address_hash(session, address),
    )
    session.add(request)
    session.commit()
    since = utcnow() - WINDOW
    sent = session.exec(
        select(func.count())
        .select_from(RegistrationRequest)
        .where(RegistrationRequest.address_hash == request.address_hash)
        .where(col(RegistrationRequest.created_at) >= since)
    ).one()
    if sent > LIMIT:
        session.delete(request)
        session.commit()
        raise TooManyRequests(
            "短い時間に多くの申し込みがありました。"
            f"{WINDOW.seconds // 3600 or 1}時間ほど待ってからもう一度送るか、"
            "市民自治推進課に電話でご連絡ください。"
        )
    return request


@dataclass(frozen=True, slots=True)
class Pending:
    """A request as the coordinator's queue shows it."""

    request: RegistrationRequest
    need_title: str
    department: str


def _coordinator(user: User) -> None:
    if user.role != Role.coordinator:
        raise PermissionDenied("登録の申し込みを扱えるのはコーディネーターだけです。")


def pending_count(session: Session) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(RegistrationRequest)
            .where(RegistrationRequest.status == RequestStatus.pending)
        ).one()
    )


def queue(
    session: Session, *, user: User, decided: int = 20
) -> tuple[list[Pending], list[Pending]]:
    """``(pending oldest first, the latest ``decided`` decided ones)`` with their needs."""
    _coordinator(user)
    base: Any = select(RegistrationRequest, Need.title, Department.name).join(
        Need, col(Need.id) == RegistrationRequest.need_id
    )
    base = base.join(Department, col(Department.id) == Need.department_id)
    is_pending = RegistrationRequest.status == RequestStatus.pending
    waiting = session.exec(base.where(is_pending).order_by(col(RegistrationRequest.id))).all()
    done = session.exec(
        base.where(~is_pending).order_by(col(RegistrationRequest.decided_at).desc()).limit(decided)
    ).all()
    return [Pending(*row) for row in waiting], [Pending(*row) for row in done]


def _claim(
    session: Session, request_id: int, status: RequestStatus, by: User, **values: Any
) -> RegistrationRequest:
    """Decide a pending request, unless someone just did: of two decisions, one wins."""
    request = session.get(RegistrationRequest, request_id)
    if request is None:
        raise NotFound("登録の申し込み")
    claimed = session.execute(
        update(RegistrationRequest)
        .where(col(RegistrationRequest.id) == request_id)
        .where(col(RegistrationRequest.status) == RequestStatus.pending)
        .values(status=status, decided_at=utcnow(), decided_by=by.id, **values)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("この申し込みは既に対応済みです。", code="ALREADY_DECIDED")
    session.refresh(request)
    return request


def _tell_department(
    session: Session, request: RegistrationRequest, need: Need, *, base_url: str
) -> None:
    """Queue the 「団体が名乗り出ました」 mail to the need's department (no commit)."""
    assert request.id is not None
    department = session.exec(select(Department.name).where(Department.id == need.department_id))
    notify_proposal(
        session,
        need=need,
        department=department.first() or "",
        group=request.group_name,
        area=request.area,
        profile=request.profile,
        request_id=request.id,
        base_url=base_url,
    )


def approve(
    session: Session,
    *,
    request_id: int,
    by: User,
    email: str = "",
    mail_base_url: str | None = None,
) -> tuple[RegistrationRequest, str]:
    """Make the group's organisation and an NPO invitation for it; returns the request and
    the invitation's secret (shown once, for the coordinator to hand over). With ``email``
    and ``mail_base_url`` the link is also mailed there (the coordinator's form offers the
    address the group gave); with ``mail_base_url`` the need's department users are told
    which group stepped forward (mail kind ``proposal``), in the same transaction."""
    _coordinator(by)
    email = clean_address(email)  # before the claim: a bad address decides nothing
    request = _claim(session, request_id, RequestStatus.approved, by)
    need = session.get(Need, request.need_id)
    assert need is not None  # a request's need is never deleted (a foreign key)
    org = Organization(
        key=f"W{uuid.uuid4().hex[:10].upper()}",
        name=request.group_name,
        areas=to_tags([request.area]) if request.area else "",
        activities=request.profile,
        contact_name=request.contact_name,
        contact_email=request.email,
        contact_phone=request.phone,
    )
    session.add(org)
    session.flush()
    request.organization_id = org.id
    session.add(request)
    audit(session, by, "create", "organization", org.id, key=org.key, from_request=request.id)
    audit(session, by, "approve", "registration_request", request.id, organization_id=org.id)
    if mail_base_url is not None:
        _tell_department(session, request, need, base_url=mail_base_url)
    try:  # the contact's name as the invitation's display name, if it is a valid one
        display_name = clean_display_name(request.contact_name)
    except Invalid:
        display_name = ""  # the group's staff member types one on accepting
    # commits the organisation, the decision, both audit rows and the department's mail
    # with the invitation
    invitation, token = create_invitation(
        session,
        by=by,
        role=Role.npo,
        display_name=display_name,
        organization_id=org.id,
        email=email,
        mail_base_url=mail_base_url,
        note=f"協働の種「{need.title}」について、登録のお申し込みをいただきありがとうございました。"
        "団体の情報を登録しました。",
    )
    request.invitation_id = invitation.id
    session.add(request)
    session.commit()
    return request, token


def decline(session: Session, *, request_id: int, by: User, reason: str) -> RegistrationRequest:
    """Decline with a reason (kept for the office; the group is told by the coordinator)."""
    _coordinator(by)
    reason = reason.replace("\r\n", "\n").strip()
    if not reason or len(reason) > REASON_LENGTH or _CONTROL.search(reason):
        raise Invalid(
            f"お断りの理由を{REASON_LENGTH}文字以内で入力してください（制御文字は使えません）。",
            code="BAD_REASON",
        )
    request = _claim(session, request_id, RequestStatus.declined, by, decline_reason=reason)
    audit(session, by, "decline", "registration_request", request.id, reason=reason)
    session.commit()
    return request
