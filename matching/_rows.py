"""Rows kept by id for the ranker's incremental updates (``upsert``, ``remove``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import scipy.sparse as sp

from ._schema import Need, Organization

__all__ = ["merge_rows", "stack_rows"]

Item = TypeVar("Item", Need, Organization)


def merge_rows(
    current: list[Item],
    matrix: sp.csr_matrix,
    new: Sequence[Item],
    transform: Callable[[Sequence[Item]], sp.csr_matrix],
) -> dict[str, tuple[Item, sp.csr_matrix]]:
    """Rows by id: the current ones, replaced or joined by the newly vectorised ``new``."""
    rows = {item.id: (item, matrix[i]) for i, item in enumerate(current)}
    if new:
        vectors = transform(list(new))
        for k, item in enumerate(new):
            rows[item.id] = (item, vectors[k])
    return rows


def stack_rows(
    rows: dict[str, tuple[Item, sp.csr_matrix]], width: int
) -> tuple[list[Item], sp.csr_matrix]:
    """Items sorted by id and their vectors stacked in the same order."""
    ordered = [rows[k] for k in sorted(rows)]
    items = [item for item, _ in ordered]
    if not ordered:
        return items, sp.csr_matrix((0, width))
    return items, sp.vstack([v for _, v in ordered], format="csr")
