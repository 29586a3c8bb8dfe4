"""Field-weighted TF-IDF vectors for needs and organisations (one shared vocabulary)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from ._schema import Need, Organization
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


def _fields(
    items: Sequence[Doc], weights: Mapping[str, float], lists: Mapping[str, list[str]]
) -> list[dict[str, list[str]]]:
    """Each item's token list per field (shared lists for repeated texts)."""
    return [{name: lists[getattr(item, name)] for name in weights} for item in items]


Doc = Need | Organization


class FieldWeightedTfidf(BaseEstimator):
    """TF-IDF over needs and profiles together, each field weighted and the sum L2-normalised.

    ``fit`` learns one vocabulary and IDF from every need and profile (one document
    each, all fields together). ``transform_*`` vectorises each text field on its own
    (L2-normalised), multiplies it by the field's weight, adds the fields and
    L2-normalises the sum, so a long field cannot drown a short one and the cosine of
    two vectors is a dot product.
    """

    def __init__(
        self,
        *,
        tokenizer: JapaneseTokenizer | None = None,
        need_weights: Mapping[str, float] | None = None,
        org_weights: Mapping[str, float] | None = None,
        sublinear_tf: bool = True,
        max_df: float = 1.0,
    ) -> None:
        self.tokenizer = tokenizer
        self.need_weights = need_weights
        self.org_weights = org_weights
        self.sublinear_tf = sublinear_tf
        self.max_df = max_df

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
        surfaces: dict[str, Counter[str]] = {}
        lists = self._token_lists(
            chain(_texts(needs, self.need_weights_), _texts(orgs, self.org_weights_)), surfaces
        )
        need_tokens = _fields(needs, self.need_weights_, lists)
        org_tokens = _fields(orgs, self.org_weights_, lists)
        del lists
        # one document per item, all fields together, made as the vectorizer reads it;
        # each word once: the vocabulary and the IDF read which documents have a word,
        # not how often (the counts are the fields', at transform)
        docs = (
            list(dict.fromkeys(chain.from_iterable(f.values())))
            for f in chain(need_tokens, org_tokens)
        )
        self.tfidf_ = TfidfVectorizer(
            analyzer=_pretokenized,
            lowercase=False,
            sublinear_tf=self.sublinear_tf,
            max_df=self.max_df,
            dtype=np.float64,
        ).fit(docs)
        self.n_documents_ = len(needs) + len(orgs)  # what the IDF was fitted on
        self.vocabulary_: dict[str, int] = self.tfidf_.vocabulary_
        self.names_: np.ndarray = self.tfidf_.get_feature_names_out()
        # The form a person reads for each token: its most frequent spelling in the data.
        self.display_: dict[str, str] = {
            t: max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] for t, c in surfaces.items()
        }
        return (
            self._combine(need_tokens, self.need_weights_),
            self._combine(org_tokens, self.org_weights_),
        )

    # -- transforming --------------------------------------------------------------
    def transform_needs(self, needs: Sequence[Need]) -> sp.csr_matrix:
        check_is_fitted(self, "tfidf_")
        return self._combine(self._tokenize(needs, self.need_weights_), self.need_weights_)

    def transform_orgs(self, orgs: Sequence[Organization]) -> sp.csr_matrix:
        check_is_fitted(self, "tfidf_")
        return self._combine(self._tokenize(orgs, self.org_weights_), self.org_weights_)

    def transform_fields(self, items: Sequence[Doc], weights: Mapping[str, float]) -> sp.csr_matrix:
        """Vectors of chosen fields only (``{"goal": 1.0}``), L2-normalised."""
        check_is_fitted(self, "tfidf_")
        return self._combine(self._tokenize(items, weights), weights)

    def transform_text(self, text: str) -> sp.csr_matrix:
        """One free text (a search query, say) as an L2-normalised row vector."""
        check_is_fitted(self, "tfidf_")
        return self.tfidf_.transform([self.tokenizer_(text)])

    def _tokenize(
        self, items: Sequence[Doc], weights: Mapping[str, float]
    ) -> list[dict[str, list[str]]]:
        return _fields(items, weights, self._token_lists(_texts(items, weights)))

    def _token_lists(
        self, texts: Iterable[str], surfaces: dict[str, Counter[str]] | None = None
    ) -> dict[str, list[str]]:
        """Each distinct text's tokens, the text tokenized once however often it occurs
        (a ward's name, a template's sentence, an empty field); the tokens are interned,
        so a word repeated over the collection is one string. ``surfaces`` counts each
        token's spellings over every occurrence of every text."""
        uses = Counter(texts)  # first-seen order: the surfaces' order is the texts'
        interned: dict[str, str] = {}
        out: dict[str, list[str]] = {}
        for text, n in uses.items():
            pairs = self.tokenizer_.analyze(text)
            out[text] = [interned.setdefault(token, token) for token, _ in pairs]
            if surfaces is not None:
                for token, surface in pairs:
                    counts = surfaces.get(token)
                    if counts is None:  # (not setdefault: a Counter made per token)
                        counts = surfaces[token] = Counter()
                    counts[surface] += n
        return out

    def _combine(
        self, tokens: list[dict[str, list[str]]], weights: Mapping[str, float]
    ) -> sp.csr_matrix:
        total = sp.csr_matrix((len(tokens), len(self.vocabulary_)), dtype=np.float64)
        for name, weight in weights.items():
            if weight:
                # each distinct token list (a repeated text shares one) vectorised once,
                # then gathered: every row is the vectorizer's row for its list
                column = [t[name] for t in tokens]
                distinct: dict[int, int] = {}
                codes = [distinct.setdefault(id(c), len(distinct)) for c in column]
                firsts = list({id(c): c for c in column}.values())
                rows = self.tfidf_.transform(firsts)[np.array(codes, dtype=np.intp)]
                total = total + rows * weight
        return normalize(sp.csr_matrix(total), norm="l2", copy=False)

    @property
    def feature_names_(self) -> np.ndarray:
        """The vocabulary, in column order (fixed at ``fit``: explaining reads it per pair)."""
        return self.names_

    def display(self, token: str) -> str:
        return self.display_.get(token, token)
