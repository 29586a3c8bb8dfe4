"""A learned ranker following an edit of its cold start (#14): ``LearnedRanker.rebind``
after the base ranker's ``upsert``/``remove`` recomputes the per-row state of the rows
changed and splices it in, like ``TfidfRanker.upsert`` (``_rows``).

What a bind computes per item, and how an edit moves it:

- the ranker with what was learned in force (``_bind``): the base itself, or a
  calibrated / fact-bearing / mapped copy, which takes the same ``upsert``/``remove``
  (the facts put in force again on the profiles changed, and their hubness measured with
  them). Past ``HUB_SAMPLE`` needs a need's edit leaves the cold start's hubness as last
  measured, while a bind measures the copy's afresh: the copy's is measured again then
  (the one part of a bind that stays whole: the profiles × the sampled needs);
- the decisions on items still indexed, and the decided pairs by row;
- the expansion's informative flags: each confirmed need's top groups are scored again
  only when the need changed, a changed profile was among them, or a changed profile
  (one edited, added, or whose hubness moved) now scores near them;
- the re-ranking features' rows (field vectors, forms, completeness, BM25 tokens) of the
  changed items; BM25's parts over the profiles are made again from the kept tokens
  when a profile's words changed, without tokenising them again, under the same
  statistics (the fit's profiles': ``_bm25_parts``).

The result equals a full bind on the edited base (``tests/test_learn_splice.py``), up to
the float32 word vectors' last digit where a copy's hubness is measured for a few
columns rather than all (as ``TfidfRanker.upsert`` against ``rebuild``). Another fit
(a refit), or an edit of more than ``MAX_SHARE`` of either side, binds in full.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._bm25 import need_tokens, org_tokens
from ._changes import _same_fit, hubness_moved
from ._decision import Decision
from ._hubness import as_high
from ._learn_expand import Expansion, Top
from ._learn_features import PairFeatures
from ._learn_items import need_rows, org_rows
from ._lineage import Edit, edit_between
from ._ranker import TfidfRanker

if TYPE_CHECKING:
    from ._learn import LearnedRanker

__all__ = ["MAX_SHARE", "decided_pairs", "rebind_in_place", "snapshot"]

# an edit of more than this share of the needs or of the profiles binds in full
MAX_SHARE = 0.25
# a changed profile scoring this close below a confirmed need's last top group is scored
# with the need again (float32 word vectors: a block of another shape, another digit)
_TOLERANCE = 1e-5


def snapshot(base: TfidfRanker) -> TfidfRanker:
    """What a bind remembers of its base: a shallow copy (the base's own ``upsert``
    replaces its attributes, never writes into them)."""
    return copy.copy(base)


def decided_pairs(base: TfidfRanker, decisions: Sequence[Decision]) -> dict[tuple[int, int], float]:
    """The latest decision on each pair by row: +1 confirmed, -1 rejected."""
    return {
        (base.need_index_[d.need_id], base.org_index_[d.npo_id]): (
            1.0 if d.decision == "confirm" else -1.0
        )
        for d in decisions
    }


class _Rows:
    """How one side's rows move: each new row's old row, or -1 where its item is new or
    changed (computed again)."""

    def __init__(self, source: np.ndarray, changed: np.ndarray) -> None:
        """``source``: each new row's old row (-1: new); ``changed``: the rows whose item
        differs (``Edit``)."""
        self.source = source.copy()
        self.source[changed] = -1
        self.fresh = np.flatnonzero(self.source < 0)

    def _take(self, n_old: int) -> np.ndarray:
        take = self.source.copy()
        take[self.fresh] = n_old + np.arange(len(self.fresh))
        return take

    def matrix(self, old: sp.csr_matrix, fresh: sp.csr_matrix) -> sp.csr_matrix:
        if not len(self.fresh):
            return old[self.source]
        return sp.vstack([old, fresh], "csr")[self._take(old.shape[0])]

    def array(self, old: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        return np.concatenate([old, fresh])[self._take(len(old))]

    def list(self, old: list[Any], fresh: list[Any]) -> list[Any]:
        rows = [*old, *fresh]
        return [rows[k] for k in self._take(len(old)).tolist()]


def rebind_in_place(model: LearnedRanker, base: TfidfRanker) -> bool:
    """Rebind ``model`` over ``base`` by splicing the rows its last base changed; ``False``
    (nothing done) when it must bind in full: another fit, or too large an edit."""
    old: TfidfRanker | None = getattr(model, "source_", None)
    if old is None or not _same_fit(old, base):
        return False
    edit = edit_between(old, base)
    changed_needs = {base.need_ids_[i] for i in edit.needs.tolist()}
    changed_orgs = {base.org_ids_[j] for j in edit.orgs.tolist()}
    gone_needs, gone_orgs = edit.gone_needs, edit.gone_orgs
    needs_share = (len(changed_needs) + len(gone_needs)) / max(len(base.need_ids_), 1)
    orgs_share = (len(changed_orgs) + len(gone_orgs)) / max(len(base.org_ids_), 1)
    if max(needs_share, orgs_share) > MAX_SHARE:
        return False
    before = model.base_
    ranker = _prepared(model, base, changed_needs, changed_orgs, gone_needs, gone_orgs)
    decisions = [
        d for d in model.decisions_ if d.need_id in base.need_index_ and d.npo_id in base.org_index_
    ]
    moved = _moved_columns(before, ranker, changed_orgs, edit.org_source)
    stage = model.expansion_stage_
    expansion = Expansion(
        ranker,
        decisions,
        informative_rank=model.informative_rank,
        known_tops=_valid_tops(stage, ranker, changed_needs, moved, set(gone_orgs)),
    )
    model.base_ = ranker
    model.decisions_ = decisions
    model.decided_ = decided_pairs(base, decisions)
    model.expansion_stage_ = expansion
    model.features_ = _spliced_features(model.features_, expansion, decisions, edit)
    model.source_ = snapshot(base)
    return True


def _prepared(
    model: LearnedRanker,
    base: TfidfRanker,
    changed_needs: set[str],
    changed_orgs: set[str],
    gone_needs: list[str],
    gone_orgs: list[str],
) -> TfidfRanker:
    """The ranker with what was learned in force over ``base``: ``base`` itself when
    nothing was (as ``_bind`` makes it), else the old copy with the same edit."""
    if not model.calibration_ and not model.facts_ and model.dense_map_ is None:
        return base
    ranker = copy.copy(model.base_)
    if not (changed_needs or changed_orgs or gone_needs or gone_orgs):
        return ranker
    ranker.remove(gone_needs, gone_orgs)
    ranker.upsert(
        [base.needs_[base.need_index_[k]] for k in sorted(changed_needs)],
        [base.orgs_[base.org_index_[k]] for k in sorted(changed_orgs)],
    )
    _facts_again(model, ranker, changed_orgs)
    from ._ranker import HUB_SAMPLE

    if (changed_needs or gone_needs) and ranker.diversity and len(ranker.need_ids_) > HUB_SAMPLE:
        # the cold start keeps its sampled hubness through a need's edit; a bind measures
        # the copy's afresh (the sample moves with the number of needs)
        ranker._measure_hubness()
    return ranker


def _facts_again(model: LearnedRanker, ranker: TfidfRanker, changed_orgs: set[str]) -> None:
    """The facts (members-only, a business) on the changed profiles they name, and those
    profiles' hubness measured with them (``GroupFacts.apply``, for those columns)."""
    facts = model.facts_
    members = [ranker.org_index_[k] for k in sorted(changed_orgs & facts.members_only)]
    business = [ranker.org_index_[k] for k in sorted(changed_orgs & facts.business)]
    if not members and not business:
        return
    only = ranker.members_only_.copy()
    only[members] = True
    ranker.members_only_ = only
    profit = ranker.signals_.for_profit.copy()
    profit[business] = True
    ranker.signals_ = replace(ranker.signals_, for_profit=profit)
    if not ranker.diversity:
        return
    cols = np.array(sorted({*members, *business}), dtype=np.intp)
    best = ranker._hub_best(cols)
    hubness = ranker.hubness_.copy()
    hubness[cols] = best.mean(axis=0) if len(best) else 0.0
    ranker.hubness_ = hubness
    if ranker.rank_top_ is not None:  # and ``hub_top_``, the same while exact
        top = ranker.rank_top_.copy()
        top[:, cols] = as_high(best, len(top))
        ranker.rank_top_ = top
        ranker.hub_top_ = top if ranker.hub_top_ is not None else None


