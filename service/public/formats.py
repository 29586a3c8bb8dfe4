"""The open-data files: CSV (UTF-8 with BOM, Japanese headers), JSON and an Atom feed.

All three are written from ``PublicNeed`` only. Pure functions: the caller passes the
absolute URLs, so nothing here knows about requests.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..exports import japan_time_text, neutralise
from .models import CITYWIDE, CSV_COLUMNS, PublicNeed

__all__ = ["need_url", "to_atom", "to_csv", "to_json"]

ATOM = "http://www.w3.org/2005/Atom"
# characters XML 1.0 cannot carry at all (escaping does not help): dropped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SUMMARY_LENGTH = 300


def need_url(base: str, need_id: int) -> str:
    """A need's public page, absolute (``base`` is the site's root URL)."""
    return f"{base.rstrip('/')}/public/needs/{need_id}"


def _cell(need: PublicNeed, name: str, base: str) -> object:
    if name == "url":
        return need_url(base, need.id)
    value = getattr(need, name)
    if name == "areas":
        return "、".join(value) or CITYWIDE
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, datetime):
        return japan_time_text(value)
    if name == "deadline":
        return value.isoformat() if value is not None else ""
    return value


def to_csv(needs: Sequence[PublicNeed], *, base: str) -> bytes:
    """UTF-8 with a BOM (Excel opens it as Japanese), formula-like cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([ja for _, ja in CSV_COLUMNS])
    for need in needs:
        writer.writerow([neutralise(_cell(need, name, base)) for name, _ in CSV_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def to_json(needs: Sequence[PublicNeed], *, base: str) -> bytes:
    items: list[dict[str, Any]] = [
        {**need.model_dump(mode="json"), "url": need_url(base, need.id)} for need in needs
    ]
    return json.dumps(items, ensure_ascii=False, indent=1).encode("utf-8")


def _utc(value: datetime) -> str:
    """RFC 3339 in UTC; a naive time (SQLite) is UTC already."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = _NOT_XML.sub("", text)
    return element


def _summary(need: PublicNeed) -> str:
    text = need.description
    if need.goal:
        text += f"\n\n協働で実現したいこと: {need.goal}"
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


def to_atom(
    needs: Sequence[PublicNeed], *, base: str, feed_url: str, now: datetime | None = None
) -> bytes:
    """An Atom feed (RFC 4287) of ``needs``; ids are the needs' absolute page URLs."""
    # plain tag names under a default namespace declared on the root
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": "ja"})
    _text(feed, "title", "協働の種（新着） | 協働マッチング")
    _text(feed, "subtitle", "市の各課が団体と一緒に取り組みたい課題")
    _text(feed, "id", feed_url)
    newest = max((n.updated_at for n in needs), key=_utc, default=now or datetime.now(UTC))
    _text(feed, "updated", _utc(newest))
    ET.SubElement(feed, "link", {"rel": "self", "href": feed_url})
    alternate = f"{base.rstrip('/')}/public/needs"
    ET.SubElement(feed, "link", {"rel": "alternate", "href": alternate})
    author = ET.SubElement(feed, "author")
    _text(author, "name", "市民自治推進課")
    for need in needs:
        entry = ET.SubElement(feed, "entry")
        url = need_url(base, need.id)
        _text(entry, "title", need.title)
        _text(entry, "id", url)
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": url})
        _text(entry, "published", _utc(need.created_at))
        _text(entry, "updated", _utc(need.updated_at))
        entry_author = ET.SubElement(entry, "author")
        _text(entry_author, "name", need.department)
        for name in need.field_names:
            ET.SubElement(entry, "category", {"term": name})
        _text(entry, "summary", _summary(need), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
