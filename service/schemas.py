"""API shapes: ``XCreate`` / ``XUpdate`` (PATCH, all optional) / ``XPublic``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .models import NeedStatus, OrgStatus, RejectReason, Role, Stage, SuggestionStatus

T = TypeVar("T")

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Required = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
RequiredLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
FieldNo = Annotated[int, Field(ge=1, le=20)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_null_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """A PATCH body's JSON schema as the server reads it: a field is optional (left out,
    unchanged) but not nullable, unless the model names it in ``NULLABLE``."""
    nullable: frozenset[str] = getattr(model, "NULLABLE", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable:
            continue
        options = prop.pop("anyOf", None)
        if options is not None:
            rest = [o for o in options if o != {"type": "null"}]
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class Patch(Strict):
    """A PATCH body: a field left out is unchanged; a field sent as null is refused (422),
    since none of the columns it would empty may be empty (but those in ``NULLABLE``).
    Its JSON schema says so (``_no_null_in_schema``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_in_schema)
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise PydanticCustomError("null_not_allowed", "null is not allowed")
        return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# -- needs ---------------------------------------------------------------------------
class NeedBase(Strict):
    title: RequiredLine
    description: Required
    goal: Text = ""
    fields: list[FieldNo] = Field(default_factory=list, max_length=20)
    areas: list[Tag] = Field(default_factory=list, max_length=20)
    forms: list[Tag] = Field(default_factory=list, max_length=10)
    contact_name: Annotated[str, StringConstraints(max_length=100)] = ""
    deadline: date | None = None  # 募集期限 (open through that day, Japan time)


class NeedCreate(NeedBase):
    key: Key | None = None
    department: RequiredLine | None = None  # coordinator: required; department user: its own
    status: Literal[NeedStatus.draft, NeedStatus.published] = NeedStatus.published


class NeedUpdate(Patch):
    NULLABLE = frozenset({"deadline"})  # null: no 募集期限 any more

    title: RequiredLine | None = None
    description: Required | None = None
    goal: Text | None = None
    fields: list[FieldNo] | None = Field(default=None, max_length=20)
    areas: list[Tag] | None = Field(default=None, max_length=20)
    forms: list[Tag] | None = Field(default=None, max_length=10)
    contact_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    status: Literal[NeedStatus.draft, NeedStatus.published] | None = None
    deadline: date | None = None
    # the ``updated_at`` you read: if someone saved since, 409 STALE_VERSION (left out: no check)
    updated_at: datetime | None = None


class NeedPublic(BaseModel):
    id: int
    key: str
    department: str
    title: str
    description: str
    goal: str
    fields: list[int]
    field_names: list[str]
    areas: list[str]
    forms: list[str]
    contact_name: str | None  # internal: coordinator and the department only
    status: NeedStatus
    deadline: date | None = None
    expired: bool = False  # its 募集期限 has passed (期限切れ): kept, no longer offered
    created_at: datetime
    updated_at: datetime


# -- organisations -------------------------------------------------------------------
class OrgBase(Strict):
    name: RequiredLine
    legal_form: Line = ""
    fields: list[FieldNo] = Field(default_factory=list, max_length=20)
    areas: list[Tag] = Field(default_factory=list, max_length=20)
    activities: Required
    offerings: Text = ""
    wishes: Text = ""
    contact_name: Annotated[str, StringConstraints(max_length=100)] = ""
    contact_email: Annotated[str, StringConstraints(max_length=254)] = ""
    contact_phone: Annotated[str, StringConstraints(max_length=40)] = ""


class OrgCreate(OrgBase):
    key: Key | None = None


class OrgUpdate(Patch):
    name: RequiredLine | None = None
    legal_form: Line | None = None
    fields: list[FieldNo] | None = Field(default=None, max_length=20)
    areas: list[Tag] | None = Field(default=None, max_length=20)
    activities: Required | None = None
    offerings: Text | None = None
    wishes: Text | None = None
    contact_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    contact_email: Annotated[str, StringConstraints(max_length=254)] | None = None
    contact_phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    # the ``updated_at`` you read: if someone saved since, 409 STALE_VERSION (left out: no check)
    updated_at: datetime | None = None


class Contact(BaseModel):
    name: str
    email: str
    phone: str


class OrgPublic(BaseModel):
    id: int
    key: str
    name: str
    legal_form: str
    fields: list[int]
    field_names: list[str]
    areas: list[str]
    activities: str
    offerings: str
    wishes: str
    contact: Contact | None  # personal data: the coordinator and the group itself only
    status: OrgStatus
    created_at: datetime
    updated_at: datetime


# -- suggestions and review ----------------------------------------------------------
class SuggestionPublic(BaseModel):
    id: int
    need_id: int
    need_title: str
    department: str
    organization_id: int
    organization_name: str
    score: float
    rank: int | None
    reasons: dict[str, Any]
    status: SuggestionStatus
    stage: Stage | None
    version: int
    index_version: str
    model_version: str
    updated_at: datetime


class DecisionIn(Strict):
    action: Literal["confirm", "reject"]
    reason_code: RejectReason | None = None
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""
    version: Annotated[int, Field(ge=1, le=2_147_483_647)]


class BulkDecisionIn(Strict):
    """One decision for several suggestions (each one's version is posted beside it)."""

    action: Literal["confirm", "reject"]
    reason_code: RejectReason | None = None
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class PairIn(Strict):
    """A pairing the coordinator knows of that the ranking did not suggest: confirmed at once."""

    organization_id: Annotated[int, Field(ge=1, le=2_147_483_647)]
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class StageIn(Strict):
    stage: Stage
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""
    version: Annotated[int, Field(ge=1, le=2_147_483_647)]


class StageUndoIn(Strict):
    """Taking the last stage back: why (required), and the version read."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    version: Annotated[int, Field(ge=1, le=2_147_483_647)]


class DecisionPublic(BaseModel):
    id: int
    action: str
    reason_code: str | None
    comment: str
    user: str
    created_at: datetime


class SimilarNeed(BaseModel):
    need: NeedPublic
    score: float


# -- users and auth ------------------------------------------------------------------
class UserCreate(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=100)]
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    role: Role
    display_name: Line = ""
    department: RequiredLine | None = None
    organization_id: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = None


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    department: str | None
    organization_id: int | None


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class RankingModelPublic(BaseModel):
    id: int
    version: str
    created_at: datetime
    decisions: int
    promoted: bool
    current: bool
    report: dict[str, Any]


class TrainingRunPublic(BaseModel):
    """A retraining run (``service.training_run``): ``state`` running | done | failed |
    interrupted; ``stage`` while running: preparing | learning | comparing; ``model`` once
    done; ``code`` why it failed."""

    id: int
    state: str
    stage: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float
    code: str
    model: RankingModelPublic | None


class InterestIn(Strict):
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class InterestPublic(BaseModel):
    need_id: int
    organization: OrgPublic
    comment: str
    created_at: datetime


class InvitationIn(Strict):
    role: Role
    display_name: Line = ""
    department: RequiredLine | None = None  # a department user's 担当課
    organization_id: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = None
    # if given, the link is also mailed there through the outbox
    email: Annotated[str, StringConstraints(max_length=254)] = ""


class InvitationOut(BaseModel):
    path: str  # /invite/…: send the site's address followed by this to the person
    expires_at: datetime
    mailed_to: str = ""  # the address the link was queued to, if any
