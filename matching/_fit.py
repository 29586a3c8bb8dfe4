"""The ranker's fit, stage by stage (``TfidfRanker.fit``).

After the TF-IDF vectors, three stages need nothing from each other: the LSA (a
randomized SVD of the documents), the word-vector encoder (its mean, scatter and
encoding, a block of documents at a time) and the items' own facts (the ward names their
texts use, each profile's members-only wording, both sides' signals). The first two are
sparse and BLAS products, which let go of the GIL; the facts are Python, which holds it.
So the LSA and the encoder run in threads of their own while this thread reads the
facts, and on two cores they overlap (in turn at 50,000 profiles: about 2, 1.8 and 2.6 s;
whole fits alternating with the stages in turn, 24.9-28.3 s against 28.2-31.5 s). Each
gives what it gives alone: BLAS runs in one thread (``one_blas_thread``, held by ``fit``
for all three), and no stage reads what another writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD

from ._areas import WardReader
from ._factors import PairSignals
from ._kinds import profile_text
from ._schema import Need, Organization
from ._semantic import DenseEncoder, NeighbourExpander, dense_encoder
from ._signals import members_only
from ._thesaurus import ThesaurusExpander
from ._vectorize import FieldWeightedTfidf

if TYPE_CHECKING:
    from ._ranker import TfidfRanker

__all__ = ["ItemFacts", "fit_ranker", "item_facts"]

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")

ItemFacts = tuple[np.ndarray, PairSignals]
"""Each profile's members-only flag and both sides' signals (``item_facts``)."""


def item_facts(needs: Sequence[Need], orgs: Sequence[Organization]) -> ItemFacts:
    """The items' own facts: each profile's members-only wording and both sides' signals,
    read from the profile's text normalised once (``profile_text``)."""
    texts = [profile_text(o) for o in orgs]
    members = np.array(
        [members_only(o, text=t) for o, t in zip(orgs, texts, strict=True)], dtype=bool
    )
    return members, PairSignals.of(needs, orgs, texts)


def fit_ranker(r: TfidfRanker, needs: Sequence[Need], orgs: Sequence[Organization]) -> None:
    """Fit ``r`` on ``needs`` and ``orgs`` (kept sorted by id): the vectors, then the LSA
    and the word-vector encoder beside the items' facts, then every derived row."""
    needs = sorted(needs, key=lambda n: n.id)
    orgs = sorted(orgs, key=lambda o: o.id)
    vectorizer = clone(r.vectorizer) if r.vectorizer else FieldWeightedTfidf()
    r.vectorizer_ = vectorizer
    r.dense_map_ = None
    r.need_vectors_, r.org_vectors_ = vectorizer.fit_transform(needs, orgs)
    r.expander_ = ThesaurusExpander(weight=r.expansion_weight).fit(
        vectorizer.vocabulary_, vectorizer.tokenizer_
    )
    docs = sp.vstack([r.need_vectors_, r.org_vectors_])
    # LSA: co-occurrence across the whole collection relates words that never meet
    # in one pair; a quarter of the documents (at most 50) keeps it coarse, and a
    # collection of fewer than 40 documents has too little co-occurrence to use.
    k = min(50, docs.shape[0] // 4, docs.shape[1] - 1)

    def lsa(docs: sp.csr_matrix) -> TruncatedSVD | None:
        return TruncatedSVD(k, random_state=0).fit(docs) if k >= 10 else None

    def encoder(docs: sp.csr_matrix) -> tuple[DenseEncoder, np.ndarray] | None:
        if not (r.dense_weight or r.neighbour_weight):
            return None
        return dense_encoder(vectorizer, docs, components=r.dense_components)

    def facts() -> tuple[WardReader, ItemFacts]:
        return WardReader().fit([*needs, *orgs]), item_facts(needs, orgs)

    svd, encoded, (wards, read) = _beside(partial(lsa, docs), partial(encoder, docs), facts)
    del docs
    r.svd_ = svd
    r.dense_ = None if encoded is None else encoded[0]
    r.neighbours_ = (
        NeighbourExpander(weight=r.neighbour_weight).fit(r.dense_.term_vectors_, r.dense_.found_)
        if r.dense_ is not None and r.neighbour_weight
        else None
    )
    r.wards_ = wards
    r._set_items(needs, orgs, None if encoded is None else encoded[1], facts=read)
    # the profiles of the fit, kept through edits like the IDF: a learned model's BM25
    # statistics are theirs (``_bm25_parts``)
    r.fit_orgs_ = r.orgs_
    r.wards_.forget()


def _beside(
    first: Callable[[], A], second: Callable[[], B], here: Callable[[], C]
) -> tuple[A, B, C]:
    """``first()`` and ``second()`` in threads of their own while this thread makes
    ``here()``; the three results (an error of any, once all are done)."""
    with ThreadPoolExecutor(2, thread_name_prefix="kyodo-fit") as pool:
        one, two = pool.submit(first), pool.submit(second)
        mine = here()
        return one.result(), two.result(), mine
