"""Meaning beyond shared words: chiVe vectors read from ja-ginza, the dense score, the
neighbour expansion, and the reasons they give."""

from __future__ import annotations

import numpy as np
import pytest

from matching import Need, Organization, TfidfRanker
from matching._vectors import WordVectors, default_vectors, ginza_vocab_dir, murmurhash64a


@pytest.fixture(scope="module")
def vectors() -> WordVectors:
    table = default_vectors()
    assert table is not None, "ja-ginza is a declared dependency"
    return table


@pytest.mark.parametrize("word", ["子供", "孤立", "ボランティア", "a", "見守り活動の担い手", ""])
def test_our_hash_is_spacys(word: str) -> None:
    from spacy.strings import hash_string  # installed with ja-ginza; only the test imports it

    assert murmurhash64a(word.encode("utf-8")) == hash_string(word)


def test_the_table_is_read_without_spacy_and_relates_words(vectors: WordVectors) -> None:
    assert ginza_vocab_dir() is not None
    assert vectors.rows.shape == (20000, 300) and len(vectors.key2row) > 400_000
    found, rows = vectors.lookup([("孤立",), ("存在しない語彙ですよ", "居場所"), ("ｘｙｚ未知",)])
    assert found.tolist() == [True, True, False] and rows.shape == (2, 300)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    (_, a), (_, b), (_, c) = (vectors.lookup([(w,)]) for w in ("高齢者", "お年寄り", "竹林"))
    assert float(a[0] @ b[0]) > float(a[0] @ c[0]) + 0.2


def _pair() -> tuple[list[Need], list[Organization]]:
    needs = [
        Need(
            id="N1",
            department="長寿支援課",
            title="独居高齢者の孤立防止",
            description="一人暮らしのお年寄りが地域で孤立している。",
        ),
        Need(id="N2", department="農政課", title="放置竹林", description="竹林が荒れている。"),
    ]
    orgs = [
        Organization(id="P1", name="縁側の会", activities="毎週お茶会を開き、高齢の方と話す。"),
        Organization(id="P2", name="竹の会", activities="竹を伐採して竹炭を作る。"),
        Organization(id="P3", name="写真部", activities="風景写真を撮影して展示する。"),
    ]
    return needs, orgs


def test_the_dense_score_relates_texts_without_shared_words() -> None:
    needs, orgs = _pair()
    ranker = TfidfRanker(diversity=0.0).fit(needs, orgs)
    dense = ranker.need_dense_ @ ranker.org_dense_.T
    # the tea party is nearer an isolated elder than a photo club is, bamboo nearer bamboo
    assert dense[0, 0] > dense[0, 2] and dense[1, 1] > dense[1, 0]


def test_word_vectors_lift_a_corpus_part_read_as_text_only() -> None:
    """Part c with 活動分野 and area blanked: what the words alone can do."""
    from corpus import DATA_DIR
    from matching._sets import evaluate_sets, load_set, text_only

    part = text_only(load_set(DATA_DIR / "c"))
    rows = evaluate_sets(
        [part],
        {
            "with": TfidfRanker,
            "without": lambda: TfidfRanker(dense_weight=0.0, neighbour_weight=0.0),
        },
        with_text_only=False,
    )
    ndcg = {r.ranker: r.result.metrics["nDCG@10"] for r in rows}
    assert ndcg["with"] > ndcg["without"] + 0.01, ndcg


def test_neighbours_and_meaning_pairs_show_as_related_not_shared() -> None:
    needs, orgs = _pair()
    ranker = TfidfRanker(diversity=0.0).fit(needs, orgs)
    why = ranker.explain("N1", "P1", max_terms=20)
    shared = {t.term for t in why.terms}
    assert not shared & {t.term for t in why.related_terms}
    lines = why.reasons_ja()
    assert all("類義語辞書" not in line for line in lines)
    for left, right in why.meaning_pairs:
        assert left not in shared and right not in shared and len(left) >= 2


def test_shared_terms_fold_fragments_into_the_compound() -> None:
    needs = [
        Need(
            id="N1",
            department="情報政策課",
            title="オンライン講座",
            description="公民館でオンライン講座を開く。",
        ),
    ]
    orgs = [Organization(id="P1", name="IT の会", activities="公民館でオンライン講座を手伝う。")]
    ranker = TfidfRanker(diversity=0.0, dense_weight=0.0, neighbour_weight=0.0).fit(needs, orgs)
    terms = [t.term for t in ranker.explain("N1", "P1", max_terms=20).terms]
    assert "公民館" in terms and "オンライン" in terms
    assert not {"オン", "ライン", "公民", "館"} & set(terms)
    assert sum(t.share for t in ranker.explain("N1", "P1", max_terms=20).terms) == pytest.approx(1)


def test_the_collections_first_direction_is_removed_from_a_large_enough_collection() -> None:
    from corpus import load_corpus
    from matching._semantic import COMPONENTS_MIN_DOCS

    needs, orgs, _ = load_corpus(("a",))
    ranker = TfidfRanker().fit(needs, orgs)
    encoder = ranker.dense_
    assert encoder is not None and encoder.top_.shape == (1, 300)
    assert np.isclose(np.linalg.norm(encoder.top_[0]), 1.0)
    # every document, need or profile, has nothing left along it but the exact grid's
    # rounding (``_exact``: half a step a value, a step at most 1/236 of the row's largest)
    both = np.vstack([ranker.need_dense_, ranker.org_dense_])
    assert np.abs(both @ encoder.top_[0]).max() < 3e-3
    # without the removal the documents lean along it (it is their largest spread)
    kept = TfidfRanker(dense_components=0).fit(needs, orgs)
    leaning = np.vstack([kept.need_dense_, kept.org_dense_]) @ encoder.top_[0]
    assert np.abs(leaning).mean() > 0.1
    # a handful of documents: their first direction is their topic, so it stays
    small, small_orgs = _pair()
    assert len(small) + len(small_orgs) < COMPONENTS_MIN_DOCS
    assert TfidfRanker().fit(small, small_orgs).dense_.top_.shape == (0, 300)


