"""BM25 over the profiles with its statistics frozen at the cold start's fit (#14).

BM25 scores a word of a profile by the word's rarity among the profiles (IDF) and the
profile's length against their mean. bm25s computes both from the documents it indexes,
so a profile registered or edited moved every profile's scores, and under a learned
model every need had to be ranked again (97 s at 50,000 profiles). The TF-IDF cold start
keeps the vocabulary and IDF of its fit until the next one (``TfidfRanker.upsert``);
BM25 now does the same: ``Bm25Stats`` are computed once from the profiles the cold start
was fitted on (``TfidfRanker.fit_orgs_``), and ``Bm25Parts`` scores the current profiles
with them. An edit then changes only the edited profile's scores; a word no profile had
at the fit scores nothing until the next fit, as in TF-IDF.

Over the fit's own profiles the numbers are bm25s's (its default Lucene variant), float
for float: the same IDF in float32, the same mean length, each part computed in the same
order of operations (``tests/test_bm25_scores.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["PLACEHOLDER", "Bm25Parts", "Bm25Stats", "with_placeholders"]

# bm25s cannot index an empty document: a token no query contains stands in for its words
PLACEHOLDER = "\u0000"


def with_placeholders(docs: Sequence[list[str]]) -> list[list[str]]:
    """``docs`` as bm25s indexes them: an empty one (or none at all) as ``PLACEHOLDER``."""
    return [d or [PLACEHOLDER] for d in docs] or [[PLACEHOLDER]]


@dataclass(frozen=True, eq=False)
class Bm25Stats:
    """What BM25 reads of the whole collection: each word's id and IDF (float32, Lucene's
    ``log(1 + (N − df + 0.5) / (df + 0.5))``), the documents' mean length, ``k1`` and ``b``."""

    vocab: dict[str, int]
    idf: np.ndarray
    mean_length: float
    k1: float = 1.5
    b: float = 0.75

    @classmethod
    def of(cls, docs: Sequence[list[str]], *, k1: float = 1.5, b: float = 0.75) -> Bm25Stats:
        """The statistics of ``docs`` (token lists), as bm25s's ``index`` computes them."""
        placed = with_placeholders(docs)
        vocab: dict[str, int] = {}
        frequency: list[int] = []
        for doc in placed:
            for token in set(doc):
                at = vocab.setdefault(token, len(vocab))
                if at == len(frequency):
                    frequency.append(0)
                frequency[at] += 1
        n = len(placed)
        idf = np.array(
            [math.log(1 + (n - df + 0.5) / (df + 0.5)) for df in frequency], dtype=np.float32
        )
        mean_length = float(np.array([len(d) for d in placed]).mean())
        return cls(vocab, idf, mean_length, k1, b)

    def token_ids(self, tokens: Sequence[str]) -> list[int]:
        """The ids of ``tokens`` in order, repeats kept; a word not in the vocabulary left out."""
        vocab = self.vocab
        return [vocab[t] for t in tokens if t in vocab]


