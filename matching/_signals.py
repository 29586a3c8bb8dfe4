"""Structured signals of a (need, organisation) pair besides the text."""

from __future__ import annotations

import re

from ._schema import Organization
from ._text import normalize_text

__all__ = ["MEMBERS_ONLY_PATTERN", "members_only"]

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


def members_only(org: Organization) -> bool:
    """Whether the profile describes a group whose activity serves its own members."""
    text = normalize_text(" ".join((org.name, org.activities, org.offerings, org.wishes)))
    return MEMBERS_ONLY_PATTERN.search(text) is not None
