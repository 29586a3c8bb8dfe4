"""An edit's rows copied by runs (``matching._splice``) equal the rows gathered one by
one, for every kind of per-row data the index keeps; and a profile edit's area codes
(grown, not coded again) give the relations a rebuild gives."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from matching import TfidfRanker
from matching._splice import Splice


def _edit(rng: random.Random, n: int) -> tuple[list[str], list[int], list[str]]:
    """Ids of ``n`` rows (in order), rows dropped, ids added (some of them replacing)."""
    ids = sorted(f"id{rng.randrange(10**6):07d}" for _ in range(n))
    ids = sorted(set(ids))
    drop = rng.sample(range(len(ids)), rng.randint(0, min(4, len(ids))))
    replaced = [ids[r] for r in drop if rng.random() < 0.5]
    taken = set(ids)
    new = [f"id{rng.randrange(10**6):07d}x" for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.3:
        new.append("zz-last")  # the usual registration: the largest id
    return ids, drop, sorted({*replaced, *(i for i in new if i not in taken)})


def test_rows_copied_by_runs_equal_rows_gathered_one_by_one() -> None:
    rng = random.Random(7)
    for case in range(300):
        n = rng.choice([0, 1, 2, 5, 40])
        ids, drop, added = _edit(rng, n)
        n = len(ids)
        splice = Splice.of(ids, drop, added)
        kept = [i for r, i in enumerate(ids) if r not in set(drop)]
        expected_ids = sorted(kept + added)
        old_row = {i: r for r, i in enumerate(ids)}
        fresh_row = {i: k for k, i in enumerate(added)}
        source = [-1 if i in fresh_row else old_row[i] for i in expected_ids]
        assert splice.source.tolist() == source, case
        assert splice.dropped.tolist() == sorted(drop)
        assert splice.fresh_at.tolist() == [r for r, s in enumerate(source) if s < 0]

        old = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
        fresh = -1.0 - np.arange(len(added) * 3, dtype=np.float64).reshape(len(added), 3)
        gathered = np.array(
            [fresh[fresh_row[i]] if i in fresh_row else old[old_row[i]] for i in expected_ids]
        ).reshape(len(expected_ids), 3)
        out = splice.array(old, fresh)
        assert out.dtype == np.float64 and np.array_equal(out, gathered), case
        assert np.array_equal(splice.array(old.T, fresh.T, axis=1), gathered.T), case

        old_m = sp.random(n, 30, density=0.2, format="csr", random_state=case, dtype=np.float64)
        fresh_m = sp.random(len(added), 30, density=0.3, format="csr", random_state=case + 1)
        both = sp.vstack([old_m, fresh_m], format="csr")
        order = [len(ids) + fresh_row[i] if i in fresh_row else old_row[i] for i in expected_ids]
        spliced = splice.rows(old_m, fresh_m)
        assert isinstance(spliced, sp.csr_matrix) and spliced.shape == (len(expected_ids), 30)
        assert np.array_equal(spliced.toarray(), both[order].toarray()), case

        assert splice.items(ids, added) == expected_ids
        index = splice.index(dict(old_row), ids, expected_ids)
        assert index == {i: r for r, i in enumerate(expected_ids)}, case


def test_an_edit_codes_its_new_area_list_as_a_rebuild_relates_it() -> None:
    """A profile or a need naming an area list no item of its side named joins that
    side's area groups, with its relation to every group of the other side; a removed
    item's group stays unused until a fit. Every pair relates as in a rebuild."""
    from corpus import load_corpus

    needs, orgs, _ = load_corpus(("a",))
    wards = ["北区", "南区", "東区", "西区"]
    unseen = replace(orgs[2], id="P-new", areas=wards)
    unseen_need = replace(needs[1], id="N-new", areas=wards[::-1])
    incremental = TfidfRanker().fit(needs, orgs)
    groups = len(incremental.org_area_groups_), len(incremental.need_area_groups_)
    incremental.upsert(orgs=[unseen]).remove(org_ids=[orgs[4].id])
    incremental.upsert(needs=[unseen_need]).remove(need_ids=[needs[3].id])
    rebuilt = TfidfRanker().fit(needs, orgs)
    rebuilt.upsert(orgs=[unseen], needs=[unseen_need])
    rebuilt.remove(org_ids=[orgs[4].id], need_ids=[needs[3].id]).rebuild()
    assert incremental.org_ids_ == rebuilt.org_ids_
    assert incremental.need_ids_ == rebuilt.need_ids_
    grown = len(incremental.org_area_groups_), len(incremental.need_area_groups_)
    assert grown == (groups[0] + 1, groups[1] + 1)
    for r in (incremental, rebuilt):  # the same area list for every item
        assert [tuple(r.org_area_groups_[c]) for c in r.org_area_codes_] == [
            tuple(a) for a in r.org_areas_
        ]
        assert [tuple(r.need_area_groups_[c]) for c in r.need_area_codes_] == [
            tuple(a) for a in r.need_areas_
        ]
    relations = [
        r.area_relations_[np.ix_(r.need_area_codes_, r.org_area_codes_)]
        for r in (incremental, rebuilt)
    ]
    assert (relations[0] == relations[1]).all()
    tables = [
        r.area_table_[np.ix_(r.need_area_codes_, r.org_area_codes_)] for r in (incremental, rebuilt)
    ]
    assert np.array_equal(tables[0], tables[1])
    rows = np.arange(len(incremental.need_ids_))
    assert np.allclose(incremental.score_block(rows), rebuilt.score_block(rows), atol=2e-6)
