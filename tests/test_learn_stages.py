"""A learned model is built again from what its validation chose (``stages_``), without
validating, and ranks exactly as the validated model did (#14: a start with a promoted
model at 50,000 profiles)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

import matching._learn as learn
from corpus import load_corpus
from matching import FieldWeightedTfidf, LearnedRanker, TfidfRanker
from matching._evaluate import judged_decisions, scramble_fields, split_needs
from matching._learn import Decision
from matching._learn_expand import Expansion
from matching._learn_stages import Stages, StagesError

from .learned import prefer_complete


def _rankings(model: LearnedRanker) -> dict[str, object]:
    some = model.base_.org_ids_[::7]
    firsts = [(q, r[0][0]) for q, r in model.rank_orgs(model.base_.need_ids_[:8], top=1) if r]
    return {
        "orgs": model.rank_orgs(top=20),
        "pinned": model.rank_orgs(top=10, pin_decided=True),
        "needs": model.rank_needs(some, top=10),
        "contributions": [model.contributions(q, o) for q, o in firsts],
    }


@pytest.fixture(scope="module")
def validated() -> dict[str, tuple[TfidfRanker, list[Decision], LearnedRanker]]:
    """Models whose validation kept stages: ``reranking`` (the re-ranking blend and the
    expansion, on decisions preferring complete profiles) and ``calibrated`` (the cold
    start's settings re-tuned, 活動分野 scrambled, judged decisions)."""
    needs, orgs, qrels = load_corpus(("c",))
    cold = TfidfRanker().fit(needs, orgs)
    decisions = prefer_complete(cold)
    train, _ = split_needs([n.id for n in needs], seed=0)
    loose = TfidfRanker().fit(needs, scramble_fields(orgs, share=1.0, seed=7))
    judged = judged_decisions(loose, train, qrels, seed=0)
    return {
        "reranking": (cold, decisions, LearnedRanker().fit_on(cold, decisions)),
        "calibrated": (loose, judged, LearnedRanker().fit_on(loose, judged)),
    }


def test_the_models_kept_the_stages_this_file_is_about(validated) -> None:
    reranking = validated["reranking"][2].stages_
    assert reranking.alpha > 0 and reranking.expansion > 0
    assert validated["calibrated"][2].stages_.calibration


@pytest.mark.parametrize("name", ["reranking", "calibrated"])
def test_a_model_built_from_its_stages_ranks_as_the_validated_one(validated, name) -> None:
    base, decisions, model = validated[name]
    stored = json.loads(json.dumps(model.report_["stages"]))  # as the service stores it
    assert Stages.of(stored) == model.stages_
    rebuilt = LearnedRanker().fit_on(base, decisions, stages=stored)
    assert rebuilt.promoted_ and rebuilt.stages_ == model.stages_
    assert rebuilt.report_["rebuilt_from_stages"] is True
    assert _rankings(rebuilt) == _rankings(model)
    if model.model_ is not None:
        assert rebuilt.model_ is not None
        assert np.array_equal(rebuilt.model_.coef_, model.model_.coef_)


def test_a_rebuild_validates_nothing(validated, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validated again")

    for name in ("calibrate", "validate_blends", "validate_map"):
        monkeypatch.setattr(learn, name, refuse)
    monkeypatch.setattr(Expansion, "validate", refuse)
    for base, decisions, model in validated.values():
        assert LearnedRanker().fit_on(base, decisions, stages=model.stages_).promoted_
    base, decisions, _ = validated["reranking"]
    with pytest.raises(AssertionError, match="validated again"):
        LearnedRanker().fit_on(base, decisions)  # the refusal is in force


def test_a_map_chosen_by_hand_is_learned_again_from_the_confirmations(validated) -> None:
    base, decisions, _ = validated["reranking"]
    confirms = [d for d in decisions if d.decision == "confirm"]
    rebuilt = LearnedRanker(calibrate=False).fit_on(base, confirms, stages={"map_lambda": 1.0})
    assert rebuilt.dense_map_ is not None and rebuilt.map_lambda_ == 1.0
    assert rebuilt.stages_ == Stages(map_lambda=1.0)
    plain = LearnedRanker(calibrate=False).fit_on(base, confirms, stages={})
    assert plain.dense_map_ is None
    assert _rankings(rebuilt)["orgs"] != _rankings(plain)["orgs"]


def test_a_stage_the_decisions_no_longer_allow_stays_off(validated) -> None:
    base, decisions, model = validated["reranking"]
    confirms = [d for d in decisions if d.decision == "confirm"]  # no rejection: no model
    rebuilt = LearnedRanker().fit_on(base, confirms, stages=model.stages_)
    assert rebuilt.alpha_ == 0.0 and rebuilt.model_ is None
    assert rebuilt.expansion_ == model.stages_.expansion
    nothing = LearnedRanker().fit_on(base, confirms[:3], stages=model.stages_)
    assert not nothing.promoted_ and nothing.report_["code"] == "too_few_decisions"


@pytest.mark.parametrize(
    "record",
    [
        {"alpha": 0.5, "beta": 1.0},
        {"calibration": {"no_such_setting": 0.5}},
        {"calibration": [0.5]},
        {"alpha": 2.0},
        {"expansion": "1.0"},
        {"map_lambda": float("nan")},
        {"alpha": True},
    ],
)
def test_a_stored_record_this_version_cannot_read_is_refused(validated, record) -> None:
    base, decisions, _ = validated["reranking"]
    with pytest.raises(StagesError) as raised:
        LearnedRanker().fit_on(base, decisions, stages=record)
    assert raised.value.code == "bad_stages"


def test_a_model_over_kept_item_rows_tokenises_nothing_and_ranks_alike(
    validated, monkeypatch, tmp_path: Path
) -> None:
    """The rows a model computed of the items (field vectors, BM25's tokens and
    statistics), kept as the service keeps them beside a saved fit and attached to that
    fit read back, give a rebuild that tokenises nothing and ranks the same; a copy of the
    fit with an edit applied (other item lists) computes its own."""
    base, decisions, model = validated["reranking"]
    rows = model.features_.item_rows()
    assert rows.need_tokens is not None and rows.bm25_stats is not None
    joblib.dump(rows, tmp_path / "rows.joblib")
    kept = joblib.load(tmp_path / "rows.joblib")
    assert kept.needs is None and kept.orgs is None  # the item lists are not kept with them
    fit = copy.copy(base)
    kept.attach(fit)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tokenised")

    with monkeypatch.context() as m:
        m.setattr(FieldWeightedTfidf, "token_lists", refuse)
        m.setattr(FieldWeightedTfidf, "transform_fields", refuse)
        rebuilt = LearnedRanker().fit_on(fit, decisions, stages=model.stages_)
        assert _rankings(rebuilt) == _rankings(model)
    listed = base.orgs_[base.org_index_[model.rank_orgs(top=1)[0][1][0][0]]]
    edit = replace(listed, activities=listed.activities + "子ども食堂と防災訓練を始めました。")
    edited, plain = copy.copy(fit), copy.copy(base)
    edited.upsert(orgs=[edit])
    plain.upsert(orgs=[edit])
    assert edited.item_rows_ is kept  # carried by the copy, but made for other lists
    after = LearnedRanker().fit_on(edited, decisions, stages=model.stages_)
    expected = LearnedRanker().fit_on(plain, decisions, stages=model.stages_)
    assert _rankings(after) == _rankings(expected)


def test_a_rebuild_without_the_expansion_scores_each_confirmed_need_once(
    validated, monkeypatch
) -> None:
    """A model's build scored each confirmed need against every profile twice: for the
    informative flags (its top groups) and for its best cold-start score, which the
    features divide by. With no expansion in force the best is its top's first score
    (1.2 s of a restart's 4 s at 50,000 profiles), and the model ranks the same."""
    import collections

    from matching import _learn_features

    cold, decisions, model = validated["reranking"]
    stages = replace(model.stages_, expansion=0.0)
    expected = LearnedRanker().fit_on(cold, decisions, stages=stages)
    # the pairs' features read from their profiles' columns, as at 50,000 profiles (the
    # corpus's few profiles are otherwise scored whole, which gives the best as well)
    monkeypatch.setattr(_learn_features, "_FEW", 0)
    scored: collections.Counter[int] = collections.Counter()
    score_block = TfidfRanker.score_block

    def counting(self, need_rows, org_rows=None):  # type: ignore[no-untyped-def]
        if org_rows is None:
            scored.update(np.asarray(need_rows).tolist())
        return score_block(self, need_rows, org_rows)

    monkeypatch.setattr(TfidfRanker, "score_block", counting)
    rebuilt = LearnedRanker().fit_on(cold, decisions, stages=stages)
    monkeypatch.setattr(TfidfRanker, "score_block", score_block)
    confirmed = {cold.need_index_[d.need_id] for d in decisions if d.decision == "confirm"}
    assert confirmed and {scored[i] for i in confirmed} == {1}
    bests = rebuilt.features_._bests(0.0)
    for i in confirmed:
        whole = rebuilt.base_.score_block(np.array([i]))
        assert bests[i] == float(whole.max(axis=1, initial=0.0)[0])
    assert _rankings(rebuilt) == _rankings(expected)


@pytest.mark.parametrize("stage", ["validated", "map"])
def test_a_rebuild_over_kept_build_parts_scores_no_need_against_every_profile(
    validated, stage, monkeypatch, tmp_path: Path
) -> None:
    """What a model's build scored against every profile (each confirmed need's top
    groups, each decided need's best cold-start and BM25 scores) and the item rows with
    BM25's parts, kept as the service keeps them beside a fit and read back memory-mapped,
    give a rebuild of the same model over that fit which scores no need against every
    profile and makes no BM25 part: it ranks as the first build. ``map``: a need → partner
    map in force, bound once (the ranker before it took no expansion stage)."""
    import matching
    from matching import _bm25_parts, _learn_features

    cold, decisions, model = validated["reranking"]
    stages = model.stages_
    if stage == "map":
        stages = replace(stages, expansion=0.0, map_lambda=1.0)
    # the pairs' features read from their profiles' columns, as at 50,000 profiles
    monkeypatch.setattr(_learn_features, "_FEW", 0)
    first = LearnedRanker().fit_on(cold, decisions, stages=stages)
    assert first.promoted_ and (first.dense_map_ is not None) == (stage == "map")
    path = tmp_path / "kept.pickle"
    with path.open("wb") as fh:
        matching.dump_mapped((first.build_parts(), first.features_.item_rows()), fh, {})
    parts, rows = matching.load_mapped(path)[1]
    assert parts.tops and parts.bests["bm25"] and rows.bm25_parts is not None
    fit = copy.copy(cold)
    rows.attach(fit)
    whole: list[int] = []
    finish = TfidfRanker.finish

    def counting(self, scores, org_rows=None):  # type: ignore[no-untyped-def]
        if org_rows is None:
            whole.append(len(scores))
        return finish(self, scores, org_rows)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("BM25 computed again")

    with monkeypatch.context() as m:
        m.setattr(TfidfRanker, "finish", counting)
        m.setattr(_bm25_parts.Bm25Parts, "scores", refuse)
        m.setattr(_bm25_parts, "_parts", refuse)
        rebuilt = LearnedRanker().fit_on(fit, decisions, stages=stages, parts=parts)
    assert whole == []
    assert np.array_equal(rebuilt.informative_, first.informative_)
    assert rebuilt.model_ is not None and first.model_ is not None
    assert np.array_equal(rebuilt.model_.coef_, first.model_.coef_)
    assert _rankings(rebuilt) == _rankings(first)
    # without the parts, the same rebuild scores each decided need against every profile
    with monkeypatch.context() as m:
        m.setattr(TfidfRanker, "finish", counting)
        LearnedRanker().fit_on(fit, decisions, stages=stages)
    assert sum(whole) >= len({d.need_id for d in decisions if d.decision == "confirm"})
