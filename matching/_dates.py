"""Dates as people write them in a list kept in Excel (the 募集期限 column)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

__all__ = ["parse_date"]

_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?$")
_DATE_JA = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")


def parse_date(cell: str) -> date | None:
    """A date as people write it in a list: 2026-12-20, 2026/12/20, 2026年12月20日 (full-width
    digits too), or an Excel date cell (read as ``2026-12-20 00:00:00``). Empty: None.
    Anything else, or a day that does not exist, raises ``ValueError``."""
    text = unicodedata.normalize("NFKC", cell).strip()
    if not text:
        return None
    match = _DATE.match(text) or _DATE_JA.match(text)
    if match is None:
        raise ValueError(text)
    return date(*(int(g) for g in match.groups()))
