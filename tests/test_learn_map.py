"""The learner's need → partner map over word vectors (``matching._learn_map``)."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from corpus import load_corpus
from matching import LearnedRanker, TfidfRanker
from matching._evaluate import heldout_result, judged_decisions, split_needs
from matching._learn import Decision
from matching._learn_map import (
    MAP_MARGIN,
    MAP_MIN_PAIRS,
    MAP_SIGN_P,
    _sign_p,
    fit_map,
    map_promoted,
    mapped,
    validate_map,
)


@pytest.fixture(scope="module")
def part_b_text_only():
    """Part b with 活動分野 and area blanked: the words must carry the match."""
    needs, orgs, qrels = load_corpus(("b",))
    needs = [replace(n, fields=[], areas=[]) for n in needs]
    orgs = [replace(o, fields=[], areas=[]) for o in orgs]
    return needs, orgs, qrels, TfidfRanker().fit(needs, orgs)


def test_the_map_recovers_a_linear_relation_and_stays_the_identity_without_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20))
    truth = rng.normal(size=(20, 20))
    assert np.allclose(fit_map(x, x @ truth, 1e-6), truth, atol=1e-4)
    # a strong pull towards the identity leaves the need's vector as it is
    assert np.allclose(fit_map(x, x @ truth, 1e9), np.eye(20), atol=1e-3)


def test_the_identity_map_scores_as_the_cold_start_and_the_base_is_untouched(
    part_b_text_only,
) -> None:
    *_, cold = part_b_text_only
    rows = np.arange(len(cold.need_ids_))
    same = mapped(cold, np.eye(cold.need_dense_.shape[1]))
    assert np.allclose(same.score_block(rows), cold.score_block(rows), atol=1e-4)
    rotated = mapped(cold, np.roll(np.eye(cold.need_dense_.shape[1]), 1, axis=1))
    assert not np.allclose(rotated.score_block(rows), cold.score_block(rows), atol=1e-3)
    assert cold.dense_map_ is None


def test_a_map_is_kept_only_with_a_margin_in_most_folds() -> None:
    gain = MAP_MARGIN + 0.001
    assert map_promoted({0.0: (0.8, 0.0), 1.0: (0.8 + gain, 0.8), 3.0: (0.8, 0.6)}) == 1.0
    assert map_promoted({0.0: (0.8, 0.0), 1.0: (0.8 + MAP_MARGIN / 2, 1.0)}) == 0.0
    # a mean gain carried by one fold is not enough
    assert map_promoted({0.0: (0.8, 0.0), 1.0: (0.8 + gain, 0.4)}) == 0.0
    assert map_promoted({1.0: (0.9, 1.0)}) == 0.0
    assert map_promoted({}) == 0.0
    # nor one that ranks about as many held-out needs worse as better (the sign test)
    assert map_promoted({0.0: (0.8, 0.0, 1.0), 1.0: (0.8 + gain, 0.8, MAP_SIGN_P)}) == 0.0
    assert map_promoted({0.0: (0.8, 0.0, 1.0), 1.0: (0.8 + gain, 0.8, 0.01)}) == 1.0


def test_the_sign_test_counts_needs_that_moved() -> None:
    assert _sign_p(np.zeros(30)) == 1.0  # nothing moved
    assert _sign_p(np.array([0.1] * 9 + [-0.1] * 1 + [0.0] * 20)) < MAP_SIGN_P
    assert _sign_p(np.array([0.1] * 6 + [-0.1] * 4)) > 0.3  # 6 of 10 is a coin's
    assert _sign_p(np.array([-0.1] * 9 + [0.1])) > 0.99


def test_too_few_confirmations_learn_no_map(part_b_text_only) -> None:
    _, _, qrels, cold = part_b_text_only
    confirms = [
        Decision(q, o, "confirm") for q in sorted(qrels) for o, g in qrels[q].items() if g > 0
    ]
    assert validate_map(cold, confirms[: MAP_MIN_PAIRS - 1]) == {}
    assert validate_map(cold, confirms[:MAP_MIN_PAIRS]) != {}


def test_confirmations_of_random_groups_do_not_teach_a_map(part_b_text_only) -> None:
    needs, orgs, _, cold = part_b_text_only
    rng = random.Random(3)
    noise = [
        Decision(n.id, rng.choice(orgs).id, "confirm")
        for n in rng.sample(needs, 40)
        for _ in range(2)
    ]
    learned = LearnedRanker().fit_on(cold, noise)
    assert "map_lambda" not in learned.report_
    assert learned.dense_map_ is None


def test_a_map_is_kept_only_where_it_holds_and_never_costs_the_held_out_needs(
    part_b_text_only,
) -> None:
    """Judged decisions on half of part b read text only. Until the cold start dropped the
    word vectors' first direction and read wards from the texts the map validated here
    and lifted the other half; now the cold start leaves it less than ``MAP_MARGIN`` on
    the decided needs (0.0044-0.0045), so it is not kept, and the learned ranker is
    never worse than the cold start on the needs nobody decided."""
    needs, _, qrels, cold = part_b_text_only
    for seed in range(2):
        train, test = split_needs([n.id for n in needs], seed=seed)
        learned = LearnedRanker().fit_on(cold, judged_decisions(cold, train, qrels, seed=seed))
        judged = {q: qrels[q] for q in test}
        gain = (
            heldout_result(learned, judged).metrics["nDCG@10"]
            - heldout_result(cold, judged).metrics["nDCG@10"]
        )
        scores = learned.report_.get("map_ndcg", {})  # tried where no expansion held
        if learned.dense_map_ is not None:
            assert max(v for k, v in scores.items() if k) >= scores[0.0] + MAP_MARGIN
            assert learned.report_["map_lambda"] in scores
            # what was learned stays in force when the index changes under it
            learned.rebind(cold)
            assert learned.base_.dense_map_ is learned.dense_map_
        else:
            assert "map_lambda" not in learned.report_
        assert gain >= -MAP_MARGIN


def test_a_mapped_ranker_is_another_fit_for_the_partial_refresh(part_b_text_only) -> None:
    """A learned map changes every pair's score: no list may be kept from before it."""
    from matching import needs_to_rerank

    *_, cold = part_b_text_only
    previous = dict(cold.rank_orgs(top=10))
    assert needs_to_rerank(cold, cold, previous, top=10) is not None
    rotated = mapped(cold, np.roll(np.eye(cold.need_dense_.shape[1]), 1, axis=1))
    assert needs_to_rerank(cold, rotated, previous, top=10) is None
