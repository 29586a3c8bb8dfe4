"""Field-weighted TF-IDF vectors for needs and organisations (one shared vocabulary)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from ._schema import Need, Organization
from ._shared import jobs, map_chunks
from ._tokenize import JapaneseTokenizer

__all__ = ["DEFAULT_NEED_WEIGHTS", "DEFAULT_ORG_WEIGHTS", "FieldWeightedTfidf"]

# A need's title names the problem in few words and its goal says what a partner would
# do, the words closest to a group's account of its activities; the description is
# background (figures, history, the office's limits) and counts a little less. For a
# profile, what the group does comes first, its menu next, its wishes last; its name
# (without the 法人格: ``Organization.name_words``) often says what it does (山辺おでかけ隊,
# 湊囃子保存会) in a few words, and counts 0.3. Measured in benchmarks/ablation.py and on
# every evaluation set (description 1.0 / goal 0.7 until the devset showed the goal
# carries more; the name since it gave the devset +0.004 and part c +0.012: README,
# "Ranking").
DEFAULT_NEED_WEIGHTS: dict[str, float] = {"title": 1.0, "description": 0.7, "goal": 1.0}
DEFAULT_ORG_WEIGHTS: dict[str, float] = {
    "name_words": 0.3,
    "activities": 1.0,
    "offerings": 0.7,
    "wishes": 0.4,
}


def _pretokenized(doc: list[str]) -> list[str]:
    """scikit-learn analyzer for documents that are already token lists."""
    return doc


def _texts(items: Sequence[Doc], weights: Mapping[str, float]) -> Iterator[str]:
    """The weighted fields' texts, item by item, in ``weights`` order."""
    return (getattr(item, name) for item in items for name in weights)


def _field_rows(
    items: Sequence[Doc], weights: Mapping[str, float], at: Mapping[str, int]
) -> dict[str, np.ndarray]:
    """Per field, each item's row among the distinct texts (``at``: a text's row)."""
    return {
        name: np.array([at[getattr(item, name)] for item in items], dtype=np.intp)
        for name in weights
    }


def _counted(lists: Sequence[list[str]]) -> tuple[sp.csr_matrix, dict[str, int]]:
    """Each token list's counts, a row each (the columns sorted in each row, as
    ``CountVectorizer`` makes them), and each term's column, first seen first."""
    terms: dict[str, int] = {}
    add = terms.setdefault
    lengths = np.fromiter(map(len, lists), dtype=np.intp, count=len(lists))
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    columns = np.fromiter(
        (add(t, len(terms)) for tokens in lists for t in tokens), dtype=np.intp, count=bounds[-1]
    )
    counts = sp.csr_matrix((np.ones(len(columns)), columns, bounds), shape=(len(lists), len(terms)))
    counts.sum_duplicates()  # sorts each row's columns, and adds a word's repeats
    return counts, terms


def _documents(
    need_rows: Sequence[np.ndarray], org_rows: Sequence[np.ndarray], counts: sp.csr_matrix
) -> sp.csr_matrix:
    """One row per item (the needs, then the profiles): 1 for each word any of its fields
    has (``*_rows``: per field, each item's row of ``counts``)."""
    n_needs = len(need_rows[0]) if need_rows else 0
    n_orgs = len(org_rows[0]) if org_rows else 0
    items = np.concatenate(
        [np.arange(n_needs)] * len(need_rows) + [n_needs + np.arange(n_orgs)] * len(org_rows)
    ).astype(np.intp)
    texts = np.concatenate([*need_rows, *org_rows]).astype(np.intp)
    pick = sp.csr_matrix(
        (np.ones(len(items)), (items, texts)), shape=(n_needs + n_orgs, counts.shape[0])
    )
    documents = sp.csr_matrix(pick @ counts)
    documents.sort_indices()
    documents.data[:] = 1.0
    return documents


def _fitted_vectorizer(
    documents: sp.csr_matrix,
    counts: sp.csr_matrix,
    terms: dict[str, int],
    *,
    sublinear_tf: bool,
    max_df: float,
) -> tuple[TfidfVectorizer, TfidfTransformer, sp.csr_matrix]:
    """The ``TfidfVectorizer`` fitting ``documents`` would make (``terms``: each word's
    column there), its weighting, and ``counts`` in its columns: the vocabulary sorted,
    the words of more than ``max_df`` of the documents left out, the IDF of the
    documents. Made from the counts (each word a column number once, in C) instead of
    the vectorizer's own count of every token (a dictionary look-up each in Python: 2.7 s
    of a fit at 50,000 profiles)."""
    found = np.bincount(documents.indices, minlength=len(terms)).tolist()
    limit = (
        max_df
        if isinstance(max_df, int) and not isinstance(max_df, bool)
        else (max_df * documents.shape[0])
    )
    kept = sorted(t for t, j in terms.items() if found[j] <= limit)
    if not kept:
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    vocabulary = {t: i for i, t in enumerate(kept)}
    # both matrices in the new columns (the kept words' old columns, in the new order)
    old = np.fromiter((terms[t] for t in kept), dtype=np.intp, count=len(kept))
    documents, counts = (_sorted(m[:, old]) for m in (documents, counts))
    vectorizer = TfidfVectorizer(
        analyzer=_pretokenized,
        lowercase=False,
        sublinear_tf=sublinear_tf,
        max_df=max_df,
        dtype=np.float64,
        vocabulary=vocabulary,
    )
    weights = TfidfTransformer(sublinear_tf=sublinear_tf).fit(documents)
    vectorizer.idf_ = weights.idf_
    return vectorizer, weights, counts


