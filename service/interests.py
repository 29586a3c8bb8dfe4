"""関心あり: a group tells the coordinator that a published need interests it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from .audit import audit
from .errors import Invalid, PermissionDenied
from .mail.service import notify_interest
from .models import Interest, NeedStatus, Organization, Role, User
from .needs import get_need


def _own_org(user: User) -> int:
    if user.role != Role.npo:
        raise PermissionDenied("「関心あり」は団体の利用者が伝えます。")
    if user.organization_id is None:
        raise Invalid("先に団体の情報を登録してください。", code="NO_ORGANIZATION")
    return user.organization_id


def express(
    session: Session, need_id: int, *, user: User, comment: str = "", base_url: str
) -> Interest:
    """Record the group's interest (again saying it keeps the first, with the new comment);
    a new one is mailed to the need's department (links from ``base_url``)."""
    org_id = _own_org(user)
    need, department = get_need(session, need_id, user=user)
    if need.status != NeedStatus.published:
        raise Invalid("公開中の課題にだけ関心を伝えられます。", code="NOT_PUBLISHED")
    existing = session.exec(
        select(Interest).where(Interest.need_id == need_id, Interest.organization_id == org_id)
    ).first()
    if existing is not None:
        existing.comment = comment.strip()[:2000]
        session.add(existing)
        session.commit()
        return existing
    assert user.id is not None
    interest = Interest(
        need_id=need_id, organization_id=org_id, user_id=user.id, comment=comment.strip()[:2000]
    )
    session.add(interest)
    session.flush()
    audit(session, user, "interest", "need", need_id, organization_id=org_id)
    org = session.get(Organization, org_id)
    assert interest.id is not None and org is not None
    notify_interest(
        session,
        need=need,
        department=department,
        org=org,
        interest_id=interest.id,
        comment=interest.comment,
        base_url=base_url,
    )
    session.commit()
    return interest


def withdraw(session: Session, need_id: int, *, user: User) -> bool:
    org_id = _own_org(user)
    existing = session.exec(
        select(Interest).where(Interest.need_id == need_id, Interest.organization_id == org_id)
    ).first()
    if existing is None:
        return False
    session.delete(existing)
    audit(session, user, "uninterest", "need", need_id, organization_id=org_id)
    session.commit()
    return True


def for_need(session: Session, need_id: int, *, user: User) -> list[tuple[Interest, Organization]]:
    """The groups interested in a need: the coordinator and the need's department see them."""
    need, _ = get_need(session, need_id, user=user)
    if user.role == Role.npo:
        raise PermissionDenied("他の団体の関心は見られません。")
    rows = session.exec(
        select(Interest, Organization)
        .join(Organization, col(Interest.organization_id) == Organization.id)
        .where(Interest.need_id == need.id)
        .order_by(col(Interest.created_at), col(Interest.id))
    ).all()
    return [(i, o) for i, o in rows]


def needs_of(session: Session, organization_id: int) -> set[int]:
    """The needs a group said 関心あり to."""
    return set(
        session.exec(select(Interest.need_id).where(Interest.organization_id == organization_id))
    )


def counts(session: Session, need_ids: list[int]) -> dict[int, list[int]]:
    """need id → the ids of the groups interested in it (for the queue's badges)."""
    if not need_ids:
        return {}
    out: dict[int, list[int]] = {}
    for need_id, org_id in session.exec(
        select(Interest.need_id, Interest.organization_id).where(
            col(Interest.need_id).in_(need_ids)
        )
    ):
        out.setdefault(need_id, []).append(org_id)
    return out


__all__ = ["counts", "express", "for_need", "needs_of", "withdraw"]
