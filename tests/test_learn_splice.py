"""A learned ranker follows an edit of its cold start at the cost of the rows changed
(#14), and ranks as if bound again over the edited cold start."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from corpus import load_corpus
from matching import LearnedRanker, RerankScope, TfidfRanker, _learn_features
from matching._evaluate import judged_decisions, scramble_fields, split_needs
from matching._learn import Decision
from matching._learn_features import FEATURES, PairFeatures
from matching._learn_map import learn_map

from .learned import prefer_complete

Edit = Callable[[TfidfRanker], object]


def _rankings(model: LearnedRanker) -> dict[str, object]:
    """Every need's ranking, scores included, those of a few profiles (every tenth, and
    the decided ones), and a few pairs' contributions."""
    firsts = [(q, r[0][0]) for q, r in model.rank_orgs(model.base_.need_ids_[:6], top=1) if r]
    decided = {d.npo_id for d in model.decisions_}
    some = sorted(
        {*model.base_.org_ids_[::10], *sorted(decided)[:10], "P9999"} & set(model.base_.org_index_)
    )
    return {
        "orgs": model.rank_orgs(top=20),
        "needs": model.rank_needs(some, top=10),
        "pinned": model.rank_orgs(top=10, pin_decided=True),
        "pinned_needs": model.rank_needs(some, top=10, pin_decided=True),
        "contributions": [model.contributions(q, o) for q, o in firsts],
    }


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[TfidfRanker, LearnedRanker]]:
    """Learned rankers that put every stage in force, over part c (and a/b variants):

    - ``reranking``: decisions preferring complete profiles: a re-ranking model and the
      expansion (its base is the cold start itself);
    - ``calibrated``: part c with 活動分野 scrambled, judged decisions: a calibrated copy
      of the cold start, facts from the reasons, the expansion (set by hand if it did not
      validate);
    - ``mapped``: confirmations alone, and a need → partner map put in by hand (a copy
      of the cold start with a map; the corpus's own decisions do not keep one)."""
    needs, orgs, qrels = load_corpus(("c",))
    cold = TfidfRanker().fit(needs, orgs)
    out = {}
    decisions = prefer_complete(cold)
    out["reranking"] = (cold, LearnedRanker().fit_on(cold, decisions))
    train, _ = split_needs([n.id for n in needs], seed=0)
    loose = TfidfRanker().fit(needs, scramble_fields(orgs, share=1.0, seed=7))
    calibrated = LearnedRanker().fit_on(loose, judged_decisions(loose, train, qrels, seed=0))
    # the expansion put in by hand where these decisions do not keep one (it held on
    # the tokens of its first run, not after the tokenizer's fragment rules): a stage in
    # force is what the splices must follow, whether or not it validated
    calibrated.expansion_ = calibrated.expansion_ or 1.0
    out["calibrated"] = (loose, calibrated)
    confirms = [
        Decision(q, o, "confirm")
        for q in sorted(qrels)
        if q in train
        for o, g in qrels[q].items()
        if g > 0
    ]
    mapped = LearnedRanker(calibrate=False).fit_on(cold, confirms)
    mapped.dense_map_ = learn_map(mapped.base_, mapped.decisions_, 1.0)
    mapped._bind(cold, mapped.decisions_)  # the map in force
    out["mapped"] = (cold, mapped)
    for _, model in out.values():
        model.rank_orgs(top=10)  # BM25's tokens made, as a refresh makes them
    return out


def test_the_models_put_every_stage_in_force(models) -> None:
    _, reranking = models["reranking"]
    assert reranking.alpha_ > 0 and reranking.expansion_ > 0
    cold, calibrated = models["calibrated"]
    assert calibrated.calibration_ and calibrated.facts_ and calibrated.expansion_ > 0
    assert calibrated.base_ is not cold
    _, mapped = models["mapped"]
    assert mapped.base_.dense_map_ is mapped.dense_map_ is not None