def _moved_columns(
    before: TfidfRanker, after: TfidfRanker, changed_orgs: set[str], kept: np.ndarray
) -> np.ndarray:
    """The profiles (rows of ``after``) whose scores against an unchanged need may differ:
    those changed, and those whose hubness moved (``kept``: as ``hubness_moved``)."""
    moved = {after.org_index_[k] for k in changed_orgs}
    moved.update(np.flatnonzero(hubness_moved(before, after, kept)).tolist())
    return np.array(sorted(moved), dtype=np.intp)


def _valid_tops(
    stage: Expansion,
    ranker: TfidfRanker,
    changed_needs: set[str],
    moved: np.ndarray,
    gone: set[str],
) -> dict[str, Top]:
    """The confirmed needs' top groups the edit cannot have changed: the need is the same,
    none of its top groups changed or went, and no changed profile now scores near its
    last one."""
    moved_ids = {ranker.org_ids_[j] for j in moved.tolist()} | gone
    kept = {
        key: top
        for key, top in stage.tops.items()
        if key in ranker.need_index_
        and key not in changed_needs
        and len(top[0]) == stage.informative_rank
        and not moved_ids & set(top[0])
    }
    if not len(moved) or not kept:
        return kept
    keys = sorted(kept, key=ranker.need_index_.__getitem__)
    rows = np.array([ranker.need_index_[k] for k in keys], dtype=np.intp)
    floors = np.array([kept[k][1][-1] for k in keys]) - _TOLERANCE
    near = (ranker.score_block(rows, moved) >= floors[:, None]).any(axis=1)
    reached = {keys[k] for k in np.flatnonzero(near).tolist()}
    return {k: top for k, top in kept.items() if k not in reached}


