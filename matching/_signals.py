"""Structured signals of a (need, organisation) pair besides the text."""

from __future__ import annotations

import re

from ._kinds import profile_text
from ._schema import Need, Organization
from ._text import normalize_text

__all__ = ["FORM_WORDS", "MEMBERS_ONLY_PATTERN", "forms_named", "forms_wanted", "members_only"]

# Wording by which a group says its activity serves its own members (共益的活動): the
# coordinator screens such groups out before any department meets them. Generic Japanese
# phrasing, not names from our corpus.
MEMBERS_ONLY_PATTERN = re.compile(
    "|".join(
        [
            r"会員(?:相互|同士|間)の?(?:親睦|交流|研鑽|親交)",
            r"会員の(?:親睦|懇親|交流|趣味|研鑽|親交|相互)",
            r"会員(?:限定|のみ|だけ)",
            r"(?:部員|会員|メンバー|仲間)(?:内|うち)で",
            r"(?:親睦|懇親)を(?:深め|図)",
            r"(?:愛好会|同好会|同窓会|ob会|og会|親睦会)",
            r"(?:外部|会員以外|一般|部外者)[^。]{0,12}(?:受け付けて(?:い)?ません|受けて(?:い)?ません|お断り|不可|できません)",
        ]
    )
)


def members_only(org: Organization, *, text: str | None = None) -> bool:
    """Whether the profile describes a group whose activity serves its own members
    (``text``: its ``profile_text``, if made already)."""
    clean = profile_text(org) if text is None else text
    return MEMBERS_ONLY_PATTERN.search(clean) is not None


# 協働の形態 (DOMAIN.md) and the words by which a profile's menu or wishes names each
FORM_WORDS: dict[str, tuple[str, ...]] = {
    "委託": ("委託",),
    "補助": ("補助", "助成"),
    "共催": ("共催",),
    "後援": ("後援",),
    "実行委員会": ("実行委員会",),
    "事業協力": ("事業協力",),
    "情報提供・交換": ("情報提供", "情報交換"),
}


def forms_wanted(need: Need) -> set[str]:
    """The need's 協働の形態 among ``FORM_WORDS`` (an unknown spelling matches itself)."""
    out = set()
    for value in need.forms:
        form = normalize_text(value).strip()
        known = [k for k, words in FORM_WORDS.items() if form == k or form in words]
        out.update(known or ([form] if form else []))
    return out


def forms_named(org: Organization) -> set[str]:
    """The 協働の形態 the group's menu or wishes name (委託も可, 共催で …)."""
    text = normalize_text(" ".join((org.offerings, org.wishes)))
    return {k for k, words in FORM_WORDS.items() if any(w in text for w in words)}