def _edits(cold: TfidfRanker, model: LearnedRanker) -> dict[str, Edit]:
    needs, orgs = cold.needs_, cold.orgs_
    decided_orgs = sorted({d.npo_id for d in model.decisions_})
    # a need whose confirmation expands a profile (any confirmed need, if none does)
    confirmed = [
        d.need_id
        for d, new in zip(model.decisions_, model.informative_, strict=True)
        if new or (not model.informative_.any() and d.decision == "confirm")
    ]
    listed = orgs[cold.org_index_[cold.rank_orgs([needs[0].id], top=1)[0][1][0][0]]]
    decided = orgs[cold.org_index_[decided_orgs[0]]]
    need, decided_need = needs[3], needs[cold.need_index_[confirmed[0]]]
    return {
        "a listed profile edited": lambda r: r.upsert(
            orgs=[
                replace(listed, activities=listed.activities + "子ども食堂と防災訓練を始めました。")
            ]
        ),
        "a new profile": lambda r: r.upsert(
            orgs=[replace(orgs[5], id="P9999", name="新しい会", areas=["北区"])]
        ),
        "a profile removed": lambda r: r.remove(org_ids=[orgs[0].id]),
        "a decided profile edited": lambda r: r.upsert(
            orgs=[
                replace(decided, activities=decided.activities + "見守りも行います。", fields=[1])
            ]
        ),
        "a decided profile removed": lambda r: r.remove(org_ids=[decided_orgs[1]]),
        "a need edited": lambda r: r.upsert(
            needs=[replace(need, goal=need.goal + "子ども食堂と連携したい。")]
        ),
        "a new need": lambda r: r.upsert(
            needs=[replace(needs[4], id="N9999", title="新しい課題", areas=["北区"])]
        ),
        "a need removed": lambda r: r.remove(need_ids=[needs[7].id]),
        "a confirmed need edited": lambda r: r.upsert(
            needs=[
                replace(decided_need, description=decided_need.description + "担い手が足りない。")
            ]
        ),
        "a confirmed need removed": lambda r: r.remove(need_ids=[confirmed[0]]),
    }


def _same(a: LearnedRanker, b: LearnedRanker, *, exact: bool) -> bool:
    """The same rankings: value for value (``exact``), or the same ids in the same order
    with scores within 2e-6 (a copy of the cold start measures its hubness for a few
    columns, the full bind for all: float32 word vectors, another block, another last
    digit, as ``TfidfRanker.upsert`` against ``rebuild``)."""
    first, second = _rankings(a), _rankings(b)
    if exact:
        return first == second
    for key in ("orgs", "needs", "pinned", "pinned_needs"):
        for (q, mine), (other_q, theirs) in zip(first[key], second[key], strict=True):  # type: ignore[call-overload]
            if q != other_q or [o for o, _ in mine] != [o for o, _ in theirs]:
                return False
            if any(abs(x - y) > 2e-6 for (_, x), (_, y) in zip(mine, theirs, strict=True)):
                return False
    return True


@pytest.mark.parametrize("name", ["reranking", "calibrated", "mapped"])
def test_an_incremental_rebind_ranks_as_a_full_one(models, name, monkeypatch) -> None:
    """Every edit of ``_edits``, alone and one after another, against a full rebind over
    the same edited cold start: value for value when the model ranks over the cold start
    itself; over a copy (calibrated, facts, a map), its hubness within float32's last
    digit."""
    cold, model = models[name]
    exact = model.base_ is cold
    if model.features_.bm25 is not None:
        model.features_.need_token_ids([0])  # every need's token ids made: spliced too
    chained, base = copy.copy(model), cold
    for label, edit in _edits(cold, model).items():
        edited = copy.copy(cold)  # as the service edits: a copy of the ranker
        edit(edited)
        full = copy.copy(model)
        full._bind(edited, model.decisions_)
        with monkeypatch.context() as m:  # never bound in full, BM25's parts never made anew
            m.setattr(LearnedRanker, "_bind", None)
            m.setattr(_learn_features, "Bm25Parts", None)
            incremental = copy.copy(model).rebind(edited)
        spliced = incremental.features_.bm25
        if model.features_.bm25 is not None:  # made (a re-ranking model): kept or spliced
            assert spliced is not None, label
            made = full.features_._bm25_index()
            assert np.array_equal(spliced.by_doc.data, made.by_doc.data), label
            assert np.array_equal(spliced.by_word()[0], made.by_word()[0]), label
            ids, tokens = incremental.features_.need_ids, incremental.features_.need_tokens
            assert ids is not None and tokens is not None, label
            assert [x.tolist() for x in ids] == [spliced.stats.token_ids(t) for t in tokens], label
        assert _same(incremental, full, exact=exact), label
        assert incremental.informative_.tolist() == full.informative_.tolist(), label
        assert (incremental.confirmed_ != full.confirmed_).nnz == 0, label
        assert incremental.decided_ == full.decided_, label
        hubness = incremental.base_.hubness_ - full.base_.hubness_
        assert abs(hubness).max() <= (0.0 if exact else 1e-7), label
        # the model it was copied from is untouched
        assert model.base_.need_ids_ == cold.need_ids_ and model.base_.org_ids_ == cold.org_ids_
        # one edit after another, each compared with a full rebind of the state before it
        base = copy.copy(base)
        edit(base)
        before, chained = chained, copy.copy(chained).rebind(base)
        again = copy.copy(before)
        again._bind(base, before.decisions_)
        assert _same(chained, again, exact=exact), f"chained: {label}"


