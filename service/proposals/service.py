"""A department proposes a group for its own need: keyword-only functions, no HTTP types."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from ..audit import audit
from ..deadlines import is_open, today_jst
from ..errors import Conflict, PermissionDenied
from ..index import MatchingIndex
from ..models import (
    BY_DEPARTMENT,
    Need,
    NeedStatus,
    Organization,
    OrgStatus,
    Role,
    SuggestionStatus,
    User,
)
from ..needs import get_need
from ..organizations import get_org
from ..reviews import candidates as _candidates
from ..reviews import outside_suggestion
from ..schemas import SuggestionPublic
from ..suggestions import suggestion_public
from .models import ProposalIn

_ALREADY = (
    "この団体は、すでにこの協働の種で検討されています（市民自治推進課の確認待ちか、判断済みです）。"
)


def own_open_need(
    session: Session, need_id: int, *, user: User, today: date | None
) -> tuple[Need, str]:
    """The department's own need, published and still open: what a proposal is made on."""
    if user.role != Role.department:
        raise PermissionDenied("団体の提案は、協働の種を登録した課の協働推進員が行います。")
    need, dept = get_need(session, need_id, user=user)  # another section's need: 404
    if need.status != NeedStatus.published:
        raise Conflict(
            "公開中の協働の種にだけ団体を提案できます。下書きなら公開してから提案してください。",
            code="NEED_NOT_PUBLISHED",
        )
    if not is_open(need, today or today_jst()):
        raise Conflict(
            "募集期限を過ぎた協働の種には団体を提案できません。募集期限を延ばしてから提案してください。",
            code="NEED_EXPIRED",
        )
    return need, dept


def candidates(
    session: Session,
    need_id: int,
    *,
    user: User,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
    today: date | None = None,
) -> tuple[Need, str, int, list[tuple[Organization, int | None, str | None]]]:
    """The active groups the department may propose for its need (the coordinator's
    picker's search): the need, its department, the total and one page of rows (each
    group with its suggestion's id and status when the need already has one)."""
    need, dept = own_open_need(session, need_id, user=user, today=today)
    total, rows = _candidates(session, need_id, q=q, limit=limit, offset=offset)
    return need, dept, total, rows


def propose(
    session: Session,
    index: MatchingIndex,
    need_id: int,
    data: ProposalIn,
    *,
    user: User,
    today: date | None = None,
) -> SuggestionPublic:
    """Put a group in the coordinator's review queue for the department's own need: a
    pending suggestion with the reasons the ranker would give (``rank`` None,
    ``model_version`` ``BY_DEPARTMENT``, the department's note under
    ``reasons["proposal"]``); the stored suggestions' refresh leaves it as it is."""
    need, dept = own_open_need(session, need_id, user=user, today=today)
    org = get_org(session, data.organization_id, user=user)
    if org.status != OrgStatus.active:
        raise Conflict("登録を取り消した団体は提案できません。", code="ORG_WITHDRAWN")
    s = outside_suggestion(
        session,
        index,
        need_id,
        data.organization_id,
        model_version=BY_DEPARTMENT,
        status=SuggestionStatus.pending,
        already=_ALREADY,
        extra={"proposal": {"department": dept, "comment": data.comment}},
    )
    audit(session, user, "propose", "suggestion", s.id, need=need_id, organization=org.id)
    session.commit()
    session.refresh(s)
    return suggestion_public(s, need, dept, org)
