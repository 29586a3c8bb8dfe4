"""Demo on the bundled corpus: the best suggestions for a few needs, with their reasons.

python -m corpus [--needs N] [--top K]
"""

from __future__ import annotations

import argparse

from matching import TfidfRanker

from . import load_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--needs", type=int, default=5, help="how many needs to show")
    parser.add_argument("--top", type=int, default=3, help="suggestions per need")
    args = parser.parse_args()
    needs, orgs, _ = load_corpus()
    ranker = TfidfRanker().fit(needs, orgs)
    print(f"若葉市コーパス: 課題 {len(needs)} 件・団体 {len(orgs)} 件から協働の種を提案します。\n")
    step = max(1, len(needs) // args.needs)
    shown = [n.id for n in needs[::step][: args.needs]]
    for need_id, ranking in ranker.rank_orgs(shown, top=args.top):
        need = ranker.needs_[ranker.need_index_[need_id]]
        print(f"■ {need.id}「{need.title}」（{need.department}）")
        for rank, (org_id, score) in enumerate(ranking, start=1):
            org = ranker.orgs_[ranker.org_index_[org_id]]
            print(f"  {rank}. {org.name}（{org.id}） スコア {score:.3f}")
            for reason in ranker.explain(need_id, org_id, max_terms=5).reasons_ja():
                print(f"     - {reason}")
        print()


if __name__ == "__main__":
    main()
