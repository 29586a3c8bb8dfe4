"""The bundled corpus: size, coverage, consistent judgements, and ours beats BM25."""

from __future__ import annotations

import collections

import pytest

from corpus import PARTS, load_corpus
from matching import FIELD_NAMES, BM25Ranker, TfidfRanker, evaluate_ranker


def test_corpus_loads_and_covers_the_domain() -> None:
    needs, orgs, qrels = load_corpus()
    assert len(needs) >= 120 and len(orgs) >= 250
    assert len({n.department for n in needs}) >= 20
    assert {f for o in orgs for f in o.fields} == set(FIELD_NAMES)
    need_ids, org_ids = {n.id for n in needs}, {o.id for o in orgs}
    for need_id, judged in qrels.items():
        assert need_id in need_ids
        assert set(judged) <= org_ids
        assert set(judged.values()) <= {0, 1, 2}
    # every need has at least one relevant group
    assert all(any(g > 0 for g in qrels.get(n.id, {}).values()) for n in needs)


def test_hard_cases_are_present() -> None:
    from matching import members_only

    needs, orgs, qrels = load_corpus()
    assert sum(members_only(o) for o in orgs) >= 4
    assert sum(1 for o in orgs if o.areas) >= 20
    assert sum(1 for n in needs if n.areas) >= 10
    grades = collections.Counter(g for j in qrels.values() for g in j.values())
    assert grades[0] >= 20 and grades[2] >= 50


@pytest.mark.parametrize("part", PARTS)
def test_ours_beats_bm25_on_each_part(part: str) -> None:
    needs, orgs, qrels = load_corpus((part,))
    ours = evaluate_ranker(TfidfRanker(), needs, orgs, qrels, name="ours")
    bm25 = evaluate_ranker(BM25Ranker(), needs, orgs, qrels, name="bm25")
    assert ours.metrics["nDCG@10"] > bm25.metrics["nDCG@10"]
