"""The records the library works on: needs, organisations and their structured fields."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from ._text import normalize_text, split_multi

__all__ = [
    "FIELD_NAMES",
    "Need",
    "Organization",
    "area_relation",
    "parse_areas",
    "parse_fields",
    "ward_of",
]

# 特定非営利活動促進法 別表: the 20 fields of activity, numbered as in the law.
FIELD_NAMES: dict[int, str] = {
    1: "保健・医療・福祉",
    2: "社会教育",
    3: "まちづくり",
    4: "観光",
    5: "農山漁村・中山間地域",
    6: "学術・文化・芸術・スポーツ",
    7: "環境の保全",
    8: "災害救援",
    9: "地域安全",
    10: "人権・平和",
    11: "国際協力",
    12: "男女共同参画",
    13: "子どもの健全育成",
    14: "情報化社会",
    15: "科学技術",
    16: "経済活動の活性化",
    17: "職業能力・雇用機会",
    18: "消費者の保護",
    19: "団体の運営・活動に関する連絡・助言・援助",
    20: "条例で定める活動",
}

# Common short names people type instead of the law's wording.
_FIELD_ALIASES: dict[str, int] = {
    "福祉": 1,
    "保健": 1,
    "医療": 1,
    "教育": 2,
    "生涯学習": 2,
    "まちづくり": 3,
    "街づくり": 3,
    "町づくり": 3,
    "農山村": 5,
    "農山漁村": 5,
    "中山間地域": 5,
    "文化": 6,
    "芸術": 6,
    "スポーツ": 6,
    "学術": 6,
    "環境": 7,
    "災害": 8,
    "防災": 8,
    "防犯": 9,
    "人権": 10,
    "平和": 10,
    "国際": 11,
    "子ども": 13,
    "子供": 13,
    "こども": 13,
    "情報化": 14,
    "it": 14,
    "経済": 16,
    "雇用": 17,
    "職業能力": 17,
    "就労": 17,
    "消費者": 18,
    "中間支援": 19,
    "npo支援": 19,
    "条例": 20,
}


def _field_key(text: str) -> str:
    return re.sub(r"[\s・、,]", "", normalize_text(text))


_FIELD_LOOKUP: dict[str, int] = {_field_key(name): num for num, name in FIELD_NAMES.items()}
_FIELD_LOOKUP.update({_field_key(alias): num for alias, num in _FIELD_ALIASES.items()})
_LEADING_NUMBER = re.compile(r"^(\d{1,2})(?:[.．:：)）\s]|$)")


# The law's own wording (別表): "社会教育の推進を図る活動", "前各号に掲げる活動を行う団体の
# 運営又は活動に関する連絡、助言又は援助の活動", "…条例で定める活動".
_FIELD_CONTAINS: dict[str, int] = {"団体の運営": 19, "中間支援": 19, "条例で定める": 20}


def _field_number(key: str) -> int | None:
    """A field number from a normalised value: a name, a short name, the start of one
    name (保健・医療, 子どもの健全), or the law's long wording that starts with one
    (社会教育の推進を図る活動 → 2; the longest name that fits wins)."""
    if not key:
        return None
    if key in _FIELD_LOOKUP:
        return _FIELD_LOOKUP[key]
    hits = {n for k, n in _FIELD_LOOKUP.items() if k.startswith(key)}
    if len(hits) == 1:
        return hits.pop()
    starts = [(len(k), n) for k, n in _FIELD_LOOKUP.items() if key.startswith(k)]
    if starts:
        return max(starts)[1]
    for part, n in _FIELD_CONTAINS.items():
        if part in key:
            return n
    return None


def parse_fields(cell: str | None) -> tuple[list[int], list[str]]:
    """Parse a 活動分野 cell into law field numbers.

    Accepts names, short names and numbers (``7``, ``７``, ``7.環境の保全``).
    Returns ``(numbers, unknown_values)``; unknown values are kept, never dropped.
    """
    numbers: list[int] = []
    unknown: list[str] = []
    for value in split_multi(cell):
        value = unicodedata.normalize("NFKC", value).strip()
        match = _LEADING_NUMBER.match(value)
        num: int | None = None
        if match and 1 <= int(match.group(1)) <= 20:
            num = int(match.group(1))
        else:
            num = _field_number(_field_key(value))
        if num is None:
            unknown.append(value)
        elif num not in numbers:
            numbers.append(num)
    return numbers, unknown


_CITY_WIDE = {"", "市全域", "全市", "全域", "市内全域", "市内", "全市域", "市内一円", "全区"}


_CITY_ITSELF = re.compile(r"[^\s]{1,6}市")  # not 町: 本町, 浜町 are districts


def _city_wide(area: str) -> bool:
    """市全域, 全市, 若葉市全域, 市内一円, or just the city's own name (若葉市)."""
    return (
        area in _CITY_WIDE
        or area.endswith(("全域", "全体", "一円"))
        or _CITY_ITSELF.fullmatch(area) is not None
    )


