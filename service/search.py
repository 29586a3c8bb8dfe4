"""Keyword search as people type it, the same on SQLite and PostgreSQL.

A need or a profile keeps a ``search_text`` column, written whenever the row is (ORM
events below): its searchable fields NFKC-normalised and lower-cased on one line, then a
new line and the lemmas the project's tokenizer reads from them, each between spaces. A
query is normalised the same way and matches when its normalised text is a substring, or
when every one of its lemmas is among the row's:

- ﾊﾟﾗｽﾎﾟｰﾂ (half-width) finds パラスポーツ, ＮＰＯ finds npo (NFKC, lower case);
- 子ども finds 子供 and こども (one UniDic lemma, 子供); 見守り finds 見守る;
- the need's goal (協働で実現したいこと) is searched too, and a profile's menu and wishes.

A bulk import of more than ``loader.FILL_INLINE`` rows writes the normalised text alone
(tokenising is most of an import's time), after a new line that marks the row *pending*
(``PENDING``: a normalised text never starts with white space), and ``search_fill`` writes
the value above in the background. Meanwhile a pending row matches on its text: the query
as a substring, as above, or each of the query's words (its lemma, or as the query writes
it) somewhere in it. So a search still finds pending rows by what they say; a lemma
written another way (a query 子供 and a row's こども) finds the row once the fill has
reached it. After the fill a row holds exactly what it would have been written with.

``LIKE`` over one normalised column behaves the same on both databases (no collation,
no ``ILIKE``, no full-text extension to install).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, event, false, or_
from sqlmodel import col

from matching import JapaneseTokenizer, normalize_text

from .models import Need, Organization

__all__ = ["PENDING", "filled", "matches", "pending_text", "search_text"]

_TOKENIZER = JapaneseTokenizer(stop_words=None, bigrams=False)
# a query's lemmas: at most this many are required (a pasted paragraph still searches)
MAX_QUERY_TERMS = 8
# what a pending row's value starts with (its lemma line still to come): never the first
# character of a normalised text, and never in a query
PENDING = "\n"


def _words(text: str) -> dict[str, str]:
    """The text's words: lemma → the word as the text writes it (a noun) or its
    dictionary form (a verb, an adjective), first occurrence, in text order."""
    words: dict[str, str] = {}
    for lemma, written in _TOKENIZER.analyze(text):
        lemma = lemma.lower()
        if lemma.strip() and lemma not in words:
            words[lemma] = written.lower()
    return words


def _normalized(*parts: str | None) -> str:
    return normalize_text("\n".join(p for p in parts if p))


def _with_lemmas(text: str) -> str:
    lemmas = list(_words(text))
    return f"{text}\n {' '.join(lemmas)} " if lemmas else text


def search_text(*parts: str | None) -> str:
    """The column's value for a row whose searchable fields are ``parts``."""
    return _with_lemmas(_normalized(*parts))


def pending_text(*parts: str | None) -> str:
    """The column's value for a row whose lemma line ``search_fill`` writes later."""
    return PENDING + _normalized(*parts)


def filled(value: str) -> str:
    """A pending row's value with its lemma line: what ``search_text`` gives its parts."""
    return _with_lemmas(value.removeprefix(PENDING))


def matches(column: Any, query: str) -> ColumnElement[bool]:
    """The condition for rows whose ``search_text`` ``column`` answers ``query``."""
    text = normalize_text(query)
    if not text:
        return false()
    column = col(column)
    substring = column.contains(text, autoescape=True)
    words = list(_words(text).items())[:MAX_QUERY_TERMS]
    if not words:
        return substring
    every = and_(*(column.contains(f" {lemma} ", autoescape=True) for lemma, _ in words))
    # a row whose lemma line is still to come: each word somewhere in its text
    pending = and_(
        column.startswith(PENDING),
        *(
            or_(*(column.contains(w, autoescape=True) for w in dict.fromkeys((lemma, written))))
            for lemma, written in words
        ),
    )
    return or_(substring, every, pending)


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