def _lists(
    model: LearnedRanker, need_ids: list[str] | None = None, floors: dict | None = None
) -> dict[str, list[tuple[str, float]]]:
    """Top 10 lists as the service stores them (positive scores only)."""
    return {
        q: [(o, s) for o, s in r if s > 0]
        for q, r in model.rank_orgs(need_ids, top=10, floors=floors)
    }


def _agree(mine: dict, theirs: dict) -> bool:
    """The same needs and lists; scores within 2e-6 (a block of other needs, float32's
    last digit)."""
    return mine.keys() == theirs.keys() and all(
        [o for o, _ in mine[q]] == [o for o, _ in theirs[q]]
        and all(abs(x - y) <= 2e-6 for (_, x), (_, y) in zip(mine[q], theirs[q], strict=True))
        for q in mine
    )


def _scoped(
    model: LearnedRanker,
    cold: TfidfRanker,
    edit: Edit,
    lists: dict,
    floors: dict[str, float],
    label: str,
) -> tuple[TfidfRanker, LearnedRanker, RerankScope, dict]:
    """``edit`` on a copy of the cold start, the model rebound over it, the needs the
    edit can move (not every need: asserted), and the lists of the needs it keeps."""
    from matching import needs_to_rerank

    edited = copy.copy(cold)
    edit(edited)
    rebound = copy.copy(model).rebind(edited)
    scope = needs_to_rerank(model, rebound, lists, top=10, floors=floors)
    assert scope is not None, label
    return edited, rebound, scope, {q: v for q, v in lists.items() if q not in set(scope.removed)}


@pytest.mark.parametrize("name", ["reranking", "calibrated", "mapped"])
def test_the_needs_an_edit_can_move_give_every_needs_lists(models, name) -> None:
    """``needs_to_rerank`` over a learned model and its rebind: the lists of the needs it
    names, ranked again, and the others kept, are the lists of every need ranked again.
    A profile's edit names few needs, with a re-ranking model too: BM25's statistics are
    the fit's, so a profile whose words changed, was added or removed moves its own BM25
    and the best of the needs it scores highest for, not every need's."""
    from matching import needs_to_rerank

    cold, model = models[name]
    floors: dict[str, float] = {}
    lists = _lists(model, floors=floors)
    assert floors.keys() == lists.keys()
    listed = cold.orgs_[cold.org_index_[lists[cold.need_ids_[0]][0][0]]]
    edits = _edits(cold, model)
    edits["a listed profile's 活動分野 and area"] = lambda r: r.upsert(
        orgs=[replace(listed, fields=[3], areas=["南区"])]
    )
    for label, edit in edits.items():
        _, rebound, scope, kept = _scoped(model, cold, edit, lists, floors, label)
        kept.update(_lists(rebound, scope.needs) if scope.needs else {})
        assert _agree(kept, _lists(rebound)), label
        if not model.alpha_ and "profile" in label:
            # (a re-ranking model's 50 candidates are a third of part c's profiles: most
            # needs' last candidate scores 0, which any profile reaches; see below)
            assert len(scope.needs) < len(rebound.base_.need_ids_) / 3, label
    # a re-ranking model's floors are needed to scope its lists
    if model.alpha_:
        need = copy.copy(cold)
        _edits(cold, model)["a need edited"](need)
        rebound = copy.copy(model).rebind(need)
        assert needs_to_rerank(model, rebound, lists, top=10) is None
    # another model (retrained) is another ranking: every need
    assert needs_to_rerank(model, LearnedRanker().fit_on(cold, []), lists, top=10) is None


