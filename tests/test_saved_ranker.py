"""A ranker saved with ``dump_mapped`` and loaded memory-mapped read-only (``load_mapped``:
the service's saved index, #14) ranks, explains and follows edits exactly as the fitted one
does; a file cut short, damaged or of another kind is refused with ``ValueError``."""

from __future__ import annotations

import copy
import gc
import pickle
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import matching._ranker as ranker_module
from corpus import load_corpus
from matching import (
    Decision,
    LearnedRanker,
    TfidfRanker,
    dump_mapped,
    is_mapped,
    load_mapped,
    read_meta,
)

Edit = Callable[[TfidfRanker], object]


@pytest.fixture(scope="module")
def fitted() -> TfidfRanker:
    needs, orgs, _ = load_corpus(("c",))
    return TfidfRanker().fit(needs, orgs)


def _mapped(ranker: TfidfRanker, folder: Path) -> TfidfRanker:
    with (folder / "ranker.pickle").open("wb") as fh:
        dump_mapped(ranker, fh, {"key": "k"})
    meta, loaded = load_mapped(folder / "ranker.pickle")
    assert meta == read_meta(folder / "ranker.pickle") == {"key": "k"}
    assert isinstance(loaded, TfidfRanker)
    return loaded


def _everything(r: TfidfRanker) -> dict[str, object]:
    ranked = r.rank_orgs(top=10)
    return {
        "orgs": ranked,
        "needs": r.rank_needs(r.org_ids_[::7], top=10),
        "explained": [r.explain_many(q, [o for o, _ in ranking[:3]]) for q, ranking in ranked[:8]],
        "similar": r.similar_needs(r.need_ids_[0], top=5),
        "hubness": r.hubness_.tolist(),
    }


def test_the_arrays_are_mapped_read_only_sparse_ones_too(fitted, tmp_path: Path) -> None:
    mapped = _mapped(fitted, tmp_path)
    for matrix in (mapped.need_vectors_, mapped.org_vectors_, mapped.need_queries_):
        assert sp.issparse(matrix)
        for part in (matrix.data, matrix.indices, matrix.indptr):
            assert is_mapped(part) and not part.flags.writeable
    for dense in (mapped.org_dense_, mapped.org_topics_, mapped.hubness_):
        assert is_mapped(dense) and not dense.flags.writeable
    # the word-vector table is not in the file: the process's own (mapped) table serves
    assert mapped.dense_ is not None and fitted.dense_ is not None
    assert mapped.dense_.vectors is fitted.dense_.vectors


def test_a_mapped_ranker_ranks_and_explains_as_the_fitted_one(fitted, tmp_path: Path) -> None:
    assert _everything(_mapped(fitted, tmp_path)) == _everything(fitted)


def _edits(r: TfidfRanker) -> dict[str, Edit]:
    needs, orgs = r.needs_, r.orgs_
    return {
        "a profile edited": lambda x: x.upsert(
            orgs=[replace(orgs[3], activities=orgs[3].activities + "子ども食堂を始めました。")]
        ),
        "a new profile": lambda x: x.upsert(
            orgs=[replace(orgs[5], id="P9999", name="新しい会", areas=["北区"])]
        ),
        "a profile removed": lambda x: x.remove(org_ids=[orgs[0].id]),
        "a need edited": lambda x: x.upsert(
            needs=[replace(needs[2], goal=needs[2].goal + "防災訓練を一緒に開きたい。")]
        ),
        "a new need": lambda x: x.upsert(
            needs=[replace(needs[4], id="N9999", title="新しい課題", areas=["北区"])]
        ),
        "a need removed": lambda x: x.remove(need_ids=[needs[7].id]),
        "every row rebuilt": lambda x: x.rebuild(),
    }


