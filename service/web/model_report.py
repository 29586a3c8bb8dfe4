"""A stored training report (``LearnedRanker.report_``) told in Japanese, for /models."""

from __future__ import annotations

__all__ = ["SETTING_LABELS", "describe_model", "model_label", "stage_lines"]


_OUTCOMES = {
    "promoted": "検証で今の順位付けを上回ったので採用しました。",
    "not_better": "伏せた判断での検証で、今の順位付けを上回りませんでした。",
    "too_few_decisions": "判断が少ないか、承認が一つもないため、学習しませんでした。",
    "worse_than_current": (
        "使っているモデルの学習以降の判断で比べると下回ったため、採用しませんでした。"
    ),
    "no_new_evidence": (
        "使っているモデルの学習以降の判断が少なく比べられないため、今のモデルを続けます。"
    ),
    "nothing_to_rank": "まだ順位付けする協働の種・団体がありません。",
}


# the cold start's settings a model may calibrate (matching's CALIBRATION), for people
SETTING_LABELS = {
    "field_weight": "活動分野の重み",
    "population_factor": "対象者が異なる団体の係数",
    "members_only_factor": "共益的活動の係数",
    "kind_factor": "営利企業の係数",
    "area_other": "他の区の団体の係数",
    "semantic_weight": "潜在意味（LSA）の重み",
    "dense_weight": "単語ベクトルの意味の近さの重み",
    "diversity": "多様性の調整",
}


def model_label(version: str) -> str:
    """A model's version as the office reads it: 「第3回の学習（採用）」, not learned-3."""
    if version in ("", "cold-start"):
        return "初期の順位付け（学習なし）"
    kind, _, number = version.rpartition("-")
    if number.isdigit() and kind in ("learned", "cold-start"):
        return f"第{number}回の学習（{'採用' if kind == 'learned' else '不採用'}）"
    return version


def stage_lines(needs: dict[str, int], have: dict[str, int]) -> list[str]:
    """Each learning stage, what it needs before it is tried, and how far the city is:
    ``needs`` from ``LearnedRanker.requirements()``, ``have`` the counts now (``needs``:
    needs with a confirmation, ``decisions``)."""

    def mark(now: int, wanted: int) -> str:
        return "◯ 条件を満たしています" if now >= wanted else f"あと {wanted - now} 件"

    return [
        "団体の性格（共益的活動・営利・事業者）: 見送りの理由から。承認のある協働の種が"
        f" {needs['expansion_needs']} 件、または判断が {needs['reranking_decisions']} 件"
        f"たまると学習を始めます（{mark(have['needs'], needs['expansion_needs'])}）",
        f"承認済みの団体で似た協働の種を補う: 承認のある協働の種 {needs['expansion_needs']} 件以上"
        f"（いま {have['needs']} 件、{mark(have['needs'], needs['expansion_needs'])}）",
        "課題の言葉と活動の言葉の対応を承認から学ぶ（上の補いが効かないとき）: 承認"
        f" {needs['map_confirmations']} 組以上"
        f"（いま {have['confirmations']} 組、"
        f"{mark(have['confirmations'], needs['map_confirmations'])}）",
        f"初期スコアの設定の調整: 承認のある協働の種 {needs['calibration_needs']} 件以上、"
        "設定ごとに、その理由（分野違い・地域外など）の見送りが"
        f" {needs['reason_rejections']} 件以上"
        f"（いま {have['needs']} 件、{mark(have['needs'], needs['calibration_needs'])}）",
        f"並べ替えモデル: 承認と見送りを合わせて {needs['reranking_decisions']} 件以上、両方を含む"
        f"（いま {have['decisions']} 件、{mark(have['decisions'], needs['reranking_decisions'])}）",
    ]


def _figures(scores: object) -> str:
    """``{setting: nDCG@10}`` as ``設定 値`` pairs, the one without learning first."""
    if not isinstance(scores, dict) or not scores:
        return ""
    items = sorted(((float(k), float(v)) for k, v in scores.items()), key=lambda kv: kv[0])
    return "、".join(f"{'なし' if k == 0 else f'{k:g}'} {v:.3f}" for k, v in items)


def describe_model(report: dict[str, object]) -> list[str]:
    """A stored training report (``LearnedRanker.report_``) in Japanese, line by line."""
    code = report.get("code")
    if code is None:  # reports stored before the library gave a code
        reason = str(report.get("reason", ""))
        code = (
            "promoted"
            if report.get("promoted")
            else "too_few_decisions"
            if "too few" in reason
            else "nothing_to_rank"
            if "nothing" in reason
            else "not_better"
        )
    lines = [f"判断 {report.get('decisions', 0)} 件で学習。" + _OUTCOMES.get(str(code), "")]
    facts = report.get("facts")
    if isinstance(facts, dict) and any(facts.values()):
        lines.append(
            "見送り理由から団体の性格を記録: "
            f"共益的活動 {len(facts.get('members_only', []))} 団体、"
            f"営利・事業者 {len(facts.get('business', []))} 団体"
            "（すべての協働の種で順位を下げます）"
        )
    calibration = report.get("calibration")
    if isinstance(calibration, dict) and calibration:
        changed = "、".join(
            f"{SETTING_LABELS.get(str(k), str(k))} {v}" for k, v in sorted(calibration.items())
        )
        lines.append(f"判断に合わせて初期スコアの設定を変更: {changed}")
    if expansion := _figures(report.get("expansion_ndcg")):
        lines.append(f"承認済みの団体で補う重みごとの、検証での順位の良さ（0〜1）: {expansion}")
    if maps := _figures(report.get("map_ndcg")):
        lines.append(
            "課題の言葉と活動の言葉の対応（強さごと、小さいほど判断に強く合わせる）の、"
            f"検証での順位の良さ（0〜1）: {maps}"
        )
    if report.get("map_lambda"):
        lines.append("承認から学んだ言葉の対応を使います（語の意味の近さに反映）")
    if blends := _figures(report.get("validation_ndcg")):
        lines.append(f"並べ替えモデルを混ぜる割合ごとの、検証での順位の良さ（0〜1）: {blends}")
    against = report.get("against_current")
    if isinstance(against, dict) and against.get("new_needs", 0) >= 1:
        lines.append(
            f"{model_label(str(against.get('version', '')))}より後に承認のあった協働の種"
            f" {against['new_needs']} 件での順位の良さ（0〜1）: "
            f"使っているモデル {float(against['current_ndcg']):.3f}、"
            f"新しいモデル {float(against['candidate_ndcg']):.3f}"
        )
    if code == "promoted":
        lines.append(
            f"使う設定: 承認済みの団体で補う重み {report.get('expansion', 0)}、"
            f"並べ替えモデルを混ぜる割合 {report.get('alpha', 0)}"
        )
    return lines
