"""Learning from decisions: safe fallback, determinism, no worse model promoted."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from corpus import load_corpus, part_paths
from matching import Need, Organization, TfidfRanker
from matching._evaluate import (
    confirmation_transfer,
    heldout_comparison,
    heldout_means,
    heldout_result,
    judged_decisions,
    learning_gains,
    scramble_fields,
    simulate_decisions,
    split_needs,
)
from matching._learn import (
    CALIBRATION_GAIN,
    CALIBRATION_MIN_NEEDS,
    CONTRIBUTIONS,
    EXPANSION_MARGIN,
    EXPANSIONS,
    FEATURE_LABELS,
    FEATURES,
    MIN_NEW_NEEDS,
    REASONS,
    Decision,
    LearnedRanker,
    compare_with_current,
)
from matching._learn_expand import expansion_promoted as _expansion_promoted
from matching._protocols import reject_reason

from .conftest import run_matching


@pytest.fixture(scope="module")
def part_c():
    needs, orgs, qrels = load_corpus(("c",))
    train, test = split_needs([n.id for n in needs], seed=0)
    cold = TfidfRanker().fit(needs, orgs)
    decisions = simulate_decisions(cold, train, qrels, seed=0)
    return needs, orgs, qrels, test, cold, decisions


def _heldout_ndcg(ranker, qrels, test) -> float:
    return heldout_result(ranker, {q: qrels[q] for q in test}).metrics["nDCG@10"]


def test_tiny_decision_set_falls_back_to_cold_start(part_c) -> None:
    needs, orgs, _, _, cold, decisions = part_c
    model = LearnedRanker().fit(needs, orgs, decisions[:5])
    assert model.version == "cold-start" and model.model_ is None
    assert model.rank_orgs(top=5) == cold.rank_orgs(top=5)


def test_rejections_alone_fall_back(part_c) -> None:
    needs, orgs, _, _, cold, decisions = part_c
    rejects = [d for d in decisions if d.decision == "reject"]
    assert len(rejects) >= 50
    model = LearnedRanker().fit(needs, orgs, rejects)
    assert model.version == "cold-start" and "no confirmation" in str(model.report_["reason"])
    assert model.rank_orgs(top=5) == cold.rank_orgs(top=5)


def test_confirmations_alone_expand_but_train_no_reranking_model(
    part_c, department_partners
) -> None:
    """A decisions file of confirmations only (judgements with no grade-0 rows, say)
    still teaches the expansion; only the re-ranking model needs rejections."""
    needs, orgs, _, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    confirms = [
        d for d in _partner_decisions(cold, train, department_partners) if d.decision == "confirm"
    ]
    # the expansion alone: the calibration is a stage of its own (tested below)
    model = LearnedRanker(calibrate=False).fit(needs, orgs, confirms)
    assert model.version == "learned", model.report_
    assert model.expansion_ > 0 and model.alpha_ == 0 and model.model_ is None
    assert "validation_ndcg" not in model.report_ and "reranking" in model.report_
    # the expansion alone (no history features without rejections) was kept because it
    # ranked the partners of the needs it held out of its own training better ...
    validated = model.report_["expansion_ndcg"]
    assert validated[model.expansion_] > validated[0.0] + 0.01, validated
    # ... and on the needs nobody decided it finds no fewer of them (since the profiles'
    # names count the cold start finds as many as the expansion adds here: 2 and 2;
    # with rejections as well it finds 20, above)
    assert _found(model, test, department_partners) >= _found(cold, test, department_partners)


def test_contradictory_decisions_are_not_promoted(part_c) -> None:
    needs, orgs, _, _, cold, decisions = part_c
    rng = random.Random(1)
    noise = [
        Decision(d.need_id, d.npo_id, rng.choice(["confirm", "reject"]), "その他")
        for d in decisions
    ]
    # every pair decided both ways too
    noise += [
        Decision(d.need_id, d.npo_id, "reject" if d.decision == "confirm" else "confirm")
        for d in noise[:100]
    ]
    model = LearnedRanker().fit(needs, orgs, noise)
    assert model.version == "cold-start", model.report_
    assert model.report_["reason"] == "not better than cold start on held-out decisions"
    assert model.rank_orgs(top=5) == cold.rank_orgs(top=5)


def test_unknown_ids_in_decisions_are_ignored(part_c) -> None:
    needs, orgs, _, _, _, decisions = part_c
    model = LearnedRanker().fit(needs, orgs, [Decision("NOPE", "P401", "confirm"), *decisions[:3]])
    assert model.report_["decisions"] == 3


def test_learning_is_deterministic_and_not_worse_beyond_the_tolerance(part_c) -> None:
    needs, orgs, qrels, test, cold, decisions = part_c
    first = LearnedRanker(random_state=0).fit(needs, orgs, decisions)
    second = LearnedRanker(random_state=0).fit(needs, orgs, decisions)
    assert first.report_ == second.report_
    assert first.rank_orgs(top=10) == second.rank_orgs(top=10)
    # the validation figures are kept with the model, one per blend tried
    assert set(first.report_["validation_ndcg"]) == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert set(first.report_["expansion_ndcg"]) == set(EXPANSIONS)
    # validation keeps an expansion only if it gains on held-out training needs; on the
    # held-out needs of this split it must not lose more than that margin either
    assert _heldout_ndcg(first, qrels, test) >= _heldout_ndcg(cold, qrels, test) - (
        EXPANSION_MARGIN
    )


def test_a_blend_that_wins_on_held_out_decisions_is_promoted(part_c) -> None:
    """Decisions that follow a signal the cold start ignores (prefer complete profiles)
    are learned, promoted, and change the order."""
    needs, orgs, _, _, cold, _ = part_c
    model = LearnedRanker()
    model.fit(needs, orgs)
    complete = {
        o.id
        for o, c in zip(model.base_.orgs_, model.features_.completeness, strict=True)
        if c == 1.0
    }
    decisions = [
        Decision(need_id, npo_id, "confirm" if npo_id in complete else "reject", "体制不足")
        for need_id, ranking in cold.rank_orgs(top=10)
        for npo_id, _ in ranking
    ]
    learned = LearnedRanker().fit(needs, orgs, decisions)
    assert learned.version == "learned", learned.report_
    assert learned.report_["alpha"] > 0
    assert learned.rank_orgs(top=10) != cold.rank_orgs(top=10)
    assert learned.contributions(*_first_pair(learned))["completeness"] != 0


def _first_pair(model: LearnedRanker) -> tuple[str, str]:
    need_id, ranking = model.rank_orgs(top=1)[0]
    return need_id, ranking[0][0]


def test_contributions_name_the_features(part_c) -> None:
    needs, orgs, _, _, _, decisions = part_c
    model = LearnedRanker().fit(needs, orgs, decisions)
    contributions = model.contributions(*_first_pair(model))
    assert set(contributions) <= set(CONTRIBUTIONS)
    assert (not model.promoted_) == (contributions == {})


def _write_decisions(path: Path, decisions: list[Decision]) -> Path:
    """``decisions`` as the CLI reads them: need_id,npo_id,decision,reason."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["need_id", "npo_id", "decision", "reason"])
        writer.writerows([d.need_id, d.npo_id, d.decision, d.reason] for d in decisions)
    return path


