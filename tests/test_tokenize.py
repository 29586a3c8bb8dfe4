"""Golden examples for Japanese normalisation and tokenization (the real fugashi + unidic-lite)."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from matching import DEFAULT_STOP_WORDS, JapaneseTokenizer, normalize_text, split_multi

tok = JapaneseTokenizer()


@pytest.mark.parametrize(
    "variants",
    [
        ("子ども", "子供", "こども"),
        ("障害者", "障がい者", "障碍者"),
        ("ゴミ出し", "ごみ出し"),
        ("ＮＰＯ", "NPO", "npo"),
        ("ＳＤＧｓ", "SDGs"),
        ("２０代の若者", "20代の若者"),
    ],
)
def test_spelling_variants_give_the_same_tokens(variants: tuple[str, ...]) -> None:
    first = tok(variants[0])
    assert first, variants[0]
    for other in variants[1:]:
        assert tok(other) == first, other


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("子ども食堂", ["子供", "食堂", "子供食堂"]),
        ("放置竹林", ["放置", "竹林", "放置竹林"]),
        ("ふれあいサロン", ["触れ合い", "サロン", "触れ合いサロン"]),
        ("傾聴ボランティア", ["傾聴", "ボランティア", "傾聴ボランティア"]),
        ("NPO法人", ["npo", "法人", "npo法人"]),
        ("SDGs", ["sdgs"]),
        ("外国籍児童の不就学", ["外国", "籍", "外国籍", "児童", "籍児童", "就学", "不就学"]),
    ],
)
def test_golden_tokens(text: str, expected: list[str]) -> None:
    assert tok(text) == expected


def test_loanword_gloss_is_stripped() -> None:
    tokens = tok("サロンとボランティア")
    assert "サロン" in tokens and "ボランティア" in tokens
    assert not any("-" in t for t in tokens)


def test_function_words_numbers_and_symbols_are_dropped() -> None:
    tokens = tok("２０２４年に、公園で！ 3回 ～ 清掃を行った。")
    assert "公園" in tokens and "清掃" in tokens
    for dropped in ("に", "で", "を", "、", "！", "2024", "3", "~", "行う", "年", "回"):
        assert dropped not in tokens


def test_stop_words_are_dropped_but_can_be_kept() -> None:
    text = "地域福祉の推進を図るため事業を実施する"
    assert {"推進", "図る", "事業", "実施"}.isdisjoint(tok(text))
    assert {"推進", "図る", "事業", "実施"} <= set(JapaneseTokenizer(stop_words=None)(text))
    assert "福祉" in tok(text)


def test_bigrams_are_optional() -> None:
    assert "子供食堂" not in JapaneseTokenizer(bigrams=False)("子ども食堂")


def test_compound_is_not_its_parts() -> None:
    # 子ども食堂 and 子どもの防災 share 子供, but only the first has the compound.
    assert "子供食堂" in tok("子ども食堂を開く")
    assert "子供食堂" not in tok("子どもの防災と食堂")


def test_analyze_keeps_the_readable_surface() -> None:
    pairs = dict(JapaneseTokenizer().analyze("障がい者のゴミ出し"))
    assert pairs["障害者"] == "障がい者"
    assert pairs["塵出し"] == "ゴミ出し"


def test_empty_text() -> None:
    assert tok("") == []
    assert tok("   ") == []


def test_normalize_text() -> None:
    assert normalize_text("ＮＰＯ　法人〜ｶﾀｶﾅ") == "npo 法人~カタカナ"
    assert normalize_text("ＮＰＯ", lower=False) == "NPO"
    assert normalize_text(None) == ""


def test_split_multi() -> None:
    assert split_multi("保健・医療・福祉；まちづくり;観光、環境の保全") == [
        "保健・医療・福祉",
        "まちづくり",
        "観光",
        "環境の保全",
    ]
    assert split_multi("情報提供・交換") == ["情報提供・交換"]
    assert split_multi("") == []


def test_stop_list_is_lemmas() -> None:
    # every stop word must be something the tokenizer can emit: a lemma, not a surface form
    assert "取り組み" in DEFAULT_STOP_WORDS and "取組" not in DEFAULT_STOP_WORDS


def _tokens_in_worker(tokenizer: JapaneseTokenizer) -> list[str]:
    return tokenizer("子ども食堂の見守り")


def test_tokenizer_pickles_and_works_in_a_worker_process() -> None:
    tokenizer = JapaneseTokenizer()
    tokenizer("先に使ってタガーを作る")
    clone = pickle.loads(pickle.dumps(tokenizer))
    assert clone("子ども食堂") == tokenizer("子ども食堂")
    with ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(_tokens_in_worker, tokenizer).result() == tokenizer("子ども食堂の見守り")


def test_verbs_are_shown_in_dictionary_form() -> None:
    pairs = dict(JapaneseTokenizer().analyze("体調の変化に気づいた"))
    assert pairs["気付く"] == "気付く"
    assert pairs["体調"] == "体調"


@pytest.mark.parametrize(
    ("text", "fragment", "kept"),
    [
        ("そのうち約3割が高齢者", "内約", "高齢者"),  # 約 belongs to the number after it
        ("朝は8時半に集合", "時半", "集合"),  # 8時 + 半: a counter after a number
        ("第2期計画を作る", "期計画", "計画"),
    ],
)
def test_no_compound_ends_in_a_prefix_or_starts_at_a_counter(
    text: str, fragment: str, kept: str
) -> None:
    tokens = JapaneseTokenizer()(text)
    assert fragment not in tokens and kept in tokens, tokens


def test_a_prefix_still_starts_a_compound() -> None:
    assert "不就学" in JapaneseTokenizer()("不就学の子ども")
