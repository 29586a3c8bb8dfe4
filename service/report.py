"""The yearly collaboration report (進行管理): figures for a fiscal year (April–March, JST).

Counted from what is recorded, per fiscal year: needs posted; suggestions made; pairings
reviewed (a suggestion counts once, by its last confirm/reject in the year) and how many
were confirmed; pairings the coordinator added by hand (apart: the ranker did not suggest
them, so they are neither suggestions made nor in the confirmation rate); the reasons for
rejection; meetings arranged (事前打ち合わせ設定) and projects started (協働事業化), of every
pairing — overall, by department and by 活動分野, with the change from the year before.

The meetings held (``meetings_held``): the 事前打ち合わせ recorded as meetings
(``service.meetings``) whose date fell in the year and has passed (or whose outcome is
recorded), and their outcomes; the ones still ahead in the year apart, and the ones
cancelled (中止) apart again: a cancelled meeting is never counted as held.

The pace of review (``review_pace``): the median days (Japan-time calendar days) from a
need's posting to its first decision (承認 or 見送り of any of its suggestions), and to its
first 事前打ち合わせ設定 still in effect, over the needs whose first one fell in the year.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from matching import FIELD_NAMES

from .meetings.models import OUTCOME_LABELS, Meeting, MeetingStatus
from .models import (
    BY_DEPARTMENT,
    BY_HAND,
    Decision,
    Department,
    Need,
    Suggestion,
    SuggestionStatus,
    int_tags,
    utcnow,
)
from .stages import in_effect

JST = ZoneInfo("Asia/Tokyo")
METRICS = (
    "needs_posted",
    "suggestions_made",
    "reviewed",
    "confirmed",
    "by_hand",
    "meetings",
    "projects",
)
LABELS = {
    "needs_posted": "登録された課題",
    "suggestions_made": "提案",
    "reviewed": "確認した提案",
    "confirmed": "承認",
    "by_hand": "提案外の組み合わせ",
    "meetings": "事前打ち合わせ設定",
    "projects": "協働事業化",
}


# the outcomes of the meetings held, and a held meeting's outcome not yet recorded
HELD_LABELS = {**{k.value: v for k, v in OUTCOME_LABELS.items()}, "none": "結果未記録"}

PACE_LABELS = {
    "to_decision": "登録から最初の判断まで",
    "to_meeting": "登録から事前打ち合わせ設定まで",
}


def fiscal_year_bounds(year: int) -> tuple[datetime, datetime]:
    """[April 1 of ``year``, April 1 of ``year + 1``) in JST, as UTC datetimes."""
    start = datetime(year, 4, 1, tzinfo=JST).astimezone(UTC)
    end = datetime(year + 1, 4, 1, tzinfo=JST).astimezone(UTC)
    return start, end


@dataclass(frozen=True, slots=True)
class _Row:
    need_id: int
    created_at: datetime
    by_hand: bool
    current: bool  # in a need's top list now, or decided (not one that fell out unseen)


@dataclass
class YearFigures:
    fiscal_year: int
    totals: dict[str, int] = field(default_factory=dict)
    confirmation_rate: float | None = None
    rejection_reasons: dict[str, int] = field(default_factory=dict)
    by_department: dict[str, dict[str, int]] = field(default_factory=dict)
    by_field: dict[str, dict[str, int]] = field(default_factory=dict)
    # None: the year before has nothing recorded, so there is nothing to compare with
    change: dict[str, int | None] = field(default_factory=dict)
    # "to_decision" / "to_meeting": {"median_days": float | None, "needs": int}
    pace: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    # meetings recorded (service.meetings): {"held", "upcoming", "outcomes": {kind: n}}
    meetings_held: dict[str, Any] = field(default_factory=dict)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def japan_time(t: datetime) -> datetime:
    """A stored time (UTC; naive on SQLite) in Japan time."""
    return _aware(t).astimezone(JST)


def _figures(session: Session, year: int) -> YearFigures:
    start, end = fiscal_year_bounds(year)

    def inside(t: datetime) -> bool:
        return start <= _aware(t) < end

    needs = {
        n_id: (created, fields, dept)
        for n_id, created, fields, dept in session.exec(
            select(Need.id, Need.created_at, Need.fields, Department.name).join(Department)
        )
    }
    # only the columns counted: a suggestion row also carries its reasons (JSON)
    suggestions = {
        s_id: _Row(
            need_id,
            created,
            made_by == BY_HAND,
            rank is not None or status != SuggestionStatus.pending or made_by == BY_DEPARTMENT,
        )
        for s_id, need_id, created, made_by, rank, status in session.execute(
            sa_select(
                col(Suggestion.id),
                col(Suggestion.need_id),
                col(Suggestion.created_at),
                col(Suggestion.model_version),
                col(Suggestion.rank),
                col(Suggestion.status),
            )
        )
    }
    out = YearFigures(year)
    totals: Counter[str] = Counter()
    by_dept: dict[str, Counter[str]] = {}
    by_field: dict[str, Counter[str]] = {}

    def count(metric: str, need_id: int) -> None:
        totals[metric] += 1
        _, fields, dept = needs[need_id]
        by_dept.setdefault(dept, Counter())[metric] += 1
        for f in int_tags(fields):
            by_field.setdefault(FIELD_NAMES.get(f, str(f)), Counter())[metric] += 1

    for need_id, (created, _, _) in needs.items():
        if inside(created):
            count("needs_posted", need_id)  # type: ignore[arg-type]
    last_review: dict[int, Decision] = {}
    history: dict[int, list[Decision]] = {}  # every decision row, by suggestion, in order
    for d in session.exec(select(Decision).order_by(col(Decision.id))).all():
        history.setdefault(d.suggestion_id, []).append(d)
        if d.action in ("confirm", "reject") and inside(d.created_at):
            last_review[d.suggestion_id] = d
    decided = set(history)
    for steps in history.values():
        # the stages in effect: a stage the coordinator took back no longer counts
        for d in in_effect(steps):
            if inside(d.created_at) and d.action in ("meeting_arranged", "project_started"):
                metric = "meetings" if d.action == "meeting_arranged" else "projects"
                count(metric, suggestions[d.suggestion_id].need_id)
    for s_id, s in suggestions.items():
        # 提案 counts the suggestions that are current or were decided: one that fell out
        # of a top list after a refit, never decided, was never really put to anyone
        if inside(s.created_at) and (s.by_hand or s.current or s_id in decided):
            count("by_hand" if s.by_hand else "suggestions_made", s.need_id)
    reasons: Counter[str] = Counter()
    for suggestion_id, d in last_review.items():
        if suggestions[suggestion_id].by_hand:
            continue  # counted as added by hand, not as a reviewed suggestion
        need_id = suggestions[suggestion_id].need_id
        count("reviewed", need_id)
        if d.action == "confirm":
            count("confirmed", need_id)
        else:
            reasons[d.reason_code or "その他"] += 1
    out.totals = {m: totals[m] for m in METRICS}
    out.confirmation_rate = (
        round(totals["confirmed"] / totals["reviewed"], 4) if totals["reviewed"] else None
    )
    out.rejection_reasons = dict(reasons.most_common())
    out.by_department = {k: {m: v[m] for m in METRICS} for k, v in sorted(by_dept.items())}
    # 活動分野 in the order of the law's table (1 保健・医療・福祉 … 20 連絡・助言・援助)
    order = {name: number for number, name in FIELD_NAMES.items()}
    out.by_field = {
        k: {m: v[m] for m in METRICS}
        for k, v in sorted(by_field.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    }
    return out


def _days(start: datetime, end: datetime) -> int:
    """Calendar days in Japan from ``start`` to ``end`` (0: the same day)."""
    return (japan_time(end).date() - japan_time(start).date()).days


def review_pace(session: Session, year: int) -> dict[str, dict[str, float | int | None]]:
    """The median days from posting to the first decision and to the first meeting, and
    the number of needs each median is over (``None``: no need, shown as 「—」)."""
    start, end = fiscal_year_bounds(year)
    posted = dict(session.exec(select(Need.id, Need.created_at)).all())
    need_of = dict(session.exec(select(Suggestion.id, Suggestion.need_id)).all())
    history: dict[int, list[Decision]] = {}
    first_decision: dict[int, datetime] = {}
    for d in session.exec(select(Decision).order_by(col(Decision.id))).all():
        history.setdefault(d.suggestion_id, []).append(d)
        need_id = need_of[d.suggestion_id]
        if d.action in ("confirm", "reject"):
            at = _aware(d.created_at)
            first_decision[need_id] = min(at, first_decision.get(need_id, at))
    first_meeting: dict[int, datetime] = {}
    for steps in history.values():
        for d in in_effect(steps):  # a meeting taken back does not count
            if d.action == "meeting_arranged":
                need_id, at = need_of[d.suggestion_id], _aware(d.created_at)
                first_meeting[need_id] = min(at, first_meeting.get(need_id, at))
    out: dict[str, dict[str, float | int | None]] = {}
    for name, firsts in (("to_decision", first_decision), ("to_meeting", first_meeting)):
        days = [
            _days(posted[n], at) for n, at in firsts.items() if n in posted and start <= at < end
        ]
        out[name] = {"median_days": float(median(days)) if days else None, "needs": len(days)}
    return out


def meetings_held(session: Session, year: int, *, now: datetime) -> dict[str, Any]:
    """The year's meetings (by their Japan-time date): ``held`` (set, and its time has
    come or its outcome is recorded) with their ``outcomes`` (``HELD_LABELS``' keys),
    ``upcoming`` (set, still ahead) and ``cancelled`` (中止: never counted as held or
    ahead). A date only proposed is not counted."""
    start, end = fiscal_year_bounds(year)
    rows = session.exec(
        select(Meeting.starts_at, Meeting.outcome, Meeting.status).where(
            col(Meeting.status).in_([MeetingStatus.scheduled, MeetingStatus.cancelled]),
            col(Meeting.starts_at) >= start,
            col(Meeting.starts_at) < end,
        )
    ).all()
    outcomes: Counter[str] = Counter()
    upcoming = cancelled = 0
    for starts_at, outcome, status in rows:
        if status == MeetingStatus.cancelled:
            cancelled += 1
        elif outcome is None and _aware(starts_at) > now:
            upcoming += 1
        else:
            outcomes[outcome or "none"] += 1
    return {
        "held": sum(outcomes.values()),
        "upcoming": upcoming,
        "cancelled": cancelled,
        "outcomes": {k: outcomes[k] for k in HELD_LABELS},
    }


def yearly_report(session: Session, year: int, *, now: datetime | None = None) -> YearFigures:
    """The figures of ``year`` with the change from ``year − 1`` (``None`` for every
    figure when nothing was recorded that year: 「—」 on the pages, not a change)."""
    current = _figures(session, year)
    previous = _figures(session, year - 1)
    recorded = any(previous.totals.values())
    current.change = {
        m: current.totals[m] - previous.totals[m] if recorded else None for m in METRICS
    }
    current.pace = review_pace(session, year)
    current.meetings_held = meetings_held(session, year, now=now or utcnow())
    return current


def report_xlsx(figures: YearFigures) -> bytes:
    """The report as a workbook: 概要, 担当課別, 分野別, 見送り理由."""
    wb = Workbook()
    summary = wb.active
    summary.title = "概要"
    summary.append([f"{figures.fiscal_year}年度 協働の進行管理", "件数", "前年度比"])
    for m in METRICS:
        change = figures.change.get(m)
        summary.append([LABELS[m], figures.totals[m], "—" if change is None else change])
    for key, label in PACE_LABELS.items():
        pace = figures.pace.get(key, {})
        days = pace.get("median_days")
        name = f"{label}（日数の中央値、{pace.get('needs', 0)}件の課題）"
        summary.append([name, "—" if days is None else days, None])
    held = figures.meetings_held
    summary.append(["開催した事前打ち合わせ（記録）", held.get("held", 0), None])
    outcomes = held.get("outcomes", {})
    for key, label in HELD_LABELS.items():
        summary.append([f"　うち{label}", outcomes.get(key, 0), None])
    summary.append(["予定の事前打ち合わせ（記録）", held.get("upcoming", 0), None])
    summary.append(["中止した事前打ち合わせ（記録）", held.get("cancelled", 0), None])
    summary.append(["承認率", figures.confirmation_rate, None])
    for title, table in (("担当課別", figures.by_department), ("分野別", figures.by_field)):
        sheet = wb.create_sheet(title)
        sheet.append([title.removesuffix("別"), *(LABELS[m] for m in METRICS)])
        for name, row in table.items():
            sheet.append([name, *(row[m] for m in METRICS)])
    reasons = wb.create_sheet("見送り理由")
    reasons.append(["理由", "件数"])
    for reason, n in figures.rejection_reasons.items():
        reasons.append([reason, n])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def as_dict(figures: YearFigures) -> dict[str, object]:
    return asdict(figures)
