"""Learning stage 0: re-tune the cold start's own settings on the decided needs.

Our defaults were chosen on our own corpus and one independent set; another city's data
may not fit them (its groups fill in 活動分野 loosely, its profiles are longer), and its
decisions show it. Each setting is tried on its own from its default and kept only with
a clear margin; the settings are then combined best first, each kept only if it still
adds that margin to the others.

A setting that a reject reason speaks to (``TAUGHT_BY``: 地域外 → the other-ward factor,
共益的活動 → the members-only factor, 分野違い → the 活動分野 weight and the population
factor, 営利・事業者 → the factor of a business) is tried only when the decisions give that
reason at least ``MIN_REASON_REJECTIONS`` times, or give no reasons at all (a file of
confirmations only): a coordinator who never turned a group down as 地域外 has said
nothing about the area factor.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from ._decision import Decision, ndcg_at_10_rows
from ._learn_reasons import GroupFacts
from ._ranker import _BLOCK, TfidfRanker

__all__ = [
    "CALIBRATION",
    "CALIBRATION_GAIN",
    "CALIBRATION_MIN_NEEDS",
    "MIN_REASON_REJECTIONS",
    "TAUGHT_BY",
    "calibrate",
    "calibrated",
    "with_setting",
]

# the settings the decisions may re-tune, each tried one at a time from its default (which
# comes first); ``area_other`` is the factor of a group limited to another ward
CALIBRATION: dict[str, tuple[float, ...]] = {
    "field_weight": (0.5, 0.0, 0.25, 1.0),
    "population_factor": (1.0, 0.7, 0.4),
    "members_only_factor": (0.5, 0.25, 1.0),
    "kind_factor": (0.5, 0.25, 1.0),
    "area_other": (0.3, 0.1, 0.6),
    "semantic_weight": (0.2, 0.0, 0.4),
    "dense_weight": (0.3, 0.15, 0.45),
    "diversity": (0.3, 0.15, 0.45),
}
# the reason (``Decision.about``) whose rejections speak to a setting
TAUGHT_BY: dict[str, str] = {
    "field_weight": "field",
    "population_factor": "field",
    "members_only_factor": "members",
    "kind_factor": "business",
    "area_other": "area",
}
MIN_REASON_REJECTIONS = 3
# a setting replaces its default only if it gains this much nDCG@10 on the decided needs,
# and the combination of the settings kept must gain as much and win on more needs than
# it loses; with confirmations on fewer than CALIBRATION_MIN_NEEDS needs the defaults stay
# (a dozen settings tried on a few needs find noise: on our corpus, with 30-50 decisions,
# a gate of 10 needs let calibration pick a setting in up to 7 of 10 splits, at a cost)
CALIBRATION_GAIN = 0.01
CALIBRATION_MIN_NEEDS = 20
# the choice is also made on all but one fold of the decided needs and measured on that
# fold; it stands only if it gains this much there on average
CALIBRATION_FOLDS = 5
CALIBRATION_CV_GAIN = 0.01


def calibrated(base: TfidfRanker, setting: Mapping[str, float]) -> TfidfRanker:
    """A copy of the fitted ``base`` with ``setting`` (``CALIBRATION`` names) in force.

    Shallow: the vocabulary, vectors, LSA, word vectors and the items' facts are shared
    (no setting changes them); only what the settings change is computed again — the
    area factors' table, hubness — so ``base`` is untouched. (It made every item's rows
    again: sampled in a fit at 50,000 profiles, these copies were 39% of the fit, and
    hubness 30% of them.)"""
    out = with_setting(base, setting)
    if "area_other" in setting:
        out._set_areas()
    out._measure_hubness()
    return out


def with_setting(base: TfidfRanker, setting: Mapping[str, float]) -> TfidfRanker:
    """A shallow copy of ``base`` with ``setting``'s values set, nothing computed again."""
    out = copy.copy(base)
    for name, value in setting.items():
        if name == "area_other":
            out.area_factors = {**(base.area_factors or {}), "other": value}
        else:
            setattr(out, name, value)
    return out


def tried_settings(decisions: Sequence[Decision]) -> list[str]:
    """The settings the decisions may re-tune (see the module's docstring)."""
    said = Counter(d.about for d in decisions if d.decision == "reject" and d.reason)
    return [
        name
        for name in CALIBRATION
        if name not in TAUGHT_BY or not said or said[TAUGHT_BY[name]] >= MIN_REASON_REJECTIONS
    ]