def test_meaning_pairs_need_one_specific_word() -> None:
    """支援→活動 or 情報→提供 explain nothing: a pair of two words each in at least 5% of
    the documents is not shown; pairs with a specific word still are."""
    from corpus import DATA_DIR
    from matching._explain import GENERAL_SHARE
    from matching._sets import load_set

    part = load_set(DATA_DIR / "a")
    ranker = TfidfRanker().fit(part.needs, part.orgs)
    docs = [*(n for n in ranker.need_vectors_), *(o for o in ranker.org_vectors_)]
    names = ranker.vectorizer_.feature_names_
    counts: dict[str, int] = {}
    for row in docs:
        for k in row.indices:
            word = ranker.vectorizer_.display(names[k])
            counts[word] = counts.get(word, 0) + 1
    general = {w for w, c in counts.items() if c >= GENERAL_SHARE * len(docs)}
    shown = [
        pair
        for need_id, ranking in ranker.rank_orgs(top=5)
        for why in ranker.explain_many(need_id, [o for o, _ in ranking])
        for pair in why.meaning_pairs
    ]
    assert len(shown) > 50
    assert not [p for p in shown if p[0] in general and p[1] in general]


def test_a_meaning_pair_leaves_out_a_word_the_text_uses_only_inside_another() -> None:
    """公民 of 公民館 is close to 市民 by its vector, but the group's text never says 公民:
    a pair 市民→公民 would misread it. A suffix that names a body of the stem's work keeps
    the stem (防災会 does 防災), and the pair of two whole words still shows."""
    from matching import _explain

    def covered(term: str, wholes: list[str], text: str) -> bool:
        return _explain._covered(term, _explain._parts(wholes), text)

    assert covered("公民", ["公民館", "中央"], "中央公民館で勉強会")
    assert covered("登校", ["不登校"], "不登校の子の居場所")
    assert not covered("公民", ["公民館"], "公民の授業と公民館の講座")
    assert not covered("防災", ["防災会"], "自主防災会の訓練")
    assert not covered("防災", ["防災訓練"], "防災訓練を手伝う")
    # enough other groups that a word of one text is specific (``GENERAL_SHARE``)
    topics = (
        "花壇 川の清掃 子ども食堂 見守り 日本語教室 竹林 手話 古着 猫 農業体験 祭り 野鳥 "
        "読み聞かせ 障害者スポーツ 商店街 間伐 海岸のごみ拾い 子育て相談 観光案内 "
        "プログラミング 空き家 自転車修理 合唱 防災訓練"
    )
    needs = [
        Need(
            id="N1",
            department="生涯学習課",
            title="市民の学びの機会づくり",
            description="市民が身近な場所で学べる講座を増やしたい。",
        )
    ]
    orgs = [Organization(id="P0", name="まなびの会", activities="中央公民館で歴史の勉強会を開く。")]
    orgs += [
        Organization(id=f"P{k + 1}", name=f"第{k + 1}の会", activities=f"{topic}の活動をする。")
        for k, topic in enumerate(topics.split())
    ]
    ranker = TfidfRanker(diversity=0.0).fit(needs, orgs)
    pairs = ranker.explain("N1", "P0").meaning_pairs
    assert ("講座", "勉強会") in pairs
    assert not [p for p in pairs if "公民" in p]
    # the vectors alone would pair them: the rule, not the threshold, leaves it out
    related = ranker.dense_.related_terms(ranker.need_vectors_[0], ranker.org_vectors_[0], top=10)
    names = ranker.vectorizer_.feature_names_
    assert ("市民", "公民") in [(names[a], names[b]) for a, b, _ in related]


def test_the_fit_in_blocks_of_rows_is_the_fit_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoder's fit sums its mean and scatter a block of rows at a time and encodes
    the rows a block at a time: the same fit, within the sums' rounding, as in one block;
    and the rows the fit gives are the rows ``transform`` gives later, value for value."""
    from corpus import load_corpus
    from matching import _semantic

    needs, orgs, _ = load_corpus(("a",))
    whole = TfidfRanker().fit(needs, orgs)
    monkeypatch.setattr(_semantic, "_ROWS", 7)
    blocks = TfidfRanker().fit(needs, orgs)
    one, many = whole.dense_, blocks.dense_
    assert one is not None and many is not None
    assert len(whole.need_ids_) + len(whole.org_ids_) > 10 * 7  # many blocks
    assert np.allclose(one.mean_, many.mean_, rtol=1e-12, atol=1e-15)
    assert np.allclose(np.abs(one.top_ @ many.top_.T), 1.0, atol=1e-9)  # the same direction
    assert np.allclose(whole.org_dense_, blocks.org_dense_, atol=1e-6)
    # the fit's rows are transform's: a profile edited later gets the rows it would at a fit
    assert np.array_equal(blocks.org_dense_, many.transform(blocks.org_vectors_))
    assert np.array_equal(blocks.need_dense_, many.transform(blocks.need_vectors_))
    # a few rows (an edit's) upcast only the vectors of the terms they use: the same rows
    assert _semantic._FEW_ROWS < len(whole.org_ids_)
    for rows in ([0], [3, 1, 4], list(range(_semantic._FEW_ROWS))):
        few = one.transform(whole.org_vectors_[rows])
        assert np.array_equal(few, whole.org_dense_[rows]), rows
    assert not one.transform(whole.org_vectors_[[0]] * 0).any()  # an empty row stays zero
