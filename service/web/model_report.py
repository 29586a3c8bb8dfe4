"""A stored training report (``LearnedRanker.report_``) told in Japanese, for /models."""

from __future__ import annotations

__all__ = ["SETTING_LABELS", "describe_model"]


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
        lines.append(f"承認済みの協働の種で団体を補う重み β ごとの検証 nDCG@10: {expansion}")
    if blends := _figures(report.get("validation_ndcg")):
        lines.append(f"並べ替えモデルを混ぜる割合 α ごとの検証 nDCG@10: {blends}")
    against = report.get("against_current")
    if isinstance(against, dict) and against.get("new_needs", 0) >= 1:
        lines.append(
            f"{against.get('version')} の学習以降に承認のあった協働の種"
            f" {against['new_needs']} 件での nDCG@10: "
            f"使っているモデル {float(against['current_ndcg']):.3f}、"
            f"新しいモデル {float(against['candidate_ndcg']):.3f}"
        )
    if code == "promoted":
        lines.append(f"使う設定: β = {report.get('expansion', 0)}、α = {report.get('alpha', 0)}")
    return lines