def calibrate(
    base: TfidfRanker, decisions: Sequence[Decision], facts: GroupFacts | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """Each setting of ``tried_settings`` tried on its own: nDCG@10 of the decided needs
    (their confirmed groups relevant, every other group not) over the whole ranking.
    Returns the figures tried (``{"field_weight=0.25": nDCG, …}``, the defaults as
    ``"default"``) and the settings kept (``{}``: the defaults stay).

    A setting is global (it is not learned per need or per group), so the decided needs
    themselves measure it; the gate on needs, the margin, the check of the combination and
    the cross-validation of the whole choice guard against picking noise among a dozen
    candidates. ``facts`` (the groups the
    reasons declared members-only or a business) are in force in every ranking tried."""
    facts = facts or GroupFacts()
    confirmed: dict[int, set[int]] = {}
    for d in decisions:
        if d.decision == "confirm":
            confirmed.setdefault(base.need_index_[d.need_id], set()).add(base.org_index_[d.npo_id])
    rows = np.array(sorted(confirmed), dtype=np.intp)
    relevant = np.zeros((len(rows), len(base.org_ids_)))
    for k, i in enumerate(rows.tolist()):
        relevant[k, sorted(confirmed[i])] = 1.0

    def per_need(ranker: TfidfRanker) -> np.ndarray:
        scores = np.vstack(
            [ranker.score_block(rows[s : s + _BLOCK]) for s in range(0, len(rows), _BLOCK)]
        )
        return ndcg_at_10_rows(scores, relevant)

    default = per_need(facts.apply(base))
    tried = {"default": round(float(default.mean()), 4)}
    # every single setting's per-need figures, computed once
    single: dict[tuple[str, float], np.ndarray] = {}
    for name in tried_settings(decisions):
        for value in CALIBRATION[name][1:]:
            single[name, value] = per_need(facts.apply(calibrated(base, {name: value})))
            tried[f"{name}={value:g}"] = round(float(single[name, value].mean()), 4)
    combined_cache: dict[tuple[tuple[str, float], ...], np.ndarray] = {}

    def combined(setting: dict[str, float]) -> np.ndarray:
        key = tuple(sorted(setting.items()))
        if key not in combined_cache:
            combined_cache[key] = per_need(facts.apply(calibrated(base, setting)))
        return combined_cache[key]

    def choose(mask: np.ndarray) -> dict[str, float]:
        """The rule, on the decided needs in ``mask``: each setting alone must gain
        ``CALIBRATION_GAIN``; they are then added best first, each only if the settings
        kept so far gain ``CALIBRATION_GAIN`` more with it (two settings that each help
        alone may undo each other: the field weight and the dense weight on a city whose
        活動分野 say nothing); the settings kept together must win on more needs than
        they lose."""
        floor = float(default[mask].mean())
        passing: dict[str, tuple[float, float]] = {}
        for name in dict.fromkeys(n for n, _ in single):
            figures = {v: float(a[mask].mean()) for (n, v), a in single.items() if n == name}
            value = max(figures, key=lambda v: (figures[v], -abs(v - CALIBRATION[name][0])))
            if figures[value] >= floor + CALIBRATION_GAIN:
                passing[name] = (value, figures[value])
        kept: dict[str, float] = {}
        reached = floor
        for name in sorted(passing, key=lambda n: -passing[n][1]):
            trial = {**kept, name: passing[name][0]}
            figure = float(combined(trial)[mask].mean())
            if figure >= reached + CALIBRATION_GAIN:
                kept, reached = trial, figure
        if not kept:
            return {}
        together = combined(kept)[mask]
        wins = int((together > default[mask]).sum())
        losses = int((together < default[mask]).sum())
        if together.mean() < default[mask].mean() + CALIBRATION_GAIN or wins <= losses:
            return {}
        return kept

    kept = choose(np.ones(len(rows), dtype=bool))
    if not kept:
        return tried, {}
    tried["combined"] = round(float(combined(kept).mean()), 4)
    # the choice itself, validated: made on four fifths of the decided needs, measured on
    # the fifth it did not see (a dozen settings tried on the same needs that judge them
    # find noise; on our corpus that cost up to 0.02 nDCG@10 on held-out needs)
    folds = np.arange(len(rows)) % CALIBRATION_FOLDS
    deltas = np.zeros(len(rows))
    for k in range(CALIBRATION_FOLDS):
        held = folds == k
        setting = choose(~held)
        if setting:
            deltas[held] = combined(setting)[held] - default[held]
    tried["cross_validated_gain"] = round(float(deltas.mean()), 4)
    if deltas.mean() < CALIBRATION_CV_GAIN:
        return tried, {}
    return tried, kept