@pytest.mark.parametrize("sampled", [False, True], ids=["exact hubness", "sampled hubness"])
def test_a_mapped_ranker_follows_edits_as_the_fitted_one(
    fitted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sampled: bool
) -> None:
    """Each edit on a shallow copy (as the service applies them) of both, in turn; past
    ``HUB_SAMPLE`` needs the hubness is measured on a sample (another path)."""
    if sampled:
        monkeypatch.setattr(ranker_module, "HUB_SAMPLE", 40)
    plain = copy.copy(fitted)
    plain.rebuild()  # under this test's HUB_SAMPLE
    mapped = _mapped(plain, tmp_path)
    for name, edit in _edits(plain).items():
        plain, mapped = copy.copy(plain), copy.copy(mapped)
        edit(plain)
        edit(mapped)
        assert _everything(mapped) == _everything(plain), name


def test_a_learned_model_over_a_mapped_ranker_follows_its_edits(fitted, tmp_path: Path) -> None:
    """The learned model binds to the mapped ranker and is rebound after an edit, as the
    service does when a profile changes under a promoted model."""
    mapped = _mapped(fitted, tmp_path)
    ranked = fitted.rank_orgs(top=10)
    decisions = [
        Decision(q, o, "confirm" if k % 3 == 0 else "reject", "体制不足")
        for q, ranking in ranked
        for k, (o, _) in enumerate(ranking)
    ]
    models = [LearnedRanker().fit_on(r, decisions) for r in (fitted, mapped)]
    assert models[0].rank_orgs(top=10) == models[1].rank_orgs(top=10)
    orgs = fitted.orgs_
    new = replace(orgs[2], id="P9998", activities=orgs[2].activities + "見守り訪問も行います。")
    for k, base in enumerate((fitted, mapped)):
        edited = copy.copy(base)
        edited.upsert(orgs=[new])
        edited.remove(need_ids=[fitted.need_ids_[1]])
        models[k] = copy.copy(models[k])
        models[k].rebind(edited)
    assert models[0].rank_orgs(top=10) == models[1].rank_orgs(top=10)


_DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "cut in the arrays": lambda whole: whole[: len(whole) // 2],
    "cut in the header": lambda whole: whole[:-5],
    "cut in the head": lambda whole: whole[:10],
    "empty": lambda whole: b"",
    "another kind of file": lambda whole: b"PK\x03\x04" + whole[4:],
    "a header of garbage": lambda whole: whole.replace(b'{"meta"', b"{not json", 1),
    "a span past the header": lambda whole: whole.replace(
        b'"pickle": [64', b'"pickle": [9999999999', 1
    ),
}


@pytest.mark.parametrize("damage", list(_DAMAGE))
def test_a_file_cut_short_damaged_or_of_another_kind_is_refused(
    fitted, tmp_path: Path, damage: str
) -> None:
    """Refused with ``ValueError`` from its header, before any pickle is read: a reader
    never gets part of a ranker (the service then fits:
    ``test_a_damaged_saved_fit_is_fitted_again``)."""
    _mapped(fitted, tmp_path)
    whole = (tmp_path / "ranker.pickle").read_bytes()
    damaged = _DAMAGE[damage](whole)
    assert damaged != whole
    (tmp_path / "bad.pickle").write_bytes(damaged)
    with pytest.raises(ValueError):
        read_meta(tmp_path / "bad.pickle")
    with pytest.raises(ValueError):
        load_mapped(tmp_path / "bad.pickle")


def test_only_arrays_of_a_loaded_file_are_mapped(fitted, tmp_path: Path) -> None:
    mapped = _mapped(fitted, tmp_path)
    assert is_mapped(mapped.org_dense_) and not is_mapped(fitted.org_dense_)
    assert not is_mapped(np.arange(3))


def test_a_load_leaves_the_garbage_collector_as_it_found_it(fitted, tmp_path: Path) -> None:
    """``load_mapped`` turns the collector off while it unpickles (speed), and back on
    only if it was on."""
    _mapped(fitted, tmp_path)
    assert gc.isenabled()
    gc.disable()
    try:
        load_mapped(tmp_path / "ranker.pickle")
        assert not gc.isenabled()
    finally:
        gc.enable()
    whole = (tmp_path / "ranker.pickle").read_bytes()  # a sound header, a damaged pickle
    (tmp_path / "bad.pickle").write_bytes(whole[:64] + b"\xff" * 16 + whole[80:])
    with pytest.raises(pickle.UnpicklingError):
        load_mapped(tmp_path / "bad.pickle")
    assert gc.isenabled()
