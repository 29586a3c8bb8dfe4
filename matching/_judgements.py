"""Reading judgements and decisions (../shared/DATA_FORMAT.md): graded relevance
(``qrels``) and a coordinator's decisions, CSV or XLSX, either header language, every
problem reported with its line as the profile and need files report theirs."""

from __future__ import annotations

import os

from ._io import Column, _parse, _ValueProblem
from ._read import read_table

__all__ = [
    "DECISION_COLUMNS",
    "DECISION_VALUES",
    "QREL_COLUMNS",
    "STAGE_ENDED",
    "load_decisions",
    "load_qrels",
]

QREL_COLUMNS: tuple[Column, ...] = (
    Column("need_id", "課題ID", True),
    Column("npo_id", "団体ID", True),
    Column("grade", "評価", True, aliases=("relevance", "関連度")),
)
DECISION_COLUMNS: tuple[Column, ...] = (
    Column("need_id", "課題ID", True),
    Column("npo_id", "団体ID", True),
    Column("decision", "判断", True),
    Column("reason", "理由"),
)


def load_qrels(source: str | os.PathLike[str]) -> dict[str, dict[str, int]]:
    """Graded relevance judgements: ``{need_id: {npo_id: grade}}`` (grade 0, 1, 2 …)."""

    def build(v: dict[str, str], _e: dict[str, str], _l: int, _r: object) -> tuple[str, str, int]:
        try:
            grade = int(v["grade"])
        except ValueError:
            raise _ValueProblem(f"評価「{v['grade']}」は整数ではありません。", "評価") from None
        if grade < 0:
            raise _ValueProblem("評価は 0 以上の整数にしてください。", "評価")
        return v["need_id"], v["npo_id"], grade

    result = _parse(read_table(source), QREL_COLUMNS, build, unique_id=None)
    result.raise_for_problems()
    qrels: dict[str, dict[str, int]] = {}
    for need_id, npo_id, grade in result.items:
        qrels.setdefault(need_id, {})[npo_id] = grade
    return qrels


# the words the CLI files, the pages (承認 / 見送り) and the exports use for a decision
DECISION_VALUES = {
    "confirm": "confirm",
    "confirmed": "confirm",
    "承認": "confirm",
    "reject": "reject",
    "rejected": "reject",
    "却下": "reject",
    "見送り": "reject",
    "見送る": "reject",
    # a stage the pairing reached after its confirmation (the service's decisions export
    # lists them): the pair was confirmed
    "meeting_arranged": "confirm",
    "事前打ち合わせ設定": "confirm",
    "project_started": "confirm",
    "協働事業化": "confirm",
}
# rows the decisions file may hold that are not a judgement of the match: a confirmed
# pairing ended later (after a meeting, say) says nothing against the match itself, and a
# stage the coordinator took back leaves the confirmation as it was
STAGE_ENDED = frozenset({"dropped", "見送り（承認後）", "stage_undone", "段階の取り消し"})


def load_decisions(source: str | os.PathLike[str]) -> list[tuple[str, str, str, str]]:
    """Coordinator decisions: ``(need_id, npo_id, "confirm" | "reject", reason)`` rows.

    Rows of a stage the pairing reached (事前打ち合わせ設定, 協働事業化) count as its
    confirmation; a pairing ended after it (``STAGE_ENDED``) is left out."""

    def build(
        v: dict[str, str], _e: dict[str, str], _l: int, _r: object
    ) -> tuple[str, str, str, str] | None:
        value = v["decision"].strip().lower()
        if value in STAGE_ENDED:
            return None
        decision = DECISION_VALUES.get(value)
        if decision is None:
            raise _ValueProblem(
                f"判断「{v['decision']}」は confirm（承認）または reject（見送り）にしてください。",
                "判断",
            )
        return v["need_id"], v["npo_id"], decision, v.get("reason", "")

    result = _parse(read_table(source), DECISION_COLUMNS, build, unique_id=None)
    result.raise_for_problems()
    return [row for row in result.items if row is not None]
