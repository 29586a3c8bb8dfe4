"""Keyword search as people type it, the same on SQLite and PostgreSQL.

A need or a profile keeps a ``search_text`` column, written whenever the row is (ORM
events below): its searchable fields NFKC-normalised and lower-cased, then the lemmas the
project's tokenizer reads from them, each between spaces. A query is normalised the same
way and matches when its normalised text is a substring, or when every one of its
lemmas is among the row's:

- ﾊﾟﾗｽﾎﾟｰﾂ (half-width) finds パラスポーツ, ＮＰＯ finds npo (NFKC, lower case);
- 子ども finds 子供 and こども (one UniDic lemma, 子供); 見守り finds 見守る;
- the need's goal (協働で実現したいこと) is searched too, and a profile's menu and wishes.

``LIKE`` over one normalised column behaves the same on both databases (no collation,
no ``ILIKE``, no full-text extension to install).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, event, false, or_
from sqlmodel import col

from matching import JapaneseTokenizer, normalize_text

from .models import Need, Organization

__all__ = ["matches", "search_text"]

_TOKENIZER = JapaneseTokenizer(stop_words=None, bigrams=False)
# a query's lemmas: at most this many are required (a pasted paragraph still searches)
MAX_QUERY_TERMS = 8


def _lemmas(text: str) -> list[str]:
    return list(dict.fromkeys(t.lower() for t in _TOKENIZER(text) if t.strip()))


def search_text(*parts: str | None) -> str:
    """The column's value for a row whose searchable fields are ``parts``."""
    text = normalize_text("\n".join(p for p in parts if p))
    lemmas = _lemmas(text)
    return f"{text}\n {' '.join(lemmas)} " if lemmas else text


def matches(column: Any, query: str) -> ColumnElement[bool]:
    """The condition for rows whose ``search_text`` ``column`` answers ``query``."""
    text = normalize_text(query)
    if not text:
        return false()
    substring = col(column).contains(text, autoescape=True)
    lemmas = _lemmas(text)[:MAX_QUERY_TERMS]
    if not lemmas:
        return substring
    every = and_(*(col(column).contains(f" {lemma} ", autoescape=True) for lemma in lemmas))
    return or_(substring, every)


def _need_text(need: Need) -> str:
    return search_text(need.key, need.title, need.description, need.goal)


def _org_text(org: Organization) -> str:
    return search_text(org.key, org.name, org.activities, org.offerings, org.wishes)


@event.listens_for(Need, "before_insert")
@event.listens_for(Need, "before_update")
def _need_search_text(_mapper: Any, _connection: Any, need: Need) -> None:
    need.search_text = _need_text(need)


@event.listens_for(Organization, "before_insert")
@event.listens_for(Organization, "before_update")
def _org_search_text(_mapper: Any, _connection: Any, org: Organization) -> None:
    org.search_text = _org_text(org)
