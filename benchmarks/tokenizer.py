"""Tokenizer throughput against a bare fugashi parse of the same texts, in one run.

    python benchmarks/tokenizer.py [--repeat 5]

Prints characters per second for both and the ratio (ours / bare). The target is a
ratio of at least 0.6: normalisation, lemma choice, filtering and bigrams may cost at
most 40% on top of MeCab's own analysis. Best of ``--repeat`` interleaved rounds, so a
noisy neighbour slows both sides alike. Beside them, the bare parse with our tagger's
output (four columns a word instead of UniDic's default eight: ``_tokenize._tagger``).
"""

from __future__ import annotations

import argparse
import time

import fugashi

from corpus import load_corpus
from matching import JapaneseTokenizer
from matching._tokenize import _tagger


def texts() -> list[str]:
    needs, orgs, _ = load_corpus()
    out = [" ".join((n.title, n.description, n.goal)) for n in needs]
    out += [" ".join((o.activities, o.offerings, o.wishes)) for o in orgs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copies", type=int, default=5, help="passes over the corpus per round")
    args = parser.parse_args()
    docs = texts() * args.copies
    chars = sum(len(d) for d in docs)
    bare = fugashi.Tagger()
    narrow = _tagger()
    ours = JapaneseTokenizer()
    ours("warm up")
    bare.parse("warm up")
    best_bare = best_narrow = best_ours = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for d in docs:
            bare.parse(d)
        best_bare = min(best_bare, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for d in docs:
            narrow.parse(d)
        best_narrow = min(best_narrow, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for d in docs:
            ours(d)
        best_ours = min(best_ours, time.perf_counter() - t0)
    print(f"documents per round: {len(docs):,}  characters: {chars:,}")
    print(f"bare fugashi parse : {chars / best_bare:12,.0f} chars/s  ({best_bare:.3f} s)")
    print(f"  our output format: {chars / best_narrow:12,.0f} chars/s  ({best_narrow:.3f} s)")
    print(f"JapaneseTokenizer  : {chars / best_ours:12,.0f} chars/s  ({best_ours:.3f} s)")
    ratio = best_bare / best_ours
    verdict = "met" if ratio >= 0.6 else "NOT met"
    print(f"ratio ours/bare    : {ratio:.2f}x  (target >= 0.60x: {verdict})")


if __name__ == "__main__":
    main()
