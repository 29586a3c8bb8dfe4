"""Learning cost: the learned ranker against the cold start, at the corpus's size and larger.

Prints, per scale, the seconds to fit the cold start, to learn from decisions (judgement
decisions on half the needs), and to rank every need's top 10 with each, the ratios of
learning and ranking to the cold start's fit, and the peak memory the learning allocates
(tracemalloc). Larger scales repeat the whole corpus with new ids. Not a test: a noisy
machine compares ratios measured in one run.

    .venv/bin/python benchmarks/learning.py [--scales 1 5 10]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from dataclasses import replace

from corpus import load_corpus
from matching import LearnedRanker, TfidfRanker
from matching._evaluate import judged_decisions, split_needs


def scaled(times: int):
    needs, orgs, qrels = load_corpus()
    if times == 1:
        return needs, orgs, qrels
    out_needs, out_orgs, out_qrels = [], [], {}
    for k in range(times):
        out_needs += [replace(n, id=f"{n.id}-{k}") for n in needs]
        out_orgs += [replace(o, id=f"{o.id}-{k}") for o in orgs]
        for q, judged in qrels.items():
            out_qrels[f"{q}-{k}"] = {f"{o}-{k}": g for o, g in judged.items()}
    return out_needs, out_orgs, out_qrels


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def row(times: int) -> str:
    needs, orgs, qrels = scaled(times)
    cold, fit_s = timed(lambda: TfidfRanker().fit(needs, orgs))
    train, _ = split_needs([n.id for n in needs], seed=0)
    decisions = judged_decisions(cold, train, qrels, seed=0)
    tracemalloc.start()
    learned, learn_s = timed(lambda: LearnedRanker().fit_on(cold, decisions))
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    _, rank_cold = timed(lambda: cold.rank_orgs(top=10))
    _, rank_learned = timed(lambda: learned.rank_orgs(top=10))
    stages = f"β={learned.expansion_}, α={learned.alpha_}, calibration={learned.calibration_}"
    return (
        f"| {times}× | {len(needs)} × {len(orgs)} | {len(decisions)} | {fit_s:.2f} "
        f"| {learn_s:.2f} | {learn_s / fit_s:.2f} | {rank_cold:.2f} | {rank_learned:.2f} "
        f"| {rank_learned / rank_cold:.2f} | {peak:.0f} | {stages} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 5, 10])
    args = parser.parse_args()
    print(
        "| scale | needs × profiles | decisions | cold fit s | learn s | learn / cold fit "
        "| rank cold s | rank learned s | rank learned / cold | learn peak MiB | stages |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for times in args.scales:
        print(row(times), flush=True)


if __name__ == "__main__":
    main()