def test_rank_command_learns_from_a_decisions_file(tmp_path: Path, part_c) -> None:
    *_, decisions = part_c
    path = _write_decisions(tmp_path / "decisions.csv", decisions)
    needs_path, npos_path, _ = part_paths("c")
    common = ("rank", "--needs", str(needs_path), "--npos", str(npos_path))
    proc = run_matching(*common, "--top", "3", "--decisions", str(path))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 71 and all(len(line["ranking"]) == 3 for line in lines)
    assert '"promoted"' in proc.stderr and '"decisions": 350' in proc.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("need_id,npo_id,decision\nN201,P401,maybe\n", encoding="utf-8")
    failed = run_matching(*common, "--decisions", str(bad))
    assert failed.returncode == 2 and "判断「maybe」" in failed.stderr


def _partner_decisions(cold: TfidfRanker, train: list[str], partner) -> list[Decision]:
    """The coordinator confirms ``partner(need)`` for every training need (a group the cold
    start ranks far down) and rejects the cold-start top 10."""
    decisions = []
    for need_id, ranking in cold.rank_orgs(train, top=10):
        p = partner(need_id)
        decisions.append(Decision(need_id, p, "confirm"))
        decisions += [Decision(need_id, o, "reject", "その他") for o, _ in ranking if o != p]
    return decisions


