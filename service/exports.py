"""Exports as files coordinators open in Excel: CSV (UTF-8 with BOM) or XLSX.

Needs and profiles use the interchange format's Japanese headers, so an export imports
back unchanged. Text that begins with = + - @ is written with a leading apostrophe so
that a spreadsheet never runs it as a formula (the reader strips it again).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from sqlmodel import Session, col, select

from matching._io import NEED_COLUMNS, ORG_COLUMNS

from .errors import PermissionDenied
from .models import (
    BY_DEPARTMENT,
    BY_HAND,
    STAGE_LABELS,
    STAGE_UNDONE,
    Decision,
    Department,
    Need,
    Organization,
    Role,
    Stage,
    Suggestion,
    SuggestionStatus,
    User,
    from_tags,
)
from .privacy import service as privacy
from .report import japan_time
from .suggestions import joined

# the decisions export says each action in Japanese; ``matching.load_decisions`` reads
# these back (a stage reached counts as the confirmation, a pairing ended is left out)
DECISION_LABELS = {
    "confirm": "承認",
    "reject": "見送り",
    Stage.meeting_arranged.value: "事前打ち合わせ設定",
    Stage.project_started.value: "協働事業化",
    Stage.dropped.value: "見送り（承認後）",
    STAGE_UNDONE: "段階の取り消し",
}

Kind = Literal["needs", "organizations", "suggestions", "decisions", "pairings"]
Format = Literal["csv", "xlsx"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTACT = {"contact_name", "contact_email", "contact_phone"}


def japan_time_text(value: datetime) -> str:
    """A stored time as Japan time with its zone stated: ``2026-12-03T18:05:09+09:00``,
    so a manager's spreadsheet shows the office's clock."""
    return japan_time(value).isoformat(timespec="seconds")


def neutralise(value: object) -> object:
    """A cell as text a spreadsheet shows but never evaluates: control characters (which a
    worksheet may not hold, and which would hide a leading ``=``) are removed first, then
    text that starts like a formula gets a leading apostrophe."""
    if not isinstance(value, str):
        return value
    text: str = ILLEGAL_CHARACTERS_RE.sub("", value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _needs(session: Session, user: User) -> tuple[list[str], list[list[object]]]:
    query = select(Need, Department.name).join(Department).order_by(col(Need.id))
    if user.role == Role.department:
        query = query.where(Need.department_id == user.department_id)
    rows: list[list[object]] = [
        [
            n.key,
            d,
            n.title,
            n.description,
            n.goal,
            ";".join(from_tags(n.fields)),
            ";".join(from_tags(n.areas)),
            ";".join(from_tags(n.forms)),
            n.contact_name,
            n.deadline.isoformat() if n.deadline else "",  # 募集期限: read back by imports
        ]
        for n, d in session.exec(query).all()
    ]
    return [c.ja for c in NEED_COLUMNS], rows


def _organizations(session: Session, user: User) -> tuple[list[str], list[list[object]], list[int]]:
    """The header, the rows, and the ids of the groups whose contact the file carries."""
    columns = [c for c in ORG_COLUMNS if user.role == Role.coordinator or c.key not in _CONTACT]
    attribute = {"id": "key", "fields": "fields", "area": "areas"}
    rows = []
    contacts: list[int] = []
    for org in session.exec(select(Organization).order_by(col(Organization.id))).all():
        row: list[object] = []
        for c in columns:
            value = getattr(org, attribute.get(c.key, c.key))
            row.append(";".join(from_tags(value)) if c.key in ("fields", "area") else value)
        rows.append(row)
        if any(c.key in _CONTACT for c in columns) and any(getattr(org, k) for k in _CONTACT):
            contacts.append(org.id or 0)
    return [c.ja for c in columns], rows, contacts


def _suggestion_rows(
    session: Session, *, confirmed_only: bool
) -> list[tuple[Suggestion, Need, str, Organization]]:
    query = joined().order_by(col(Suggestion.need_id), col(Suggestion.rank), col(Suggestion.id))
    if confirmed_only:
        query = query.where(Suggestion.status == SuggestionStatus.confirmed)
    return list(session.exec(query).all())


def _suggestions(session: Session) -> tuple[list[str], list[list[object]]]:
    header = [
        "提案番号",
        "課題ID",
        "件名",
        "担当課",
        "団体ID",
        "団体名",
        "スコア",
        "順位",
        "状態",
        "段階",
        "索引の版",
        "モデルの版",
    ]
    rows: list[list[object]] = [
        [
            s.id,
            n.key,
            n.title,
            d,
            o.key,
            o.name,
            s.score,
            s.rank,
            s.status,
            s.stage or "",
            s.index_version,
            s.model_version,
        ]
        for s, n, d, o in _suggestion_rows(session, confirmed_only=False)
    ]
    return header, rows


# how a pairing came about (the pairings export's 経緯)
_HOW = {BY_HAND: "手動で組み合わせ", BY_DEPARTMENT: "担当課からの提案を承認"}


def _pairings(session: Session) -> tuple[list[str], list[list[object]]]:
    header = ["課題ID", "件名", "担当課", "団体ID", "団体名", "段階", "経緯", "更新日時"]
    rows: list[list[object]] = [
        [
            n.key,
            n.title,
            d,
            o.key,
            o.name,
            STAGE_LABELS[Stage(s.stage)] if s.stage else "承認",
            _HOW.get(s.model_version, "提案から承認"),
            japan_time_text(s.updated_at),
        ]
        for s, n, d, o in _suggestion_rows(session, confirmed_only=True)
    ]
    return header, rows


def _decisions(session: Session) -> tuple[list[str], list[list[object]]]:
    header = ["提案番号", "課題ID", "団体ID", "判断", "理由", "コメント", "判断者", "日時"]
    query = (
        select(Decision, Need.key, Organization.key, User.username)
        .join(Suggestion, col(Decision.suggestion_id) == Suggestion.id)
        .join(Need, col(Suggestion.need_id) == Need.id)
        .join(Organization, col(Suggestion.organization_id) == Organization.id)
        .join(User, col(Decision.user_id) == User.id)
        .order_by(col(Decision.id))
    )
    rows: list[list[object]] = [
        [
            d.suggestion_id,
            nk,
            ok,
            DECISION_LABELS.get(d.action, d.action),
            d.reason_code or "",
            d.comment,
            u,
            japan_time_text(d.created_at),
        ]
        for d, nk, ok, u in session.exec(query).all()
    ]
    return header, rows


def export(
    session: Session, kind: Kind, fmt: Format, *, user: User, where: str = ""
) -> tuple[str, str, bytes]:
    """``(filename, media type, content)`` of an export. One with personal data (the
    groups' contacts) is written to the audit log, with ``where`` it was asked for."""
    if user.role == Role.npo or (user.role == Role.department and kind != "needs"):
        raise PermissionDenied("この一覧を書き出す権限がありません。")
    if kind == "needs":
        header, rows = _needs(session, user)
    elif kind == "organizations":
        header, rows, contacts = _organizations(session, user)
        out = table_file(kind, header, rows, fmt)
        privacy.exported(
            session, user, "organization", ids=contacts, where=where, export=kind, format=fmt
        )
        return out
    elif kind == "suggestions":
        header, rows = _suggestions(session)
    elif kind == "decisions":
        header, rows = _decisions(session)
    else:
        header, rows = _pairings(session)
    return table_file(kind, header, rows, fmt)


def table_file(
    name: str, header: Sequence[str], rows: Iterable[Sequence[object]], fmt: Format
) -> tuple[str, str, bytes]:
    """``(filename, media type, content)`` of a table as CSV (BOM) or XLSX, every cell
    neutralised (``neutralise``): the one way every export is written."""
    cells = [[neutralise(v) for v in row] for row in rows]
    if fmt == "csv":
        return f"{name}.csv", "text/csv; charset=utf-8", _csv(header, cells)
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return f"{name}.xlsx", media, _xlsx(header, cells)


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buf.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _text_cell(sheet: Any, value: object) -> object:
    """Text as a string cell, whatever it starts with (openpyxl reads a leading ``=`` as a
    formula); other values as they are."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _xlsx(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([_text_cell(sheet, h) for h in header])
    for row in rows:
        sheet.append([_text_cell(sheet, v) for v in row])
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()
