"""kyodo-match's own Japanese data set: needs, profiles and hand-made judgements.

The corpus comes in parts (``data/<part>/needs.csv``, ``npos.csv``, ``qrels.csv``), each
written and judged by one author for the same fictional city (若葉市), with disjoint ids.
Each part's judgements cover its own needs against its own profiles, so a part is a
complete test collection on its own; ``load_corpus()`` merges the parts (see
corpus/README.md). Loaders go through ``matching``'s readers, so the corpus is read
exactly as any coordinator's file would be.
"""

from __future__ import annotations

from pathlib import Path

from matching import Need, Organization, load_needs, load_organizations, load_qrels

__all__ = ["DATA_DIR", "PARTS", "load_corpus", "part_paths"]

DATA_DIR = Path(__file__).resolve().parent / "data"
PARTS: tuple[str, ...] = tuple(
    sorted(p.name for p in DATA_DIR.iterdir() if (p / "needs.csv").is_file())
)


def part_paths(part: str) -> tuple[Path, Path, Path]:
    """``(needs.csv, npos.csv, qrels.csv)`` of one part."""
    folder = DATA_DIR / part
    return folder / "needs.csv", folder / "npos.csv", folder / "qrels.csv"


def load_corpus(
    parts: tuple[str, ...] | None = None,
) -> tuple[list[Need], list[Organization], dict[str, dict[str, int]]]:
    """The bundled needs, profiles and graded judgements ``{need_id: {npo_id: grade}}``.

    ``parts`` picks parts by name (all by default).
    """
    needs: list[Need] = []
    orgs: list[Organization] = []
    qrels: dict[str, dict[str, int]] = {}
    for part in parts or PARTS:
        needs_path, npos_path, qrels_path = part_paths(part)
        needs += load_needs(needs_path).items
        orgs += load_organizations(npos_path).items
        qrels.update(load_qrels(qrels_path))
    for kind, ids in (("need", [n.id for n in needs]), ("npo", [o.id for o in orgs])):
        if len(ids) != len(set(ids)):
            raise ValueError(f"corpus parts share {kind} ids")
    return needs, orgs, qrels