@pytest.fixture(scope="module")
def department_partners(part_c):
    """Each department's needs belong with one group the cold start ranks 30th for the
    department's first need: a vocabulary the profiles do not share with the needs."""
    cold = part_c[4]
    partner: dict[str, str] = {}
    for need in cold.needs_:
        if need.department not in partner:
            partner[need.department] = cold.rank_orgs([need.id], top=30)[0][1][-1][0]
    return lambda need_id: partner[cold.needs_[cold.need_index_[need_id]].department]


def _found(model, test: list[str], partner) -> int:
    return sum(partner(q) in [o for o, _ in r] for q, r in model.rank_orgs(test, top=10))


def test_expansion_from_confirmed_needs_reaches_held_out_needs(part_c, department_partners):
    needs, orgs, _, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    decisions = _partner_decisions(cold, train, department_partners)
    model = LearnedRanker().fit(needs, orgs, decisions)
    assert model.version == "learned", model.report_
    assert model.report_["expansion"] > 0 and model.expansion_ > 0
    # needs nobody decided on now find their department's partner
    assert _found(model, test, department_partners) >= _found(cold, test, department_partners) + 10
    q = next(q for q in test if department_partners(q) in dict(model.rank_orgs([q])[0][1]))
    contributions = model.contributions(q, department_partners(q))
    assert contributions["confirmed_similar"] > 0
    assert set(contributions) <= set(CONTRIBUTIONS) <= set(FEATURE_LABELS)
    # deterministic: the same decisions give the same model and rankings
    again = LearnedRanker().fit(needs, orgs, decisions)
    assert again.report_ == model.report_
    assert again.rank_orgs(top=10) == model.rank_orgs(top=10)
    assert again.rank_needs(top=5) == model.rank_needs(top=5)


def test_confirmations_unrelated_to_other_needs_cost_at_most_the_tolerance(part_c):
    """Each training need: its cold-start top 3 confirmed, the next 7 rejected, and one
    far-down group nobody else is confirmed with: the far ones say nothing about other
    needs. Whatever is promoted, the held-out needs lose at most the tolerance."""
    needs, orgs, qrels, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    far: dict[str, str] = {}
    decisions = []
    for q, ranking in cold.rank_orgs(train, top=len(cold.org_ids_)):
        # from the 40th down, the first group that is nobody else's partner
        far[q] = next(o for o, _ in ranking[39:] if o not in far.values())
        decisions += [Decision(q, o, "confirm") for o, _ in ranking[:3]]
        decisions += [Decision(q, o, "reject", "その他") for o, _ in ranking[3:10]]
        decisions.append(Decision(q, far[q], "confirm"))
    model = LearnedRanker().fit(needs, orgs, decisions)
    # only the far confirmations expand: the cold start had found the top 3 already
    assert model.informative_.sum() == len(train)
    assert model.confirmed_.sum() == len(train)
    scores = model.report_["expansion_ndcg"]
    assert (model.expansion_ > 0) == any(
        scores[b] >= scores[0.0] + EXPANSION_MARGIN for b in EXPANSIONS if b
    )
    assert _heldout_ndcg(model, qrels, test) >= _heldout_ndcg(cold, qrels, test) - (
        EXPANSION_MARGIN
    )


def test_confirmations_of_what_the_cold_start_found_do_not_expand(part_c):
    """A review that confirms only groups the cold start already ranks in its top 5 has
    nothing to teach the expansion: no profile is expanded, so nothing to validate."""
    needs, orgs, _, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    decisions = []
    for q, ranking in cold.rank_orgs(train, top=10):
        decisions += [Decision(q, o, "confirm") for o, _ in ranking[:2]]
        decisions += [Decision(q, o, "reject", "その他") for o, _ in ranking[2:]]
    model = LearnedRanker().fit(needs, orgs, decisions)
    assert not model.informative_.any() and not model.confirmed_.nnz
    assert model.expansion_ == 0.0 and model.report_["expansion_ndcg"] == {}