class Bm25Parts:
    """Each (document, word) pair's part of a BM25 score under ``stats``: by word
    (``data``, ``indices``, ``indptr``: a CSC matrix, documents × words) for scoring
    every document, and by document (``by_doc``, CSR, sorted) for a few."""

    def __init__(self, docs: Sequence[list[str]], stats: Bm25Stats) -> None:
        self._set(stats, _parts(with_placeholders(docs), stats))

    @classmethod
    def of_parts(cls, by_doc: sp.csr_matrix, stats: Bm25Stats) -> Bm25Parts:
        """The parts ``by_doc`` (another instance's, over the same documents and
        ``stats``), as they are: a read-only memory map stays one (``spliced`` copies)."""
        out = cls.__new__(cls)
        out._set(stats, by_doc)
        return out

    def _set(self, stats: Bm25Stats, by_doc: sp.csr_matrix) -> None:
        self.stats = stats
        self.num_docs = by_doc.shape[0]
        self.by_doc = by_doc
        self._by_word: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def by_word(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parts by word (CSC ``data``, ``indices``, ``indptr``), made at the first
        ``scores``: an edit's ranking reads its pairs by document (``pairs``) once each
        need's best is kept, and spliced parts (``spliced``) made them for nothing
        (50 ms at 50,000 profiles)."""
        if self._by_word is None:
            by_word = self.by_doc.tocsc()
            by_word.sort_indices()
            self._by_word = (by_word.data, by_word.indices, by_word.indptr)
        return self._by_word

    def spliced(self, docs: Sequence[list[str]], source: np.ndarray) -> Bm25Parts:
        """The parts of ``docs`` (the documents after an edit) from these: a document
        whose old row ``source`` gives keeps its parts, which depend on its own words and
        the frozen statistics alone; the others (``-1``: new or changed) are computed. The
        same numbers as ``Bm25Parts(docs, self.stats)``, at the cost of the rows changed
        and one copy of the others (not of every document's words read again)."""
        source = np.asarray(source, dtype=np.intp)
        if not len(docs) or len(source) != len(docs):
            return Bm25Parts(docs, self.stats)
        fresh = np.flatnonzero(source < 0)
        take = source.copy()
        stacked = self.by_doc
        if len(fresh):
            made = _parts(with_placeholders([docs[i] for i in fresh.tolist()]), self.stats)
            take[fresh] = stacked.shape[0] + np.arange(len(fresh))
            stacked = sp.vstack([stacked, made], "csr")
        return Bm25Parts.of_parts(stacked[take], self.stats)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """The query ``tokens`` against every document (float32); zeros for no tokens.

        As bm25s's ``get_scores``: each token's parts added in the query's order, a
        repeated token again (a token's parts name each document once, so a fancy-indexed
        ``+=`` adds what its ``np.add.at`` adds, about 3× faster)."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        data, indices, indptr = self.by_word()
        for t in self.stats.token_ids(tokens):
            start, end = indptr[t], indptr[t + 1]
            out[indices[start:end]] += data[start:end]
        return out

    def against(self, queries: Sequence[list[str]], docs: Sequence[int]) -> np.ndarray:
        """Every query against each of a few ``docs`` (``docs`` × queries, float64): the
        numbers of ``scores``, summed in float64 (within float32's last digits of them),
        all queries at once."""
        return self.against_ids(
            [np.asarray(self.stats.token_ids(q), dtype=np.int64) for q in queries], docs
        )

    def against_ids(self, ids: Sequence[np.ndarray], docs: Sequence[int]) -> np.ndarray:
        """``against`` for queries given as their token ids (``Bm25Stats.token_ids``)."""
        lengths = np.array([len(x) for x in ids], dtype=np.int64)
        flat = np.concatenate([*ids, np.zeros(0, dtype=np.int64)]).astype(np.int64)
        ends = np.cumsum(lengths)
        out = np.zeros((len(docs), len(ids)))
        for k, d in enumerate(docs):
            row = np.zeros(len(self.stats.idf))
            start, end = self.by_doc.indptr[d], self.by_doc.indptr[d + 1]
            row[self.by_doc.indices[start:end]] = self.by_doc.data[start:end]
            running = np.concatenate([[0.0], np.cumsum(row[flat])])
            out[k] = running[ends] - running[ends - lengths]
        return out

    def pairs(self, queries: list[list[str]], docs: np.ndarray) -> np.ndarray:
        """``scores(queries[k])[docs[k]]`` for every ``k``, the same numbers, from those
        documents' parts alone: a few documents against many queries."""
        by_doc = self.by_doc
        out = np.zeros(len(docs), dtype=np.float32)
        known: dict[int, np.ndarray] = {}  # each query's token ids, by the list (pairs share one)
        for k, (q, d) in enumerate(zip(queries, docs.tolist(), strict=True)):
            ids = known.get(id(q))
            if ids is None:
                ids = known[id(q)] = np.asarray(self.stats.token_ids(q), dtype=np.int64)
            start, end = by_doc.indptr[d], by_doc.indptr[d + 1]
            if not len(ids) or start == end:
                continue
            tokens, parts = by_doc.indices[start:end], by_doc.data[start:end]
            at = np.minimum(np.searchsorted(tokens, ids), end - start - 1)
            # each token's part (none if the document lacks it), added one by one in the
            # query's order, as ``scores`` adds them
            taken = np.where(tokens[at] == ids, parts[at], 0).astype(np.float32)
            out[k] = np.cumsum(taken, dtype=np.float32)[-1]
        return out


def _parts(placed: Sequence[list[str]], stats: Bm25Stats) -> sp.csr_matrix:
    """Each (document, word) pair's part under ``stats``: documents × words, CSR with
    sorted indices, float32 (``placed``: no empty document, ``with_placeholders``)."""
    vocab = stats.vocab
    lengths = np.array([len(d) for d in placed], dtype=np.int64)
    ids = np.array([vocab.get(t, -1) for d in placed for t in d], dtype=np.int64)
    rows = np.repeat(np.arange(len(placed)), lengths)
    known = ids >= 0
    shape = (len(placed), len(stats.idf))
    counts = sp.csr_matrix(
        (np.ones(int(known.sum())), (rows[known], ids[known])), shape=shape
    )  # duplicates summed: each word's count in the document
    counts.sum_duplicates()
    doc_of = np.repeat(np.arange(len(placed)), np.diff(counts.indptr))
    k1, b = stats.k1, stats.b
    # bm25s: tf / (k1 × ((1 − b) + b × length / mean length) + tf) × idf, in float64,
    # stored in float32
    norm = k1 * ((1 - b) + b * lengths[doc_of] / np.float64(stats.mean_length))
    tf = counts.data
    parts = stats.idf[counts.indices].astype(np.float64) * (tf / (norm + tf))
    by_doc = sp.csr_matrix((parts.astype(np.float32), counts.indices, counts.indptr), shape=shape)
    by_doc.sort_indices()
    return by_doc
