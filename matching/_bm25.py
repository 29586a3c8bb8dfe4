"""BM25 baseline (bm25s) over the same tokens as the TF-IDF ranker."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._bm25_parts import with_placeholders
from ._explain import SCORE_DECIMALS
from ._ranker import Ranking, top_k
from ._schema import Need, Organization
from ._tokenize import JapaneseTokenizer

__all__ = [
    "BM25Ranker",
    "need_text",
    "need_tokens",
    "org_text",
    "org_tokens",
]


def need_text(need: Need) -> str:
    """What BM25 reads of a need: its title, description and goal."""
    return " ".join((need.title, need.description, need.goal))


def org_text(org: Organization) -> str:
    """What BM25 reads of a profile: its activities, offerings and wishes."""
    return " ".join((org.activities, org.offerings, org.wishes))


def need_tokens(tok: JapaneseTokenizer, need: Need) -> list[str]:
    return tok(need_text(need))


def org_tokens(tok: JapaneseTokenizer, org: Organization) -> list[str]:
    return tok(org_text(org))


class BM25Ranker(BaseEstimator):
    """Plain BM25: a need's text as the query, profiles as the documents (and the reverse).

    No field weights and no structured signals: the baseline the TF-IDF ranker must beat.
    """

    def __init__(
        self, *, tokenizer: JapaneseTokenizer | None = None, k1: float = 1.5, b: float = 0.75
    ):
        self.tokenizer = tokenizer
        self.k1 = k1
        self.b = b

    def fit(self, needs: Sequence[Need], orgs: Sequence[Organization]) -> BM25Ranker:
        tok = self.tokenizer or JapaneseTokenizer()
        needs = sorted(needs, key=lambda n: n.id)
        orgs = sorted(orgs, key=lambda o: o.id)
        self.need_ids_ = [n.id for n in needs]
        self.org_ids_ = [o.id for o in orgs]
        self.need_tokens_ = [need_tokens(tok, n) for n in needs]
        self.org_tokens_ = [org_tokens(tok, o) for o in orgs]
        self.org_index_ = self.index_of(self.org_tokens_)
        self.need_index_ = self.index_of(self.need_tokens_)
        return self

    def index_of(self, docs: list[list[str]]) -> bm25s.BM25:
        """A bm25s index of ``docs`` (token lists), with this ranker's ``k1`` and ``b``."""
        index = bm25s.BM25(k1=self.k1, b=self.b)
        # bm25s cannot index an empty document list or empty documents; a placeholder
        # token no query contains keeps row numbers aligned.
        index.index(with_placeholders(docs), show_progress=False)
        return index

    def _rank(
        self,
        queries: list[list[str]],
        query_ids: list[str],
        index: bm25s.BM25,
        doc_ids: list[str],
        top: int,
    ) -> list[tuple[str, Ranking]]:
        out = []
        for qid, tokens in zip(query_ids, queries, strict=True):
            scores = np.round(
                np.asarray(index.get_scores(tokens), dtype=np.float64), SCORE_DECIMALS
            )
            scores = scores[: len(doc_ids)]
            out.append((qid, [(doc_ids[j], float(scores[j])) for j in top_k(scores, top)]))
        return out

    def rank_orgs(
        self, need_ids: Sequence[str] | None = None, *, top: int = 10
    ) -> list[tuple[str, Ranking]]:
        check_is_fitted(self, "org_index_")
        rows = (
            range(len(self.need_ids_))
            if need_ids is None
            else [self.need_ids_.index(i) for i in need_ids]
        )
        return self._rank(
            [self.need_tokens_[r] for r in rows],
            [self.need_ids_[r] for r in rows],
            self.org_index_,
            self.org_ids_,
            top,
        )

    def need_scores(self, row: int) -> np.ndarray:
        """BM25 scores of need ``row`` (in id order) against every profile."""
        check_is_fitted(self, "org_index_")
        scores = np.asarray(self.org_index_.get_scores(self.need_tokens_[row]), dtype=np.float64)
        return scores[: len(self.org_ids_)]

    def rank_needs(
        self, org_ids: Sequence[str] | None = None, *, top: int = 10
    ) -> list[tuple[str, Ranking]]:
        check_is_fitted(self, "need_index_")
        rows = (
            range(len(self.org_ids_))
            if org_ids is None
            else [self.org_ids_.index(i) for i in org_ids]
        )
        return self._rank(
            [self.org_tokens_[r] for r in rows],
            [self.org_ids_[r] for r in rows],
            self.need_index_,
            self.need_ids_,
            top,
        )