def test_expansion_is_kept_only_with_a_margin_won_in_most_folds():
    assert _expansion_promoted({}) == 0.0
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.81, 0.8)}) == 0.5
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.80 + EXPANSION_MARGIN, 0.8)}) == 0.5
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.802, 1.0)}) == 0.0
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.79, 0.2)}) == 0.0
    # a mean gain with two folds of five worse is not kept
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.83, 0.6)}) == 0.0
    # of the weights with the margin, the one that scores best (the larger on a tie)
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.83, 0.8), 1.0: (0.82, 0.8)}) == 0.5
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.82, 0.8), 1.0: (0.82, 1.0)}) == 1.0
    assert _expansion_promoted({0.0: (0.80, 0.0), 0.5: (0.82, 0.8), 1.0: (0.84, 0.6)}) == 0.5


def test_validation_measures_the_ranked_list_not_only_the_decided_pairs(part_c):
    """One confirmation per training need, for a group the cold start ranks 20th, and one
    rejection of its first: ordering the two decided pairs, the cold start would score
    1/log2(3); over the list the blend re-ranks, the confirmed group is outside the top
    10, so the cold start's held-out figure is 0."""
    *_, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    decisions = []
    for need_id, ranking in cold.rank_orgs(train, top=20):
        decisions.append(Decision(need_id, ranking[19][0], "confirm"))
        decisions.append(Decision(need_id, ranking[0][0], "reject", "その他"))
    # the re-ranking stage alone: too few confirmed needs for the expansion to run
    model = LearnedRanker(min_decisions=10, min_confirmed_needs=len(train) + 1).fit_on(
        cold, decisions
    )
    assert model.report_["validation_ndcg"][0.0] == 0.0, model.report_


def test_judged_decisions_confirm_what_the_judgements_say(part_c):
    _, _, qrels, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    decisions = judged_decisions(cold, train, qrels, seed=0)
    judged = {(q, o): g for q in train for o, g in qrels.get(q, {}).items()}
    assert {(d.need_id, d.npo_id) for d in decisions} == set(judged)
    for d in decisions:
        assert (d.decision == "confirm") == (judged[d.need_id, d.npo_id] > 0)
        assert d.decision == "confirm" or d.reason in REASONS
    # unlike a review of the top 10, it confirms groups the cold start does not suggest
    top10 = {(q, o) for q, r in cold.rank_orgs(train, top=10) for o, _ in r}
    assert any((d.need_id, d.npo_id) not in top10 for d in decisions if d.decision == "confirm")
    assert decisions == judged_decisions(cold, train, qrels, seed=0)


def test_learning_gains_agree_with_the_single_split_comparison(part_c):
    needs, orgs, judged, _, _, _ = part_c
    # the cold start leaves part c's own judgements nothing the learner's promotion rules
    # accept; a group judged relevant to every need as well gives it something to learn
    qrels = {q: {**j, "P401": 1} for q, j in judged.items()}
    gains = learning_gains(needs, orgs, qrels, seeds=(0, 1), protocol="judged")
    assert [g.seed for g in gains] == [0, 1]
    # with judgements as decisions, the learned ranker never does worse than the cold start
    # by more than the expansion's margin on held-out needs (since the cold start has word
    # vectors it gains little: the notebook measures ten splits of every part, both ways)
    assert all(g.gain >= -EXPANSION_MARGIN for g in gains), gains
    # something was learned in one split at least, so the figures compared below are of
    # two rankers
    assert any(g.learned != g.cold for g in gains), gains
    table, _ = heldout_comparison(needs, orgs, qrels, sizes=(), seed=1, protocol="judged")
    by_name = {r.name.split(" (")[0]: r.metrics["nDCG@10"] for r in table}
    assert gains[1].cold == pytest.approx(by_name["cold start"])
    assert gains[1].learned == pytest.approx(by_name["learned"])
    # averaged over the same splits, in one run: learned > cold start > plain TF-IDF, BM25
    means = {
        r.name.split(" (")[0]: r.metrics["nDCG@10"]
        for r in heldout_means(needs, orgs, qrels, seeds=(0, 1), protocol="judged")
    }
    assert means["learned"] == pytest.approx(np.mean([g.learned for g in gains]))
    assert means["cold start"] == pytest.approx(np.mean([g.cold for g in gains]))
    assert means["learned"] >= means["cold start"] - EXPANSION_MARGIN
    assert means["cold start"] > means["TF-IDF only"]
    assert means["cold start"] > means["BM25"]


