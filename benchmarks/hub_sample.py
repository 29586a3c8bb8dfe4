"""The hubness sample's ranking cost at scale (#14): past ``HUB_SAMPLE`` needs the
profiles' hubness and reciprocal ranks are measured on a seeded sample of the needs;
this prints what that costs against measuring them over every need (the full-pair
method), in one run.

For each scale N (profiles; needs = N / 5; data and judgements recombined from the
corpus as in ``benchmarks/scale.py``: a need's grade for a profile is the corpus's for
the items they were made from) and each sample size (the last, larger than any need
count, is the full-pair method), in a fresh process: the fit's time, nDCG@10 of every
need's top 10 against the recombined judgements, and how much of each top 10 (and which
first) the full-pair method's lists share.

Not a test: a noisy machine compares the figures of one run.

    .venv/bin/python benchmarks/hub_sample.py [--scales 25000 50000] [--samples 2000 5000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from scale import recombined_judged

from matching import TfidfRanker, _ranker, evaluate_rankings

EVERY_NEED = 10**9


def one_run(n_orgs: int, sample: int) -> dict[str, object]:
    needs, orgs, qrels = recombined_judged(n_orgs)
    _ranker.HUB_SAMPLE = sample
    start = time.perf_counter()
    ranker = TfidfRanker().fit(needs, orgs)
    fit = time.perf_counter() - start
    lists = {n: [o for o, _ in r] for n, r in ranker.rank_orgs(top=10)}
    ndcg = evaluate_rankings(lists, qrels).metrics["nDCG@10"]
    return {"fit": fit, "ndcg": ndcg, "lists": lists}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[25000, 50000])
    parser.add_argument("--samples", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--one", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(*args.one)))
        return
    print(
        "| profiles | needs | hubness measured on | fit s | nDCG@10 | Δ full-pair "
        "| top-10 shared with full-pair | same first |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for n in args.scales:
        runs = {}
        # a sample as large as the needs (N / 5) is the full-pair method itself
        for sample in [*(s for s in args.samples if s < n // 5), EVERY_NEED]:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(n), str(sample)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[sample] = json.loads(out.stdout.splitlines()[-1])
            print(f"done {n} {sample}", file=sys.stderr)
        full = runs[EVERY_NEED]
        needs = len(full["lists"])
        for sample, run in runs.items():
            shared = np.mean(
                [len(set(run["lists"][k]) & set(v)) / 10 for k, v in full["lists"].items()]
            )
            first = np.mean([run["lists"][k][:1] == v[:1] for k, v in full["lists"].items()])
            what = "every need" if sample >= needs else f"{sample:,} needs"
            print(
                f"| {n:,} | {needs:,} | {what} | {run['fit']:.1f} | {run['ndcg']:.4f} "
                f"| {run['ndcg'] - full['ndcg']:+.4f} | {shared:.3f} | {first:.3f} |"
            )


if __name__ == "__main__":
    main()