def parse_areas(cell: str | None) -> list[str]:
    """Area values of a cell, normalised; city-wide spellings give an empty list."""
    return [a for a in (normalize_text(v) for v in split_multi(cell)) if not _city_wide(a)]


def ward_of(area: str) -> str | None:
    """The ward (…区) an area value starts with, if any (北区山手地区 → 北区; 山手地区 → None)."""
    match = re.match(r".{1,5}?区", area)
    if match and not match.group(0).endswith(("地区", "校区", "学区")):
        return match.group(0)
    return None


def area_relation(need_areas: list[str], org_areas: list[str]) -> str:
    """How an organisation's working area relates to a need's target area.

    ``"same"``: they share an area, or the group names a part of the need's (a district of
    the need's ward), or both name the same ward;
    ``"ward"``: the need names a district and the group only its whole ward, or another
    district of that ward (地域密着 one level down: rooted in the ward, not in the place);
    ``"citywide_org"``: the organisation works city-wide (no area given);
    ``"citywide_need"``: the need is city-wide and the organisation local;
    ``"both_citywide"``;
    ``"other"``: both are local and name different wards, or different areas of the same kind;
    ``"unknown"``: a district against a ward with nothing to relate them (no gazetteer).
    """
    if not need_areas and not org_areas:
        return "both_citywide"
    if not org_areas:
        return "citywide_org"
    if not need_areas:
        return "citywide_need"
    comparable = False
    ward = False
    for a in need_areas:
        for b in org_areas:
            if a == b or a in b:
                return "same"
            wa, wb = ward_of(a), ward_of(b)
            if b in a or (wa and wa == wb):
                # the group's area holds the need's, or shares its ward: the same place
                # unless the need is narrower than its ward
                if wa is None or a == wa:
                    return "same"
                ward = True
            elif wa and wb:
                comparable = True
            elif (wa is None) == (wb is None):
                comparable = True
    if ward:
        return "ward"
    return "other" if comparable else "unknown"


@dataclass(slots=True)
class Need:
    """A department's 協働の種 / 行政課題."""

    id: str
    department: str
    title: str
    description: str
    goal: str = ""
    fields: list[int] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    contact_name: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # 募集期限: the last day the need takes partners (not used in ranking)
    deadline: date | None = None


_LEGAL_FORM_IN_NAME = re.compile(
    r"(?:特定非営利活動|一般社団|一般財団|公益社団|公益財団|社会福祉|学校|医療|NPO|ＮＰＯ|npo)法人"
    r"|株式会社|有限会社|合同会社|\(株\)|\(有\)|（株）|（有）|㈱|㈲"
)


@dataclass(slots=True)
class Organization:
    """An NPO or citizen group's profile and its menu (協働でできること)."""

    id: str
    name: str
    activities: str
    legal_form: str = ""
    fields: list[int] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    offerings: str = ""
    wishes: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def name_words(self) -> str:
        """The name without its 法人格 (特定非営利活動法人, 株式会社 …): the words by which
        the group is known, which often say what it does (山辺おでかけ隊, ママカフェ)."""
        return _LEGAL_FORM_IN_NAME.sub(" ", self.name)
