"""The profiles' vectors as columns, kept through edits (#14).

A need's text score against every profile is its query row times the profiles' vectors
as columns (terms × profiles). Each edit replaces the profiles' vectors (copy on write),
and the first ranking after it transposed all of them again: 50 ms per edit at 50,000
profiles. ``Columns`` keeps the columns of an earlier state and, beside them, the rows of
the profiles added or changed since; a product takes the earlier columns' values for the
unchanged profiles and the new rows' for the others. The numbers are the same: a sparse
product adds each value over the need's terms in the need's order, whatever the other
columns. Once the rows kept beside grow past a share of the profiles, the columns are
made again from the current vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ._kernels import dense_product

if TYPE_CHECKING:
    from ._splice import Splice

__all__ = ["Columns"]

# rows kept beside the columns, at most: this many, or this share of the profiles
_EXTRA_MIN = 256
_EXTRA_SHARE = 1 / 32


@dataclass(frozen=True)
class Columns:
    """``base``: the vectors of an earlier state, transposed (terms × its profiles);
    ``base_at``: each current profile's column in it (-1: none); ``extra``: the vectors of
    the profiles added or changed since (rows); ``extra_at``: each current profile's row
    in it (-1: none). Every current profile has exactly one of the two. ``vectors``: the
    profiles' vectors these are the columns of (the ranker's ``org_vectors_``, checked
    by identity before use)."""

    base: sp.csr_matrix
    base_at: np.ndarray
    extra: sp.csr_matrix | None
    extra_at: np.ndarray
    vectors: sp.csr_matrix = field(repr=False, compare=False)

    @classmethod
    def of(cls, vectors: sp.csr_matrix) -> Columns:
        n = vectors.shape[0]
        at, none = np.arange(n, dtype=np.intp), np.full(n, -1, dtype=np.intp)
        return cls(vectors.T.tocsr(), at, None, none, vectors)

    def spliced(
        self, vectors: sp.csr_matrix, splice: Splice, fresh: sp.csr_matrix | None
    ) -> Columns | None:
        """After ``splice`` made ``vectors``: ``fresh`` the vectors of its fresh rows (added
        or changed profiles), in order. ``None`` when the rows kept beside would pass
        their limit."""
        fresh_at = splice.fresh_at
        none = np.full(len(fresh_at), -1, dtype=np.intp)
        base_at = splice.array(self.base_at, none)
        old_extra = splice.array(self.extra_at, none)
        kept = np.flatnonzero(old_extra >= 0)
        parts = []
        extra_at = np.full(len(base_at), -1, dtype=np.intp)
        if len(kept):
            assert self.extra is not None
            parts.append(self.extra[old_extra[kept]])
            extra_at[kept] = np.arange(len(kept))
        if len(fresh_at):
            assert fresh is not None and fresh.shape[0] == len(fresh_at)
            parts.append(fresh)
            extra_at[fresh_at] = len(kept) + np.arange(len(fresh_at))
        rows = len(kept) + len(fresh_at)
        if rows > max(_EXTRA_MIN, _EXTRA_SHARE * len(base_at)):
            return None
        extra = sp.vstack(parts, format="csr") if parts else None
        return Columns(self.base, base_at, extra, extra_at, vectors)

    def product(self, queries: sp.csr_matrix) -> np.ndarray:
        """``queries`` (rows) times every current profile's vector: queries × profiles."""
        if self.extra is None and len(self.base_at) == self.base.shape[1]:
            if np.array_equal(self.base_at, np.arange(len(self.base_at))):  # as made
                return dense_product(queries, self.base)
        n = len(self.base_at)
        out = np.zeros((queries.shape[0], n), dtype=np.result_type(queries.dtype, self.base.dtype))
        in_base = np.flatnonzero(self.base_at >= 0)
        if len(in_base):
            out[:, in_base] = dense_product(queries, self.base)[:, self.base_at[in_base]]
        in_extra = np.flatnonzero(self.extra_at >= 0)
        if len(in_extra):
            assert self.extra is not None
            extra = dense_product(queries, self.extra.T.tocsr())
            out[:, in_extra] = extra[:, self.extra_at[in_extra]]
        return out
