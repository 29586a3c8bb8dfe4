"""What kind of partner a group is, and whom a text is for.

Two coordinator's checks that shared words cannot make:

- **Organisation type** (``org_kind``), read from 法人格 and the name. A company that
  sells the very service a need describes (a 防災用品 dealer, a 塾, a 士業 office) is a
  supplier, not a 協働 partner, unless the need invites companies (CSR, 協賛, 包括連携協定,
  職場体験の受入れ): ``invites_companies``.
- **Target population** (``populations``): 高齢者, 子ども・子育て家庭, 若者, 障害のある人,
  外国人住民, 生活困窮者. A need for older people and a group that works only for
  children share words (見守り, 居場所) but not the people.

Both are written from general knowledge of Japanese legal forms and welfare vocabulary,
not from any data set's texts.
"""

from __future__ import annotations

import re

from ._schema import Need, Organization
from ._text import normalize_text

__all__ = [
    "FOR_PROFIT_KINDS",
    "KIND_LABELS",
    "POPULATION_LABELS",
    "invites_companies",
    "org_kind",
    "populations",
    "profile_text",
    "sells_offering",
]

# kind → how a person reads it (reasons, pages)
KIND_LABELS: dict[str, str] = {
    "company": "営利企業",
    "professional": "士業・専門職の事務所",
    "school": "民間の教室・塾",
    "university": "大学",
    "neighbourhood": "自治会・町内会",
    "welfare": "社会福祉法人・社協",
    "cooperative": "協同組合",
    "foundation": "公益法人",
    "association": "一般社団・財団法人",
    "npo": "NPO法人",
    "voluntary": "任意団体",
    "unknown": "",
}
# kinds whose work is a business: put below civic groups unless the need invites them
FOR_PROFIT_KINDS = frozenset({"company", "professional", "school"})

_COMPANY = re.compile(
    r"株式会社|有限会社|合同会社|合資会社|合名会社|\(株\)|\(有\)|㈱|㈲|^企業$|^会社$|"
    r"商店$|工務店|不動産|ホールディングス|\binc\b|\bltd\b|co\.,"
)
_PROFESSIONAL = re.compile(
    r"(?:司法書士|行政書士|税理士|弁護士|社会保険労務士|社労士|土地家屋調査士|弁理士|公認会計士)"
    r"(?:法人|事務所)|(?:法律|会計|特許)事務所"
)
_BANK = re.compile(r"信用金庫|信用組合|銀行")
# a private class run as a business: 学習塾, 英会話スクール, パソコン教室 (not 子ども食堂's 無料塾)
_SCHOOL = re.compile(
    r"(?<!無料)(?<!無料の)塾$|学習塾|進学塾|スクール$|(?:英会話|パソコン|pc)(?:スクール|教室)"
)
_FREE = re.compile(r"無料塾|学習支援|居場所")


def org_kind(org: Organization) -> str:
    """The group's kind (a key of ``KIND_LABELS``), from 法人格 first, then the name."""
    form = normalize_text(org.legal_form)
    name = normalize_text(org.name)
    both = f"{form} {name}"
    if _PROFESSIONAL.search(both):
        return "professional"
    if "特定非営利活動法人" in form or form in {"npo法人", "npo"}:
        return "npo"
    if "社会福祉" in form or "社会福祉協議会" in name:
        return "welfare"
    if "協同組合" in form or "生協" in form or "農協" in form:
        return "cooperative"
    if form.startswith("公益"):
        return "foundation"
    if form.startswith(("一般社団", "一般財団")):
        return "association"
    if "大学" in form or form in {"学校法人"}:
        return "university"
    if form in {"自治会", "町内会", "自主防災会", "連合会", "自治会連合会"} or "自治会" in form:
        return "neighbourhood"
    if _COMPANY.search(form) or form in {"企業", "会社", "個人事業"} or _BANK.search(form):
        return "company"
    if _SCHOOL.search(name) and not _FREE.search(name):
        return "school"
    if form in {"任意団体", "ボランティア団体", "市民活動団体"}:
        return "voluntary"
    # no legal form given: the name may still say it
    if _COMPANY.search(name):
        return "company"
    if name.startswith(("npo法人", "特定非営利活動法人")):
        return "npo"
    if "大学" in name and not form:
        return "university"
    if re.search(r"自治会|町内会|自主防災会", name):
        return "neighbourhood"
    return "voluntary" if form == "" else "unknown"