@pytest.mark.parametrize(("candidates", "bound"), [(10, 1 / 3), (20, 2 / 3)])
def test_under_a_re_ranking_model_a_profiles_edit_ranks_a_few_needs_again(
    models, candidates, bound, monkeypatch
) -> None:
    """With fewer candidates than profiles (as at a prefecture's size), a profile whose
    words changed, or one added or removed, names some needs, not every need (BM25's
    statistics are the fit's), and their lists with the others kept are every need's
    (20 candidates: a removed profile among a need's candidates but not its top 10).
    The needs named keep their best BM25 score unless the edit can move it: ranking them
    scores few of them against every profile's BM25."""
    from matching import _learn_features as features_module
    from matching import needs_to_rerank
    from matching._bm25_parts import Bm25Parts

    scored: list[int] = []
    scores = Bm25Parts.scores
    monkeypatch.setattr(Bm25Parts, "scores", lambda p, t: scored.append(1) or scores(p, t))
    # pairs' features from their profiles' columns, as at a prefecture's size (part c's
    # 133 profiles: a block's candidates are most of them, so every column is read)
    monkeypatch.setattr(features_module, "_FEW", 0)

    cold, trained = models["reranking"]
    model = LearnedRanker(candidates=candidates).fit_on(cold, trained.decisions_)
    assert model.alpha_ > 0
    floors: dict[str, float] = {}
    lists = _lists(model, floors=floors)
    for label, edit in _edits(cold, model).items():
        edited, rebound, scope, kept = _scoped(model, cold, edit, lists, floors, label)
        now = dict(floors)
        scored.clear()
        kept.update(_lists(rebound, scope.needs, floors=now) if scope.needs else {})
        if len(scope.needs) >= 4:
            assert len(scored) < len(scope.needs) / 2, (label, len(scored), len(scope.needs))
        # the needs it did not name kept their best scores, the ones ranked made theirs:
        # every need's, as a fresh ranking of every need computes them
        bests = copy.deepcopy(rebound.features_.bests)
        fresh = copy.copy(model).rebind(edited)
        assert _agree(kept, _lists(fresh)), label
        assert bests == fresh.features_.bests, label
        if "profile" in label:
            assert len(scope.needs) < len(rebound.base_.need_ids_) * bound, label
        # so the next edit (the one before, undone) is scoped too, from the new lists
        undone = copy.copy(edited)
        undone.upsert(orgs=[o for o in cold.orgs_ if o.id in edited.org_index_])
        again = copy.copy(rebound).rebind(undone)
        second = needs_to_rerank(rebound, again, kept, top=10, floors=now)
        assert second is not None, label


