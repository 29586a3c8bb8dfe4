"""kyodo-match's own Japanese data set: needs, profiles and hand-made judgements.

See corpus/README.md for how it was made. Loaders go through ``matching``'s readers,
so the corpus is read exactly as any coordinator's file would be.
"""

from __future__ import annotations

from pathlib import Path

from matching import Need, Organization, load_needs, load_organizations, load_qrels

__all__ = ["DATA_DIR", "NEEDS_PATH", "NPOS_PATH", "QRELS_PATH", "load_corpus"]

DATA_DIR = Path(__file__).resolve().parent / "data"
NEEDS_PATH = DATA_DIR / "needs.csv"
NPOS_PATH = DATA_DIR / "npos.csv"
QRELS_PATH = DATA_DIR / "qrels.csv"


def load_corpus() -> tuple[list[Need], list[Organization], dict[str, dict[str, int]]]:
    """The bundled needs, profiles and graded judgements ``{need_id: {npo_id: grade}}``."""
    return (
        load_needs(NEEDS_PATH).items,
        load_organizations(NPOS_PATH).items,
        load_qrels(QRELS_PATH),
    )
