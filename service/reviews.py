"""The coordinator's review: confirm / reject with a reason (the stages that follow a
confirmation are in ``stages``).

Every write checks the suggestion's ``version`` (compare-and-set in one UPDATE), so of
many simultaneous decisions on one suggestion exactly one wins and the others get a
409; every step is a new ``Decision`` row, so a revised decision never erases history.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, and_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from .audit import audit
from .db import page_of
from .errors import Conflict, Invalid, NotFound, PermissionDenied
from .index import MatchingIndex
from .mail.service import notify_confirmation
from .models import (
    BY_HAND,
    STAGE_LABELS,
    Decision,
    Need,
    NeedStatus,
    Organization,
    OrgStatus,
    RejectReason,
    Role,
    Stage,
    Suggestion,
    SuggestionStatus,
    User,
    utcnow,
)
from .needs import get_need
from .organizations import get_org
from .refresh import explain_pair
from .schemas import BulkDecisionIn, DecisionIn, DecisionPublic, PairIn, SuggestionPublic
from .search import matches
from .suggestions import joined, suggestion_public


def load(
    session: Session, suggestion_id: int, *, user: User
) -> tuple[Suggestion, Need, str, Organization]:
    row = session.exec(joined().where(Suggestion.id == suggestion_id)).first()
    if row is None:
        raise NotFound("提案")
    s, need, _, _ = row
    visible = user.role == Role.coordinator or (
        user.role == Role.department
        and need.department_id == user.department_id
        and s.status == SuggestionStatus.confirmed
    )
    if not visible:
        raise NotFound("提案")
    return s, need, row[2], row[3]


def get_suggestion(session: Session, suggestion_id: int, *, user: User) -> SuggestionPublic:
    return suggestion_public(*load(session, suggestion_id, user=user))


def history(session: Session, suggestion_id: int, *, user: User) -> list[DecisionPublic]:
    load(session, suggestion_id, user=user)
    rows = session.exec(
        select(Decision, User.username)
        .join(User, col(Decision.user_id) == User.id)
        .where(Decision.suggestion_id == suggestion_id)
        .order_by(col(Decision.id))
    ).all()
    out = []
    for d, u in rows:
        assert d.id is not None  # loaded from the database
        out.append(
            DecisionPublic(
                id=d.id,
                action=d.action,
                reason_code=d.reason_code,
                comment=d.comment,
                user=u,
                created_at=d.created_at,
            )
        )
    return out


def _compare_and_set(session: Session, s: Suggestion, expected: int, **values: object) -> None:
    # an UPDATE always yields a CursorResult; Session.execute is typed as returning Result
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Suggestion)
            .where(col(Suggestion.id) == s.id, col(Suggestion.version) == expected)
            .values(version=Suggestion.version + 1, updated_at=utcnow(), **values)
        ),
    )
    if result.rowcount != 1:
        session.rollback()
        raise Conflict(
            "この提案は、読み込んだ後に他の人が更新しました。最新の状態を読み込み直してください。",
            code="STALE_VERSION",
        )


def decide(
    session: Session, suggestion_id: int, data: DecisionIn, *, user: User, base_url: str
) -> SuggestionPublic:
    """Confirm or reject; a confirmation queues its mail (``base_url`` starts the links)
    in the same transaction."""
    s, need, dept, org, _ = _decide(session, suggestion_id, data, user=user, base_url=base_url)
    session.commit()
    session.refresh(s)
    return suggestion_public(s, need, dept, org)


BATCH_MAX = 50


def decide_many(
    session: Session,
    picked: list[tuple[int, int]],
    data: BulkDecisionIn,
    *,
    user: User,
    base_url: str,
) -> list[int]:
    """Decide several pending suggestions alike (``picked``: ``(suggestion id, version
    read)`` pairs) in one transaction: each gets its own decision, audit row and mail, as
    ``decide`` gives them, and its stored reasons stay as they are. If any one cannot be
    decided (decided meanwhile, another version, gone), nothing is written: the
    ``Conflict`` names it (``errors[0]["suggestion_id"]``). Returns the decision ids."""
    if user.role != Role.coordinator:
        raise PermissionDenied("提案の承認・見送りはコーディネーターだけが行えます。")
    if not picked:
        raise Invalid("まとめて判断する提案を選んでください。", code="NOTHING_SELECTED")
    if len(picked) > BATCH_MAX:
        raise Invalid(
            f"一度にまとめて判断できるのは {BATCH_MAX} 件までです"
            f"（{len(picked)} 件選ばれています）。",
            code="TOO_MANY",
        )
    if data.action == "reject" and data.reason_code is None:
        raise Invalid(
            "まとめて見送る場合は理由を選んでください。",
            code="VALIDATION_ERROR",
            errors=[{"field": "reason_code", "code": "MISSING", "message": "理由は必須です。"}],
        )
    ids: list[int] = []
    for suggestion_id, version in picked:
        one = DecisionIn(
            action=data.action, reason_code=data.reason_code, comment=data.comment, version=version
        )
        try:
            s = session.get(Suggestion, suggestion_id)
            if s is not None and s.status != SuggestionStatus.pending:
                raise Conflict("この提案はすでに判断されています。", code="ALREADY_DECIDED")
            decision = _decide(session, suggestion_id, one, user=user, base_url=base_url)[4]
            session.flush()
        except (Conflict, NotFound) as exc:
            session.rollback()
            raise Conflict(
                exc.message, code=exc.code, errors=[{"suggestion_id": suggestion_id}]
            ) from None
        assert decision.id is not None
        ids.append(decision.id)
    session.commit()
    return ids


def _decide(
    session: Session, suggestion_id: int, data: DecisionIn, *, user: User, base_url: str
) -> tuple[Suggestion, Need, str, Organization, Decision]:
    """``decide`` without the commit (the caller commits, or rolls back on a conflict)."""
    if user.role != Role.coordinator:
        raise PermissionDenied("提案の承認・見送りはコーディネーターだけが行えます。")
    s, need, dept, org = load(session, suggestion_id, user=user)
    if data.action == "reject" and data.reason_code is None:
        raise Invalid(
            "見送る場合は理由を選んでください。",
            code="VALIDATION_ERROR",
            errors=[{"field": "reason_code", "code": "MISSING", "message": "理由は必須です。"}],
        )
    if s.stage is not None:
        raise Conflict(
            f"「{STAGE_LABELS[Stage(s.stage)]}」まで進んだ提案の判断は変更できません。",
            code="STAGE_LOCKED",
        )
    status = SuggestionStatus.confirmed if data.action == "confirm" else SuggestionStatus.rejected
    reason = data.reason_code.value if data.reason_code else None
    previous = s.status
    _compare_and_set(session, s, data.version, status=status)
    assert user.id is not None and s.id is not None
    decision = Decision(
        suggestion_id=s.id,
        action=data.action,
        reason_code=reason,
        comment=data.comment,
        user_id=user.id,
    )
    _record(session, decision, s, need, dept, org, base_url=base_url)
    audit(
        session,
        user,
        "revise" if previous != SuggestionStatus.pending else "decide",
        "suggestion",
        s.id,
        decision=data.action,
        reason=reason,
        previous=previous,
    )
    return s, need, dept, org, decision


def _record(
    session: Session,
    decision: Decision,
    s: Suggestion,
    need: Need,
    dept: str,
    org: Organization,
    *,
    base_url: str,
) -> None:
    """Add ``decision``; a confirmation also queues its mail, in the same transaction."""
    session.add(decision)
    if decision.action != "confirm":
        return
    session.flush()
    assert decision.id is not None
    notify_confirmation(
        session,
        suggestion=s,
        need=need,
        department=dept,
        org=org,
        decision_id=decision.id,
        base_url=base_url,
    )


def outside_suggestion(
    session: Session,
    index: MatchingIndex,
    need_id: int,
    organization_id: int,
    *,
    model_version: str,
    status: SuggestionStatus,
    already: str,
    extra: dict[str, Any] | None = None,
) -> Suggestion:
    """A suggestion the ranking did not make (paired by hand, proposed by the department):
    stored like any other (``rank`` None, the reasons the ranker would give, ``extra``
    added to them), flushed, not committed. A pair that already has a suggestion, found
    now or made a moment ago by the ranking or another request, is a 409 ``already``."""
    existing = session.exec(
        select(Suggestion.id).where(
            Suggestion.need_id == need_id, Suggestion.organization_id == organization_id
        )
    ).first()
    if existing is not None:
        raise Conflict(
            already,
            code="ALREADY_SUGGESTED",
            errors=[{"field": "organization_id", "code": "EXISTS", "suggestion_id": existing}],
        )
    index.sync(session)
    with index.lock:
        reasons = dict(explain_pair(index, need_id, organization_id))
        version = index.version
    reasons.update(extra or {})
    s = Suggestion(
        need_id=need_id,
        organization_id=organization_id,
        score=float(reasons.get("score", 0.0)),
        rank=None,
        reasons=reasons,
        index_version=version,
        model_version=model_version,
        status=status,
    )
    session.add(s)
    try:
        session.flush()
    except IntegrityError:  # the same pair was suggested or added a moment ago
        session.rollback()
        raise Conflict(already, code="ALREADY_SUGGESTED") from None
    return s


def pair_by_hand(
    session: Session,
    index: MatchingIndex,
    need_id: int,
    data: PairIn,
    *,
    user: User,
    base_url: str,
) -> SuggestionPublic:
    """Record a pairing the coordinator knows of but the ranking did not suggest, confirmed
    at once. It is stored like any suggestion (``rank`` None, ``model_version`` ``BY_HAND``,
    the reasons the ranker would give), so the department sees it, its stages are tracked,
    the report counts it apart from the ranker's suggestions, and the learned ranker
    learns from it: confirmations of groups the cold start misses are what document
    expansion needs."""
    if user.role != Role.coordinator:
        raise PermissionDenied("団体との組み合わせはコーディネーターが記録します。")
    need, dept = get_need(session, need_id, user=user)
    org = get_org(session, data.organization_id, user=user)
    if need.status != NeedStatus.published:
        raise Conflict(
            "公開中の協働の種だけに団体を組み合わせられます。", code="NEED_NOT_PUBLISHED"
        )
    if org.status != OrgStatus.active:
        raise Conflict("登録を取り消した団体とは組み合わせられません。", code="ORG_WITHDRAWN")
    s = outside_suggestion(
        session,
        index,
        need_id,
        data.organization_id,
        model_version=BY_HAND,
        status=SuggestionStatus.confirmed,
        already="この団体はすでにこの協働の種の提案にあります。提案のページで承認してください。",
    )
    assert user.id is not None
    assert s.id is not None
    decision = Decision(suggestion_id=s.id, action="confirm", comment=data.comment, user_id=user.id)
    _record(session, decision, s, need, dept, org, base_url=base_url)
    audit(session, user, "pair_by_hand", "suggestion", s.id, need=need_id, organization=org.id)
    session.commit()
    session.refresh(s)
    return suggestion_public(s, need, dept, org)


def pairing_candidates(
    session: Session,
    need_id: int,
    *,
    user: User,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[int, list[tuple[Organization, int | None, str | None]]]:
    """The active groups the coordinator may pair with a need by hand, ``q`` searched as
    the lists search (表記ゆれ included): ``(total, rows)``, each row the group and the id
    and status of its suggestion for the need when the ranking or an earlier pairing
    already has one. Ordered by name, one page at a time."""
    if user.role != Role.coordinator:
        raise PermissionDenied("団体との組み合わせはコーディネーターが記録します。")
    get_need(session, need_id, user=user)
    return candidates(session, need_id, q=q, limit=limit, offset=offset)


def candidates(
    session: Session, need_id: int, *, q: str | None, limit: int, offset: int
) -> tuple[int, list[tuple[Organization, int | None, str | None]]]:
    """The active groups for a need's picker, whoever may use it (the caller checks):
    ``pairing_candidates``'s rows."""
    query: Any = (
        select(
            Organization,
            col(Suggestion.id).label("suggestion_id"),
            col(Suggestion.status).label("suggestion_status"),
        )
        .outerjoin(
            Suggestion,
            and_(
                col(Suggestion.organization_id) == col(Organization.id),
                col(Suggestion.need_id) == need_id,
            ),
        )
        .where(Organization.status == OrgStatus.active)
    )
    if q:
        query = query.where(matches(Organization.search_text, q))
    total, rows = page_of(
        session, query, col(Organization.name), col(Organization.id), limit=limit, offset=offset
    )
    return total, [(org, sid, status) for org, sid, status in rows]


REASON_CODES = [r.value for r in RejectReason]