def test_confirmation_transfer_sees_a_group_relevant_everywhere(part_c):
    needs, _, qrels, _, _, _ = part_c
    everywhere = {q: {**judged, "P401": 1} for q, judged in qrels.items()}
    figures = confirmation_transfer(needs, everywhere, seed=0)
    assert figures["base"] < figures["confirmed_elsewhere"]
    plain = confirmation_transfer(needs, qrels, seed=0)
    assert plain["confirmed_elsewhere"] < figures["confirmed_elsewhere"]
    assert set(plain) == {"base", "confirmed_elsewhere", "same_department"}


def test_pinned_decisions_stand_for_their_own_pairs(part_c) -> None:
    """With ``pin_decided`` a decided need lists its confirmed groups first (even one the
    ranking would not reach) and its rejected groups below every undecided one; needs
    without decisions rank as without pinning. Pins apply even when nothing is learned."""
    _, _, _, test, cold, decisions = part_c
    need_id = decisions[0].need_id
    far = cold.rank_orgs([need_id], top=len(cold.org_ids_))[0][1][-1][0]
    mine = [d for d in decisions if d.need_id == need_id] + [Decision(need_id, far, "confirm")]
    confirmed = {d.npo_id for d in mine if d.decision == "confirm"}
    rejected = {d.npo_id for d in mine if d.decision == "reject"}
    assert confirmed and rejected
    for model in (
        LearnedRanker().fit_on(cold, [*decisions, mine[-1]]),
        LearnedRanker().fit_on(cold, mine),  # too few to learn from: the cold start
    ):
        everything = len(cold.org_ids_)
        ranking = [o for o, _ in model.rank_orgs([need_id], top=everything, pin_decided=True)[0][1]]
        assert set(ranking[: len(confirmed)]) == confirmed and far in ranking[:10]
        assert set(ranking[-len(rejected) :]) == rejected
        scores = [s for _, s in model.rank_orgs([need_id], top=everything, pin_decided=True)[0][1]]
        assert scores == sorted(scores, reverse=True)
        # unpinned, and for needs without decisions, nothing changes
        plain = model.rank_orgs([need_id], top=10)[0][1]
        assert far not in [o for o, _ in plain]
        assert model.rank_orgs(test, top=10, pin_decided=True) == model.rank_orgs(test, top=10)
        # the reverse: the group lists the needs it was confirmed for first
        mine_too = {
            d.need_id for d in model.decisions_ if d.npo_id == far and d.decision == "confirm"
        }
        listed = model.rank_needs([far], top=len(mine_too) + 1, pin_decided=True)[0][1]
        assert need_id in mine_too and {q for q, _ in listed[:-1]} == mine_too
        assert listed[-1][0] not in mine_too


