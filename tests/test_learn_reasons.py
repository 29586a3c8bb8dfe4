"""Reject reasons teach what they say: facts about groups, and which settings may move."""

from __future__ import annotations

import numpy as np
import pytest

from corpus import load_corpus
from matching import TfidfRanker
from matching._decision import Decision
from matching._learn import LearnedRanker
from matching._learn_calibrate import CALIBRATION, TAUGHT_BY, tried_settings
from matching._learn_reasons import GroupFacts


@pytest.fixture(scope="module")
def part_a():
    needs, orgs, _ = load_corpus(("a",))
    return needs, orgs, TfidfRanker().fit(needs, orgs)


def test_calibration_defaults_are_the_cold_starts() -> None:
    from matching._ranker import DEFAULT_AREA_FACTORS

    ranker = TfidfRanker()
    for name, values in CALIBRATION.items():
        default = DEFAULT_AREA_FACTORS["other"] if name == "area_other" else getattr(ranker, name)
        assert values[0] == default, name


def test_a_setting_moves_only_when_its_reason_was_given() -> None:
    confirm = Decision("N1", "P1", "confirm")
    assert tried_settings([confirm]) == list(CALIBRATION)  # no reasons at all: every setting
    area = [Decision("N1", f"P{k}", "reject", "地域外") for k in range(3)]
    tried = tried_settings([confirm, *area, Decision("N2", "P9", "reject", "その他")])
    assert "area_other" in tried
    assert not {"field_weight", "members_only_factor", "kind_factor"} & set(tried)
    assert {n for n in CALIBRATION if n not in TAUGHT_BY} <= set(tried)
    assert "kind_factor" in tried_settings(
        [confirm, *(Decision("N1", f"P{k}", "reject", "営利・事業者") for k in range(3))]
    )


def test_facts_come_from_group_reasons_and_a_confirmation_undoes_them() -> None:
    facts = GroupFacts.of(
        [
            Decision("N1", "P1", "reject", "共益的活動"),
            Decision("N2", "P2", "reject", "営利・事業者"),
            Decision("N1", "P3", "reject", "共益的活動"),
            Decision("N3", "P3", "confirm"),  # a partner after all
            Decision("N1", "P4", "reject", "分野違い"),  # about the pair, not the group
        ]
    )
    assert facts.members_only == {"P1"} and facts.business == {"P2"}


def test_a_group_rejected_as_members_only_moves_down_for_every_need(part_a) -> None:
    needs, _, cold = part_a
    # a group the cold start does not read as members-only, high in some need's list
    need_id, ranking = next(
        (q, r) for q, r in cold.rank_orgs(top=3) if not cold.members_only_[cold.org_index_[r[0][0]]]
    )
    group = ranking[0][0]
    facts = GroupFacts.of([Decision(need_id, group, "reject", "共益的活動")])
    taught = facts.apply(cold)
    assert taught is not cold and not cold.members_only_[cold.org_index_[group]]
    j = cold.org_index_[group]
    before, after = (
        cold.score_block(np.arange(len(needs))),
        taught.score_block(np.arange(len(needs))),
    )
    assert (after[:, j] <= before[:, j]).all() and (after[:, j] < before[:, j]).any()
    assert taught.explain(need_id, group).members_only


def test_the_learner_puts_facts_in_force_and_reports_them(part_a) -> None:
    *_, cold = part_a
    decisions = []
    for q, ranking in cold.rank_orgs(top=3)[:12]:
        decisions.append(Decision(q, ranking[0][0], "confirm"))
        decisions.append(Decision(q, ranking[2][0], "reject", "営利・事業者"))
    business = {d.npo_id for d in decisions if d.decision == "reject"} - {
        d.npo_id for d in decisions if d.decision == "confirm"
    }
    model = LearnedRanker().fit_on(cold, decisions)
    assert model.version == "learned" and set(model.report_["facts"]["business"]) == business
    j = cold.org_index_[sorted(business)[0]]
    assert model.base_.signals_.for_profit[j] and not cold.signals_.for_profit[j]
    # the cold start itself is untouched, and a rebind keeps the facts
    model.rebind(cold)
    assert model.base_.signals_.for_profit[j]
