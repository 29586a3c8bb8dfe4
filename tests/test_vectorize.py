"""The field-weighted vectors are scikit-learn's: the vocabulary, IDF and rows that a
``TfidfVectorizer`` fitted on the same documents gives (the fit counts the tokens as
column numbers itself, ``_vectorize._counted``)."""

from __future__ import annotations

from itertools import chain

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from corpus import load_corpus
from matching import JapaneseTokenizer, Need, Organization
from matching._vectorize import DEFAULT_NEED_WEIGHTS, DEFAULT_ORG_WEIGHTS, FieldWeightedTfidf

from .conftest import share_tokenising


def _as_sklearn_fits(
    needs: list[Need], orgs: list[Organization], max_df: float
) -> tuple[TfidfVectorizer, sp.csr_matrix, sp.csr_matrix]:
    """The plain way: each item's fields tokenised, one document of each item's words,
    ``TfidfVectorizer.fit`` on them, each field transformed, weighted and added."""
    tokenizer = JapaneseTokenizer()
    need_fields = [{f: tokenizer(getattr(n, f)) for f in DEFAULT_NEED_WEIGHTS} for n in needs]
    org_fields = [{f: tokenizer(getattr(o, f)) for f in DEFAULT_ORG_WEIGHTS} for o in orgs]
    documents = [
        list(dict.fromkeys(chain.from_iterable(f.values()))) for f in need_fields + org_fields
    ]
    vectorizer = TfidfVectorizer(
        analyzer=lambda d: d, lowercase=False, sublinear_tf=True, max_df=max_df
    ).fit(documents)

    def combined(fields: list[dict[str, list[str]]], weights: dict[str, float]) -> sp.csr_matrix:
        total = sp.csr_matrix((len(fields), len(vectorizer.vocabulary_)))
        for name, weight in weights.items():
            total = total + vectorizer.transform([f[name] for f in fields]) * weight
        return normalize(total)

    return (
        vectorizer,
        combined(need_fields, DEFAULT_NEED_WEIGHTS),
        combined(org_fields, DEFAULT_ORG_WEIGHTS),
    )


@pytest.mark.parametrize("max_df", [1.0, 0.05, 3])
def test_the_fit_is_tfidf_vectorizer_s_on_the_same_documents(max_df: float) -> None:
    needs, orgs, _ = load_corpus(("c",))
    ours = FieldWeightedTfidf(max_df=max_df, n_jobs=1)
    need_rows, org_rows = ours.fit_transform(needs, orgs)
    plain, plain_needs, plain_orgs = _as_sklearn_fits(needs, orgs, max_df)
    assert ours.vocabulary_ == plain.vocabulary_
    if max_df != 1.0:  # words of more than max_df documents were left out
        assert len(ours.vocabulary_) < len(_as_sklearn_fits(needs, orgs, 1.0)[0].vocabulary_)
    assert np.array_equal(ours.tfidf_.idf_, plain.idf_)
    for mine, theirs in ((need_rows, plain_needs), (org_rows, plain_orgs)):
        assert mine.has_sorted_indices and mine.shape == theirs.shape
        assert (mine != theirs).nnz == 0  # value for value
    # a later item's vector, by the fitted vocabulary, is its row in the fit
    assert (ours.transform_needs(needs[:7]) != need_rows[:7]).nnz == 0
    assert (ours.transform_orgs(orgs[-5:]) != org_rows[-5:]).nnz == 0
    # no field chosen: a row of zeros an item
    none = ours.transform_fields(orgs[:3], {})
    assert none.shape == (3, len(ours.vocabulary_)) and none.nnz == 0
    assert ours.transform_needs([]).shape == (0, len(ours.vocabulary_))


def test_a_collection_of_stop_words_only_has_no_vocabulary() -> None:
    """As ``TfidfVectorizer``: a fit with no word to learn is refused, not an empty index."""
    needs = [Need(id="N1", title="事業の推進", description="", goal="", department="")]
    orgs = [Organization(id="O1", name="会", activities="事業を実施")]
    for collection in ((needs, orgs), ([], [])):
        with pytest.raises(ValueError, match="empty vocabulary"):
            FieldWeightedTfidf(n_jobs=1).fit_transform(*collection)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_token_lists_are_the_tokenizers_text_by_text(n_jobs: int, monkeypatch) -> None:
    """``token_lists`` (what BM25 reads for the learner): each text's tokens in order, a
    repeated text and an empty one included, whether a worker process made them or not."""
    needs, orgs, _ = load_corpus(("a",))
    vectorizer = FieldWeightedTfidf(n_jobs=n_jobs).fit(needs, orgs)
    tok = vectorizer.tokenizer_
    texts = [o.activities for o in orgs] + ["", orgs[0].activities, needs[0].goal]
    made_here = share_tokenising(monkeypatch, 2)  # many chunks to share
    lists = vectorizer.token_lists(texts)
    assert lists == [tok(t) for t in texts]
    assert lists[-2] is lists[0] and lists[-3] == [] and all(lists[:5])
    assert (False in made_here) == (n_jobs == 2)  # a worker's tokens among them
