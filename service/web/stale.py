"""A stale save on an edit page (``service.stale``): the form comes back (409) with what
was typed, what is saved now where it differs, and a link to the item as it is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from matching import FIELD_NAMES

from .. import stale
from ..errors import FIELD_LABELS

# the version the edit page read, in a hidden field of the form
VERSION_FIELD = "version"
LABELS = {**FIELD_LABELS, "deadline": "募集期限", "status": "公開", "fields": "活動分野"}


def sent_version(form: Any) -> datetime | None:
    """The version the form was loaded from (None from a page older than the field)."""
    text = str(form.get(VERSION_FIELD, "")).strip()
    return stale.read_version(text) if text else None


def _shown(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "fields":
        return "、".join(FIELD_NAMES.get(int(f), str(f)) for f in value)
    if name == "status":
        status = str(getattr(value, "value", value))
        return {"draft": "下書き", "published": "公開"}.get(status, status)
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def differences(typed: Mapping[str, Any], saved: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each field whose saved value differs from what was typed: (label, saved text)."""
    out = []
    for name, value in typed.items():
        if name not in saved:
            continue
        now = _shown(name, saved[name])
        if _shown(name, value) != now:
            out.append((LABELS.get(name, name), now))
    return out


def notice(
    *,
    message: str,
    item_page: str,
    saved_at: datetime,
    typed: Mapping[str, Any],
    saved: Mapping[str, Any],
) -> dict[str, Any]:
    """What the form's stale notice shows."""
    return {
        "message": message,
        "item_page": item_page,
        "saved_at": saved_at,
        "differences": differences(typed, saved),
    }
