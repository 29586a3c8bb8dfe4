"""The e-mail outbox and the kinds a user has opted out of.

A notification is a ``mail_outbox`` row written in the same transaction as its cause; the
worker (``service.mail.delivery``) sends it later. ``dedup_key`` is unique: the same
notification is never queued twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from ..models import Role, UTCDateTime, _ts, utcnow


class MailKind(StrEnum):
    suggestion_confirmed = "suggestion_confirmed"  # 組み合わせの承認（団体・担当課へ）
    interest = "interest"  # 団体の「関心あり」（担当課へ）
    password_reset = "password_reset"  # パスワード再設定のリンク
    deadline_reminder = "deadline_reminder"  # 募集期限の7日前（担当課へ）
    meeting = "meeting"  # 事前打ち合わせの日程が決まった・変わった（団体・担当課へ）
    invitation = "invitation"  # 招待のリンク（まだ利用者でない人へ）
    new_need = "new_need"  # 団体に合いそうな協働の種が公開された（団体へ）
    digest = "digest"  # 週ごとのまとめ（コーディネーターへ）
    event = "event"  # 分野別発表会への招待（招待した団体へ）
    proposal = "proposal"  # 順位づけの外から団体が名乗り出た（担当課へ）


KIND_LABELS = {
    MailKind.suggestion_confirmed: "協働の種の組み合わせが承認されたとき",
    MailKind.interest: "団体が自課の協働の種に「関心あり」を伝えたとき（担当課）",
    MailKind.password_reset: "パスワード再設定のリンクが発行されたとき",
    MailKind.deadline_reminder: "自課の協働の種の募集期限が近づいたとき（7日前、担当課）",
    MailKind.meeting: "事前打ち合わせの日程が決まったとき・変わったとき",
    MailKind.invitation: "招待のリンク（招待した人へ）",
    MailKind.new_need: "自団体に合いそうな協働の種が公開されたとき",
    MailKind.digest: "週ごとのまとめ（確認待ちの件数、関心あり、期限の近い協働の種）",
    MailKind.event: "分野別発表会に招待されたとき",
    MailKind.proposal: "自課の協働の種に取り組みたいと団体が名乗り出たとき（担当課）",
}
# who may get each kind (the settings page offers a user only the kinds of the user's role)
KIND_ROLES = {
    MailKind.suggestion_confirmed: frozenset({Role.npo, Role.department}),
    MailKind.interest: frozenset({Role.department}),
    MailKind.password_reset: frozenset(Role),
    MailKind.deadline_reminder: frozenset({Role.department}),
    MailKind.meeting: frozenset({Role.npo, Role.department}),
    MailKind.invitation: frozenset(),  # to a person who is not a user yet: no setting
    MailKind.new_need: frozenset({Role.npo}),
    MailKind.digest: frozenset({Role.coordinator}),
    MailKind.event: frozenset({Role.npo}),
    MailKind.proposal: frozenset({Role.department}),
}
# kinds a user cannot turn off: the mail is the reason the user asked for it
REQUIRED_KINDS = frozenset({MailKind.password_reset})
# kinds whose body holds a secret link: the body is blanked once the mail is sent (the
# service otherwise keeps only a link's hash)
SECRET_KINDS = frozenset({MailKind.password_reset, MailKind.invitation})
SECRET_REMOVED = "（送信済み: リンクを含むため本文は残していません）"


class MailOutbox(SQLModel, table=True):
    """One message to one address. ``claimed_at`` is set by the worker that is sending it
    (an atomic UPDATE, so two workers never send the same row); ``sent_at`` once the SMTP
    server accepted it; a failure counts ``attempts`` and moves ``next_attempt_at``."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "sent_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    to_address: str = Field(max_length=254)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    dedup_key: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    claimed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class MailPreference(SQLModel, table=True):
    """A kind of mail the user has turned off on /account/mail (no row: the user gets it)."""

    __tablename__ = "mail_preference"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    kind: str = Field(max_length=40, primary_key=True)