def test_rank_command_puts_a_decided_needs_confirmed_groups_first(tmp_path: Path) -> None:
    needs_path, npos_path, _ = part_paths("c")
    path = tmp_path / "decisions.csv"
    # the pages' own words for the decisions, under the export's Japanese headers
    path.write_text(
        "課題ID,団体ID,判断,理由\nN201,P533,承認,\nN201,P532,見送り,地域外\n", encoding="utf-8"
    )
    proc = run_matching(
        "rank", "--needs", str(needs_path), "--npos", str(npos_path), "--top", "200",
        "--decisions", str(path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout.splitlines()[0])
    assert first["need_id"] == "N201"
    ids = [r["npo_id"] for r in first["ranking"]]
    assert ids[0] == "P533" and ids[-1] == "P532"


def test_a_retrained_model_is_compared_with_the_serving_one_on_newer_decisions(
    part_c, department_partners
) -> None:
    """The serving model learned each department's partner from the training needs. New
    decisions confirm the partners for the other needs: a candidate that learns from the
    same earlier decisions ties (not worse); one whose earlier confirmations were revoked
    (revised to 見送り) no longer finds the partners and is worse."""
    *_, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    earlier = _partner_decisions(cold, train, department_partners)
    newer = _partner_decisions(cold, test, department_partners)
    same = compare_with_current(cold, earlier, [*earlier, *newer])
    assert same.enough and same.new_needs == len(test)
    # with nothing learned before, both sides are the cold start
    unlearned = compare_with_current(cold, [], newer).current_ndcg
    assert same.not_worse and same.candidate_ndcg == same.current_ndcg > unlearned + 0.1
    # the serving model handed over instead of learned again: the same comparison
    held = LearnedRanker().fit_on(cold, earlier)
    assert compare_with_current(cold, earlier, [*earlier, *newer], serving=held) == same
    revoked = [
        Decision(d.need_id, d.npo_id, "reject", "その他") if d.decision == "confirm" else d
        for d in earlier
    ]
    worse = compare_with_current(cold, earlier, [*revoked, *newer])
    assert worse.new_needs == len(test)
    assert worse.candidate_ndcg < worse.current_ndcg - 0.2 and not worse.not_worse
    # too few needs decided since: no comparison, so no replacement
    few = compare_with_current(cold, earlier, [*earlier, *newer[:1]])
    assert few.new_needs == 1 < MIN_NEW_NEEDS and not few.enough and not few.not_worse


@pytest.mark.parametrize(
    ("forms", "offerings", "wishes", "match", "other"),
    [
        (["委託", "事業協力"], "", "委託・事業協力どちらも可。", True, False),
        (["補助"], "", "市の助成を受けて続けたい", True, False),
        (["情報提供・交換"], "情報交換の場への参加", "", True, False),
        (["共催"], "", "委託で受けたい", False, True),
        (["共催"], "講座の講師", "", False, False),  # names no form: unknown, not other
        ([], "", "委託で受けたい", False, False),
    ],
)
def test_forms_of_collaboration_feature(forms, offerings, wishes, match, other) -> None:
    need = Need("N1", "防災危機管理室", "避難所運営", "避難所の運営訓練", forms=forms)
    org = Organization("P1", "防災の会", "避難所運営の訓練", offerings=offerings, wishes=wishes)
    filler = Organization("P2", "別の会", "子ども食堂で夕食を出す")
    model = LearnedRanker().fit([need], [org, filler])
    row = model._features(np.array([0]), np.array([0]))[0]
    assert row[FEATURES.index("forms_match")] == match
    assert row[FEATURES.index("forms_other")] == other
    # BM25 as a share of the need's best: the group sharing its words is the best
    assert row[FEATURES.index("bm25")] == 1.0
    assert model._features(np.array([0]), np.array([1]))[0][FEATURES.index("bm25")] == 0.0


@pytest.fixture(scope="module")
def loose_fields():
    """Part c with its profiles' 活動分野 replaced at random (seeded): a city whose groups
    tick fields that say nothing, so our default field weight trusts them too much. (With
    half of them replaced the calibration's choice is noise-level, kept in some splits
    and not in others; the notebook's ten splits measure that case. Part a, used here
    before, lost only 0.013 to such fields once the word vectors dropped their first
    principal direction: too little for the five-fold check.)"""
    needs, orgs, qrels = load_corpus(("c",))
    loose = scramble_fields(orgs, share=1.0, seed=7)
    assert sum(a.fields != b.fields for a, b in zip(orgs, loose, strict=True)) > 40
    train, test = split_needs([n.id for n in needs], seed=0)
    cold = TfidfRanker().fit(needs, loose)
    return cold, judged_decisions(cold, train, qrels, seed=0), qrels, test


def test_calibration_adapts_the_cold_start_to_another_citys_data(loose_fields) -> None:
    cold, decisions, qrels, test = loose_fields
    before = cold.rank_orgs(top=10)
    model = LearnedRanker().fit_on(cold, decisions)
    plain = LearnedRanker(calibrate=False).fit_on(cold, decisions)
    assert model.calibration_["field_weight"] < 0.5, model.report_
    assert model.report_["calibration"] == model.calibration_
    tried = model.report_["calibration_ndcg"]
    assert {"default", "combined", "field_weight=0", "dense_weight=0.15"} <= set(tried)
    assert tried["combined"] >= tried["default"] + CALIBRATION_GAIN
    # settings are combined best first, each kept only if it adds to the others: the
    # combination is never worse than the best setting alone (all of those passing alone
    # together, the old rule, fell below field_weight=0 alone here)
    assert tried["combined"] >= max(v for k, v in tried.items() if "=" in k)
    # measured on the held-out needs, in the same run
    cold_ndcg = _heldout_ndcg(cold, qrels, test)
    assert _heldout_ndcg(model, qrels, test) >= cold_ndcg + CALIBRATION_GAIN
    assert _heldout_ndcg(model, qrels, test) >= _heldout_ndcg(plain, qrels, test) + CALIBRATION_GAIN
    # the shared cold start is untouched; a rebind keeps the calibration
    assert cold.field_weight == 0.5 and cold.rank_orgs(top=10) == before
    assert (
        model.base_ is not cold and model.base_.field_weight == model.calibration_["field_weight"]
    )
    model.rebind(cold)
    assert (
        model.base_ is not cold and model.base_.field_weight == model.calibration_["field_weight"]
    )
    assert model.rank_orgs(test, top=10) == LearnedRanker().fit_on(cold, decisions).rank_orgs(
        test, top=10
    )


def test_calibration_keeps_the_defaults_without_a_clear_gain() -> None:
    """Decisions that agree with the cold start's own order (its top 2 confirmed, the next
    8 rejected) give no setting a margin: the defaults stay."""
    needs, orgs, _ = load_corpus(("b",))
    cold = TfidfRanker().fit(needs, orgs)
    decisions = []
    for q, ranking in cold.rank_orgs(top=10):
        decisions += [Decision(q, o, "confirm") for o, _ in ranking[:2]]
        decisions += [Decision(q, o, "reject", "その他") for o, _ in ranking[2:]]
    model = LearnedRanker().fit_on(cold, decisions)
    assert model.calibration_ == {} and "calibration" not in model.report_
    assert model.report_["calibration_ndcg"]["default"] == 1.0


def test_simulated_reject_reasons_follow_the_explanations(part_c) -> None:
    """The simulated coordinator's reason reads the facts ``explain`` reports."""
    *_, cold, _ = part_c
    seen = set()
    for need_id, ranking in cold.rank_orgs(top=len(cold.org_ids_))[::7]:
        for npo_id, _ in ranking[::5]:
            why = cold.explain(need_id, npo_id)
            expected = (
                "地域外"
                if why.area_relation == "other"
                else "共益的活動"
                if why.members_only
                else "営利・事業者"
                if why.business
                else "分野違い"
                if why.need_fields and why.org_fields and not why.shared_fields
                else "その他"
            )
            assert reject_reason(cold, need_id, npo_id) == expected, (need_id, npo_id)
            seen.add(expected)
    assert seen == {"地域外", "共益的活動", "営利・事業者", "分野違い", "その他"}


def test_expanded_scores_equal_the_expanded_profiles_built_by_hand(part_c) -> None:
    """``_expanded`` never builds the expanded profiles; here they are built, for every
    need and profile: ``(o + β m̄) / ‖o + β m̄‖``, ``m̄`` the mean vector of the other needs
    the group was confirmed for, then scored as the cold start scores a profile (its
    reciprocal rank read against the cold start's best scores)."""
    *_, cold, _ = part_c
    model = LearnedRanker(calibrate=False).fit_on(cold, [])
    rng = np.random.default_rng(0)
    confirmed = (rng.random((len(cold.need_ids_), len(cold.org_ids_))) < 0.03).astype(float)
    beta = 0.5
    rows = np.arange(len(cold.need_ids_))
    scores, added = model._expanded(rows, confirmed, beta)
    needs = cold.need_vectors_.toarray()
    queries = cold.need_queries_.toarray()
    profiles = cold.org_vectors_.toarray()
    weight, dense_weight = cold.semantic_weight, cold.dense_weight
    topics = np.clip(cold.need_topics_ @ cold.org_topics_.T, 0.0, None)
    dense = np.clip(cold.need_dense_ @ cold.org_dense_.T, 0.0, None)
    factors = np.ones_like(scores)
    for f in cold._factors(rows).values():
        factors = factors * f
    for i in rows[::5]:
        for j in range(0, len(cold.org_ids_), 3):
            others = [c for c in np.flatnonzero(confirmed[:, j]) if c != i]
            mean = needs[others].mean(axis=0) if others else np.zeros(len(profiles[j]))
            norm = np.linalg.norm(profiles[j] + beta * mean)
            text, added_here = queries[i] @ profiles[j] / norm, beta * queries[i] @ mean / norm
            lexical = (1 - weight) * text + weight * topics[i, j]
            blended = (1 - dense_weight) * lexical + dense_weight * dense[i, j]
            # the expansion's share is added to the blend, not blended with the other parts
            raw = (blended + added_here) * factors[i, j]
            expected = max(raw - cold.diversity * cold.hubness_[j], 0.0)
            # the need's rank among the profile's best (cold) scores, under their number
            top = cold.rank_top_[:, j]
            rank = int((top > raw + 1e-6).sum())
            if raw > 0 and raw >= top[-1] - 1e-6 and rank < len(top):
                expected *= 1 + cold.reciprocity / (1 + rank)
            assert scores[i, j] == pytest.approx(expected, abs=2e-6), (i, j)
            if not others:
                assert added[i, j] == 0.0
    assert (added > 0).sum() > 100


def test_calibration_waits_for_decisions_on_enough_needs(loose_fields) -> None:
    """The same data as above, decided on fewer needs than ``CALIBRATION_MIN_NEEDS``: the
    expansion may learn, the settings are not tried."""
    cold, decisions, _, _ = loose_fields
    few = sorted({d.need_id for d in decisions if d.decision == "confirm"})
    assert len(few) > CALIBRATION_MIN_NEEDS
    kept = set(few[: CALIBRATION_MIN_NEEDS - 1])
    model = LearnedRanker().fit_on(cold, [d for d in decisions if d.need_id in kept])
    assert model.calibration_ == {} and "calibration_ndcg" not in model.report_
    assert "expansion_ndcg" in model.report_


def test_evaluate_command_compares_cold_start_and_learned_on_the_undecided_needs(
    tmp_path: Path, part_c
) -> None:
    needs, orgs, qrels, test, cold, _ = part_c
    train = sorted(set(cold.need_ids_) - set(test))
    decisions = judged_decisions(cold, train, qrels, seed=0)
    path = _write_decisions(tmp_path / "decisions.csv", decisions)
    needs_path, npos_path, qrels_path = part_paths("c")
    common = ("evaluate", "--needs", str(needs_path), "--npos", str(npos_path))
    proc = run_matching(*common, "--qrels", str(qrels_path), "--json", "--decisions", str(path))
    assert proc.returncode == 0, proc.stderr
    rows = {r["ranker"].split(" (")[0]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {"bm25", "cold start", "learned"}
    assert {r["needs"] for r in rows.values()} == {len(test)}
    # the same figures as the library's own held-out measure, in the same run
    learned = LearnedRanker().fit(needs, orgs, decisions)
    assert rows["learned"]["nDCG@10"] == pytest.approx(_heldout_ndcg(learned, qrels, test))
    assert rows["cold start"]["nDCG@10"] == pytest.approx(_heldout_ndcg(cold, qrels, test))
    # never silently worse than its validation allows: on this split the calibration may
    # validate (diversity 0.15, a cross-validated gain of about +0.008 on the decided
    # needs) and then lose up to 0.004 on the held-out ones, within the worst the ten
    # splits of part c show (README, "Learning from decisions": −0.005)
    assert rows["learned"]["nDCG@10"] >= rows["cold start"]["nDCG@10"] - 0.005
    assert rows["cold start"]["nDCG@10"] > rows["bm25"]["nDCG@10"]
