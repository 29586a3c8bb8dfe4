"""What a decision says of its own pair: in a ranking that pins the decided pairs, a
need's confirmed groups come first and its rejected ones last (``LearnedRanker.rank_orgs``
with ``pin_decided``), so a list never contradicts what the coordinator decided."""

from __future__ import annotations

import numpy as np

from ._explain import SCORE_DECIMALS

__all__ = ["decided_pins", "pin", "with_pinned"]


def with_pinned(candidates: np.ndarray, pinned: dict[int, float]) -> np.ndarray:
    """``candidates`` and the pinned rows that are not among them (in row order)."""
    extra = sorted(set(pinned) - set(candidates.tolist()))
    return np.concatenate([candidates, np.array(extra, dtype=np.intp)]) if extra else candidates


def pin(scores: np.ndarray, rows: np.ndarray, pinned: dict[int, float]) -> np.ndarray:
    """``scores`` of ``rows`` moved up where confirmed and down where rejected, by a whole
    number larger than any score of the list (scores are ≥ 0): confirmed above, rejected
    below every undecided row, each kind kept in its own order."""
    if not pinned:
        return scores
    step = float(np.floor(np.abs(scores).max())) + 1.0 if len(scores) else 1.0
    offsets = np.array([pinned.get(r, 0.0) for r in rows.tolist()])
    return np.round(scores + step * offsets, SCORE_DECIMALS)


def decided_pins(
    decided: dict[tuple[int, int], float], *, by_need: bool
) -> dict[int, dict[int, float]]:
    """The decided pairs (``{(need row, organisation row): ±1}``) keyed by need row (or
    organisation row): ``{other row: ±1}``."""
    out: dict[int, dict[int, float]] = {}
    for (i, j), sign in decided.items():
        key, other = (i, j) if by_need else (j, i)
        out.setdefault(key, {})[other] = sign
    return out
