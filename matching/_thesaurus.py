"""A small thesaurus of the collaboration domain: how a department names a problem and
how a group names the activity that answers it.

TF-IDF only matches the same words, but a need says 孤立 where a group says ふれあいサロン
or 傾聴. Each line below is one group of words that, in municipal collaboration, point at
the same work. It was written from general knowledge of Japanese welfare, education,
disaster and environment practice (the vocabulary of 地域福祉計画, 子ども・子育て支援,
地域防災計画 and the like), not drawn from the corpus. ``ThesaurusExpander`` adds each
word's group-mates to a need's vector with a small weight.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ._tokenize import JapaneseTokenizer

__all__ = ["THESAURUS", "ThesaurusExpander"]

THESAURUS: tuple[str, ...] = (
    "孤立 孤独 閉じこもり 独居 一人暮らし 見守り 声かけ 安否確認 訪問 傾聴 話し相手 サロン 居場所",
    "認知症 物忘れ 徘徊 認知症カフェ オレンジカフェ 認知症サポーター 介護者 家族介護",
    "介護予防 フレイル 体操 運動 通いの場 健康づくり 筋力",
    "買い物 移動販売 買い物支援 送迎 移動支援 通院 交通空白 免許返納 乗合 御用聞き 宅配",
    "子育て 育児 親子 乳幼児 子育てひろば 産後 母親 父親 孤育て",
    "子どもの貧困 生活困窮 ひとり親 子ども食堂 学習支援 無料塾 フードバンク 食料支援",
    "不登校 登校しぶり フリースクール 居場所 教育支援センター 学びの場",
    "ひきこもり 生きづらさ 若者 就労体験 職場体験 就労準備 居場所",
    "障害 障がい 就労支援 ジョブコーチ 職場実習 就労継続支援 作業所 定着支援",
    "外国人 外国籍 外国につながる 多文化 日本語教室 日本語 通訳 翻訳 やさしい日本語 多言語",
    "防災 災害 避難所 避難 備蓄 防災訓練 自主防災 防災士 避難所運営 要配慮者 炊き出し",
    "防犯 見守り パトロール 通学路 登下校 声かけ 不審者",
    "詐欺 特殊詐欺 悪質商法 消費者被害 契約トラブル 消費者教育 出前講座",
    "DV 暴力 虐待 シェルター 一時保護 相談 同行支援",
    "男女共同参画 女性 ジェンダー 女性活躍 女性リーダー",
    "竹林 放置竹林 竹 伐採 竹炭 竹チップ 里山 間伐 森林 下草刈り",
    "耕作放棄地 遊休農地 農地 農業体験 援農 新規就農 市民農園 棚田",
    "鳥獣被害 イノシシ シカ 獣害 わな 狩猟 ジビエ",
    "ごみ 不法投棄 ポイ捨て 清掃 ごみ拾い 美化 漂着ごみ 海ごみ 河川敷",
    "食品ロス 食べ残し フードドライブ フードバンク 寄付",
    "ごみ減量 リサイクル 分別 堆肥 生ごみ コンポスト リユース",
    "空き家 空き店舗 遊休資産 利活用 リノベーション 移住 シャッター",
    "商店街 にぎわい 活性化 マルシェ 創業 起業 チャレンジショップ",
    "観光 観光客 インバウンド ガイド まち歩き おもてなし 観光案内",
    "デジタル スマホ スマートフォン パソコン ICT オンライン デジタルデバイド",
    "伝統芸能 伝統行事 祭り 祭りばやし 継承 保存会 郷土芸能",
    "読書 図書館 読み聞かせ 絵本 本",
    "脱炭素 温暖化 省エネ 再生可能エネルギー 太陽光 エコ ゼロカーボン CO2",
    "自殺 自死 こころ メンタルヘルス ゲートキーパー 悩み 相談",
    "生物多様性 自然観察 生き物 野鳥 ホタル 自然体験 環境学習",
    "運動不足 運動習慣 ウォーキング スポーツ 健康",
    "NPO 市民活動 中間支援 団体運営 助成金 ボランティア",
)


class ThesaurusExpander:
    """Adds thesaurus neighbours of a vector's terms: ``v + weight × v·E``, renormalised.

    ``E`` links every pair of vocabulary terms that stand in one thesaurus group; the
    expansion only spreads weight to words the fitted vocabulary has.
    """

    def __init__(self, *, weight: float = 0.3, groups: tuple[str, ...] = THESAURUS) -> None:
        self.weight = weight
        self.groups = groups

    def fit(self, vocabulary: dict[str, int], tokenizer: JapaneseTokenizer) -> ThesaurusExpander:
        rows: list[int] = []
        cols: list[int] = []
        for group in self.groups:
            ids = sorted(
                {
                    vocabulary[t]
                    for word in group.split()
                    for t in tokenizer(word)
                    if t in vocabulary
                }
            )
            for i in ids:
                for j in ids:
                    if i != j:
                        rows.append(i)
                        cols.append(j)
        n = len(vocabulary)
        links = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        links.data[:] = 1.0  # a pair linked by two groups counts once
        self.links_ = links
        return self

    def transform(self, vectors: sp.csr_matrix) -> sp.csr_matrix:
        if self.weight == 0 or self.links_.nnz == 0:
            return vectors
        spread = normalize(vectors @ self.links_, norm="l2")
        return normalize(vectors + self.weight * spread, norm="l2")
