"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from matching import dcg, evaluate_rankings, mrr, ndcg_at_k, recall_at_k

J = {"a": 2, "b": 1, "c": 0, "d": 1}


def test_dcg_by_hand() -> None:
    # 2/log2(2) + 0/log2(3) + 1/log2(4) = 2 + 0 + 0.5
    assert dcg([2, 0, 1]) == pytest.approx(2.5)


def test_ndcg_by_hand() -> None:
    ranked = ["c", "a", "x", "b"]
    # DCG@4 = 0 + 2/log2(3) + 0 + 1/log2(5); ideal = 2 + 1/log2(3) + 1/log2(4)
    got = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 2 + 1 / math.log2(3) + 0.5
    assert ndcg_at_k(ranked, J, 4) == pytest.approx(got / ideal)
    # at k=1 only "c" (grade 0) counts
    assert ndcg_at_k(ranked, J, 1) == 0.0
    assert ndcg_at_k(["a", "b", "d"], J, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0


def test_recall_and_mrr_by_hand() -> None:
    assert recall_at_k(["c", "a", "x", "b"], J, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["c", "a", "x", "b"], J, 10) == pytest.approx(2 / 3)
    assert mrr(["c", "x", "d"], J) == pytest.approx(1 / 3)
    assert mrr(["c", "x"], J) == 0.0


def test_evaluate_rankings_averages_judged_needs_only() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 2}, "q3": {"c": 0}}
    result = evaluate_rankings({"q1": ["a"], "q2": ["x", "b"]}, qrels)
    assert result.queries == 2  # q3 has nothing relevant
    assert result.metrics["MRR"] == pytest.approx((1 + 0.5) / 2)
    assert result.metrics["Recall@10"] == pytest.approx(1.0)
    assert result.metrics["nDCG@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
