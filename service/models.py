"""Database tables (SQLModel). API shapes live in ``schemas.py``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


# Multi-valued columns are stored as delimited tags ("|1|13|") so that one portable
# LIKE '%|13|%' filters them on SQLite and PostgreSQL alike.
def to_tags(values: list[int] | list[str]) -> str:
    return "|" + "|".join(str(v) for v in values) + "|" if values else ""


def from_tags(tags: str) -> list[str]:
    return [v for v in tags.split("|") if v]


def int_tags(tags: str) -> list[int]:
    return [int(v) for v in from_tags(tags)]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware and in UTC once loaded, on every database.

    SQLite keeps no time zone (it gives naive values back) and PostgreSQL answers in the
    session's zone: both come back as UTC here, so the API says one thing on either.
    A naive value written is taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value)


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC, a naive one taken to be UTC already."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts() -> Column[datetime]:
    return Column(UTCDateTime(), nullable=False)


class Role(StrEnum):
    coordinator = "coordinator"  # 市民自治推進課
    department = "department"  # 各課の協働推進員
    npo = "npo"  # NPO・市民活動団体


class NeedStatus(StrEnum):
    draft = "draft"  # 下書き
    published = "published"  # 公開中
    withdrawn = "withdrawn"  # 取り下げ


class OrgStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


class SuggestionStatus(StrEnum):
    pending = "pending"  # 未判断
    confirmed = "confirmed"  # 承認
    rejected = "rejected"  # 見送り（提案段階）


class Stage(StrEnum):
    """What happened after a confirmation."""

    meeting_arranged = "meeting_arranged"  # 事前打ち合わせ設定
    project_started = "project_started"  # 協働事業化
    dropped = "dropped"  # 見送り


STAGE_LABELS = {
    Stage.meeting_arranged: "事前打ち合わせ設定",
    Stage.project_started: "協働事業化",
    Stage.dropped: "見送り",
}
# ``Decision.action`` of a stage taken back by the coordinator (the stage before it holds)
STAGE_UNDONE = "stage_undone"


class RejectReason(StrEnum):
    wrong_field = "分野違い"
    outside_area = "地域外"
    mutual_benefit = "共益的活動"
    lacks_capacity = "体制不足"
    business = "営利・事業者"  # a company offering its service, not a 協働 partner
    outside_plan = "計画外"
    other = "その他"


class Department(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)


class Need(SQLModel, table=True):
    """A department's 協働の種. ``key`` is the id in the department's own files (課題ID)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    goal: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    fields: str = Field(default="", max_length=500)  # tags: "|1|13|"
    areas: str = Field(default="", max_length=500)  # tags: "|北区|"
    forms: str = Field(default="", max_length=500)  # tags: "|委託|共催|"
    contact_name: str = Field(default="", max_length=100)
    status: str = Field(default=NeedStatus.published, max_length=20, index=True)
    # 募集期限: open through this day in Japan time (``deadlines.open_clause``); None: no end
    deadline: date | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # normalised text and lemmas for keyword search, written on every save (``search``)
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Organization(SQLModel, table=True):
    """An NPO / citizen group profile. ``key`` is the id in registry files (団体ID)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200, index=True)
    legal_form: str = Field(default="", max_length=100)
    fields: str = Field(default="", max_length=500)  # tags: "|1|13|"
    areas: str = Field(default="", max_length=500)  # tags: "|北区|"
    activities: str = Field(sa_column=Column(Text, nullable=False))
    offerings: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    wishes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    contact_name: str = Field(default="", max_length=100)
    contact_email: str = Field(default="", max_length=254)
    contact_phone: str = Field(default="", max_length=40)
    status: str = Field(default=OrgStatus.active, max_length=20, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True, index=True)
    display_name: str = Field(default="", max_length=100)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=20)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    is_active: bool = True
    # where notifications go (``service.mail``); empty: none are sent
    email: str = Field(default="", max_length=254)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class TokenKind(StrEnum):
    api = "api"  # an API bearer token (POST /api/auth/token)
    session = "session"  # a page session's cookie


class ApiToken(SQLModel, table=True):
    """A bearer token or a page session; only its SHA-256 is stored. ``kind`` keeps the
    two apart: a session cookie's value is not an API token, nor the reverse."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(default=TokenKind.api, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())


