"""Meaning beyond shared words: documents as weighted means of word vectors.

A need names a problem (独居, 孤立, 担い手) and the group that answers it names an
activity (お茶会, 電話, 見回り): TF-IDF sees no shared word. ``DenseEncoder`` maps each
TF-IDF vector to the mean of its terms' word vectors, weighted by the TF-IDF weights
(so rare, telling words count most), removes the collection's common direction (every
Japanese administrative text leans the same way) and its first principal direction, then
L2-normalises. The cosine of two
such vectors is high when the texts talk about related things in different words.

The word vectors are chiVe from ja-ginza (``_vectors``); a term with no vector adds
nothing. ``related_terms`` names, for a pair, the word pairs that carried the
similarity, so a coordinator reads *why* (独居 ↔ 一人暮らし) and not a number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from ._exact import on_exact_grid
from ._vectorize import FieldWeightedTfidf
from ._vectors import WordVectors, default_vectors

__all__ = ["COMPONENTS_MIN_DOCS", "DenseEncoder", "NeighbourExpander", "dense_encoder"]

# the collection size from which principal directions are removed (as LSA's, 40 documents)
COMPONENTS_MIN_DOCS = 40

# rows multiplied with the word vectors at a time (``_raw_blocks``): 4.7 MB of float64 rows
# at 300 dimensions (a rebuild's peak at 50,000 profiles: 8,192 rows 762–783 MiB private,
# 2,048 rows 742)
_ROWS = 2048
# up to this many rows, only the terms they use are upcast (``_raw_few``)
_FEW_ROWS = 64


class DenseEncoder(BaseEstimator):
    """TF-IDF rows → centred, unit dense vectors (``fit`` on the collection's rows).

    ``spellings`` gives, for every vocabulary column, the forms to look the word up by
    (its lemma, then the form a person reads).

    ``components``: how many of the collection's principal directions are removed after
    centring ("all but the top", as SIF does for sentence vectors). On every set measured
    the first one runs from abstract support wording (支援, 就労, 支援者: the register of
    needs and long profiles) to concrete activities (下草, 囃子, 堆肥): removed, a need's
    支援 wording no longer outweighs what a group actually does. Measured with one
    (README "Ranking"): the devset text only 0.824 → 0.854, its vocabulary-mismatch needs
    0.614 → 0.692; with 活動分野 and area, where the fields already carry that axis, the
    devset 0.885 → 0.880; parts a, b, c within −0.002 … +0.005. Two lost everywhere.
    """

    def __init__(self, *, vectors: WordVectors | None = None, components: int = 1) -> None:
        self.vectors = vectors
        self.components = components

    def fit(self, spellings: Sequence[Sequence[str]], docs: sp.csr_matrix) -> DenseEncoder:
        self._fit(spellings, docs)
        return self

    def fit_transform(self, spellings: Sequence[Sequence[str]], docs: sp.csr_matrix) -> np.ndarray:
        """``fit`` then ``transform(docs)``: the rows ``transform`` gives any of them later
        (a profile's edit), value for value. The product with the word vectors is made
        twice, a block of rows at a time, rather than kept for every row (at 60,000
        documents its float64 rows took 144 MB, beside 41 MB of upcast vectors and the
        72 MB result: the fit's peak)."""
        self._fit(spellings, docs)
        return self.transform(docs)

    def _fit(self, spellings: Sequence[Sequence[str]], docs: sp.csr_matrix) -> None:
        table = self.vectors or default_vectors()
        if table is None:
            raise FileNotFoundError("no word vectors (install ja-ginza)")
        found, rows = table.lookup(spellings)
        self.term_vectors_ = np.zeros((len(spellings), table.dim), dtype=np.float32)
        self.term_vectors_[found] = rows
        self.found_ = found
        # the mean and the 300 × 300 scatter of the documents' raw rows (the TF-IDF
        # weighted sums of their word vectors), summed a block of rows at a time
        n = docs.shape[0]
        total, scatter = np.zeros(table.dim), np.zeros((table.dim, table.dim))
        for _, _, raw in self._raw_blocks(docs):
            total += raw.sum(axis=0)
            scatter += raw.T @ raw
        self.mean_ = total / n if n else np.zeros(table.dim)
        # the principal directions: eigenvectors of the scatter of the centred rows (made
        # from the raw rows' scatter, no centred copy), largest first; as cheap at 60,000
        # documents as at 200, and deterministic. On a handful of documents the first
        # direction is simply their main topic (a need about elders against one about
        # bamboo): kept below COMPONENTS_MIN_DOCS
        k = self.components if n >= COMPONENTS_MIN_DOCS else 0
        if k > 0:
            scatter -= n * np.outer(self.mean_, self.mean_)
            _, vectors = np.linalg.eigh(scatter)
            self.top_ = vectors[:, ::-1][:, :k].T.copy()
        else:
            self.top_ = np.zeros((0, table.dim))

    def _raw_blocks(self, docs: sp.csr_matrix) -> Iterator[tuple[int, sp.csr_matrix, np.ndarray]]:
        """``docs`` ``_ROWS`` rows at a time: the first one's index, the rows, and their
        raw rows (float64), each row's values as in one product of every row."""
        if docs.shape[0] <= _FEW_ROWS:
            yield 0, docs, self._raw_few(docs)
            return
        # the product upcasts the float32 vectors: made once, not per block
        vectors = self.term_vectors_.astype(np.float64)
        for start in range(0, docs.shape[0], _ROWS):
            part = docs[start : start + _ROWS]
            yield start, part, np.asarray(part @ vectors)

    def _raw_few(self, docs: sp.csr_matrix) -> np.ndarray:
        """``docs @ term_vectors_`` in float64 over the terms the rows use: an edit's one
        profile upcast every term's vector (36 ms at 50,000 profiles, per edit). The
        same numbers: each row adds its stored terms in their order either way."""
        docs = docs.tocsr()
        used, at = np.unique(docs.indices, return_inverse=True)
        few = sp.csr_matrix((docs.data, at.ravel(), docs.indptr), shape=(docs.shape[0], len(used)))
        return np.asarray(few @ self.term_vectors_[used].astype(np.float64))

    def transform(self, docs: sp.csr_matrix) -> np.ndarray:
        """Each row encoded, in blocks of rows (``_raw_blocks``)."""
        check_is_fitted(self, "term_vectors_")
        out = np.empty((docs.shape[0], self.term_vectors_.shape[1]), dtype=np.float32)
        for start, part, raw in self._raw_blocks(docs):
            out[start : start + len(raw)] = self._encode(part, raw)
        return out

    def _encode(self, docs: sp.csr_matrix, raw: np.ndarray) -> np.ndarray:
        """Each row's weighted sum of word vectors (``raw``, overwritten), centred, its
        component along the removed directions taken out, normalised and put on the
        exact grid (``_exact``); an empty document stays zero."""
        raw -= self.mean_
        top = getattr(self, "top_", None)
        if top is not None and len(top):
            raw -= (raw @ top.T) @ top
        empty = np.asarray(docs.sum(axis=1)).ravel() == 0
        raw[empty] = 0.0
        # on the exact grid: a need's word-vector cosine with a profile is the same number
        # in any block (``_exact``)
        return on_exact_grid(normalize(raw, copy=False).astype(np.float32), copy=False)

    def related_terms(
        self, need: sp.csr_matrix, org: sp.csr_matrix, *, top: int = 5, min_similarity: float = 0.5
    ) -> list[tuple[int, int, float]]:
        """The ``(need term, org term, weight)`` pairs that relate two texts beyond their
        shared words: terms only one text has, with a vector cosine of at least
        ``min_similarity``,
        weighted by both TF-IDF weights and the cosine, strongest first, each term once."""
        check_is_fitted(self, "term_vectors_")
        a_idx, a_w = need.indices, need.data
        b_idx, b_w = org.indices, org.data
        if not len(a_idx) or not len(b_idx):
            return []
        # words the texts share are explained as shared: pair only the others
        a_only = ~np.isin(a_idx, b_idx)
        b_only = ~np.isin(b_idx, a_idx)
        a_idx, a_w = a_idx[a_only], a_w[a_only]
        b_idx, b_w = b_idx[b_only], b_w[b_only]
        if not len(a_idx) or not len(b_idx):
            return []
        sims = self.term_vectors_[a_idx] @ self.term_vectors_[b_idx].T
        weight = sims * a_w[:, None] * b_w[None, :]
        weight[sims < min_similarity] = 0.0
        out: list[tuple[int, int, float]] = []
        used_a: set[int] = set()
        used_b: set[int] = set()
        for flat in np.argsort(-weight, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(b_idx))
            if weight[i, j] <= 0 or len(out) >= top:
                break
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            out.append((int(a_idx[i]), int(b_idx[j]), float(weight[i, j])))
        return out


class NeighbourExpander:
    """Adds each term's nearest words in the collection's vocabulary, by word vectors:
    ``v + weight × normalise(v·L)``, renormalised, where ``L`` links every term to its
    ``k`` nearest vocabulary terms with a cosine of at least ``min_similarity`` (weighted
    by it). The learned counterpart of the hand thesaurus: 独居 reaches 一人暮らし and
    高齢者 without anyone listing them, so a need's problem words reach a group's activity
    words. The words reached show in the reasons as 関連する語.
    """

    def __init__(self, *, weight: float = 0.5, k: int = 5, min_similarity: float = 0.5) -> None:
        self.weight = weight
        self.k = k
        self.min_similarity = min_similarity

    def fit(self, term_vectors: np.ndarray, found: np.ndarray) -> NeighbourExpander:
        n = len(found)
        idx = np.flatnonzero(found)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        k = min(self.k, len(idx) - 1)
        if k > 0:
            vectors = term_vectors[idx]
            for start in range(0, len(idx), 1024):
                block = vectors[start : start + 1024] @ vectors.T
                local = np.arange(block.shape[0])
                block[local, start + local] = -1.0  # not a word's own neighbour
                best = np.argpartition(-block, k - 1, axis=1)[:, :k]
                sims = np.take_along_axis(block, best, axis=1)
                keep = sims >= self.min_similarity
                rows.append(idx[start + np.nonzero(keep)[0]])
                cols.append(idx[best[keep]])
                vals.append(sims[keep])
        data = np.concatenate(vals) if vals else np.zeros(0)
        self.links_ = sp.csr_matrix(
            (
                data.astype(np.float64),
                (
                    np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp),
                    np.concatenate(cols) if cols else np.zeros(0, dtype=np.intp),
                ),
            ),
            shape=(n, n),
        )
        return self

    def transform(self, vectors: sp.csr_matrix, queries: sp.csr_matrix) -> sp.csr_matrix:
        """``queries`` (the vectors, perhaps already expanded) plus the neighbours of
        ``vectors``' own terms."""
        if self.weight == 0 or self.links_.nnz == 0:
            return queries
        spread = normalize(vectors @ self.links_, norm="l2")
        return normalize(queries + self.weight * spread, norm="l2")


def dense_encoder(
    vectorizer: FieldWeightedTfidf, docs: sp.csr_matrix, *, components: int = 1
) -> tuple[DenseEncoder, np.ndarray] | None:
    """Word-vector document encoder over the fitted vocabulary and ``docs`` encoded by it
    (``None`` without vectors)."""
    vectors = default_vectors()
    if vectors is None:
        return None
    names = vectorizer.feature_names_
    spellings = [(t, vectorizer.display(t)) for t in names]
    encoder = DenseEncoder(vectors=vectors, components=components)
    return encoder, encoder.fit_transform(spellings, docs)
