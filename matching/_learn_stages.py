"""What validation chose at each stage of a learned model, so that the model can be
built again from the same decisions without validating again.

Validation is most of a learned fit's time (calibrated copies per setting, expansions and
maps per fold, blends per fold): about 225 s at 50,000 profiles. A model promoted once
keeps its ``Stages`` in its report (``LearnedRanker.report_["stages"]``); a process that
starts, or a ranker refitted since, rebuilds it with ``fit_on(base, decisions,
stages=...)``: the same settings, learned again from the same decisions over the current
items, in seconds. Over the same ranker the rebuilt model ranks exactly as the validated
one did (``tests/test_learn_stages.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._learn_calibrate import CALIBRATION

__all__ = ["Stages", "StagesError"]


class StagesError(ValueError):
    """A stored ``stages`` record this version cannot use (``code`` says why)."""

    def __init__(self, message: str, code: str = "bad_stages") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Stages:
    """The choices validation made: the cold start's re-tuned ``calibration`` (names
    from ``CALIBRATION``), the document expansion's ``expansion`` weight (β), the need →
    partner map's ``map_lambda`` (0: no map) and the re-ranking blend ``alpha`` (α)."""

    calibration: dict[str, float] = field(default_factory=dict)
    expansion: float = 0.0
    map_lambda: float = 0.0
    alpha: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "calibration": dict(self.calibration),
            "expansion": self.expansion,
            "map_lambda": self.map_lambda,
            "alpha": self.alpha,
        }

    @classmethod
    def of(cls, record: Stages | Mapping[str, object]) -> Stages:
        """``record`` as ``Stages``: a ``Stages``, or the mapping ``as_dict`` gave (read back
        from JSON). Unknown settings or values out of range raise ``StagesError``."""
        if isinstance(record, Stages):
            return record
        unknown = set(record) - {"calibration", "expansion", "map_lambda", "alpha"}
        if unknown:
            raise StagesError(f"unknown stages: {sorted(unknown)}")
        calibration = record.get("calibration") or {}
        if not isinstance(calibration, Mapping):
            raise StagesError("calibration is not a mapping")
        setting = {str(k): _number(v, str(k)) for k, v in calibration.items()}
        if set(setting) - set(CALIBRATION):
            raise StagesError(
                f"unknown calibration settings: {sorted(set(setting) - set(CALIBRATION))}"
            )
        alpha = _number(record.get("alpha", 0.0), "alpha")
        if not 0.0 <= alpha <= 1.0:
            raise StagesError(f"alpha out of [0, 1]: {alpha}")
        return cls(
            calibration=setting,
            expansion=_number(record.get("expansion", 0.0), "expansion"),
            map_lambda=_number(record.get("map_lambda", 0.0), "map_lambda"),
            alpha=alpha,
        )


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StagesError(f"{name} is not a number: {value!r}")
    out = float(value)
    if not math.isfinite(out) or out < 0:
        raise StagesError(f"{name} is not a finite number ≥ 0: {value!r}")
    return out
