"""Text normalisation for Japanese administrative and NPO writing."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text", "split_multi"]

# NFKC folds full-width letters/digits and half-width katakana; these are the
# tilde and dash look-alikes that NFKC leaves distinct.
_FOLD = (("〜", "~"), ("～", "~"), ("‐", "-"), ("−", "-"), ("―", "-"))
_SPACES = re.compile(r"\s+")
# `;` (half- or full-width, NFKC folds both to `;`) and `、` separate values in a cell;
# `・` joins words inside one value and is never a separator.
_MULTI_SEPARATORS = re.compile(r"[;、,\n]")


def normalize_text(text: str | None, *, lower: bool = True) -> str:
    """NFKC-normalise, fold tildes and dashes, collapse white space and (by default) lower-case."""
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    for a, b in _FOLD:
        if a in text:
            text = text.replace(a, b)
    if lower:
        text = text.lower()
    return _SPACES.sub(" ", text).strip()


def split_multi(cell: str | None) -> list[str]:
    """Split a multi-valued cell on `;` / `；` / `、` (and `,` or new lines), keeping order."""
    if not cell:
        return []
    text = unicodedata.normalize("NFKC", cell)
    values = (v.strip() for v in _MULTI_SEPARATORS.split(text))
    seen: dict[str, None] = {}
    for v in values:
        if v and v not in seen:
            seen[v] = None
    return list(seen)
