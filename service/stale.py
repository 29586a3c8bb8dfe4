"""Stale edits: a need or a profile is saved only over the version its editor read.

The version is the row's ``updated_at`` (every write moves it: a form, the API, an
import, a withdrawal), so no column was added for it. An edit page carries it in a
hidden field; the save moves ``updated_at`` from that value to now in one UPDATE
(compare-and-set, like a suggestion's ``version``), so of two saves made on the same
read exactly one passes and the other is a ``409 STALE_VERSION``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col

from .errors import Conflict, Invalid
from .models import Need, Organization, as_utc, utcnow


def version_of(updated_at: datetime) -> str:
    """The version an edit form carries: the row's ``updated_at``, exact to the microsecond."""
    stamp = as_utc(updated_at)
    assert stamp is not None
    return stamp.isoformat(timespec="microseconds")


def read_version(text: str) -> datetime:
    """The version a form sent back."""
    try:
        stamp = as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        stamp = None
    if stamp is None:
        raise Invalid(
            "フォームの内容が正しくありません。編集ページを開き直してください。",
            code="BAD_VERSION",
        )
    return stamp


def claim(
    session: Session, model: type[Need] | type[Organization], row_id: int, read: datetime
) -> datetime:
    """Move the row's ``updated_at`` from ``read`` to now, or refuse (``STALE_VERSION``)
    when someone saved it since; the new ``updated_at`` is returned for the caller's row."""
    now = utcnow()
    result = cast(
        CursorResult[Any],
        session.execute(
            update(model)
            .where(col(model.id) == row_id, col(model.updated_at) == read)
            .values(updated_at=now)
        ),
    )
    if result.rowcount != 1:
        session.rollback()
        what = "協働の種" if model is Need else "団体の情報"
        raise Conflict(
            f"この{what}は、編集を始めた後にほかの人が保存しました。"
            "あなたの入力はまだ保存していません。",
            code="STALE_VERSION",
        )
    return now