def test_a_model_given_the_kept_bests_scopes_its_first_edit_as_the_one_that_ranked(
    models,
) -> None:
    """A process that takes a ranking's kept lists (the service's restart) ranks nothing,
    so its model keeps no best score and its first profile edit would rank every need
    again. Given the bests the ranking kept (``kept_bests`` → ``take_bests``), it names
    the needs the model that ranked every need names, and ranks them as it would."""
    from matching import needs_to_rerank

    cold, trained = models["reranking"]
    # decisions on half of the needs: the others' bests are not made by its training
    half = set(cold.need_ids_[::2])
    decisions = [d for d in trained.decisions_ if d.need_id in half]
    model = LearnedRanker(candidates=10).fit_on(cold, decisions)
    assert model.alpha_ > 0
    floors: dict[str, float] = {}
    lists = _lists(model, floors=floors)
    kept = model.kept_bests()
    assert set(kept) == {model.expansion_, "bm25"}
    assert all(v.keys() == set(cold.need_ids_) for v in kept.values())
    # another process: the same model rebuilt from its stages, over the same fit
    started = LearnedRanker(candidates=10).fit_on(cold, decisions, stages=model.stages_)
    for label in ("a listed profile edited", "a new profile", "a profile removed"):
        edited = copy.copy(cold)
        _edits(cold, model)[label](edited)
        bare = copy.copy(started).rebind(edited)
        assert needs_to_rerank(started, bare, lists, top=10, floors=floors) is None, label
    had = sum(len(v) for v in started.features_.bests.values())
    assert started.take_bests(kept) == sum(len(v) for v in kept.values()) - had > 0
    assert started.features_.bests == model.features_.bests
    assert started.take_bests({"bm25": {cold.need_ids_[0]: -1.0, "N-unknown": 1.0}}) == 0
    assert started.features_.bests == model.features_.bests  # its own bests stay
    for label in ("a listed profile edited", "a new profile", "a profile removed"):
        edited = copy.copy(cold)
        _edits(cold, model)[label](edited)
        mine = copy.copy(started).rebind(edited)
        scope = needs_to_rerank(started, mine, lists, top=10, floors=floors)
        theirs = needs_to_rerank(
            model, copy.copy(model).rebind(edited), lists, top=10, floors=floors
        )
        assert scope is not None and theirs is not None, label
        assert scope.needs == theirs.needs, label
        assert len(scope.needs) < len(cold.need_ids_) / 3, label
        after = {q: v for q, v in lists.items() if q not in set(scope.removed)}
        after.update(_lists(mine, scope.needs) if scope.needs else {})
        assert _agree(after, _lists(copy.copy(model).rebind(edited))), label


def test_the_needs_whose_best_bm25_score_an_edit_moves_are_named(models) -> None:
    """The ``bm25`` feature is a share of the need's best BM25 score over every profile:
    a need whose best an edit moves (a profile written in its words added, its best
    profile removed or rewritten) is named to be ranked again, whatever its candidates."""
    from matching._learn_scope import _bm25_best_moved

    cold, model = models["reranking"]
    _lists(model)  # a ranking of every need keeps each need's best

    def bests(m: LearnedRanker) -> dict[str, float]:
        f = m.features_
        for i in range(len(m.base_.need_ids_)):
            f._bm25_row(i)
        return {m.base_.need_ids_[i]: v for i, v in f.bests["bm25"].items()}

    before = bests(copy.copy(model).rebind(cold))
    need = cold.needs_[0]
    scores = model.features_._bm25_index().scores(model.features_.need_tokens[0])
    top = cold.orgs_[int(np.argmax(scores))]
    words = need.title + need.description + need.goal
    edits: dict[str, Edit] = {
        "a profile in the need's words": lambda r: r.upsert(
            orgs=[replace(cold.orgs_[5], id="P9998", activities=words * 3, areas=["北区"])]
        ),
        "its best profile removed": lambda r: r.remove(org_ids=[top.id]),
        "its best profile rewritten": lambda r: r.upsert(
            orgs=[replace(top, activities="将棋の会です。", offerings="", wishes="")]
        ),
    }
    for label, edit in edits.items():
        edited = copy.copy(cold)
        edit(edited)
        rebound = copy.copy(model).rebind(edited)
        after = bests(copy.copy(rebound))
        moved = {k for k in after if k in before and after[k] != before[k]}
        assert need.id in moved, label
        changed = {o.id for o in edited.orgs_ if o not in cold.orgs_}
        gone = set(cold.org_ids_) - set(edited.org_ids_)
        named = _bm25_best_moved(model, rebound, changed, gone)
        assert named is not None and moved <= named, label
        assert len(named) < len(cold.need_ids_) / 2, label


