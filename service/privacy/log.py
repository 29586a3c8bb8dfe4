"""Reading the audit log back: filters, one page of rows, the export's table, and each row
said in Japanese.

Filters: a user (the one who acted, the account a login row is about, or the name typed
at a failed login, whether or not anyone has it), an object (a
type, and an id: a row about that object, or a list or export whose ``ids`` include it),
an action, and a date range in Japan time (both ends included).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, literal, or_
from sqlmodel import Session, col, select

from ..db import page_of
from ..models import AuditLog, User
from ..report import JST, japan_time

ACTION_LABELS = {
    "view": "個人情報の閲覧",
    "export": "個人情報の書き出し",
    "login": "ログイン",
    "logout": "ログアウト",
    "login_failed": "ログインの失敗",
    "login_refused": "ログインの拒否（試行の制限）",
    "login_unlocked": "ログイン制限の解除",
    "create": "登録",
    "update": "更新",
    "withdraw": "取り下げ・取り消し",
    "import": "ファイルの取り込み",
    "decide": "提案の判断",
    "stage": "段階の記録",
    "stage_undone": "段階の取り消し",
    "pair_by_hand": "手動の組み合わせ",
    "interest": "関心あり",
    "uninterest": "関心ありの取り消し",
    "approve": "申し込みの承認",
    "decline": "申し込みのお断り",
    "invite": "招待",
    "accept": "招待の受諾",
    "activate": "利用の再開",
    "deactivate": "利用の停止",
    "password": "パスワードの変更",
    "reset_link": "再設定リンクの発行",
    "password_reset": "パスワードの再設定",
    "refit": "索引の作り直し",
    "train": "再学習",
    "promote": "モデルの採用",
}
ENTITY_LABELS = {
    "organization": "団体",
    "need": "協働の種",
    "user": "利用者",
    "registration_request": "登録の申し込み",
    "mail_outbox": "メールの送信記録",
    "audit_log": "操作記録",
    "suggestion": "提案",
    "invitation": "招待",
    "matching_event": "発表会",
    "meeting": "事前打ち合わせ",
    "index": "索引",
    "model": "学習モデル",
}
DETAIL_LABELS = {
    "rows": "件数",
    "where": "場所",
    "ids": "対象の番号",
    "export": "書き出し",
    "format": "形式",
    "filter": "条件",
    "state": "状態",
    "event_id": "発表会の番号",
    "username": "ユーザー名",
    "page": "ページ",
    "key": "ID",
    "role": "役割",
    "changed": "変更した項目",
    "address": "接続元",
    "via": "経路",
    "reason": "理由",
}
REASON_LABELS = {
    "password": "パスワードの誤り",
    "unknown_user": "登録のないユーザー名",
    "inactive": "利用停止中の利用者",
    "throttled": "失敗が続いたための制限",
    "busy": "混雑",
}
VIA_LABELS = {"page": "画面", "api": "API"}
FILTER_LABELS = {
    "q": "キーワード",
    "field": "活動分野",
    "area": "地域",
    "status": "状態",
    "offset": "開始位置",
    "user": "利用者",
    "entity": "対象",
    "object_id": "対象の番号",
    "action": "操作",
    "since": "から",
    "until": "まで",
}
EXPORT_LABELS = {
    "organizations": "団体の一覧",
    "event_invitations": "発表会の案内先の一覧",
    "audit_log": "操作記録",
}
_TRIED = ("login_failed", "login_refused")  # their ``username`` is what was typed
_NAME = re.compile(r"^[a-z_]{1,30}$")
EXPORT_LIMIT = 100_000  # rows in one CSV export, newest first


@dataclass(frozen=True)
class AuditFilter:
    """What the log is narrowed to; every field optional."""

    user: str = ""  # a login name
    entity: str = ""
    object_id: int | None = None
    action: str = ""
    since: date | None = None  # Japan-time days, both included
    until: date | None = None

    def as_detail(self) -> dict[str, Any]:
        """The filter as the audit row of a view or export of the log records it."""
        out: dict[str, Any] = {
            "user": self.user,
            "entity": self.entity,
            "object_id": self.object_id,
            "action": self.action,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        return {k: v for k, v in out.items() if v not in (None, "")}


def parse_name(value: str | None) -> str:
    """An action or object type from a query string (letters and ``_`` only), or ``""``."""
    value = (value or "").strip()
    return value if _NAME.match(value) else ""


def parse_day(value: str | None) -> tuple[date | None, bool]:
    """A ``YYYY-MM-DD`` day, and whether the value was given but not a day."""
    value = (value or "").strip()
    if not value:
        return None, False
    try:
        return date.fromisoformat(value[:10]), False
    except ValueError:
        return None, True


def _start_of(day: date) -> datetime:
    """The first moment of ``day`` in Japan, in UTC (as times are stored)."""
    return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)


def _query(session: Session, f: AuditFilter) -> Any:
    """The filtered query."""
    query: Any = select(AuditLog, User.username).join(
        User, col(AuditLog.user_id) == col(User.id), isouter=True
    )
    if f.user:
        # the login name typed at a failed or refused login, whether or not anyone has it
        tried = and_(
            col(AuditLog.action).in_(["login_failed", "login_refused"]),
            cast(AuditLog.detail["username"].as_string(), String) == f.user,
        )
        uid = session.exec(select(User.id).where(User.username == f.user)).first()
        if uid is None:
            query = query.where(tried)
        else:
            about = and_(col(AuditLog.entity) == "user", col(AuditLog.entity_id) == uid)
            query = query.where(or_(col(AuditLog.user_id) == uid, about, tried))
    if f.entity:
        query = query.where(col(AuditLog.entity) == f.entity)
    if f.object_id is not None:
        # a row about the object, or a list or export that showed it (``ids`` "3,7,12")
        ids = literal(",") + cast(AuditLog.detail["ids"].as_string(), String) + literal(",")
        query = query.where(
            or_(col(AuditLog.entity_id) == f.object_id, ids.like(f"%,{f.object_id},%"))
        )
    if f.action:
        query = query.where(col(AuditLog.action) == f.action)
    if f.since is not None:
        query = query.where(col(AuditLog.at) >= _start_of(f.since))
    if f.until is not None:
        query = query.where(col(AuditLog.at) < _start_of(f.until + timedelta(days=1)))
    return query


@dataclass(frozen=True)
class Entry:
    """One row of the log as the page and the export show it."""

    row: AuditLog
    username: str  # who acted; "" when not known (a failed login, the system)
    target: str  # for a row about a user: that user's name

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.row.action, self.row.action)

    @property
    def entity_label(self) -> str:
        return ENTITY_LABELS.get(self.row.entity, self.row.entity)

    @property
    def rows(self) -> int | None:
        value = self.row.detail.get("rows")
        return value if isinstance(value, int) else None

    @property
    def summary(self) -> str:
        """The detail in Japanese: 「場所 /orgs/5 ・ 接続元 192.0.2.1」."""
        parts = []
        for key, value in self.row.detail.items():
            if key == "rows" or value in (None, "", {}, []):
                continue
            label = DETAIL_LABELS.get(key, key)
            if key == "username" and self.row.action in _TRIED:
                label = "入力されたユーザー名"
            if key == "reason":
                value = REASON_LABELS.get(str(value), value)
            elif key == "export":
                value = EXPORT_LABELS.get(str(value), value)
            elif key == "via":
                value = VIA_LABELS.get(str(value), value)
            elif key == "filter" and isinstance(value, dict):
                value = "、".join(f"{FILTER_LABELS.get(k, k)} {v}" for k, v in value.items())
            elif not isinstance(value, str):
                value = json.dumps(value, ensure_ascii=False, default=str)
            parts.append(f"{label} {value}")
        return " ・ ".join(parts)


def _entries(session: Session, rows: list[Any]) -> list[Entry]:
    targets = {r.entity_id for r, _ in rows if r.entity == "user" and r.entity_id is not None}
    names = (
        dict(session.exec(select(User.id, User.username).where(col(User.id).in_(targets))).all())
        if targets
        else {}
    )
    return [
        Entry(r, name or "", names.get(r.entity_id, "") if r.entity == "user" else "")
        for r, name in rows
    ]


def search(session: Session, f: AuditFilter, *, limit: int, offset: int) -> tuple[int, list[Entry]]:
    """``(total, one page of entries)``, newest first."""
    query = _query(session, f)
    total, rows = page_of(session, query, col(AuditLog.id).desc(), limit=limit, offset=offset)
    return total, _entries(session, rows)


HEADER = [
    "番号",
    "日時（日本時間）",
    "操作した利用者",
    "操作",
    "対象",
    "対象の番号",
    "対象の利用者",
    "件数",
    "内容",
    "詳細（JSON）",
]


def table(session: Session, f: AuditFilter) -> list[list[object]]:
    """Every entry the filter selects (at most ``EXPORT_LIMIT``, newest first), as the
    export's rows under ``HEADER``."""
    query = _query(session, f)
    rows = list(session.exec(query.order_by(col(AuditLog.id).desc()).limit(EXPORT_LIMIT)).all())
    return [
        [
            e.row.id,
            japan_time(e.row.at).isoformat(timespec="seconds"),
            e.username,
            e.action_label,
            e.entity_label,
            e.row.entity_id,
            e.target,
            e.rows,
            e.summary,
            json.dumps(e.row.detail, ensure_ascii=False, sort_keys=True, default=str),
        ]
        for e in _entries(session, rows)
    ]
