"""Scale: the cold-start ranker at a prefecture's or the nation's size, beside bm25s and
scikit-learn TF-IDF over the same fugashi tokens, in one run.

For each scale N (profiles; needs = N / 5), data recombined from the bundled corpus
(seeded: each profile takes a corpus profile's name, fields and area, and sentences of two
corpus profiles' activities and menus; each need likewise), then, in a fresh process per
scale:

- ours: fit (tokenising included), rank every need's top 10, one need (p50/p95 over 50
  needs), one profile's needs (reverse, p50/p95 over 50 profiles), upsert of one profile
  and the refresh after it (the needs it can move, found and ranked again: the service's
  stored suggestions),
  a remove of nothing indexed, upsert and removal of one need, a rebuild of every derived
  row, explaining one need's top 10, and the peak resident memory (``ru_maxrss``), with
  the private part's peak and the file-backed part (MeCab's dictionary, mapped) beside it;
- bm25s: tokenising and indexing the profiles, one need's query (p50/p95);
- scikit-learn ``TfidfVectorizer`` over the same tokens: fitting, one need's query.

Not a test: a noisy machine compares ratios measured in one run.

    .venv/bin/python benchmarks/scale.py [--scales 5000 10000 25000 50000]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np

from corpus import load_corpus
from matching import JapaneseTokenizer, Need, Organization, TfidfRanker, needs_to_rerank, top_k

_SENTENCE = re.compile(r"[^。]+。?")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.findall(text) if s.strip()]


def recombined(n_orgs: int, seed: int = 0) -> tuple[list[Need], list[Organization]]:
    needs, orgs, _ = recombined_judged(n_orgs, seed)
    return needs, orgs


def recombined_judged(
    n_orgs: int, seed: int = 0
) -> tuple[list[Need], list[Organization], dict[str, dict[str, int]]]:
    """``recombined``, and judgements for it: a need's grade for a profile is the
    corpus's for the items they were made from (their name, fields and area)."""
    needs, orgs, qrels = load_corpus()
    rng = random.Random(seed)

    def mix(a: str, b: str) -> str:
        parts = _sentences(a)[:2] + _sentences(b)[:2]
        return "".join(parts) or a

    out_orgs = []
    made_from: dict[str, list[str]] = {}
    for k in range(n_orgs):
        base, other = rng.choice(orgs), rng.choice(orgs)
        out_orgs.append(
            replace(
                base,
                id=f"P{k:06d}",
                name=f"{base.name}{k}",
                activities=mix(base.activities, other.activities),
                offerings=mix(base.offerings, other.offerings),
            )
        )
        made_from.setdefault(base.id, []).append(f"P{k:06d}")
    out_needs = []
    out_qrels: dict[str, dict[str, int]] = {}
    for k in range(n_orgs // 5):
        base, other = rng.choice(needs), rng.choice(needs)
        out_needs.append(
            replace(base, id=f"N{k:06d}", description=mix(base.description, other.description))
        )
        out_qrels[f"N{k:06d}"] = {
            p: grade for o, grade in qrels.get(base.id, {}).items() for p in made_from.get(o, [])
        }
    return out_needs, out_orgs, out_qrels


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


class _Resident:
    """Resident memory as Linux splits it (``/proc/self/status``): private (``RssAnon``:
    the heap, the arrays) and file-backed (``RssFile``: mapped files, above all MeCab's
    dictionary, ``sys.dic`` and ``matrix.bin``, which every process mapping them shares
    and the kernel can drop). ``ru_maxrss`` is the peak of their sum; the private peak is
    sampled here every 5 ms by a thread (0 where there is no ``/proc``)."""

    def __init__(self) -> None:
        self.private_peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def now() -> dict[str, float]:
        try:
            with open("/proc/self/status") as status:
                lines = [line.split() for line in status if line.startswith("Rss")]
        except OSError:
            return {}
        return {line[0].rstrip(":"): int(line[1]) / 1024 for line in lines}

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.private_peak = max(self.private_peak, self.now().get("RssAnon", 0.0))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.private_peak


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def one_scale(n_orgs: int) -> dict[str, float]:
    import bm25s
    from sklearn.feature_extraction.text import TfidfVectorizer

    resident = _Resident()
    needs, orgs = recombined(n_orgs)
    rng = random.Random(1)
    some_needs = [n.id for n in rng.sample(needs, min(50, len(needs)))]
    some_orgs = [o.id for o in rng.sample(orgs, min(50, len(orgs)))]
    out: dict[str, float] = {"profiles": len(orgs), "needs": len(needs)}
    ranker, out["fit"] = _timed(lambda: TfidfRanker().fit(needs, orgs))
    every, out["rank_all"] = _timed(lambda: ranker.rank_orgs(top=10))
    times = [_timed(lambda q=q: ranker.rank_orgs([q], top=10))[1] for q in some_needs]
    out["one_need_p50"], out["one_need_p95"] = _percentiles(times)
    times = [_timed(lambda o=o: ranker.rank_needs([o], top=10))[1] for o in some_orgs]
    out["one_profile_p50"], out["one_profile_p95"] = _percentiles(times)
    top = [o for o, _ in ranker.rank_orgs([some_needs[0]], top=10)[0][1]]
    _, out["explain_top10"] = _timed(lambda: ranker.explain_many(some_needs[0], top))
    # a group on at least one need's list: its edit moves lists
    listed = ranker.orgs_[ranker.org_index_[top[0]]]
    edited = replace(listed, activities=listed.activities + "新しく見守り訪問を始めました。")
    before: TfidfRanker | None = ranker
    ranker = copy.copy(ranker)  # as the service does: copy on write
    _, out["upsert_one"] = _timed(lambda: ranker.upsert(orgs=[edited]))

    lists = {n: [(o, s) for o, s in r if s > 0] for n, r in every}  # the service keeps these

    def refresh() -> int:
        """The service's refresh after the edit: the needs it can move, ranked again."""
        scope = needs_to_rerank(before, ranker, lists, top=10)
        assert scope is not None
        ranker.rank_orgs(scope.needs, top=10)
        return len(scope.needs)

    out["refresh_needs"], out["refresh_one"] = _timed(refresh)
    # refreshed, the service lets the old index go (``service/refresh.py``: its last
    # refresh's lists name the new one); kept here through the rebuild, it held a second
    # copy of every derived row at the peak (1,044-1,061 MiB at 50,000 profiles)
    before = None
    _, out["remove_nothing"] = _timed(lambda: ranker.remove(org_ids=["no-such-id"]))
    need = replace(needs[0], goal=needs[0].goal + "見守り訪問の担い手を増やしたい。")
    _, out["upsert_need"] = _timed(lambda: ranker.upsert(needs=[need]))
    _, out["remove_need"] = _timed(lambda: ranker.remove(need_ids=[needs[1].id]))
    _, out["rebuild"] = _timed(ranker.rebuild)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["peak_private_mib"] = resident.stop()
    out["file_backed_mib"] = resident.now().get("RssFile", 0.0)

    tokenizer = JapaneseTokenizer()

    def org_tokens() -> list[list[str]]:
        return [tokenizer(" ".join((o.activities, o.offerings, o.wishes))) for o in orgs]

    def build_bm25() -> bm25s.BM25:
        index = bm25s.BM25()
        index.index([t or ["\u0000"] for t in org_tokens()], show_progress=False)
        return index

    index, out["bm25s_fit"] = _timed(build_bm25)
    need_tokens = {
        n.id: tokenizer(" ".join((n.title, n.description, n.goal)))
        for n in needs
        if n.id in set(some_needs)
    }

    def bm25_query(q: str) -> object:
        scores = index.get_scores(need_tokens[q])
        return top_k(np.asarray(scores), 10)

    times = [_timed(lambda q=q: bm25_query(q))[1] for q in some_needs]
    out["bm25s_one_need_p50"], out["bm25s_one_need_p95"] = _percentiles(times)

    def build_sklearn() -> tuple[TfidfVectorizer, object]:
        vectorizer = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True)
        return vectorizer, vectorizer.fit_transform(org_tokens())

    (vectorizer, matrix), out["sklearn_fit"] = _timed(build_sklearn)

    def sklearn_query(q: str) -> object:
        row = vectorizer.transform([need_tokens[q]])
        return top_k((row @ matrix.T).toarray().ravel(), 10)  # type: ignore[attr-defined]

    times = [_timed(lambda q=q: sklearn_query(q))[1] for q in some_needs]
    out["sklearn_one_need_p50"], out["sklearn_one_need_p95"] = _percentiles(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[5000, 10000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_scale(args.one)))
        return
    rows = []
    for n in args.scales:
        result = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(result.stdout.splitlines()[-1]))
        print(f"done {n}", file=sys.stderr)
    ms = 1000.0
    print(
        "| profiles | needs | fit s | ÷ bm25s build | ÷ sklearn fit | rank all s "
        "| one need p50/p95 ms | ÷ sklearn p95 | one profile p50/p95 ms | upsert one s "
        "| refresh after it s (needs) | remove nothing ms | upsert one need s "
        "| remove one need s | rebuild s "
        "| explain top 10 ms | peak RSS MiB | private peak MiB | file-backed MiB |"
    )
    print(
        "|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:"
        "|---:|---:|"
    )
    for r in rows:
        print(
            f"| {r['profiles']:,.0f} | {r['needs']:,.0f} | {r['fit']:.1f} "
            f"| {r['fit'] / r['bm25s_fit']:.1f}× | {r['fit'] / r['sklearn_fit']:.1f}× "
            f"| {r['rank_all']:.1f} "
            f"| {r['one_need_p50'] * ms:.0f} / {r['one_need_p95'] * ms:.0f} "
            f"| {r['one_need_p95'] / r['sklearn_one_need_p95']:.1f}× "
            f"| {r['one_profile_p50'] * ms:.0f} / {r['one_profile_p95'] * ms:.0f} "
            f"| {r['upsert_one']:.2f} | {r['refresh_one']:.2f} ({r['refresh_needs']:,.0f}) "
            f"| {r['remove_nothing'] * ms:.2f} "
            f"| {r['upsert_need']:.2f} | {r['remove_need']:.2f} | {r['rebuild']:.1f} "
            f"| {r['explain_top10'] * ms:.0f} | {r['peak_rss_mib']:.0f} "
            f"| {r['peak_private_mib']:.0f} | {r['file_backed_mib']:.0f} |"
        )
    print()
    print(
        "| profiles | bm25s build s | one need p50/p95 ms | sklearn fit s | one need p50/p95 ms |"
    )
    print("|---:|---:|---|---:|---|")
    for r in rows:
        print(
            f"| {r['profiles']:,.0f} | {r['bm25s_fit']:.1f} "
            f"| {r['bm25s_one_need_p50'] * ms:.1f} / {r['bm25s_one_need_p95'] * ms:.1f} "
            f"| {r['sklearn_fit']:.1f} "
            f"| {r['sklearn_one_need_p50'] * ms:.1f} / {r['sklearn_one_need_p95'] * ms:.1f} |"
        )


if __name__ == "__main__":
    main()