def _sorted(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix)
    matrix.sort_indices()
    return matrix


def _combine(
    weighted: sp.csr_matrix,
    rows: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    n_items: int,
) -> sp.csr_matrix:
    """Each of ``n_items`` items' fields' TF-IDF rows (``weighted``: a distinct text's
    each; ``rows``: per field, each item's text), weighted and added in ``weights`` order,
    the sum L2-normalised."""
    total = sp.csr_matrix((n_items, weighted.shape[1]), dtype=np.float64)
    for name, weight in weights.items():
        if weight:
            total = total + weighted[rows[name]] * weight
    if not n_items:  # (scikit-learn's normalize wants one row at least)
        return sp.csr_matrix(total)
    return normalize(sp.csr_matrix(total), norm="l2", copy=False)


Doc = Need | Organization


_CHUNK = 1000  # texts a chunk of the tokenising (``_shared.map_chunks``)


def _tokens_of(
    tokenizer: JapaneseTokenizer,
    chunk: tuple[list[str], list[int] | None],
    interned: dict[str, str] | None = None,
    counted: Counter[tuple[str, str]] | None = None,
) -> tuple[list[list[str]], Counter[tuple[str, str]] | None]:
    """The tokens of each text of ``chunk`` (interned: into ``interned`` when given),
    and, when the texts come with their counts of use, each (token, spelling) pair
    counted over those uses (into ``counted`` when given). Run here, with this process's
    tables, or in a worker process (whose tokens are interned again here)."""
    texts, uses = chunk
    interned = {} if interned is None else interned
    lists: list[list[str]] = []
    spellings = None if uses is None else Counter() if counted is None else counted
    for i, text in enumerate(texts):
        pairs = tokenizer.analyze(text)
        lists.append([interned.setdefault(token, token) for token, _ in pairs])
        if spellings is not None and uses is not None:
            if uses[i] == 1:
                spellings.update(pairs)  # counted in C
            else:
                for pair in pairs:
                    spellings[pair] += uses[i]
    return lists, spellings


def _most_used(spellings: Counter[tuple[str, str]]) -> dict[str, str]:
    """Each token's most used spelling (the greater spelling among equals)."""
    best: dict[str, tuple[int, str]] = {}
    for (token, surface), n in spellings.items():
        seen = best.get(token)
        if seen is None or (n, surface) > seen:
            best[token] = (n, surface)
    return {token: surface for token, (_, surface) in best.items()}


