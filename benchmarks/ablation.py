"""Ablations of the cold-start ranker on the bundled corpus, in one run.

    python benchmarks/ablation.py

Each row changes one setting from the default: the stop list, the compound bigrams,
the field weights, and the structured signals (活動分野, area, members-only). It is how
the defaults were chosen; coarse steps only, so the defaults are not a fit to our
corpus's noise. BM25 over the same tokens is printed for reference.
"""

from __future__ import annotations

from corpus import PARTS, load_corpus
from matching import (
    BM25Ranker,
    FieldWeightedTfidf,
    JapaneseTokenizer,
    TfidfRanker,
    evaluate_ranker,
    format_table,
)
from matching._areas import DEFAULT_AREA_FACTORS
from matching._vectorize import DEFAULT_NEED_WEIGHTS, DEFAULT_ORG_WEIGHTS


def variants() -> dict[str, TfidfRanker | BM25Ranker]:
    def vec(**kw: object) -> FieldWeightedTfidf:
        return FieldWeightedTfidf(**kw)  # type: ignore[arg-type]

    flat_need = dict.fromkeys(DEFAULT_NEED_WEIGHTS, 1.0)
    flat_org = dict.fromkeys(DEFAULT_ORG_WEIGHTS, 1.0)
    return {
        "default": TfidfRanker(),
        "no stop list": TfidfRanker(vectorizer=vec(tokenizer=JapaneseTokenizer(stop_words=None))),
        "no bigrams": TfidfRanker(vectorizer=vec(tokenizer=JapaneseTokenizer(bigrams=False))),
        "flat field weights": TfidfRanker(
            vectorizer=vec(need_weights=flat_need, org_weights=flat_org)
        ),
        "need: description only": TfidfRanker(
            vectorizer=vec(need_weights={"title": 0.0, "description": 1.0, "goal": 0.0})
        ),
        "need: title x2": TfidfRanker(
            vectorizer=vec(need_weights={**DEFAULT_NEED_WEIGHTS, "title": 2.0})
        ),
        "org: activities only": TfidfRanker(
            vectorizer=vec(org_weights={"activities": 1.0, "offerings": 0.0, "wishes": 0.0})
        ),
        "org: offerings = activities": TfidfRanker(
            vectorizer=vec(org_weights={**DEFAULT_ORG_WEIGHTS, "offerings": 1.0})
        ),
        "no sublinear tf": TfidfRanker(vectorizer=vec(sublinear_tf=False)),
        "no field signal": TfidfRanker(field_weight=0.0),
        "field signal 0.25": TfidfRanker(field_weight=0.25),
        "field signal 0.75": TfidfRanker(field_weight=0.75),
        "no area signal": TfidfRanker(area_factors=dict.fromkeys(DEFAULT_AREA_FACTORS, 1.0)),
        "no members-only signal": TfidfRanker(members_only_factor=1.0),
        "no thesaurus expansion": TfidfRanker(expansion_weight=0.0),
        "thesaurus expansion 0.4": TfidfRanker(expansion_weight=0.4),
        "no LSA blend": TfidfRanker(semantic_weight=0.0),
        "LSA blend 0.4": TfidfRanker(semantic_weight=0.4),
        "no bridging (thesaurus, LSA)": TfidfRanker(expansion_weight=0.0, semantic_weight=0.0),
        "no diversity": TfidfRanker(diversity=0.0),
        "diversity 0.3": TfidfRanker(diversity=0.3),
        "text only (no signals, no bridging)": TfidfRanker(
            field_weight=0.0,
            diversity=0.0,
            expansion_weight=0.0,
            semantic_weight=0.0,
            members_only_factor=1.0,
            area_factors=dict.fromkeys(DEFAULT_AREA_FACTORS, 1.0),
        ),
        "bm25 (baseline)": BM25Ranker(),
    }


def main() -> None:
    """One table per corpus part (each part's judgements are complete only within it)."""
    for part in PARTS:
        needs, orgs, qrels = load_corpus((part,))
        results = [
            evaluate_ranker(r, needs, orgs, qrels, name=name) for name, r in variants().items()
        ]
        print(f"\npart {part}: {len(needs)} needs, {len(orgs)} profiles\n")
        print(format_table(results))


if __name__ == "__main__":
    main()
