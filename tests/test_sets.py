"""``python -m matching evaluate``: every set in one run, with and without structure, per
need type, and learned against cold start where a set carries decisions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from corpus import DATA_DIR, load_corpus
from matching import TfidfRanker
from matching._evaluate import judged_decisions
from matching._sets import REVERSE, default_sets, load_set, reverse_qrels, text_only

from .conftest import run_matching, write_csv


def _set_with_design(tmp_path: Path) -> Path:
    """Part b as an outside set: a type per need (by its id's parity), decisions on the
    first half of its needs, and the judgements under the devset's ``relevance`` header."""
    folder = tmp_path / "outside"
    folder.mkdir()
    for name in ("needs.csv", "npos.csv"):
        shutil.copy(DATA_DIR / "b" / name, folder / name)
    needs, orgs, qrels = load_corpus(("b",))
    write_csv(
        folder / "qrels.csv",
        ["need_id", "npo_id", "relevance"],
        [[q, o, str(g)] for q, j in sorted(qrels.items()) for o, g in sorted(j.items())],
    )
    ids = sorted(n.id for n in needs)
    write_csv(
        folder / "design.csv",
        ["need_id", "type", "partner_ids"],
        [[q, "even" if int(q[1:]) % 2 == 0 else "odd", ""] for q in ids],
    )
    cold = TfidfRanker().fit(needs, orgs)
    decided = judged_decisions(cold, ids[: len(ids) // 2], qrels)
    write_csv(
        folder / "decisions.csv",
        ["need_id", "npo_id", "decision", "reason"],
        [[d.need_id, d.npo_id, d.decision, d.reason] for d in decided],
    )
    return folder


def test_a_set_folder_is_read_with_its_types_and_decisions(tmp_path: Path) -> None:
    data = load_set(_set_with_design(tmp_path))
    assert data.name == "outside" and len(data.needs) == 65 and len(data.orgs) == 130
    assert set(data.need_types.values()) == {"even", "odd"} and data.decisions
    blank = text_only(data)
    assert blank.name == "outside (text only)"
    assert not any(n.fields or n.areas for n in blank.needs)
    assert not any(o.fields or o.areas for o in blank.orgs)
    assert any(n.fields for n in data.needs)  # the original is untouched


def test_evaluate_reports_every_set_in_one_run(tmp_path: Path) -> None:
    outside = _set_with_design(tmp_path)
    result = run_matching("evaluate", "--set", str(DATA_DIR / "c"), "--set", str(outside), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    lines = {(r["set"], r["slice"], r["ranker"]): r for r in rows}
    for name in ("c", "c (text only)", "outside", "outside (text only)"):
        for ranker in ("TF-IDF only", "BM25", "ours (cold start)"):
            assert (name, "all", ranker) in lines, (name, ranker)
    assert ("outside", "even", "ours (cold start)") in lines
    # the reverse direction: the needs for each group with a relevant need
    back = lines[("c", REVERSE, "ours (cold start)")]
    assert back["needs"] == len(reverse_qrels(load_set(DATA_DIR / "c").qrels)) > 65
    assert back["nDCG@10"] > lines[("c", REVERSE, "BM25")]["nDCG@10"]
    assert ("c", "even", "ours (cold start)") not in lines  # part c names no types
    learned = [r for r in rows if r["set"].startswith("outside: learned")]
    assert {r["ranker"].split(" (")[0] for r in learned} == {"cold start", "learned"}
    assert all(r["needs"] <= 33 for r in learned)  # measured on the undecided half only
    ours = lines[("c", "all", "ours (cold start)")]["nDCG@10"]
    assert ours > lines[("c", "all", "BM25")]["nDCG@10"]
    assert ours > lines[("c (text only)", "all", "ours (cold start)")]["nDCG@10"]
    table = run_matching("evaluate", "--set", str(DATA_DIR / "a"))
    assert table.returncode == 0 and "| a (text only) | 65 |" in table.stdout


def test_the_default_sets_are_the_corpus_parts_and_the_devset_beside_the_project() -> None:
    names = [p.name for p in default_sets()]
    assert names[:3] == ["a", "b", "c"]
    devset = Path(__file__).resolve().parents[2] / "shared" / "devset"
    assert ("devset" in names) == (devset / "needs.csv").is_file()


def test_reverse_judgements_keep_the_groups_with_a_relevant_need() -> None:
    qrels = {"N1": {"P1": 2, "P2": 0}, "N2": {"P1": 0, "P3": 1}, "N3": {"P2": 0}}
    assert reverse_qrels(qrels) == {"P1": {"N1": 2, "N2": 0}, "P3": {"N2": 1}}


def test_one_set_still_needs_all_three_files() -> None:
    needs, npos, _ = (
        str(p) for p in (DATA_DIR / "c" / "needs.csv", DATA_DIR / "c" / "npos.csv", "")
    )
    result = run_matching("evaluate", "--needs", needs, "--npos", npos)
    assert result.returncode == 2 and "[MISSING_OPTION]" in result.stderr