@pytest.mark.parametrize("name", ["reranking", "calibrated", "mapped"])
def test_a_lists_contributions_are_each_pairs_from_the_needs_whole_row(models, name) -> None:
    """``contributions_many`` reads the listed profiles' columns only; each pair's
    contributions are those its need's row over every profile gives (as ``contributions``
    computed them one pair at a time)."""
    _, model = models[name]
    b = model.base_
    for q, ranking in model.rank_orgs(b.need_ids_[::4], top=10):
        listed = [o for o, _ in ranking]
        got = model.contributions_many(q, listed)
        i = b.need_index_[q]
        score, added = model._expanded(np.array([i]), None, model.expansion_)
        for o in listed:
            j = b.org_index_[o]
            expected: dict[str, float] = {}
            if model.alpha_ and model.model_ is not None:
                x = (model._features(np.array([i]), np.array([j])) - model.mean_) / model.scale_
                values = model.model_.coef_[0] * x[0]
                expected.update(
                    (f, round(float(v), 4))
                    for f, v in zip(FEATURES, values, strict=True)
                    if abs(v) > 1e-9
                )
            else:
                expected["cold_start"] = round(float(score[0, j] - added[0, j]), 4)
            if added[0, j] > 1e-9:
                expected["confirmed_similar"] = round(float(added[0, j]), 4)
            assert got[o] == expected, (q, o)
    assert model.contributions(q, listed[0]) == got[listed[0]]


@pytest.mark.parametrize("name", ["reranking", "calibrated", "mapped"])
@pytest.mark.parametrize("pinned", [False, True])
def test_a_ranking_gives_its_lists_contributions_as_explaining_them_does(
    models, name, pinned
) -> None:
    """``rank_orgs(contributions=...)`` fills each need's listed groups' contributions
    from the features the ranking computed (the refresh stores them as the reasons):
    the same as ``contributions_many`` computes for that list afterwards, and the same
    rankings as without it. Over a copy that is not promoted, every group's are empty."""
    _, model = models[name]
    b = model.base_
    needs = b.need_ids_[::3]
    given: dict[str, dict[str, dict[str, float]]] = {}
    ranked = model.rank_orgs(needs, top=10, pin_decided=pinned, contributions=given)
    assert ranked == model.rank_orgs(needs, top=10, pin_decided=pinned)
    assert set(given) == set(needs) and any(given[q] for q in needs)
    for q, ranking in ranked:
        listed = [o for o, _ in ranking]
        assert list(given[q]) == listed
        assert given[q] == model.contributions_many(q, listed), q
    idle = copy.copy(model)
    idle.promoted_ = False
    empty: dict[str, dict[str, dict[str, float]]] = {}
    for q, ranking in idle.rank_orgs(needs, top=10, pin_decided=pinned, contributions=empty):
        assert (
            empty[q]
            == {o: {} for o, _ in ranking}
            == idle.contributions_many(q, [o for o, _ in ranking])
        )


def test_past_the_hubness_sample_a_need_edit_measures_a_copys_hubness_again(
    models, monkeypatch
) -> None:
    """Past ``HUB_SAMPLE`` needs the cold start keeps its sampled hubness through a need's
    edit; a bind measures a calibrated copy's afresh, and so does the incremental rebind
    (the one part it does not splice). Over the cold start itself both keep it, and
    both follow it when it is measured again."""
    from matching import _ranker

    monkeypatch.setattr(_ranker, "HUB_SAMPLE", 32)
    for name in ("calibrated", "reranking"):
        cold, model = models[name]
        edited = copy.copy(cold)
        _edits(cold, model)["a new need"](edited)
        assert edited.hub_top_ is None  # past the sample: left as measured
        full = copy.copy(model)
        full._bind(edited, model.decisions_)
        incremental = copy.copy(model).rebind(edited)
        exact = model.base_ is cold
        assert _same(incremental, full, exact=exact), name
        assert abs(incremental.base_.hubness_ - full.base_.hubness_).max() <= 1e-7, name
        if not exact:
            assert (incremental.base_.hubness_ != model.base_.hubness_).sum() > 10
    # the cold start measured again (``rebuild``, no item changed): every hubness moves
    cold, model = models["reranking"]
    rebuilt = copy.copy(cold).rebuild()
    assert (rebuilt.hubness_ != cold.hubness_).sum() > 10
    full = copy.copy(model)
    full._bind(rebuilt, model.decisions_)
    assert _same(copy.copy(model).rebind(rebuilt), full, exact=True)


