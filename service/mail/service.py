"""Queueing notifications in the caller's transaction, who gets them, and the outbox page.

Nothing here commits: a notification is written with its cause and rolled back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import or_
from sqlmodel import Session, col, delete, select

from ..db import page_of
from ..errors import Invalid
from ..models import Need, Organization, Role, Suggestion, User
from .models import (
    KIND_LABELS,
    KIND_ROLES,
    REQUIRED_KINDS,
    MailKind,
    MailOutbox,
    MailPreference,
)

SIGNATURE = (
    "\n\n――\n協働マッチング（市民自治推進課）\n"
    "このメールは送信専用です。通知の設定はアカウントのページで変えられます。\n"
)


def queue_mail(
    session: Session,
    *,
    kind: str,
    to: str,
    subject: str,
    body: str,
    dedup_key: str,
    user_id: int | None = None,
) -> MailOutbox | None:
    """Add a message to the outbox in the caller's transaction (no commit); None if the
    same notification (``dedup_key``) is queued already."""
    seen = session.exec(select(MailOutbox.id).where(MailOutbox.dedup_key == dedup_key)).first()
    if seen is not None:
        return None
    row = MailOutbox(
        kind=kind,
        to_address=to,
        user_id=user_id,
        subject=subject[:200],
        body=body,
        dedup_key=dedup_key[:200],
    )
    session.add(row)
    return row


def opted_out(session: Session, user_id: int) -> set[str]:
    rows = session.exec(select(MailPreference.kind).where(MailPreference.user_id == user_id))
    return set(rows.all())


def recipients(session: Session, kind: MailKind, *users: User) -> list[User]:
    """The active users with an address who have not turned ``kind`` off (one query)."""
    ids = [u.id for u in users if u.is_active and u.email]
    off = (
        set(
            session.exec(
                select(MailPreference.user_id).where(
                    MailPreference.kind == kind, col(MailPreference.user_id).in_(ids)
                )
            ).all()
        )
        if ids
        else set()
    )
    return [u for u in users if u.id in ids and u.id not in off]


def department_users(session: Session, department_id: int) -> list[User]:
    """The users of a department (a need's section), by id."""
    return list(
        session.exec(
            select(User)
            .where(col(User.role) == Role.department, col(User.department_id) == department_id)
            .order_by(col(User.id))
        ).all()
    )


def queue_each(
    session: Session,
    kind: MailKind,
    users: Sequence[User],
    *,
    subject: str,
    text: str | Callable[[User], str],
    key: str,
) -> list[MailOutbox]:
    """One mail of ``kind`` to each of ``recipients(users)``: the greeting, ``text`` (or
    ``text(user)``), the signature; deduplicated per ``key`` × user."""
    queued = []
    for user in recipients(session, kind, *users):
        row = queue_mail(
            session,
            kind=kind,
            to=user.email,
            subject=subject,
            body=f"{user.display_name or user.username} さま\n\n"
            + (text(user) if callable(text) else text)
            + SIGNATURE,
            dedup_key=f"{kind}:{key}:{user.id}",
            user_id=user.id,
        )
        if row is not None:
            queued.append(row)
    return queued


def notify_confirmation(
    session: Session,
    *,
    suggestion: Suggestion,
    need: Need,
    department: str,
    org: Organization,
    decision_id: int,
    base_url: str,
) -> list[MailOutbox]:
    """The coordinator confirmed ``suggestion``: the group's users and the need's
    department users are told (each with a link to a page they may open)."""
    kind = MailKind.suggestion_confirmed
    users = session.exec(
        select(User)
        .where(
            or_(
                (col(User.role) == Role.npo) & (col(User.organization_id) == org.id),
                (col(User.role) == Role.department)
                & (col(User.department_id) == need.department_id),
            )
        )
        .order_by(col(User.id))
    ).all()
    base = base_url.rstrip("/")

    def text(user: User) -> str:
        if user.role == Role.npo:
            link = f"{base}/needs/{need.id}"
            lead = f"{org.name} さまと、{department}の協働の種の組み合わせが承認されました。"
        else:
            link = f"{base}/suggestions/{suggestion.id}"
            lead = f"{department}の協働の種に、{org.name} さまとの組み合わせが承認されました。"
        return (
            f"{lead}\n\n協働の種：{need.title}\n団体：{org.name}\n\n"
            f"詳しくは次のページをご覧ください。\n{link}\n"
        )

    return queue_each(
        session,
        kind,
        users,
        subject="協働の種の組み合わせが承認されました",
        text=text,
        key=str(decision_id),
    )


def notify_interest(
    session: Session,
    *,
    need: Need,
    department: str,
    org: Organization,
    interest_id: int,
    comment: str,
    base_url: str,
) -> list[MailOutbox]:
    """A group said 関心あり: the need's department users are told."""
    kind = MailKind.interest
    assert need.department_id is not None
    note = f"\n団体からのひとこと：{comment}\n" if comment else ""
    text = (
        f"{org.name} さまが、{department}の協働の種に「関心あり」を伝えました。\n\n"
        f"協働の種：{need.title}\n{note}\n"
        f"詳しくは次のページをご覧ください。\n{base_url.rstrip('/')}/needs/{need.id}\n"
    )
    return queue_each(
        session,
        kind,
        department_users(session, need.department_id),
        subject="協働の種に「関心あり」が届きました",
        text=text,
        key=str(interest_id),
    )


def notify_proposal(
    session: Session,
    *,
    need: Need,
    department: str,
    group: str,
    area: str,
    profile: str,
    request_id: int,
    base_url: str,
) -> list[MailOutbox]:
    """A group stepped forward for a need from outside the ranking (its 「この課題に
    取り組みたい」 request approved by the coordinator): the need's department users are told
    which group, with a link to the need."""
    if need.department_id is None:
        return []
    lines = [f"団体：{group}"]
    if area:
        lines.append(f"活動地域：{area}")
    if profile:
        lines.append(f"団体の紹介：\n{profile}")
    text = (
        f"{group} さまが、{department}の協働の種に「この課題に取り組みたい」と名乗り出ました。"
        "コーディネーターが申し込みを確かめ、団体として登録しました。\n\n"
        f"協働の種：{need.title}\n" + "\n".join(lines) + "\n\n"
        f"詳しくは次のページをご覧ください。\n{base_url.rstrip('/')}/needs/{need.id}\n"
    )
    return queue_each(
        session,
        MailKind.proposal,
        department_users(session, need.department_id),
        subject="協働の種に取り組みたい団体が名乗り出ました",
        text=text,
        key=f"registration:{request_id}",
    )


def clean_address(email: str) -> str:
    """``email`` stripped, or ``Invalid`` ``BAD_EMAIL`` unless it looks like an address."""
    email = email.strip()
    if email and (
        len(email) > 254 or "@" not in email.strip("@") or any(c.isspace() for c in email)
    ):
        raise Invalid("メールアドレスの形式が正しくありません。", code="BAD_EMAIL")
    return email


def notify_invitation(
    session: Session, *, invitation_id: int, to: str, name: str, lead: str, link: str, days: int
) -> bool:
    """An invitation link to a person who is not a user yet (no setting to turn it off;
    the body is blanked once sent, as a reset's is)."""
    body = (
        f"{name or 'ご担当者'} さま\n\n{lead}\n"
        f"次のリンクを開いて、ログイン名とパスワードを決めてください。{days}日以内に1回だけ"
        f"使えます。\n\n{link}\n\n"
        "心当たりがない場合は、このメールを破棄してください。"
        "\n\n――\n協働マッチング（市民自治推進課）\nこのメールは送信専用です。\n"
    )
    row = queue_mail(
        session,
        kind=MailKind.invitation,
        to=to,
        subject="協働マッチングへのご招待",
        body=body,
        dedup_key=f"{MailKind.invitation}:{invitation_id}",
    )
    return row is not None


def notify_reset(session: Session, *, user: User, link: str, invitation_id: int) -> bool:
    """A password-reset link to the user's own address, if the user has one."""
    if not user.is_active or not user.email:
        return False
    body = (
        f"{user.display_name or user.username} さま\n\n"
        "パスワードを再設定するためのリンクを発行しました。3日以内に開いて、"
        f"新しいパスワードを決めてください。\n\n{link}\n\n"
        "心当たりがない場合は、このメールを破棄して市民自治推進課にお知らせください。" + SIGNATURE
    )
    row = queue_mail(
        session,
        kind=MailKind.password_reset,
        to=user.email,
        subject="パスワード再設定のご案内",
        body=body,
        dedup_key=f"{MailKind.password_reset}:{invitation_id}",
        user_id=user.id,
    )
    return row is not None


# ---- the user's settings (/account/mail) ---------------------------------------------


def _optional(user: User) -> list[MailKind]:
    """The kinds the user's role gets and the user may turn off."""
    return [k for k in KIND_LABELS if k not in REQUIRED_KINDS and user.role in KIND_ROLES[k]]


def preferences(session: Session, user: User) -> dict[str, bool]:
    """``{kind: wanted}`` for every kind the user gets and may turn off."""
    assert user.id is not None
    off = opted_out(session, user.id)
    return {k.value: k not in off for k in _optional(user)}


def save_preferences(session: Session, user: User, *, email: str, wanted: set[str]) -> None:
    """The user's address and the kinds wanted; the user's other optional kinds are off."""
    email = clean_address(email)
    assert user.id is not None
    session.exec(delete(MailPreference).where(col(MailPreference.user_id) == user.id))
    for kind in _optional(user):
        if kind.value not in wanted:
            session.add(MailPreference(user_id=user.id, kind=kind.value))
    user.email = email
    session.add(user)
    session.commit()


# ---- the outbox page (/mail) ----------------------------------------------------------


def outbox(
    session: Session, *, state: str | None = None, limit: int, offset: int
) -> tuple[int, list[MailOutbox]]:
    """Rows newest first; ``state``: queued (not sent, no error yet), failed, sent."""
    query = select(MailOutbox)
    if state == "sent":
        query = query.where(col(MailOutbox.sent_at).is_not(None))
    elif state == "failed":
        query = query.where(col(MailOutbox.sent_at).is_(None), col(MailOutbox.attempts) > 0)
    elif state == "queued":
        query = query.where(col(MailOutbox.sent_at).is_(None), col(MailOutbox.attempts) == 0)
    return page_of(session, query, col(MailOutbox.id).desc(), limit=limit, offset=offset)
