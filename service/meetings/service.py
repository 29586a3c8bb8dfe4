"""Meetings: who sees and writes them, their times, the stages they move, their mail.

Only the three parties see a pairing's meetings: the coordinator, users of the need's
department and users of the organisation (anyone else gets 404, as for a suggestion).
The coordinator sets a meeting (``scheduled``); the department may propose a date
(``proposed``), which the coordinator then sets by saving it. The group reads them.

A meeting set moves the pairing to 事前打ち合わせ設定 if it is not there yet, and an
outcome 協働事業化へ / 見送り moves it to 協働事業化 / 見送り, all through
``stages.move`` in the same transaction as the meeting, its audit row and its mail.
Nothing here commits until the whole change is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy import update as sql_update
from sqlmodel import Session, col, select

from ..audit import audit
from ..errors import Conflict, NotFound
from ..models import (
    Need,
    Organization,
    Role,
    Stage,
    Suggestion,
    SuggestionStatus,
    User,
    from_tags,
    to_tags,
    utcnow,
)
from ..stages import move
from ..suggestions import joined
from .checks import check_not_cancelled, check_open, check_place, check_reason, check_writer
from .models import OUTCOME_LABELS, PARTY_LABELS, Meeting, MeetingStatus, Outcome, Party
from .notices import notify
from .schemas import MeetingIn, MeetingPublic, MeetingUpdate
from .times import field_error, form_values, japan, when, when_text

# the stage an outcome moves the pairing to
STAGE_OF = {Outcome.project: Stage.project_started, Outcome.dropped: Stage.dropped}
_WHEN = ("date", "start", "end")
PAST_DATE = (
    "過去の日時は指定できません。済んだ打ち合わせを後から記録するときは、結果も選んでください。"
)
_PLACE = ("place", "online_url")


@dataclass(frozen=True)
class Pairing:
    suggestion: Suggestion
    need: Need
    department: str
    org: Organization


def is_party(user: User, need: Need, org: Organization) -> bool:
    return (
        user.role == Role.coordinator
        or (user.role == Role.department and need.department_id == user.department_id)
        or (user.role == Role.npo and org.id == user.organization_id)
    )


def pairing(session: Session, suggestion_id: int, *, user: User) -> Pairing:
    """A suggestion as its parties see it: a confirmed pairing (the coordinator sees any)."""
    row = session.exec(joined().where(Suggestion.id == suggestion_id)).first()
    if row is None:
        raise NotFound("組み合わせ")
    s, need, dept, org = row
    confirmed = s.status == SuggestionStatus.confirmed
    if not is_party(user, need, org) or (not confirmed and user.role != Role.coordinator):
        raise NotFound("組み合わせ")
    return Pairing(s, need, dept, org)


def meetings_of(session: Session, suggestion_id: int) -> list[Meeting]:
    return list(
        session.exec(
            select(Meeting)
            .where(Meeting.suggestion_id == suggestion_id)
            .order_by(col(Meeting.starts_at), col(Meeting.id))
        ).all()
    )


def list_meetings(
    session: Session, suggestion_id: int, *, user: User
) -> tuple[Pairing, list[Meeting]]:
    p = pairing(session, suggestion_id, user=user)
    return p, meetings_of(session, suggestion_id)


def get_meeting(session: Session, meeting_id: int, *, user: User) -> tuple[Meeting, Pairing]:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("打ち合わせ")
    try:
        return meeting, pairing(session, meeting.suggestion_id, user=user)
    except NotFound:
        raise NotFound("打ち合わせ") from None


# ---- writes ---------------------------------------------------------------------------


def create(
    session: Session,
    suggestion_id: int,
    data: MeetingIn,
    *,
    user: User,
    base_url: str,
    now: datetime | None = None,
) -> MeetingPublic:
    """A new meeting (the coordinator: set; a department: a proposed date)."""
    now = now or utcnow()
    p = pairing(session, suggestion_id, user=user)
    check_writer(user, data.model_dump())
    check_open(p)
    starts, ends = when(data.date, data.start, data.end)
    # a meeting that took place and was never entered is recorded with its outcome
    after_the_fact = starts < now
    if after_the_fact and data.outcome is None:
        raise field_error(PAST_DATE, "PAST_DATE", "date")
    check_place(data.place, data.online_url)
    check_reason(data.outcome, data.outcome_reason)
    assert user.id is not None and p.suggestion.id is not None
    m = Meeting(
        suggestion_id=p.suggestion.id,
        status=MeetingStatus.scheduled if user.role == Role.coordinator else MeetingStatus.proposed,
        starts_at=starts,
        ends_at=ends,
        place=data.place,
        online_url=data.online_url,
        parties=_parties(data.parties),
        participants=data.participants,
        notes=data.notes,
        outcome=data.outcome.value if data.outcome else None,
        outcome_reason=data.outcome_reason,
        next_step=data.next_step,
        created_by=user.id,
    )
    session.add(m)
    session.flush()
    assert m.id is not None
    audit(
        session,
        user,
        "meeting_created",
        "meeting",
        m.id,
        suggestion_id=p.suggestion.id,
        status=m.status,
        starts_at=japan(starts).isoformat(),
        outcome=m.outcome,
        after_the_fact=after_the_fact,
    )
    _move_stages(session, p, m, user=user, setting=True, outcome_changed=m.outcome is not None)
    if m.status == MeetingStatus.scheduled and ends > now:  # (a record after the fact: no mail)
        notify(session, p, m, changed=False, base_url=base_url)
    session.commit()
    session.refresh(m)
    return meeting_public(m, p)


def update(
    session: Session,
    meeting_id: int,
    data: MeetingUpdate,
    *,
    user: User,
    base_url: str,
    now: datetime | None = None,
) -> MeetingPublic:
    """Change a meeting (the coordinator's save also sets a proposed date)."""
    now = now or utcnow()
    m, p = get_meeting(session, meeting_id, user=user)
    changes = data.model_dump(exclude_unset=True)
    version = changes.pop("version")
    check_writer(user, changes, m)
    check_not_cancelled(m)
    starts, ends = m.starts_at, m.ends_at
    if any(k in changes for k in _WHEN):
        shown = form_values(m)
        starts, ends = when(*(changes.get(k, shown[k]) or "" for k in _WHEN))
    moved = starts != m.starts_at or ends != m.ends_at
    status = MeetingStatus.scheduled if user.role == Role.coordinator else MeetingStatus(m.status)
    newly_set = status == MeetingStatus.scheduled and m.status != MeetingStatus.scheduled
    if moved or newly_set:
        check_open(p)
    outcome = Outcome(changes["outcome"]) if changes.get("outcome") else None
    if "outcome" not in changes:
        outcome = Outcome(m.outcome) if m.outcome else None
    if moved and starts < now and outcome is None:  # the past only for a record with an outcome
        raise field_error(PAST_DATE, "PAST_DATE", "date")
    place, url = (changes.get(k, getattr(m, k)) for k in _PLACE)
    check_place(place, url)
    reason = changes.get("outcome_reason", m.outcome_reason)
    check_reason(outcome, reason)
    old = Outcome(m.outcome) if m.outcome else None
    if old in STAGE_OF and outcome != old and p.suggestion.stage == STAGE_OF[old]:
        raise Conflict(
            f"結果「{OUTCOME_LABELS[old]}」はすでに協働の段階に記録されています。"
            "誤りのときは、組み合わせのページで段階を取り消してから直してください。",
            code="OUTCOME_RECORDED",
        )
    values: dict[str, Any] = {
        k: v for k, v in changes.items() if k not in (*_WHEN, "parties", "outcome")
    }
    if "parties" in changes:
        values["parties"] = _parties(changes["parties"])
    values |= {
        "starts_at": starts,
        "ends_at": ends,
        "status": status.value,
        "outcome": outcome.value if outcome else None,
    }
    changed = sorted(k for k, v in values.items() if getattr(m, k) != v)
    _compare_and_set(session, m, version, values)
    audit(
        session,
        user,
        "meeting_updated",
        "meeting",
        m.id,
        suggestion_id=p.suggestion.id,
        changed=changed,
        outcome=m.outcome,
    )
    _move_stages(
        session, p, m, user=user, setting=newly_set or moved, outcome_changed=outcome != old
    )
    place_changed = any(k in changed for k in _PLACE)
    ahead = japan(m.ends_at) > now  # a meeting already over is recorded, not announced
    if m.status == MeetingStatus.scheduled and ahead and (newly_set or moved or place_changed):
        notify(session, p, m, changed=not newly_set, base_url=base_url)
    session.commit()
    session.refresh(m)
    return meeting_public(m, p)


def _parties(parties: list[Party] | list[str]) -> str:
    chosen = {Party(x) for x in parties}
    return to_tags([x.value for x in Party if x in chosen])


def _compare_and_set(session: Session, m: Meeting, expected: int, values: dict[str, Any]) -> None:
    result = cast(
        CursorResult[Any],
        session.execute(
            sql_update(Meeting)
            .where(col(Meeting.id) == m.id, col(Meeting.version) == expected)
            .values(version=Meeting.version + 1, updated_at=utcnow(), **values)
        ),
    )
    if result.rowcount != 1:
        session.rollback()
        raise Conflict(
            "この打ち合わせは、読み込んだ後に他の人が更新しました。"
            "最新の状態を読み込み直してください。",
            code="STALE_VERSION",
        )
    session.refresh(m)


def _move_stages(
    session: Session,
    p: Pairing,
    m: Meeting,
    *,
    user: User,
    setting: bool,
    outcome_changed: bool,
) -> None:
    """The pairing's stage after this meeting: 事前打ち合わせ設定 when a meeting is set
    (created, a proposal saved by the coordinator, or moved to another time) and the
    pairing has no stage yet, then the stage its outcome names; through ``stages.move``,
    so the decision rows stay the one history of stages. A stage the coordinator took
    back is not set again by an edit of the notes."""
    s = p.suggestion
    label = f"事前打ち合わせ {when_text(m)}"
    if setting and m.status == MeetingStatus.scheduled and s.stage is None:
        move(
            session,
            s,
            Stage.meeting_arranged,
            comment=label,
            version=s.version,
            user=user,
            meeting_id=m.id,
        )
    target = STAGE_OF.get(Outcome(m.outcome)) if m.outcome else None
    if outcome_changed and target is not None and s.stage != target:
        comment = m.outcome_reason if target == Stage.dropped else m.next_step
        move(
            session,
            s,
            target,
            comment=comment or f"{label}の結果",
            version=s.version,
            user=user,
            meeting_id=m.id,
        )


def meeting_public(m: Meeting, p: Pairing) -> MeetingPublic:
    assert m.id is not None and p.need.id is not None and p.org.id is not None
    return MeetingPublic(
        id=m.id,
        suggestion_id=m.suggestion_id,
        need_id=p.need.id,
        need_title=p.need.title,
        department=p.department,
        organization_id=p.org.id,
        organization_name=p.org.name,
        status=MeetingStatus(m.status),
        starts_at=japan(m.starts_at),
        ends_at=japan(m.ends_at),
        place=m.place,
        online_url=m.online_url,
        parties=[Party(x) for x in from_tags(m.parties)],
        participants=m.participants,
        notes=m.notes,
        outcome=Outcome(m.outcome) if m.outcome else None,
        outcome_reason=m.outcome_reason,
        next_step=m.next_step,
        cancel_reason=m.cancel_reason,
        cancelled_at=japan(m.cancelled_at) if m.cancelled_at else None,
        version=m.version,
        ics_path=f"/meetings/{m.id}.ics",
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


def party_labels(m: Meeting) -> list[str]:
    return [PARTY_LABELS[Party(x)] for x in from_tags(m.parties)]


def party_values(m: Meeting) -> list[str]:
    return from_tags(m.parties)


def check_editor(user: User, m: Meeting | None = None) -> None:
    """Whether ``user`` may open ``m``'s edit form, or post a new meeting (``m`` None):
    ``check_writer`` before any change is read; a cancelled meeting is not edited."""
    check_writer(user, {}, m)
    if m is not None:
        check_not_cancelled(m)


@dataclass(frozen=True)
class Summary:
    """A pairing's meetings at a glance (the coordinator's list of pairings)."""

    count: int = 0
    proposed: int = 0  # dates a department proposed, waiting for the coordinator
    upcoming: str = ""  # the next meeting set, 「2026年12月20日（日）14:00〜15:00」
    cancelled: int = 0  # called off (中止): not in ``count``


def summaries(
    session: Session, suggestion_ids: list[int], *, now: datetime | None = None
) -> dict[int, Summary]:
    """``Summary`` of each pairing that has meetings (one query)."""
    now = now or utcnow()
    out: dict[int, Summary] = {}
    rows = session.exec(
        select(Meeting)
        .where(col(Meeting.suggestion_id).in_(suggestion_ids))
        .order_by(col(Meeting.starts_at), col(Meeting.id))
    ).all()
    for m in rows:
        seen = out.get(m.suggestion_id, Summary())
        cancelled = m.status == MeetingStatus.cancelled
        scheduled = m.status == MeetingStatus.scheduled
        ahead = scheduled and japan(m.starts_at) > now
        out[m.suggestion_id] = Summary(
            seen.count + (not cancelled),
            seen.proposed + (m.status == MeetingStatus.proposed),
            seen.upcoming or (when_text(m) if ahead else ""),
            seen.cancelled + cancelled,
        )
    return out