# wording by which a need welcomes companies as partners (not as suppliers)
_INVITES = re.compile(
    r"企業|事業者|事業所|民間の(?:皆|方|力)|社会貢献|csr|協賛|包括連携|スポンサー|"
    r"職場(?:体験|実習|見学)の?受(?:け)?入れ|店舗"
)


def invites_companies(need: Need) -> bool:
    """Whether the need asks for companies (CSR, 協賛, 包括連携協定, 職場体験の受入れ …)."""
    return _INVITES.search(normalize_text(f"{need.title} {need.goal}")) is not None


# an offering put up for a fee: 有料, 月額制, a price in 円 (not 無料, not 実費)
_PAID = re.compile(r"(?<!無)有料|有償|月額|[0-9][0-9,]*円|料金")


def sells_offering(org: Organization) -> bool:
    """Whether the group's offerings (its menu for a partner) are priced. For a business
    that is selling the service: a need that welcomes companies (協賛, CSR) wants them to
    contribute, not to be hired, so a priced menu keeps the business's factor even there.
    Only used for businesses: NPOs often ask a fee for a 講座 and stay partners."""
    return _PAID.search(normalize_text(org.offerings)) is not None


POPULATION_LABELS: dict[str, str] = {
    "elderly": "高齢者",
    "children": "子ども・子育て家庭",
    "youth": "若者",
    "disability": "障害のある人",
    "foreign": "外国人住民",
    "poverty": "生活困窮者",
}
_POPULATIONS: dict[str, re.Pattern[str]] = {
    "elderly": re.compile(
        r"高齢|シニア|老人|お年寄り|独居|一人暮らし|ひとり暮らし|認知症|介護|要支援|要介護|"
        r"フレイル|65歳以上|70歳以上|75歳以上|後期高齢|年金"
    ),
    "children": re.compile(
        r"子ども|子供|こども|児童|小学生|中学生|小学校|中学校|幼児|乳児|乳幼児|赤ちゃん|親子|"
        r"子育て|保育|園児|未就学|放課後|ママ|パパ|妊娠|妊婦|産後|出産|"
        # a one-parent family is a family raising children (and often also in need)
        r"ひとり親|母子家庭|父子家庭|母子世帯|父子世帯"
    ),
    "youth": re.compile(r"若者|若年|青年|高校生|大学生|10代|20代|30代|ユース|ひきこもり|ニート"),
    "disability": re.compile(
        r"障害|障がい|障碍|車いす|車椅子|手話|点字|発達障|知的障|精神障|視覚障|聴覚障"
    ),
    "foreign": re.compile(
        r"外国人|外国籍|外国につながる|多文化|留学生|技能実習|在住外国|日本語教室|多言語|通訳"
    ),
    "poverty": re.compile(r"生活困窮|困窮|生活保護|ひとり親|貧困|ホームレス|フードバンク"),
}


def populations(text: str, *, normalized: bool = False) -> dict[str, int]:
    """How often each target population is named in ``text`` (only those named);
    ``normalized``: the text is ``normalize_text``'s already."""
    clean = text if normalized else normalize_text(text)
    out = {}
    for key, pattern in _POPULATIONS.items():
        n = len(pattern.findall(clean))
        if n:
            out[key] = n
    return out


def need_populations(need: Need) -> set[str]:
    """The populations a need is about: named in its title or goal, or named at least
    twice in all (one passing mention does not make a need about a population)."""
    head = populations(f"{need.title} {need.goal}")
    every = populations(f"{need.title} {need.description} {need.goal}")
    return {k for k, n in every.items() if k in head or n >= 2}


def profile_text(org: Organization) -> str:
    """A profile's name, activities, menu and wishes, normalised (``normalize_text``): what
    its populations and members-only wording are read from."""
    return normalize_text(f"{org.name} {org.activities} {org.offerings} {org.wishes}")


def org_populations(org: Organization, *, text: str | None = None) -> set[str]:
    """The populations a group names for its own work (``text``: its ``profile_text``,
    if made already)."""
    return set(populations(profile_text(org) if text is None else text, normalized=True))
