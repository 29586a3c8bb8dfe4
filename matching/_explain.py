"""What a suggestion says about itself: shared terms and structured signals, in Japanese."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from ._kinds import KIND_LABELS, profile_text
from ._schema import FIELD_NAMES
from ._text import normalize_text
from ._tokenize import _is_kanji

if TYPE_CHECKING:
    from ._ranker import TfidfRanker
    from ._vectorize import FieldWeightedTfidf

__all__ = [
    "SCORE_DECIMALS",
    "Explanation",
    "TermContribution",
    "explain_pairs",
    "similar_needs",
]

SCORE_DECIMALS = 6
# a word in at least this share of the fitted documents is too general to explain a
# meaning pair on its own: 支援→活動, 情報→提供 say nothing a coordinator can check
GENERAL_SHARE = 0.05


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
    # (need's word, group's word) pairs close in meaning though not the same word
    meaning_pairs: list[tuple[str, str]] = field(default_factory=list)
    org_kind: str = ""
    business: bool = False
    # the business prices its menu (有料, 月額 …): a supplier even for a need inviting companies
    selling: bool = False
    need_populations: list[str] = field(default_factory=list)
    org_populations: list[str] = field(default_factory=list)
    population_mismatch: bool = False
    # the need's place among the needs the group fits best (0: its best), under ten;
    # ``reciprocal_estimated``: read from a sample of the needs (past ``HUB_SAMPLE``)
    reciprocal_rank: int | None = None
    reciprocal_estimated: bool = False

    def reasons_ja(self) -> list[str]:
        """The reasons as sentences a coordinator reads."""
        out: list[str] = []
        # a term that carries under half a percent would read as 「（0%）」: not a reason
        shared = [t for t in self.terms if t.share >= 0.005]
        related = [t for t in self.related_terms if t.share >= 0.005]
        if shared:
            joined = "、".join(f"{t.term}（{t.share:.0%}）" for t in shared)
            out.append(f"共通する語: {joined}")
        else:
            out.append("共通する語はありません。")
        if related:
            joined = "、".join(f"{t.term}（{t.share:.0%}）" for t in related)
            out.append(f"関連する語: {joined}")
        if self.meaning_pairs:
            joined = "、".join(f"{a}→{b}" for a, b in self.meaning_pairs)
            out.append(f"意味の近い語（課題→団体）: {joined}")
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
        out.append(self._area_ja())
        if self.reciprocal_rank is not None:
            about = "およそ " if self.reciprocal_estimated else ""
            out.append(
                "団体から見ても上位の課題: この団体に合う課題のうち "
                f"{about}{self.reciprocal_rank + 1} 番目です。"
            )
        if self.members_only:
            out.append("注意: 会員向けの活動（共益的活動）と読める記述があります。")
        if self.business:
            kind = KIND_LABELS.get(self.org_kind) or "営利企業"
            out.append(
                f"注意: {kind}で、提供メニューが有料のサービスです（協働ではなく発注の相手）。"
                if self.selling
                else f"注意: {kind}です。この課題は企業の参加を求めていません。"
            )
        if self.population_mismatch:
            out.append(
                "対象者が異なる: 課題 "
                + "、".join(self.need_populations)
                + " / 団体 "
                + "、".join(self.org_populations)
            )
        return out

    def _area_ja(self) -> str:
        need_area = "、".join(self.need_areas) or "市全域"
        org_area = "、".join(self.org_areas) or "市全域"
        return {
            "same": f"地域が一致: 課題 {need_area} / 団体 {org_area}",
            "ward": f"地域が同じ区: 課題 {need_area} / 団体 {org_area}",
            "both_citywide": "地域: 課題・団体とも市全域",
            "citywide_org": f"地域: 団体は市全域で活動（課題 {need_area}）",
            "citywide_need": f"地域: 課題は市全域、団体の活動地域は {org_area} のみ",
            "unknown": f"地域の関係が不明: 課題 {need_area} / 団体 {org_area}",
            "other": f"地域が異なる: 課題 {need_area} / 団体 {org_area}",
        }[self.area_relation]

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
            "meaning_pairs": [list(p) for p in self.meaning_pairs],
            "shared_fields": [FIELD_NAMES[f] for f in self.shared_fields],
            "area_relation": self.area_relation,
            "members_only": self.members_only,
            "org_kind": KIND_LABELS.get(self.org_kind, ""),
            "business": self.business,
            "population_mismatch": self.population_mismatch,
            "reciprocal_rank": self.reciprocal_rank,
            "factors": {k: round(v, 4) for k, v in self.factors.items()},
            "reasons": self.reasons_ja(),
        }


def _nominal(word: str) -> bool:
    """A word worth showing as a pair: two characters or more, not ending in kana the way
    a verb or a grammatical word does (基づく, まま)."""
    return len(word) >= 2 and not ("\u3040" <= word[-1] <= "\u309f")


def _bound(ch: str) -> bool:
    """A neighbour that makes a kanji part of a longer unit: a kanji, or a digit (60代)."""
    return bool(ch) and (_is_kanji(ch) or ch == "々" or ch.isdigit())


def _standalone(ch: str, text: str) -> bool:
    """Whether the character ``ch`` stands as a word of its own somewhere in ``text``
    (猫の譲渡会, 交流の場), not only inside a compound or after a number (連絡先, 体験談,
    耕作放棄地, 60代)."""
    at = text.find(ch)
    while at >= 0:
        before = text[at - 1] if at else ""
        after = text[at + 1] if at + 1 < len(text) else ""
        if not _bound(before) and not _bound(after):
            return True
        at = text.find(ch, at + 1)
    return False


def _one_kanji(term: str) -> bool:
    return len(term) == 1 and _is_kanji(term)


def _fragment(term: str, texts: Sequence[str]) -> bool:
    """A one-kanji term that none of ``texts`` uses as a word of its own: the tail of two
    different compounds (連絡先 and 就職先 share 先), not a reason a person reads."""
    return _one_kanji(term) and not any(_standalone(term, t) for t in texts)


# a stem followed by one of these makes another noun, not a kind of the stem: 公民館 is
# no 公民, 小学生 no 小学, 日本語 no 日本, 放課後 no 放課, 農作物 no 農作; other suffixes
# keep the stem's meaning (高齢者, 災害時, 被災地, 防災会)
_NOUN_MAKING_SUFFIXES = frozenset("館生語後物校")


def _parts(wholes: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """For ``_covered``: each term that ``wholes`` hold as a part of another word, with
    that word and where it starts relative to the term: one character before it (不登校
    holds 登校, 再エネ エネ, 市内約 内約), or at it when one of ``_NOUN_MAKING_SUFFIXES``
    follows (公民館 holds 公民, 小学生 小学)."""
    parts: dict[str, list[tuple[str, int]]] = {}
    for whole in wholes:
        if len(whole) > 1:
            parts.setdefault(whole[1:], []).append((whole, -1))
            if whole[-1] in _NOUN_MAKING_SUFFIXES:
                parts.setdefault(whole[:-1], []).append((whole, 0))
    return parts


def _covered(term: str, parts: dict[str, list[tuple[str, int]]], text: str) -> bool:
    """Whether every place ``text`` uses ``term`` lies inside a word ``parts`` (``_parts``
    of the text's terms) holds it in: the text uses the term as part of another word, so
    a meaning pair of it (市民→公民, 若年→登校) misreads the text. A longer word is a
    compound of words (防災 in 防災訓練), each of which the text uses; other suffixes keep
    the stem's meaning (高齢者, 被災地, 防災会)."""
    starts = parts.get(term)
    if not starts:
        return False
    at = text.find(term)
    if at < 0:
        return False  # read as a lemma, not as written: nothing to check it against
    while at >= 0:
        if not any(at + s >= 0 and text.startswith(w, at + s) for w, s in starts):
            return False
        at = text.find(term, at + 1)
    return True


def _general_terms(r: TfidfRanker) -> np.ndarray:
    """Per vocabulary term: whether at least ``GENERAL_SHARE`` of the documents the IDF
    was fitted on use it (read back from the smoothed IDF, ``ln((1 + n) / (1 + df)) + 1``);
    kept while the vectorizer is the same."""

    def general(vec: FieldWeightedTfidf) -> np.ndarray:
        n = vec.n_documents_
        df = (1.0 + n) / np.exp(vec.tfidf_.idf_ - 1.0) - 1.0
        return np.asarray(df >= GENERAL_SHARE * n)

    return cast(np.ndarray, r._derived("general_terms", general, "vectorizer_"))


def _merged(
    terms: list[tuple[str, float]], limit: int, texts: Sequence[Callable[[], str]]
) -> list[TermContribution]:
    """Terms as a person reads them: a part of a longer term in the list (オン, ライン of
    オンライン; 公民 of 公民館; 区 of 南区) is folded into it, its share added; a one-kanji
    term left over that none of ``texts`` uses as a word of its own (``_fragment``; each
    text is made only when such a term is checked) is not shown, nor its share; best
    first."""
    kept: dict[str, float] = {}
    for term, share in sorted(terms, key=lambda t: (-len(t[0]), -t[1], t[0])):
        whole = next((k for k in kept if term in k), None)
        if whole is None:
            kept[term] = share
        else:
            kept[whole] += share
    ordered = sorted(kept.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [
        (t, s) for t, s in ordered if not (_one_kanji(t) and _fragment(t, [f() for f in texts]))
    ]
    return [TermContribution(t, s) for t, s in shown[:limit]]


def _read(areas: tuple[str, ...], from_text: bool) -> list[str]:
    """An item's areas as the reasons show them: a ward read from its text says so."""
    return [f"{a}（本文から）" if from_text else a for a in areas]


def explain_pairs(
    ranker: TfidfRanker, need_id: str, npo_ids: Sequence[str], *, max_terms: int = 8
) -> list[Explanation]:
    """Explanations of several groups for one need (the need's row is computed once, for
    these groups' columns only)."""
    r = ranker
    i = r.need_index_[need_id]
    row = np.array([i])
    cols = np.array([r.org_index_[npo_id] for npo_id in npo_ids], dtype=np.intp)
    # the score as ``score_block`` makes it, from the text part computed once
    raw = r.text_similarity(row, cols)
    text_row = raw[0].copy()
    raw *= r.factor_product(row, cols)
    # the need's rank among each group's best needs (-1: not among them)
    ranks = np.full(len(cols), -1.0)
    near = r.reciprocal_ranks(raw, cols)
    score_row = r.finish(raw, cols)[0]
    factor_rows = {
        k: np.broadcast_to(v, (1, len(cols)))[0] for k, v in r._factors(row, cols).items()
    }
    if near is not None:
        ranks[near[1]] = near[2]
        factor_rows["reciprocity"] = 1.0 + r.reciprocity / (1.0 + np.maximum(ranks, 0.0))
        factor_rows["reciprocity"][ranks < 0] = 1.0
    estimated = r.rank_scale_ > 1.0
    supplier = r.signals_.supplier(row, cols)[0]
    mismatch = r.signals_.population_mismatch(row, cols)[0]
    need_row = r.need_vectors_[i]
    own = set(need_row.indices.tolist())
    query = r.need_queries_[i]
    vec = r.vectorizer_
    names = vec.feature_names_
    general = _general_terms(r)
    need = r.needs_[i]
    # the texts a one-kanji term is checked in (``_merged``), normalised when one is
    need_text = functools.cache(
        lambda: normalize_text(f"{need.title} {need.description} {need.goal}")
    )

    def parts_of(terms: Iterable[int]) -> dict[str, list[tuple[str, int]]]:
        return _parts([vec.display(names[k]) for k in terms])

    # made when a meaning pair is checked (``_covered``), once a text
    need_parts = functools.cache(functools.partial(parts_of, own))
    out = []
    for c, npo_id in enumerate(npo_ids):
        j = int(cols[c])
        org = r.orgs_[j]
        org_text = functools.cache(functools.partial(profile_text, org))
        org_row = r.org_vectors_[j]
        product = query.multiply(org_row).tocsr()
        total = float(product.sum())
        shared: list[tuple[str, float]] = []
        related: list[tuple[str, float]] = []
        for k in np.flatnonzero(product.data > 0):
            entry = (vec.display(names[product.indices[k]]), float(product.data[k] / total))
            (shared if product.indices[k] in own else related).append(entry)
        pairs: list[tuple[str, str]] = []
        if r.dense_ is not None and r.dense_weight:
            org_parts = functools.cache(functools.partial(parts_of, org_row.indices))
            for a, b, _ in r.dense_.related_terms(need_row, org_row, top=10):
                left, right = vec.display(names[a]), vec.display(names[b])
                if (
                    _nominal(left)
                    and _nominal(right)
                    and left not in right
                    and right not in left
                    and not (general[a] and general[b])
                    and not _covered(left, need_parts(), need_text())
                    and not _covered(right, org_parts(), org_text())
                ):
                    pairs.append((left, right))
        need_pops, org_pops = r.signals_.populations_of(i, j)
        out.append(
            Explanation(
                need_id=need_id,
                npo_id=npo_id,
                score=float(score_row[c]),
                text_similarity=float(text_row[c]),
                terms=_merged(shared, max_terms, (need_text, org_text)),
                related_terms=_merged(related, max_terms, (org_text,)),
                shared_fields=[f for f in need.fields if f in org.fields],
                need_fields=list(need.fields),
                org_fields=list(org.fields),
                area_relation=str(r.area_relations_[r.need_area_codes_[i], r.org_area_codes_[j]]),
                need_areas=_read(r.need_areas_[i], r.need_areas_read_[i]),
                org_areas=_read(r.org_areas_[j], r.org_areas_read_[j]),
                members_only=bool(r.members_only_[j]),
                factors={k: float(v[c]) for k, v in factor_rows.items()},
                meaning_pairs=pairs[:5],
                org_kind=r.signals_.kinds[j],
                business=bool(supplier[c]),
                selling=bool(supplier[c] and r.signals_.sells[j]),
                need_populations=need_pops,
                org_populations=org_pops,
                population_mismatch=bool(mismatch[c]),
                reciprocal_rank=round(ranks[c]) if ranks[c] >= 0 else None,
                reciprocal_estimated=estimated,
            )
        )
    return out


def similar_needs(
    ranker: TfidfRanker, need_id: str, *, top: int = 5, other_departments: bool = True
) -> list[tuple[str, float]]:
    """Needs whose text looks like the same problem, best first (text cosine only)."""
    from ._ranker import top_k  # the ranker module imports this one

    i = ranker.need_index_[need_id]
    scores = (ranker.need_vectors_ @ ranker.need_vectors_[i].T).toarray().ravel()
    scores[i] = -1.0
    if other_departments:
        same = np.array([n.department == ranker.needs_[i].department for n in ranker.needs_])
        scores[same] = -1.0
    scores = np.round(scores, SCORE_DECIMALS)
    return [(ranker.need_ids_[j], float(scores[j])) for j in top_k(scores, top) if scores[j] > 0]
