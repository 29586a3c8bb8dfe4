"""Japanese tokenizer: fugashi + unidic-lite lemmas, content words, compound bigrams."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._text import normalize_text

if TYPE_CHECKING:
    import fugashi

__all__ = ["DEFAULT_STOP_WORDS", "JapaneseTokenizer"]

# Boilerplate of administrative Japanese and of profile writing: words that appear in
# needs and profiles of every field and say nothing about which group fits which need.
# Lemma forms (UniDic 語彙素), after NFKC and lower-casing. Chosen by reading the most
# frequent lemmas of the corpus and keeping only the ones with no topical meaning (運営,
# 企画, 提供, 参加 stay: in a group's menu they say what it does). Measured in
# benchmarks/ablation.py: the list moves nDCG@10 by less than ±0.005 (IDF already
# discounts these words), and keeps them out of the "shared terms" a coordinator reads.
# The last line is filler every group writes of itself (団体, 会, 一緒に, …による, 皆さん).
DEFAULT_STOP_WORDS: frozenset[str] = frozenset(
    """
    推進 実施 事業 取り組み 取り組む 図る 行う 努める 進める 目指す 向ける 向上 促進 充実 強化
    確保 活用 検討 展開 対応 必要 課題 現状 状況 状態 予定 可能 困難 増加 減少 不足 懸念
    為る 成る 有る 居る 出来る 言う 思う 考える 見る 持つ 受ける 得る 係る 関わる 関する 於く 通す
    事 物 所 為 時 方 中 等 他 様 上 内 以上 以下 以外 全体 各種 一部 場合 程度 今後 現在 近年
    年 年度 月 日 回 件 名 人 箇所 当 本市 本 当市 市 市内 区 課 担当 係 部 局 室
    こと もの ため よう ところ とき
    協働 連携 協力 参画 実現 実践
    団体 会 一緒 因る 皆 皆様 皆さん 方々 我々 私 私達
    """.split()
)

_CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞"})
_CHAIN_POS = frozenset({"名詞", "接頭辞", "接尾辞"})


# MeCab's output, one line a word: surface, lemma (UniDic 語彙素), the first two levels
# of the part of speech; an unknown word's lemma is its surface. Only what ``_classify``
# reads. Formatting UniDic's default eight columns took a sixth of the parse; with four
# the tokenizer runs 13-15% faster over 34,000 texts (the corpus, the devset and 10,000
# recombined profiles), every token the same.
_NODE_FORMAT = r"%m\t%f[7]\t%f[0]\t%f[1]\n"
_UNKNOWN_FORMAT = r"%m\t%m\t%f[0]\t%f[1]\n"


@functools.cache
def _tagger() -> fugashi.GenericTagger:
    """One MeCab tagger per process over unidic-lite's dictionary, created on first use
    (taggers do not pickle). ``-O ''`` sets aside the dictionary's own output type, so
    that the formats given here apply."""
    import shlex

    import fugashi
    import unidic_lite

    folder = unidic_lite.DICDIR
    options = {
        "-r": folder + "/mecabrc",
        "-d": folder,
        "-O": "",
        "-F": _NODE_FORMAT,
        "-U": _UNKNOWN_FORMAT,
        "-E": r"EOS\n",
    }
    return fugashi.GenericTagger(" ".join(f"{k} {shlex.quote(v)}" for k, v in options.items()))


def _clean_lemma(lemma: str, surface: str) -> str:
    if not lemma or lemma == "*":
        return surface
    head, sep, gloss = lemma.partition("-")
    # UniDic writes loanwords as サロン-salon: keep the Japanese part.
    if sep and head and gloss.isascii():
        return head
    return lemma


class JapaneseTokenizer:
    """Turn Japanese text into content-word lemmas plus adjacent-noun bigrams.

    ``tokenizer(text)`` returns the token list, so an instance can be passed to
    scikit-learn as ``analyzer=``. Instances hold settings only; the MeCab tagger is
    created lazily once per process, so tokenizers pickle and work in worker processes.

    Parameters
    ----------
    stop_words:
        Lemmas to drop as unigrams (and bigrams made only of them). ``None`` keeps all.
    bigrams:
        Add a token for each pair of adjacent nouns/affixes (子ども食堂 → 子供食堂), so that
        compounds are features of their own and not only their parts.
    """

    def __init__(
        self, *, stop_words: Iterable[str] | None = DEFAULT_STOP_WORDS, bigrams: bool = True
    ) -> None:
        self.stop_words = frozenset(stop_words) if stop_words is not None else frozenset()
        self.bigrams = bigrams

    def __repr__(self) -> str:
        return f"JapaneseTokenizer(stop_words=<{len(self.stop_words)}>, bigrams={self.bigrams})"

    def __call__(self, text: str) -> list[str]:
        return [token for token, _surface in self.analyze(text)]

    def analyze(self, text: str) -> list[tuple[str, str]]:
        """``(token, surface)`` pairs: the token for the vectorizer, the text a person reads.

        Unigrams (content words, stop words dropped) in text order, each compound bigram
        right after its second word.
        """
        normalized = normalize_text(text, lower=False)
        if not normalized:
            return []
        stop = self.stop_words
        bigrams = self.bigrams
        classify = _classify
        out: list[tuple[str, str]] = []
        append = out.append
        prev: tuple[str, str] | None = None  # the previous word, if it can start a compound
        counted = False  # the previous word was a number
        for line in _tagger().parse(normalized).split("\n"):
            word = classify(line)
            if word is None:
                prev, counted = None, False
                continue
            lemma, surface, chainable, content, affix, numeric = word
            if content and lemma not in stop:
                append((lemma, surface))
            if chainable:
                # a prefix belongs to the word after it (うち+約 of そのうち約3割 is no word)
                if (
                    bigrams
                    and prev is not None
                    and affix != "prefix"
                    and not (prev[0] in stop and lemma in stop)
                ):
                    append((prev[0] + lemma, prev[1] + surface))
                # a suffix closes a compound (外国+人): a pair it would start (人+住民) is
                # a fragment of a longer compound, not a word; so does a counter after a
                # number (8時+半, 第2期+計画)
                prev = None if affix == "suffix" or counted else (lemma, surface)
            else:
                prev = None
            counted = numeric
        return out


@functools.lru_cache(maxsize=1 << 16)
def _classify(line: str) -> tuple[str, str, bool, bool, str, bool] | None:
    """``(lemma, surface, chainable, content, affix, numeric)`` of one line of MeCab
    output; ``affix`` is ``"prefix"``, ``"suffix"`` or ``""``.

    A line is ``surface, lemma, pos1, pos2`` separated by tabs (``_NODE_FORMAT``). Words
    repeat a lot, so the answer is cached per line.
    """
    parts = line.split("\t")
    if len(parts) < 4:  # EOS or an empty line
        return None
    surface, lemma, pos1, pos2 = parts[0], parts[1], parts[2], parts[3]
    lemma = _clean_lemma(lemma, surface).lower()
    numeric = pos2 == "数詞" or lemma.isdigit()
    # nouns and noun-making affixes (高齢+者, 不+就学) chain into compounds
    chainable = pos1 in _CHAIN_POS and not numeric and (pos1 != "接尾辞" or pos2 == "名詞的")
    content = (
        pos1 in _CONTENT_POS
        and pos2 != "非自立可能"
        and not numeric
        and not (len(lemma) == 1 and not _is_kanji(lemma))
    )
    # a person reads nouns as written (子ども, 障がい) and inflected words in dictionary form
    display = surface if pos1 != "動詞" and pos1 != "形容詞" else lemma
    affix = {"接頭辞": "prefix", "接尾辞": "suffix"}.get(pos1, "")
    return lemma, display, chainable, content, affix, numeric


def _is_kanji(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
