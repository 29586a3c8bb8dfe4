"""What the diversity option costs and buys, per corpus part, in one run.

    python benchmarks/diversity.py

For each strength: nDCG@10, and how concentrated the top-10 lists are (the most lists one
profile appears in, how many distinct profiles appear at all).
"""

from __future__ import annotations

import collections

from corpus import PARTS, load_corpus
from matching import TfidfRanker, evaluate_ranker


def main() -> None:
    print("| part | diversity | nDCG@10 | most top-10 lists of one profile | distinct in top-10 |")
    print("|---|---:|---:|---:|---:|")
    for part in PARTS:
        needs, orgs, qrels = load_corpus((part,))
        for strength in (0.0, 0.15, 0.3):
            ranker = TfidfRanker(diversity=strength)
            result = evaluate_ranker(ranker, needs, orgs, qrels, name=str(strength))
            seen = collections.Counter(o for _, r in ranker.rank_orgs(top=10) for o, _ in r)
            print(
                f"| {part} | {strength} | {result.metrics['nDCG@10']:.4f} | "
                f"{seen.most_common(1)[0][1]} | {len(seen)} |"
            )


if __name__ == "__main__":
    main()
