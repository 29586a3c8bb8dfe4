"""What a suggestion says about itself: shared terms and structured signals, in Japanese."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._schema import FIELD_NAMES

__all__ = ["SCORE_DECIMALS", "Explanation", "TermContribution"]

SCORE_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class TermContribution:
    """A term both texts share: its readable form and its share of the text similarity."""

    term: str
    share: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a pair scored as it did."""

    need_id: str
    npo_id: str
    score: float
    text_similarity: float
    terms: list[TermContribution]
    related_terms: list[TermContribution]
    shared_fields: list[int]
    need_fields: list[int]
    org_fields: list[int]
    area_relation: str
    need_areas: list[str]
    org_areas: list[str]
    members_only: bool
    factors: dict[str, float] = field(default_factory=dict)

    def reasons_ja(self) -> list[str]:
        """The reasons as sentences a coordinator reads."""
        out: list[str] = []
        if self.terms:
            joined = "、".join(f"{t.term}（{t.share:.0%}）" for t in self.terms)
            out.append(f"共通する語: {joined}")
        else:
            out.append("共通する語はありません。")
        if self.related_terms:
            joined = "、".join(f"{t.term}（{t.share:.0%}）" for t in self.related_terms)
            out.append(f"関連する語（類義語辞書）: {joined}")
        if self.shared_fields:
            out.append("活動分野が一致: " + "、".join(FIELD_NAMES[f] for f in self.shared_fields))
        elif self.need_fields and self.org_fields:
            out.append(
                "活動分野の一致なし（課題: "
                + "、".join(FIELD_NAMES[f] for f in self.need_fields)
                + " / 団体: "
                + "、".join(FIELD_NAMES[f] for f in self.org_fields)
                + "）"
            )
        need_area = "、".join(self.need_areas) or "市全域"
        org_area = "、".join(self.org_areas) or "市全域"
        out.append(
            {
                "same": f"地域が一致: 課題 {need_area} / 団体 {org_area}",
                "both_citywide": "地域: 課題・団体とも市全域",
                "citywide_org": f"地域: 団体は市全域で活動（課題 {need_area}）",
                "citywide_need": f"地域: 課題は市全域、団体の活動地域は {org_area} のみ",
                "unknown": f"地域の関係が不明: 課題 {need_area} / 団体 {org_area}",
                "other": f"地域が異なる: 課題 {need_area} / 団体 {org_area}",
            }[self.area_relation]
        )
        if self.members_only:
            out.append("注意: 会員向けの活動（共益的活動）と読める記述があります。")
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "need_id": self.need_id,
            "npo_id": self.npo_id,
            "score": self.score,
            "text_similarity": round(self.text_similarity, SCORE_DECIMALS),
            "terms": [{"term": t.term, "share": round(t.share, 4)} for t in self.terms],
            "related_terms": [
                {"term": t.term, "share": round(t.share, 4)} for t in self.related_terms
            ],
            "shared_fields": [FIELD_NAMES[f] for f in self.shared_fields],
            "area_relation": self.area_relation,
            "members_only": self.members_only,
            "factors": {k: round(v, 4) for k, v in self.factors.items()},
            "reasons": self.reasons_ja(),
        }