# ``Suggestion.model_version`` of a pairing the coordinator added by hand (no ranker made it)
BY_HAND = "by-hand"
# ``Suggestion.model_version`` of a group a department proposed for its own need: pending,
# in the coordinator's queue, marked as the department's proposal (``service.proposals``)
BY_DEPARTMENT = "by-department"


class Suggestion(SQLModel, table=True):
    """A proposed (need, organisation) pairing and where the coordinator's review stands.

    ``version`` is checked on every write: a decision made on a stale read is a 409.
    ``rank`` is None once the pairing has dropped out of the need's current top list.
    """

    __table_args__ = (
        UniqueConstraint("need_id", "organization_id", name="uq_suggestion_pair"),
        Index("ix_suggestion_queue", "status", "score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    score: float
    rank: int | None = None
    reasons: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    index_version: str = Field(max_length=64)
    model_version: str = Field(max_length=64)
    status: str = Field(default=SuggestionStatus.pending, max_length=20)
    stage: str | None = Field(default=None, max_length=30)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Decision(SQLModel, table=True):
    """One step in a suggestion's history: confirm / reject, or a later stage. Never updated."""

    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: int = Field(foreign_key="suggestion.id", index=True)
    action: str = Field(
        max_length=30
    )  # confirm | reject | meeting_arranged | project_started | dropped
    reason_code: str | None = Field(default=None, max_length=20)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AuditLog(SQLModel, table=True):
    """Every change, in order. Its ids also tell other server processes what changed."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=30)
    entity: str = Field(max_length=30, index=True)
    entity_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RankingModel(SQLModel, table=True):
    """A trained ranking model: what it learned from and how it validated.

    Models are not pickled: a model is its training data (decisions up to
    ``max_decision_id``) and the deterministic training run, so every server process
    rebuilds the same model from the database.
    """

    __tablename__ = "ranking_model"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    decisions: int
    max_decision_id: int
    promoted: bool
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TrainingRun(SQLModel, table=True):
    """One retraining, run in the background (``service.training_run``): where it stands,
    and the model it recorded. ``slot`` is 1 while the run is under way and NULL after,
    so its unique constraint lets one run at a time go on across every worker process;
    ``heartbeat_at`` moves while it goes on, so a run whose process died is seen."""

    __tablename__ = "training_run"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(default="running", max_length=20)  # running | done | failed | interrupted
    stage: str = Field(default="preparing", max_length=20)  # preparing | learning | comparing
    slot: int | None = Field(default=1, unique=True)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    model_id: int | None = Field(default=None, foreign_key="ranking_model.id")
    error_code: str = Field(default="", max_length=64)


class Invitation(SQLModel, table=True):
    """A one-time link the coordinator sends: whoever opens it chooses a login for ``role``
    (or, with ``for_user``, a new password for that user).

    Only the SHA-256 of the link's secret is stored, like the API tokens.
    """

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(max_length=20)
    display_name: str = Field(default="", max_length=100)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    # set for a password reset: the existing user the link lets choose a new password
    for_user: int | None = Field(default=None, foreign_key="app_user.id")
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used_by: int | None = Field(default=None, foreign_key="app_user.id")
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # where the link was mailed, if it was (the new user's address once accepted)
    email: str = Field(default="", max_length=254)


class Interest(SQLModel, table=True):
    """A group's 関心あり on a published need: the coordinator sees it beside the suggestions."""

    __table_args__ = (UniqueConstraint("need_id", "organization_id"),)

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    user_id: int = Field(foreign_key="app_user.id")
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class PendingUpload(SQLModel, table=True):
    """A file uploaded on the import page, kept between its preview and the user's choice."""

    __tablename__ = "pending_upload"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    kind: str = Field(max_length=20)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AppKey(SQLModel, table=True):
    """A key the service made for itself (``service.keys``): hex of 32 random bytes."""

    __tablename__ = "app_key"
    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=128)


class LoginAttempt(SQLModel, table=True):
    """A login attempt not (yet) known to have succeeded (``throttle``): written before
    the password is checked, removed when it was right."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_pair", "username_key", "address", "at"),
        Index("ix_login_attempt_address", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username_key: str = Field(max_length=100)
    address: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