class FieldWeightedTfidf(BaseEstimator):
    """TF-IDF over needs and profiles together, each field weighted and the sum L2-normalised.

    ``fit`` learns one vocabulary and IDF from every need and profile (one document
    each, all fields together). ``transform_*`` vectorises each text field on its own
    (L2-normalised), multiplies it by the field's weight, adds the fields and
    L2-normalises the sum, so a long field cannot drown a short one and the cosine of
    two vectors is a dot product.

    ``n_jobs`` is the processes that tokenise the texts (``_shared.map_chunks``):
    ``None`` every core (at most four) from 40,000 distinct texts on, about 10,000
    profiles, else this process only; ``1`` this process only. The vectors are the same.
    """

    def __init__(
        self,
        *,
        tokenizer: JapaneseTokenizer | None = None,
        need_weights: Mapping[str, float] | None = None,
        org_weights: Mapping[str, float] | None = None,
        sublinear_tf: bool = True,
        max_df: float = 1.0,
        n_jobs: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.need_weights = need_weights
        self.org_weights = org_weights
        self.sublinear_tf = sublinear_tf
        self.max_df = max_df
        self.n_jobs = n_jobs

    # -- fitting -------------------------------------------------------------------
    def fit(self, needs: Sequence[Need], orgs: Sequence[Organization]) -> FieldWeightedTfidf:
        self.fit_transform(needs, orgs)
        return self

    def fit_transform(
        self, needs: Sequence[Need], orgs: Sequence[Organization]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Fit on needs and profiles together; return their vectors (each text tokenized once)."""
        self.tokenizer_ = self.tokenizer or JapaneseTokenizer()
        self.need_weights_ = dict(self.need_weights or DEFAULT_NEED_WEIGHTS)
        self.org_weights_ = dict(self.org_weights or DEFAULT_ORG_WEIGHTS)
        surfaces: Counter[tuple[str, str]] = Counter()
        lists = self._token_lists(
            chain(_texts(needs, self.need_weights_), _texts(orgs, self.org_weights_)), surfaces
        )
        texts = list(lists)
        counts, terms = _counted(list(lists.values()))
        del lists
        at = {text: i for i, text in enumerate(texts)}
        need_rows = _field_rows(needs, self.need_weights_, at)
        org_rows = _field_rows(orgs, self.org_weights_, at)
        # one document per item, all fields together, each word once: the vocabulary and
        # the IDF read which documents have a word, not how often (the counts are the
        # fields', below)
        documents = _documents([*need_rows.values()], [*org_rows.values()], counts)
        self.tfidf_, weights, counts = _fitted_vectorizer(
            documents, counts, terms, sublinear_tf=self.sublinear_tf, max_df=self.max_df
        )
        self.n_documents_ = len(needs) + len(orgs)  # what the IDF was fitted on
        self.vocabulary_: dict[str, int] = self.tfidf_.vocabulary_
        self.names_: np.ndarray = self.tfidf_.get_feature_names_out()
        # The form a person reads for each token: its most frequent spelling in the data.
        self.display_: dict[str, str] = _most_used(surfaces)
        weighted = weights.transform(counts, copy=False)
        return (
            _combine(weighted, need_rows, self.need_weights_, len(needs)),
            _combine(weighted, org_rows, self.org_weights_, len(orgs)),
        )

    # -- transforming --------------------------------------------------------------
    def transform_needs(self, needs: Sequence[Need]) -> sp.csr_matrix:
        return self.transform_fields(needs, self.need_weights_)

    def transform_orgs(self, orgs: Sequence[Organization]) -> sp.csr_matrix:
        return self.transform_fields(orgs, self.org_weights_)

    def transform_fields(self, items: Sequence[Doc], weights: Mapping[str, float]) -> sp.csr_matrix:
        """Vectors of chosen fields only (``{"goal": 1.0}``), L2-normalised."""
        check_is_fitted(self, "tfidf_")
        lists = self._token_lists(_texts(items, weights))
        at = {text: i for i, text in enumerate(lists)}
        texts = list(lists.values())  # none: no item, or no field chosen
        weighted = (
            self.tfidf_.transform(texts) if texts else sp.csr_matrix((0, len(self.vocabulary_)))
        )
        return _combine(weighted, _field_rows(items, weights, at), weights, len(items))

    def transform_text(self, text: str) -> sp.csr_matrix:
        """One free text (a search query, say) as an L2-normalised row vector."""
        check_is_fitted(self, "tfidf_")
        return self.tfidf_.transform([self.tokenizer_(text)])

    def token_lists(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text's tokens, as ``tokenizer_(text)`` gives them: a text that occurs
        several times tokenized once, a large collection's shared with worker processes."""
        lists = self._token_lists(texts)
        return [lists[text] for text in texts]

    def _token_lists(
        self, texts: Iterable[str], surfaces: Counter[tuple[str, str]] | None = None
    ) -> dict[str, list[str]]:
        """Each distinct text's tokens, the text tokenized once however often it occurs
        (a ward's name, a template's sentence, an empty field); the tokens are interned,
        so a word repeated over the collection is one string. ``surfaces`` counts each
        token's spellings over every occurrence of every text. A large collection's
        texts are shared with worker processes (``n_jobs``, ``_shared``): the same tokens."""
        uses = Counter(texts)
        distinct = list(uses)
        chunks = [
            (part, [uses[t] for t in part] if surfaces is not None else None)
            for part in (distinct[i : i + _CHUNK] for i in range(0, len(distinct), _CHUNK))
        ]
        interned: dict[str, str] = {}
        made = map_chunks(
            functools.partial(_tokens_of, self.tokenizer_),
            chunks,
            jobs(self.n_jobs, len(distinct)),
            here=functools.partial(
                _tokens_of, self.tokenizer_, interned=interned, counted=surfaces
            ),
        )
        out: dict[str, list[str]] = {}
        for i, (lists, found), here in made:
            for text, tokens in zip(chunks[i][0], lists, strict=True):
                out[text] = tokens if here else [interned.setdefault(t, t) for t in tokens]
            if surfaces is not None and found is not None and not here:
                surfaces.update(found)
        return out

    @property
    def feature_names_(self) -> np.ndarray:
        """The vocabulary, in column order (fixed at ``fit``: explaining reads it per pair)."""
        return self.names_

    def display(self, token: str) -> str:
        return self.display_.get(token, token)
