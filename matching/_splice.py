"""An edit's rows, copied by runs (#14).

An index keeps its rows in id order. An edit drops some rows (removed, or replaced by a
new version) and puts fresh rows among the others, each where its id sorts. Every other
row keeps its order, so the new rows are a few runs of consecutive old rows with the
fresh rows between them: one run and one fresh row for a profile registered with the
largest id, two runs for a removal or an in-place replacement.

``Splice`` finds the runs from the ids the edit names (no pass over every id in Python),
then copies each per-row array, sparse matrix or list by runs: a slice copy per run,
where gathering every row by index moved 50,000 rows one at a time, the 60 MB of word
vector rows among them, at every edit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

__all__ = ["Splice"]

T = TypeVar("T")


@dataclass(frozen=True)
class Splice:
    """``source``: each new row's old row (-1: a fresh row); ``runs``: the new rows in
    order as ``(fresh, start, length)`` pieces, ``start`` an old row for a run of old
    rows or an index among the fresh rows for a run of fresh ones; ``dropped``: the old
    rows that go, in order."""

    source: np.ndarray
    runs: tuple[tuple[bool, int, int], ...]
    dropped: np.ndarray

    @classmethod
    def of(cls, ids: Sequence[str], drop: Iterable[int], added: Sequence[str]) -> Splice:
        """The splice of an index whose rows have ``ids`` (in increasing order, as an
        index keeps them) that drops the rows ``drop`` and takes rows of the ids
        ``added`` (increasing, none of them among the rows kept)."""
        dropped = np.unique(np.fromiter(drop, dtype=np.intp))
        kept = np.delete(np.arange(len(ids), dtype=np.intp), dropped)
        # where each added id sorts among the old rows, then among the kept ones
        at = np.array([bisect_left(ids, a) for a in added], dtype=np.intp)
        at -= np.searchsorted(dropped, at)
        source = np.insert(kept, at, -1)
        return cls(source, _runs(source), dropped)

    @property
    def fresh_at(self) -> np.ndarray:
        """The fresh rows' new rows, in order."""
        return np.flatnonzero(self.source < 0)

    def array(self, old: np.ndarray, fresh: np.ndarray | None, axis: int = 0) -> np.ndarray:
        """``old``'s rows (or columns: ``axis`` 1) by this splice, ``fresh``'s between."""
        old = np.asarray(old)
        shape = list(old.shape)
        shape[axis] = len(self.source)
        out = np.empty(shape, dtype=old.dtype if fresh is None else np.result_type(old, fresh))
        lead = (slice(None),) * axis
        at = 0
        for is_fresh, start, length in self.runs:
            part = fresh if is_fresh else old
            assert part is not None
            out[(*lead, slice(at, at + length))] = part[(*lead, slice(start, start + length))]
            at += length
        return out

    def rows(self, old: Any, fresh: Any) -> Any:
        """``old``'s rows by this splice (an array or a CSR matrix), ``fresh``'s between."""
        if sp.issparse(old):
            return self.csr(old, fresh)
        return self.array(old, fresh)

    def csr(self, old: sp.csr_matrix, fresh: sp.csr_matrix | None) -> sp.csr_matrix:
        """A CSR matrix's rows by this splice: its data and indices copied by runs."""
        parts = (old, None if fresh is None else sp.csr_matrix(fresh))
        data, indices, lengths = [], [], []
        for is_fresh, start, length in self.runs:
            m = parts[is_fresh]
            assert m is not None
            a, b = m.indptr[start], m.indptr[start + length]
            data.append(m.data[a:b])
            indices.append(m.indices[a:b])
            lengths.append(np.diff(m.indptr[start : start + length + 1]))
        nnz = sum(len(d) for d in data)
        index_type = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
        indptr = np.zeros(len(self.source) + 1, dtype=index_type)
        if lengths:
            np.cumsum(np.concatenate(lengths), out=indptr[1:])
        dtype = np.result_type(*(m.dtype for m in parts if m is not None))
        return type(old)(
            (
                np.concatenate(data).astype(dtype, copy=False) if data else np.empty(0, dtype),
                np.concatenate(indices).astype(index_type, copy=False)
                if indices
                else np.empty(0, index_type),
                indptr,
            ),
            shape=(len(self.source), old.shape[1]),
        )

    def items(self, old: Sequence[T], fresh: Sequence[T]) -> list[T]:
        """A per-row list by this splice."""
        out: list[T] = []
        for is_fresh, start, length in self.runs:
            out.extend((fresh if is_fresh else old)[start : start + length])
        return out

    def index(self, old: dict[str, int], old_ids: Sequence[str], ids: list[str]) -> dict[str, int]:
        """The id → row map of the new rows ``ids`` from the old rows' (``old``, of
        ``old_ids``): copied, the dropped ids taken out and the rows from the first
        that moved or is fresh written again (every dropped row is past it)."""
        moved = np.flatnonzero(self.source != np.arange(len(self.source)))
        first = int(moved[0]) if len(moved) else len(ids)
        out = dict(old)
        for gone in self.dropped:
            del out[old_ids[gone]]
        out.update(zip(ids[first:], range(first, len(ids)), strict=True))
        return out


def _runs(source: np.ndarray) -> tuple[tuple[bool, int, int], ...]:
    """``Splice.runs`` of ``source``: a run breaks where freshness changes or an old
    row does not follow the one before."""
    if not len(source):
        return ()
    fresh = source < 0
    breaks = (fresh[1:] != fresh[:-1]) | (~fresh[1:] & (source[1:] != source[:-1] + 1))
    starts = np.flatnonzero(np.concatenate([[True], breaks]))
    ends = np.append(starts[1:], len(source))
    fresh_before: np.ndarray = np.cumsum(fresh) - fresh  # fresh rows before each row
    return tuple(
        (bool(fresh[s]), int(fresh_before[s] if fresh[s] else source[s]), int(e - s))
        for s, e in zip(starts, ends, strict=True)
    )