def _spliced_features(
    old: PairFeatures,
    expansion: Expansion,
    decisions: Sequence[Decision],
    edit: Edit,
) -> PairFeatures:
    """``old``'s rows kept, those of the changed items computed again (and BM25's index
    over the profiles dropped when one changed: built again from the kept tokens)."""
    b = expansion.base
    before = old.base
    needs = _Rows(edit.need_source, edit.needs)
    orgs = _Rows(edit.org_source, edit.orgs)
    out = copy.copy(old)
    out.expansion, out.base = expansion, b
    out.bests = {}  # the needs' best scores were over the old profiles, by the old rows
    fresh_needs = [b.needs_[i] for i in needs.fresh.tolist()]
    problem, goal, forms = need_rows(b, fresh_needs)
    out.need_problem = needs.matrix(old.need_problem, problem)
    out.need_goal = needs.matrix(old.need_goal, goal)
    out.need_forms = needs.list(old.need_forms, forms)
    fresh_orgs = [b.orgs_[j] for j in orgs.fresh.tolist()]
    activities, offerings, wishes, completeness, named = org_rows(b, fresh_orgs)
    out.org_activities = orgs.matrix(old.org_activities, activities)
    out.org_offerings = orgs.matrix(old.org_offerings, offerings)
    out.org_wishes = orgs.matrix(old.org_wishes, wishes)
    out.completeness = orgs.array(old.completeness, completeness)
    out.org_forms = orgs.list(old.org_forms, named)
    tok = b.vectorizer_.tokenizer_
    out.need_tokens = _tokens(old.need_tokens, needs, fresh_needs, lambda n: need_tokens(tok, n))
    out.need_ids = None  # (the statistics stay: the unchanged needs' ids are kept)
    if old.need_ids is not None and out.need_tokens is not None and old.bm25_stats is not None:
        ids = old.bm25_stats.token_ids
        made = [np.asarray(ids(out.need_tokens[i]), dtype=np.int64) for i in needs.fresh.tolist()]
        out.need_ids = needs.list(old.need_ids, made)
    out.org_tokens = _tokens(old.org_tokens, orgs, fresh_orgs, lambda o: org_tokens(tok, o))
    # BM25's statistics are the fit's (``out.bm25_stats`` kept): its parts stay while the
    # profiles' words do (no profile added or removed, none whose words changed), else
    # the unchanged profiles' rows are kept and the others' computed
    out.bm25 = old.bm25
    if old.bm25 is not None and not _same_words(old, out, orgs, before.org_ids_ == b.org_ids_):
        assert out.org_tokens is not None
        out.bm25 = old.bm25.spliced(out.org_tokens, orgs.source)
    out.history = PairFeatures.history_of(b, decisions)
    return out


def _same_words(old: PairFeatures, new: PairFeatures, orgs: _Rows, same_ids: bool) -> bool:
    """Every profile has the words it had in ``old``, row by row (only the profiles
    computed again are compared: the others' tokens are ``old``'s)."""
    if not same_ids:
        return False
    if not len(orgs.fresh):
        return True
    was, now = old.org_tokens, new.org_tokens
    if was is None or now is None:
        return False
    return all(now[j] == was[j] for j in orgs.fresh.tolist())


def _tokens(
    old: list[list[str]] | None, rows: _Rows, fresh: list[Any], tokenize: Callable[[Any], list[str]]
) -> list[list[str]] | None:
    """Token lists spliced (``None``: not made yet, made whole at the first BM25 row)."""
    if old is None:
        return None
    return rows.list(old, [tokenize(item) for item in fresh])
