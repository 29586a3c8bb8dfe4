"""Ranking organisations for needs (and needs for organisations), with reasons."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from ._areas import DEFAULT_AREA_FACTORS, WardReader
from ._blas import one_blas_thread
from ._columns import Columns
from ._exact import on_exact_grid
from ._explain import (
    SCORE_DECIMALS,
    Explanation,
    TermContribution,
    explain_pairs,
    similar_needs,
)
from ._factors import area_tables, factor_product, field_matrix, pair_factors
from ._fit import ItemFacts, fit_ranker, item_facts
from ._hubness import hub_best, measure_hubness, reciprocal_ranks, score_rows
from ._kernels import dense_product
from ._lineage import start_lineage
from ._memory import releases_memory
from ._rows import remove_items, upsert_items
from ._schema import Need, Organization
from ._topk import Ranking, top_k
from ._vectorize import FieldWeightedTfidf

__all__ = [
    "DEFAULT_AREA_FACTORS",
    "Explanation",
    "Ranking",
    "TermContribution",
    "TfidfRanker",
    "top_k",
]

_BLOCK = 256
# a block of scores against every profile is cut to about this many pairs (16 MiB a
# float64 temporary; at 50,000 profiles a block of 256 needs held 100 MB in each)
_PAIRS = 1 << 21
# hubness is measured on at most this many needs (all of them below it)
HUB_SAMPLE = 2000
# hubness is the mean of a profile's this many best scores
HUB_K = 10

# the rows ``_set_items`` makes from the vectors (a rebuild replaces them)
_ROWS_MADE = ("need_queries_", "need_topics_", "org_topics_", "need_dense_", "org_dense_")

Cols = np.ndarray | None
"""Organisation rows to score (``None``: every organisation)."""


class TfidfRanker(BaseEstimator):
    """The cold-start ranker: text similarity adjusted by structured signals.

    ``score = (text × field × area × members × kind × population − diversity × hubness)
    × (1 + reciprocity / (1 + rank))``:

    - ``text`` blends the TF-IDF cosine of the expanded need (thesaurus, word-vector
      neighbours) with the LSA cosine (``semantic_weight``) and the word-vector cosine
      (``dense_weight``), the collection's first ``dense_components`` principal
      directions removed from the word-vector documents (``DenseEncoder``);
    - ``field`` is ``1 + field_weight × (2a − 1)``, ``a`` the share of the need's 活動分野
      the group names times the share of the group's the need names to ``field_focus``
      (``1`` when either side names none);
    - ``area`` comes from ``area_factors`` by the relation of the two areas (a group
      working only in 南区 keeps 0.3 of its score for a need limited to 北区);
    - ``members`` is ``members_only_factor`` for a profile that reads as 共益的;
    - ``kind`` is ``kind_factor`` for a business when the need does not invite companies;
    - ``population`` is ``population_factor`` when the two name different populations;
    - ``hubness`` is a profile's mean score over the needs it fits best;
    - ``rank`` is the need's place among the needs the profile fits best (0: its best),
      the factor ``1`` from ``HUB_K`` on (``_hubness.reciprocal_ranks``), read from the
      hubness pass's best scores (``rank_top_``; none with ``diversity`` 0).

    Items are kept sorted by id, so ties break by id and the output is deterministic.
    """

    org_columns_: Columns | None  # the profiles' vectors as columns (``_columns``)

    def __init__(
        self,
        *,
        vectorizer: FieldWeightedTfidf | None = None,
        field_weight: float = 0.5,
        area_factors: Mapping[str, float] | None = None,
        members_only_factor: float = 0.5,
        expansion_weight: float = 0.2,
        semantic_weight: float = 0.2,
        dense_weight: float = 0.3,
        neighbour_weight: float = 0.5,
        diversity: float = 0.3,
        kind_factor: float = 0.5,
        population_factor: float = 1.0,
        field_focus: float = 0.5,
        dense_components: int = 1,
        reciprocity: float = 0.4,
    ) -> None:
        self.vectorizer = vectorizer
        self.field_weight = field_weight
        self.area_factors = area_factors
        self.members_only_factor = members_only_factor
        self.expansion_weight = expansion_weight
        self.semantic_weight = semantic_weight
        self.dense_weight = dense_weight
        self.neighbour_weight = neighbour_weight
        self.diversity = diversity
        self.kind_factor = kind_factor
        self.population_factor = population_factor
        self.field_focus = field_focus
        self.dense_components = dense_components
        self.reciprocity = reciprocity

    # -- fitting -------------------------------------------------------------------
    @one_blas_thread
    @releases_memory
    def fit(self, needs: Sequence[Need], orgs: Sequence[Organization]) -> TfidfRanker:
        """Fit on ``needs`` and ``orgs``: the vectors, the LSA and word-vector encoder
        beside the items' facts, every derived row (``_fit.fit_ranker``)."""
        fit_ranker(self, needs, orgs)
        return self

    @one_blas_thread
    def _set_items(
        self,
        needs: list[Need],
        orgs: list[Organization],
        dense: np.ndarray | None = None,
        *,
        facts: ItemFacts | None = None,
    ) -> None:
        """Every derived row; ``dense``: the word-vector rows of the needs, then the
        profiles, and ``facts``: the items' own (``_fit.item_facts``), if the fit made
        them already."""
        for stale in _ROWS_MADE:  # a rebuild's old rows go before the new are made
            self.__dict__.pop(stale, None)
        self.needs_ = needs
        self.orgs_ = orgs
        start_lineage(self)  # the state later edits are told from (``_lineage``)
        self.need_ids_ = [n.id for n in needs]
        self.org_ids_ = [o.id for o in orgs]
        self.need_index_ = {n: i for i, n in enumerate(self.need_ids_)}
        self.org_index_ = {o: i for i, o in enumerate(self.org_ids_)}
        self.need_fields_ = field_matrix(needs)
        self.org_fields_ = field_matrix(orgs)
        self.need_areas_, self.need_areas_read_ = self._ward_reader().all_areas(needs)
        self.org_areas_, self.org_areas_read_ = self._ward_reader().all_areas(orgs)
        self._set_areas()
        self.members_only_, self.signals_ = facts or item_facts(needs, orgs)
        self.need_queries_ = self._queries(self.need_vectors_)
        if self.svd_ is not None:
            self.need_topics_ = self.topics(self.need_vectors_)
            self.org_topics_ = self.topics(self.org_vectors_)
        if dense is not None:
            self.need_dense_, self.org_dense_ = dense[: len(needs)], dense[len(needs) :]
        elif self.dense_ is not None:
            self.need_dense_ = self.dense_.transform(self.need_vectors_)
            self.org_dense_ = self.dense_.transform(self.org_vectors_)
        self._measure_hubness()

    def topics(self, vectors: sp.csr_matrix) -> np.ndarray:
        """The rows' LSA topic vectors, normalised, on the exact grid (``_exact``: their
        products are the same in any block)."""
        assert self.svd_ is not None
        return on_exact_grid(normalize(self.svd_.transform(vectors), copy=False), copy=False)

    def _queries(self, vectors: sp.csr_matrix) -> sp.csr_matrix:
        """Need vectors expanded (the thesaurus, then word-vector neighbours): the side of
        the cosine that reaches a group's words. Each row depends on its own need only:
        made 2,048 rows at a time (the expansion's intermediates are each as large as
        the result)."""
        parts = []
        for start in range(0, vectors.shape[0], 2048):
            part = vectors[start : start + 2048]
            queries = self.expander_.transform(part)
            if self.neighbours_ is not None:
                queries = self.neighbours_.transform(part, queries)
            parts.append(sp.csr_matrix(queries))
        return sp.vstack(parts, "csr") if len(parts) != 1 else parts[0]

    def _ward_reader(self) -> WardReader:
        # a ranker fitted before wards were read from the texts reads none
        return getattr(self, "wards_", None) or WardReader().fit([])

    def _set_areas(self) -> None:
        """Area groups of both sides and the factor of each pair of groups."""
        (
            self.need_area_groups_,
            self.need_area_codes_,
            self.org_area_groups_,
            self.org_area_codes_,
            self.area_relations_,
            self.area_table_,
        ) = area_tables(
            self.need_areas_,
            self.org_areas_,
            {**DEFAULT_AREA_FACTORS, **(self.area_factors or {})},
        )

    def _hub_best(self, org_rows: Cols = None) -> np.ndarray:
        """Each profile's best raw scores (``_hubness.hub_best``)."""
        return hub_best(self, org_rows)

    def _hubness(self, org_rows: Cols = None) -> np.ndarray:
        """Each profile's mean score over the needs it fits best (``_hubness``)."""
        best = hub_best(self, org_rows)
        return best.mean(axis=0) if len(best) else np.zeros(best.shape[1])

    def _measure_hubness(self) -> None:
        """``hubness_`` (and ``hub_top_``) of every profile (``_hubness``)."""
        measure_hubness(self)

    def text_similarity(self, need_rows: np.ndarray, org_rows: Cols = None) -> np.ndarray:
        """The text part of the score for ``need_rows`` × the organisations (all, or
        ``org_rows``), a dense block: the cosine of the expanded need with the profile,
        blended (``blend``)."""
        queries = self.need_queries_[need_rows]
        if org_rows is not None:
            cosine = dense_product(queries, self.org_vectors_[org_rows].T.tocsr())
            return self.blend(cosine, need_rows, org_rows)
        columns: Columns | None = getattr(self, "org_columns_", None)
        if columns is None or columns.vectors is not self.org_vectors_:
            # made once per fit, then kept through edits (``_columns``)
            columns = self.org_columns_ = Columns.of(self.org_vectors_)
        return self.blend(columns.product(queries), need_rows, org_rows)

    def _derived(self, key: str, make: Callable[..., Any], *names: str) -> Any:
        """``make(*(self.<n> for n in names))`` (``names``: ``key`` alone by default), kept
        under ``key`` while those attributes are the same objects (a splice replaces
        them): the profiles' distinct 活動分野 sets and factor keys (their vectors as
        columns are kept through splices instead: ``org_columns_``)."""
        sources = tuple(getattr(self, n) for n in (names or (key,)))
        cache: dict[str, tuple[Any, Any]] = getattr(self, "_derived_kept", {})
        kept = cache.get(key)
        if (
            kept is None
            or len(kept[0]) != len(sources)
            or any(a is not b for a, b in zip(kept[0], sources, strict=True))
        ):
            kept = (sources, make(*sources))
            # a new dict: a shallow copy of the ranker (copy on write) shares the old one
            self._derived_kept = {**cache, key: kept}
        return kept[1]

    def blend(self, cosine: np.ndarray, need_rows: np.ndarray, org_rows: Cols = None) -> np.ndarray:
        """A TF-IDF cosine block blended with the LSA cosine (``semantic_weight``), then
        with the word-vector cosine (``dense_weight``); the TF-IDF part keeps
        ``tfidf_share`` of the result. ``cosine`` (a float64 block) is overwritten and
        returned: each step is the formula's, value for value, made in place."""
        cols = slice(None) if org_rows is None else org_rows
        text = cosine
        if self.svd_ is not None and self.semantic_weight:
            # (1 − w) · text + w · max(topics, 0)
            topics = self.need_topics_[need_rows] @ self.org_topics_[cols].T
            np.clip(topics, 0.0, None, out=topics)
            topics *= self.semantic_weight
            text *= 1.0 - self.semantic_weight
            text += topics
            del topics
        if self.dense_ is not None and self.dense_weight:
            need_dense = self.need_dense_[need_rows]
            # a need→partner map learned from confirmations (``_learn_map``), if any
            mapping = getattr(self, "dense_map_", None)
            if mapping is not None:
                # row by row (one kernel for every block), scaled to the row's own length
                # (about 1: the grid's; so that the identity map is the cold start, value
                # for value) and back on the exact grid
                mapped = np.stack([row @ mapping for row in need_dense]).reshape(need_dense.shape)
                lengths = np.linalg.norm(mapped, axis=1)
                scale = np.linalg.norm(need_dense, axis=1)
                np.divide(scale, lengths, out=scale, where=lengths > 0)
                need_dense = on_exact_grid(mapped * scale[:, None], copy=False)
            # (1 − w) · text + w · max(dense, 0), w · dense in the word vectors' float32
            dense = need_dense @ self.org_dense_[cols].T
            np.clip(dense, 0.0, None, out=dense)
            dense *= self.dense_weight
            text *= 1.0 - self.dense_weight
            text += dense
        return text

    @property
    def tfidf_share(self) -> float:
        lsa = self.semantic_weight if self.svd_ is not None else 0.0
        dense = self.dense_weight if self.dense_ is not None else 0.0
        return (1.0 - lsa) * (1.0 - dense)

    # -- incremental updates -------------------------------------------------------
    @one_blas_thread
    def upsert(self, needs: Sequence[Need] = (), orgs: Sequence[Organization] = ()) -> TfidfRanker:
        """Add or replace needs and profiles with the fitted vocabulary and IDF (words new
        since the ``fit`` are ignored until the next one). Only the rows given are
        vectorised and measured (``splice_needs``, ``splice_orgs``); a no-op is free."""
        check_is_fitted(self, "need_vectors_")
        upsert_items(self, needs, orgs)
        return self

    @one_blas_thread
    def remove(self, need_ids: Sequence[str] = (), org_ids: Sequence[str] = ()) -> TfidfRanker:
        """Drop needs and profiles (withdrawn ones) from the index; unknown ids are ignored."""
        check_is_fitted(self, "need_vectors_")
        remove_items(self, need_ids, org_ids)
        return self

    @releases_memory
    def rebuild(self) -> TfidfRanker:
        """Recompute every derived row over the current items with the fitted vocabulary,
        hubness included (what ``upsert`` of needs leaves as last measured)."""
        check_is_fitted(self, "need_vectors_")
        self._set_items(self.needs_, self.orgs_)
        return self

    @one_blas_thread
    def similar_needs(
        self, need_id: str, *, top: int = 5, other_departments: bool = True
    ) -> Ranking:
        """Needs whose text looks like the same problem, best first (text cosine only)."""
        check_is_fitted(self, "need_vectors_")
        return similar_needs(self, need_id, top=top, other_departments=other_departments)

    # -- scoring -------------------------------------------------------------------
    def _factors(self, need_rows: np.ndarray, org_rows: Cols = None) -> dict[str, np.ndarray]:
        """Structured multipliers for ``need_rows`` × the organisations (all, or
        ``org_rows``), a dense block (``_factors.pair_factors``)."""
        return pair_factors(self, need_rows, org_rows)

    def factor_product(self, need_rows: np.ndarray, org_rows: Cols = None) -> np.ndarray:
        """The product of every structured multiplier (``_factors.factor_product``)."""
        return factor_product(self, need_rows, org_rows)

    def _raw_scores(self, need_rows: np.ndarray, org_rows: Cols = None) -> np.ndarray:
        raw = self.text_similarity(need_rows, org_rows)
        raw *= self.factor_product(need_rows, org_rows)
        return raw

    def finish(self, raw: np.ndarray, org_rows: Cols = None) -> np.ndarray:
        """Raw scores (text × factors) less ``diversity × hubness``, clipped, times the
        reciprocal-rank factor, rounded; ``raw`` (a float64 block) is overwritten and
        returned."""
        near = self.reciprocal_ranks(raw, org_rows)
        if self.diversity:
            hubness = self.hubness_ if org_rows is None else self.hubness_[org_rows]
            raw -= self.diversity * hubness[None, :]
            np.clip(raw, 0.0, None, out=raw)
        if near is not None:
            rows, cols, ranks = near
            raw[rows, cols] *= 1.0 + self.reciprocity / (1.0 + ranks)
        return np.round(raw, SCORE_DECIMALS, out=raw)

    def reciprocal_ranks(
        self, raw: np.ndarray, org_rows: Cols = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The pairs of a raw block among their profile's best, with the need's rank there
        (``_hubness.reciprocal_ranks``; past ``HUB_SAMPLE`` needs a rank on the sample
        counts ``rank_scale_`` needs); ``None`` without reciprocity or diversity."""
        top = getattr(self, "rank_top_", None)
        if not self.reciprocity or top is None:
            return None
        rows, cols, ranks = reciprocal_ranks(raw, top if org_rows is None else top[:, org_rows])
        return rows, cols, ranks * self.rank_scale_

    @one_blas_thread
    def score_block(self, need_rows: np.ndarray, org_rows: Cols = None) -> np.ndarray:
        """Scores of ``need_rows`` × the organisations (all, or ``org_rows``): a dense
        block, never the whole matrix."""
        check_is_fitted(self, "need_vectors_")
        return self.finish(self._raw_scores(need_rows, org_rows), org_rows)

    def _blocks(self, rows: np.ndarray, reverse: bool) -> Iterator[tuple[int, np.ndarray]]:
        return score_rows(self, rows, reverse=reverse)

    @one_blas_thread
    def rank_orgs(
        self, need_ids: Sequence[str] | None = None, *, top: int = 10
    ) -> list[tuple[str, Ranking]]:
        """For each need (all by default), the ``top`` organisations, best first."""
        rows = self._rows(need_ids, self.need_index_)
        return [
            (self.need_ids_[r], [(self.org_ids_[j], float(s[j])) for j in top_k(s, top)])
            for r, s in self._blocks(rows, reverse=False)
        ]

    @one_blas_thread
    def rank_needs(
        self, org_ids: Sequence[str] | None = None, *, top: int = 10
    ) -> list[tuple[str, Ranking]]:
        """For each organisation (all by default), the ``top`` needs, best first."""
        rows = self._rows(org_ids, self.org_index_)
        return [
            (self.org_ids_[r], [(self.need_ids_[j], float(s[j])) for j in top_k(s, top)])
            for r, s in self._blocks(rows, reverse=True)
        ]

    @staticmethod
    def _rows(ids: Sequence[str] | None, index: dict[str, int]) -> np.ndarray:
        if ids is None:
            return np.arange(len(index))
        missing = [i for i in ids if i not in index]
        if missing:
            raise KeyError(f"unknown ids: {', '.join(missing[:5])}")
        return np.array([index[i] for i in ids], dtype=np.intp)

    # -- explaining ----------------------------------------------------------------
    def explain(self, need_id: str, npo_id: str, *, max_terms: int = 8) -> Explanation:
        return self.explain_many(need_id, [npo_id], max_terms=max_terms)[0]

    @one_blas_thread
    def explain_many(
        self, need_id: str, npo_ids: Sequence[str], *, max_terms: int = 8
    ) -> list[Explanation]:
        """Explanations of several groups for one need (the need's row is computed once)."""
        check_is_fitted(self, "need_vectors_")
        return explain_pairs(self, need_id, npo_ids, max_terms=max_terms)
