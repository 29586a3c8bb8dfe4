"""After a confirmation: 事前打ち合わせ設定 → 協働事業化, or 見送り (the pairing ends).

Ending a pairing needs a reason. A stage set by mistake can be taken back by the
coordinator, with a reason: a ``stage_undone`` decision row (the history keeps both) and
an audit row; the stage before it holds again. Reports and badges read the *effective*
stages (``effective_stages``): a stage taken back no longer counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from sqlmodel import Session, col, select

from .audit import audit
from .errors import Conflict, Invalid, PermissionDenied
from .models import (
    STAGE_LABELS,
    STAGE_UNDONE,
    Decision,
    Role,
    Stage,
    Suggestion,
    SuggestionStatus,
    User,
)
from .reviews import _compare_and_set, load
from .schemas import StageIn, StageUndoIn, SuggestionPublic
from .suggestions import suggestion_public

# stage → the stages it may move on to (None: just confirmed)
TRANSITIONS: dict[str | None, set[str]] = {
    None: {Stage.meeting_arranged, Stage.dropped},
    Stage.meeting_arranged: {Stage.project_started, Stage.dropped},
    Stage.project_started: set(),
    Stage.dropped: set(),
}
_STAGES = {s.value for s in Stage}


class Step(Protocol):
    """A decision row, as stored or as the API shows it: what matters here is its action."""

    @property
    def action(self) -> str: ...


S = TypeVar("S", bound=Step)


def in_effect(steps: Iterable[S]) -> list[S]:
    """Of one suggestion's decision rows (in order), the stages in effect: each stage
    reached, less those taken back (``stage_undone`` takes back the latest)."""
    path: list[S] = []
    for step in steps:
        if step.action in _STAGES:
            path.append(step)
        elif step.action == STAGE_UNDONE and path:
            path.pop()
    return path


def stage_path(steps: Iterable[Step]) -> list[str]:
    """The actions of ``in_effect``."""
    return [step.action for step in in_effect(steps)]


def effective_stages(session: Session, suggestion_ids: Sequence[int]) -> dict[int, list[str]]:
    """``stage_path`` of each suggestion (an empty list: confirmed, no stage yet)."""
    rows = session.exec(
        select(Decision)
        .where(col(Decision.suggestion_id).in_(list(suggestion_ids)))
        .order_by(col(Decision.id))
    ).all()
    steps: dict[int, list[Decision]] = {i: [] for i in suggestion_ids}
    for row in rows:
        steps[row.suggestion_id].append(row)
    return {i: stage_path(s) for i, s in steps.items()}


def badge(stage: str | None, path: Sequence[str]) -> str:
    """The status a pairing's badge shows: 見送り says whether a meeting had happened."""
    if stage == Stage.dropped:
        met = Stage.meeting_arranged in path
        return Stage.dropped.value if met else "dropped_before_meeting"
    return stage or "confirmed"


def advance(session: Session, suggestion_id: int, data: StageIn, *, user: User) -> SuggestionPublic:
    if user.role != Role.coordinator:
        raise PermissionDenied("協働の進み具合はコーディネーターが記録します。")
    s, need, dept, org = load(session, suggestion_id, user=user)
    move(session, s, data.stage, comment=data.comment, version=data.version, user=user)
    session.commit()
    session.refresh(s)
    return suggestion_public(s, need, dept, org)


def move(
    session: Session,
    s: Suggestion,
    stage: Stage,
    *,
    comment: str,
    version: int,
    user: User,
    **detail: object,
) -> None:
    """Write one stage of a loaded suggestion in the caller's transaction (no commit): the
    checks, the compare-and-set on ``version``, the decision row and the audit row. The
    caller has checked the user's role (``advance``; the meetings in ``service.meetings``);
    ``detail`` goes into the audit row."""
    if s.status != SuggestionStatus.confirmed:
        raise Conflict("承認した提案だけが次の段階に進めます。", code="NOT_CONFIRMED")
    allowed = TRANSITIONS[s.stage]
    if stage not in allowed:
        raise Conflict(
            f"「{STAGE_LABELS.get(Stage(s.stage), '承認') if s.stage else '承認'}」から"
            f"「{STAGE_LABELS[stage]}」には進めません。",
            code="INVALID_TRANSITION",
        )
    if stage == Stage.dropped and not comment.strip():
        raise Invalid(
            "見送る（協働を終える）ときは、理由を入力してください。",
            code="REASON_REQUIRED",
            errors=[{"field": "comment", "code": "MISSING", "message": "理由は必須です。"}],
        )
    previous = s.stage
    _compare_and_set(session, s, version, stage=stage.value)
    assert user.id is not None and s.id is not None
    session.add(Decision(suggestion_id=s.id, action=stage.value, comment=comment, user_id=user.id))
    audit(
        session, user, "stage", "suggestion", s.id, stage=stage.value, previous=previous, **detail
    )
    session.flush()
    session.refresh(s)  # the stage and version just written, for a next step


def undo(
    session: Session, suggestion_id: int, data: StageUndoIn, *, user: User
) -> SuggestionPublic:
    """Take the last stage back (the coordinator, with a reason); the one before holds."""
    if user.role != Role.coordinator:
        raise PermissionDenied("段階の取り消しはコーディネーターだけが行えます。")
    s, need, dept, org = load(session, suggestion_id, user=user)
    if s.stage is None:
        raise Conflict("取り消す段階がありません。", code="NO_STAGE")
    assert s.id is not None and user.id is not None
    path = effective_stages(session, [s.id])[s.id]
    undone = s.stage
    before = path[-2] if len(path) >= 2 else None
    _compare_and_set(session, s, data.version, stage=before)
    session.add(
        Decision(suggestion_id=s.id, action=STAGE_UNDONE, comment=data.reason, user_id=user.id)
    )
    audit(session, user, "stage_undone", "suggestion", s.id, undone=undone, stage=before)
    session.commit()
    session.refresh(s)
    return suggestion_public(s, need, dept, org)
