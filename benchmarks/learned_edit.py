"""Edit cost under a promoted learned model (#14): what one edit costs the learned ranker
and the refresh of the stored suggestions after it, rebound in full (before) and
incrementally (after), at a prefecture's size.

For each scale N (profiles; needs = N / 5, recombined from the corpus as in
``scale.py``, seeded), in a fresh process: the cold start is fitted; a coordinator's
decisions are synthesised from the recombined data's judgements (``simulate_decisions``:
the top 10 of a seeded sample of needs, confirmed where judged relevant, else rejected
with the reason the pair's signals give; ``--protocol``: another way); the learned
ranker learns from them, is built again from the stages its validation chose (as a
start does: ``_learn_stages``), and ranks every need (the service's first refresh, which
also gives each need's last candidate).
Then, for each edit, on a copy of the cold start as the service makes one:

- ``full bind``: ``_bind`` over the edited cold start (what ``rebind`` did before), and
  the first ranking after it (it tokenises every text again for BM25);
- ``rebind``: the incremental ``rebind`` (the rows changed), and its first ranking;
- the refresh: ``needs_to_rerank`` for the learned model and its rebind, and ranking the
  needs it names; before, every need was ranked.

Also one need's groups and one group's needs (p50 / p95 over 20 each) once every need is
ranked, and one group's needs right after a profile's text was edited (the rebind keeps
no need's best score over every profile: each is scored again) and once the refresh has
ranked the needs the edit can move (the others' bests handed over: ``_carry_bests``).

Peak resident memory last. Not a test: a noisy machine compares figures of one run.

    .venv/bin/python benchmarks/learned_edit.py [--scales 10000 50000] [--sample 300]
        [--protocol review|judged|confirmed|complete]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

from scale import _percentiles, recombined_judged

from matching import Decision, LearnedRanker, TfidfRanker, needs_to_rerank
from matching._protocols import PROTOCOLS


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _latencies(rank: Any, items: list[Any]) -> tuple[float, float]:
    """p50 and p95 seconds of ``rank(item.id)`` over ``items``."""
    return _percentiles([_timed(lambda item=item: rank(item.id))[1] for item in items])


def _decisions(
    protocol: str, cold: TfidfRanker, decided: list[str], qrels: dict[str, dict[str, int]]
) -> list[Decision]:
    """``review``, ``judged`` (``matching._protocols``) or ``complete``: the top 10 of each
    decided need, the complete profiles confirmed and the rest rejected (as
    ``tests/service/test_training.py`` decides: a re-ranking model learns it)."""
    if protocol in PROTOCOLS:
        return PROTOCOLS[protocol](cold, decided, qrels, seed=0)
    complete = {
        o.id
        for o in cold.orgs_
        if o.offerings and o.wishes and o.fields and o.legal_form and len(o.activities) >= 60
    }
    return [
        Decision(q, o, "confirm" if o in complete else "reject", "体制不足")
        for q, ranking in cold.rank_orgs(decided, top=10)
        for o, _ in ranking
    ]


def one_scale(n_orgs: int, sample: int, protocol: str) -> dict[str, Any]:
    needs, orgs, qrels = recombined_judged(n_orgs)
    out: dict[str, Any] = {"profiles": len(orgs), "needs": len(needs), "protocol": protocol}
    cold, out["cold_fit"] = _timed(lambda: TfidfRanker().fit(needs, orgs))
    decided = sorted(random.Random(2).sample([n.id for n in needs], min(sample, len(needs))))
    decisions = _decisions(protocol, cold, decided, qrels)
    out["decisions"] = len(decisions)
    model, out["learn"] = _timed(lambda: LearnedRanker().fit_on(cold, decisions))
    # a start rebuilds the promoted model from the stages its report keeps (no validation)
    rebuilt, out["rebuild"] = _timed(
        lambda: LearnedRanker().fit_on(cold, decisions, stages=model.stages_)
    )
    probe = [n.id for n in needs[::50]]
    out["rebuilt_same"] = rebuilt.rank_orgs(probe, top=10) == model.rank_orgs(probe, top=10)
    del rebuilt
    # and over the fit with the rows of its items kept beside it (a start after the first)
    fit = copy.copy(cold)
    model.features_.item_rows().attach(fit)
    rebuilt, out["rebuild_rows"] = _timed(
        lambda: LearnedRanker().fit_on(fit, decisions, stages=model.stages_)
    )
    out["rebuilt_same"] &= rebuilt.rank_orgs(probe, top=10) == model.rank_orgs(probe, top=10)
    del rebuilt
    out["model"] = {
        "promoted": model.promoted_,
        "alpha": model.alpha_,
        "expansion": model.expansion_,
        "calibration": model.calibration_,
        "facts": bool(model.facts_),
    }
    floors: dict[str, float] = {}
    every, out["rank_all"] = _timed(lambda: model.rank_orgs(top=10, floors=floors))
    lists = {q: [(o, s) for o, s in r if s > 0] for q, r in every}
    # once every need is ranked (the service's refresh): one need's groups, one group's
    # needs (each need's best scores over every profile kept by that ranking)
    out["one_need"] = _latencies(lambda q: model.rank_orgs([q], top=10), needs[1::97][:20])
    out["one_profile"] = _latencies(lambda o: model.rank_needs([o], top=10), orgs[1::499][:20])
    # what the service's refresh stores beside each list: its pairs' contributions
    listed = dict(every)
    out["explain"] = _latencies(
        lambda q: model.contributions_many(q, [o for o, _ in listed[q]]), needs[1::97][:20]
    )
    first = lists[needs[0].id][0][0]
    listed = cold.orgs_[cold.org_index_[first]]
    need = needs[3]
    edits = {
        "profile text": lambda r: r.upsert(
            orgs=[replace(listed, activities=listed.activities + "新しく見守り訪問を始めました。")]
        ),
        "profile fields": lambda r: r.upsert(orgs=[replace(listed, fields=[3], areas=["南区"])]),
        "new profile": lambda r: r.upsert(
            orgs=[replace(orgs[7], id="P999999", name="新しい会", areas=["北区"])]
        ),
        "need text": lambda r: r.upsert(
            needs=[replace(need, goal=need.goal + "見守り訪問の担い手を増やしたい。")]
        ),
    }
    out["edits"] = {}
    for label, edit in edits.items():
        edited = copy.copy(cold)
        _, upsert = _timed(lambda edit=edit, edited=edited: edit(edited))
        row: dict[str, float] = {"cold_upsert": upsert}
        full = copy.copy(model)
        _, row["full_bind"] = _timed(lambda full=full, edited=edited: full._bind(edited, decisions))
        _, row["full_first"] = _timed(lambda full=full: full.rank_orgs([need.id], top=10))
        del full
        rebound = copy.copy(model)
        _, row["rebind"] = _timed(lambda rebound=rebound, edited=edited: rebound.rebind(edited))
        _, row["rebind_first"] = _timed(
            lambda rebound=rebound: rebound.rank_orgs([need.id], top=10)
        )
        if label == "profile text":  # one group's needs after the edit, before the refresh
            out["one_profile_after_edit"] = _latencies(
                lambda o, rebound=rebound: rebound.rank_needs([o], top=10), orgs[2::499][:20]
            )
        scope, row["scope"] = _timed(
            lambda rebound=rebound: needs_to_rerank(model, rebound, lists, top=10, floors=floors)
        )
        if scope is None:  # every need, as before (that ranking's time: ``rank_all``)
            row["ranked"] = len(rebound.base_.need_ids_)
            row["refresh"] = out["rank_all"]
        else:
            row["ranked"] = len(scope.needs)
            _, row["refresh"] = _timed(
                lambda rebound=rebound, scope=scope: (
                    rebound.rank_orgs(scope.needs, top=10) if scope.needs else []
                )
            )
        if label == "profile text":  # and once the refresh ranked the needs it names
            out["one_profile_after_refresh"] = _latencies(
                lambda o, rebound=rebound: rebound.rank_needs([o], top=10), orgs[2::499][:20]
            )
        out["edits"][label] = row
        del rebound
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[10000])
    parser.add_argument("--sample", type=int, default=300, help="needs decided")
    parser.add_argument(
        "--protocol", choices=[*PROTOCOLS, "complete"], default="review", help="the decisions"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_scale(args.one, args.sample, args.protocol)))
        return
    rows = []
    for n in args.scales:
        options = ["--sample", str(args.sample), "--protocol", args.protocol]
        result = subprocess.run(
            [sys.executable, __file__, "--one", str(n), *options],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(result.stdout.splitlines()[-1]))
        print(f"done {n}", file=sys.stderr)
    for r in rows:
        print(
            f"{r['profiles']:,} profiles × {r['needs']:,} needs: cold fit {r['cold_fit']:.1f} s, "
            f"{r['decisions']} decisions ({r['protocol']}), "
            f"learned in {r['learn']:.1f} s ({r['model']}), rebuilt from its stages in "
            f"{r['rebuild']:.1f} s, {r['rebuild_rows']:.1f} s over its items' kept rows "
            f"(same rankings: {r['rebuilt_same']}), "
            f"every need ranked {r['rank_all']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB"
        )
    print()
    print(
        "| profiles | one need p50 / p95 ms | one group's needs p50 / p95 ms "
        "| one group's needs after a profile's edit p50 / p95 ms | and after its refresh "
        "| one list's contributions p50 / p95 ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cells = [
            r["one_need"],
            r["one_profile"],
            r.get("one_profile_after_edit", (0.0, 0.0)),
            r.get("one_profile_after_refresh", (0.0, 0.0)),
            r["explain"],
        ]
        print(
            f"| {r['profiles']:,} | "
            + " | ".join(f"{p50 * 1e3:.0f} / {p95 * 1e3:.0f}" for p50, p95 in cells)
            + " |"
        )
    print()
    print(
        "| profiles | edit | cold upsert s | full bind s (+ first ranking) "
        "| rebind s (+ first ranking) | needs ranked again | refresh s before → after |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        for label, e in r["edits"].items():
            before = r["rank_all"]
            print(
                f"| {r['profiles']:,} | {label} | {e['cold_upsert']:.2f} "
                f"| {e['full_bind']:.2f} (+{e['full_first']:.2f}) "
                f"| {e['rebind']:.2f} (+{e['rebind_first']:.2f}) "
                f"| {e['ranked']:,} of {r['needs']:,} "
                f"| {before:.1f} → {e['scope'] + e['refresh']:.1f} |"
            )


if __name__ == "__main__":
    main()
