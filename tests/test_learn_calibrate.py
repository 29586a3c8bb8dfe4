"""A calibrated copy of the cold start: what each setting changes computed again, the
rest shared, giving what a ranker with every row made again gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from corpus import load_corpus
from matching import TfidfRanker
from matching._learn_calibrate import CALIBRATION, calibrated, with_setting


@pytest.fixture(scope="module")
def cold() -> TfidfRanker:
    needs, orgs, _ = load_corpus(("c",))
    return TfidfRanker().fit(needs, orgs)


def _made_again(base: TfidfRanker, setting: dict[str, float]) -> TfidfRanker:
    """The settings in force on a copy whose every item row is made again."""
    out = with_setting(base, setting)
    out._set_items(base.needs_, base.orgs_)
    return out


def _same(a: object, b: object) -> bool:
    """The same values, arrays, sparse matrices, containers and dataclasses within."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if sp.issparse(a):
        return sp.issparse(b) and a.shape == b.shape and (a != b).nnz == 0
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        fields = [f.name for f in dataclasses.fields(a)]
        return type(a) is type(b) and all(_same(getattr(a, n), getattr(b, n)) for n in fields)
    return bool(a == b)


@pytest.mark.parametrize(
    "setting",
    [{name: value} for name, values in CALIBRATION.items() for value in values[1:]]
    + [{name: values[-1] for name, values in CALIBRATION.items()}],
    ids=str,
)
def test_a_calibrated_copy_is_the_ranker_made_again_with_the_setting(cold, setting) -> None:
    mine, again = calibrated(cold, setting), _made_again(cold, setting)
    # every fitted attribute (the derived caches aside) holds the same values
    names = {k for k in again.__dict__ if k.endswith("_") and not k.startswith("_")}
    assert names == {k for k in mine.__dict__ if k.endswith("_") and not k.startswith("_")}
    for name in sorted(names):
        assert _same(getattr(mine, name), getattr(again, name)), name
    assert mine.rank_orgs(top=10) == again.rank_orgs(top=10)
    assert mine.rank_needs(top=10) == again.rank_needs(top=10)
    # the setting is in force: the rankings are not the cold start's (one setting at
    # least of each kind moves them), and the cold start itself is untouched
    assert cold.hubness_ is not mine.hubness_
    assert all(getattr(cold, k) != v for k, v in setting.items() if k != "area_other")


def test_every_setting_moves_some_ranking(cold) -> None:
    """(Else the comparison above would hold for a copy that ignored its setting.)"""
    before = cold.rank_orgs(top=10)
    for name, values in CALIBRATION.items():
        moved = [calibrated(cold, {name: v}).rank_orgs(top=10) != before for v in values[1:]]
        assert any(moved), name