@pytest.mark.parametrize("name", ["reranking", "calibrated", "mapped"])
def test_a_few_profiles_needs_are_their_rows_of_every_profiles(models, name) -> None:
    """A learned model ranks a few profiles' needs from their columns alone (#14: one
    profile's needs at 10,000 profiles took 1.5 s, every pair scored), giving what it
    gives for every profile at once: one at a time, several out of order, one twice."""
    _, model = models[name]
    ids = model.base_.org_ids_
    decided = sorted({d.npo_id for d in model.decisions_})
    for pin in (False, True):
        every = dict(model.rank_needs(top=10, pin_decided=pin))
        for key in [*ids[::9], *decided[:5]]:
            assert model.rank_needs([key], top=10, pin_decided=pin) == [(key, every[key])]
        some = [ids[-1], decided[0], ids[0], ids[-1]]
        assert model.rank_needs(some, top=10, pin_decided=pin) == [(k, every[k]) for k in some]


@pytest.mark.parametrize("name", ["reranking", "calibrated", "mapped"])
def test_a_few_profiles_pairs_have_the_features_every_profiles_pairs_give(models, name) -> None:
    """The features of pairs with a few profiles are read from those profiles' columns,
    each need's best scores over every profile kept or scored again (#14: one group's
    needs at 50,000 profiles): the numbers a block over every profile gives, whether the
    bests are kept already or not, for the expansion in force and another."""
    _, model = models[name]
    n, m = len(model.base_.need_ids_), len(model.base_.org_ids_)
    rows = np.repeat(np.arange(n), 2)
    cols = np.tile([0, m // 2], n)  # two profiles: their columns only
    # the same pairs first, then one pair with every profile: the block over every column
    every_rows = np.r_[rows, np.zeros(m, dtype=int)]
    every_cols = np.r_[cols, np.arange(m)]
    for beta in {model.expansion_, 0.5}:
        fresh = PairFeatures(model.expansion_stage_, model.decisions_)
        few = fresh(rows, cols, beta)  # no best kept: each scored against every profile
        assert set(fresh.bests) == {beta, "bm25"} and len(fresh.bests[beta]) == n
        again = fresh(rows, cols, beta)  # every best kept
        whole = PairFeatures(model.expansion_stage_, model.decisions_)
        every = whole(every_rows, every_cols, beta)[: len(rows)]
        assert np.array_equal(few, every) and np.array_equal(again, every)
        assert (every[:, FEATURES.index("bm25")] > 0).any()
        assert (every[:, FEATURES.index("cold_relative")] > 0).any()


def test_after_an_edit_no_need_keeps_the_best_it_had_over_the_old_profiles(
    models, monkeypatch
) -> None:
    """A new profile written for a need outscores the need's best: the rebind that adds
    it (incremental) forgets the bests kept before, and the groups' pages rank as a model
    bound afresh does."""
    cold, model = models["reranking"]
    features = model.features_
    need = cold.needs_[0]
    beta = model.expansion_
    assert need.id and 0 in features.bests[beta]  # kept by the fixture's ranking
    partner = cold.orgs_[int(np.argmax(model._expanded(np.array([0]), None, beta)[0][0]))]
    new = replace(
        partner, id="P9999", activities=" ".join((partner.activities, need.title, need.goal))
    )
    edited = copy.copy(cold)
    edited.upsert(orgs=[new])
    full = copy.copy(model)
    full._bind(edited, model.decisions_)
    with monkeypatch.context() as m:  # never bound in full
        m.setattr(LearnedRanker, "_bind", None)
        incremental = copy.copy(model).rebind(edited)
    for key in ["P9999", partner.id, cold.orgs_[1].id]:
        assert incremental.rank_needs([key]) == full.rank_needs([key]), key
    moved = full.features_.bests[beta][0]
    assert moved > features.bests[beta][0]  # the need's best moved: a kept one would be wrong
