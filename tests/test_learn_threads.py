"""The learner's dense work (its logistic regression, the word-vector map's solve) runs
BLAS in one thread, as the ranker's products do (``matching._blas``)."""

from __future__ import annotations

import ast

from .conftest import python_with_two_blas_threads

_LEARNER_CHECK = """
from threadpoolctl import threadpool_info
from sklearn.linear_model import LogisticRegression

import matching._learn_map as learn_map
from corpus import load_corpus
from matching import TfidfRanker
from matching._evaluate import simulate_decisions, split_needs
from matching._learn import LearnedRanker


def threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


seen = {"fit": [], "predict_proba": [], "fit_map": []}


def watched(name, fn):
    def call(*args, **kwargs):
        seen[name].append(threads())
        return fn(*args, **kwargs)

    return call


LogisticRegression.fit = watched("fit", LogisticRegression.fit)
LogisticRegression.predict_proba = watched("predict_proba", LogisticRegression.predict_proba)
learn_map.fit_map = watched("fit_map", learn_map.fit_map)

needs, orgs, qrels = load_corpus(("c",))
train, _ = split_needs([n.id for n in needs], seed=0)
cold = TfidfRanker().fit(needs, orgs)
before = threads()
model = LearnedRanker().fit_on(cold, simulate_decisions(cold, train, qrels, seed=0))
model.rank_orgs(top=5)
model.rank_needs(top=5)
print(repr((before, seen, threads())))
"""


def test_the_learner_runs_blas_in_one_thread_and_gives_the_threads_back() -> None:
    before, seen, after = ast.literal_eval(python_with_two_blas_threads(_LEARNER_CHECK))
    assert before and all(n > 1 for n in before)
    for name, calls in seen.items():
        assert calls, f"{name} never ran"  # validation trains and scores models
        assert all(call == [1] * len(before) for call in calls), (name, calls)
    assert after == before
