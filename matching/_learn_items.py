"""What the re-ranking features read of the cold start's items alone (#14): each need's
problem and goal vectors and the forms it asks for; each profile's activities, offers and
wishes vectors, completeness and the forms it names; BM25's tokens and statistics
and its parts of each (profile, word) pair (``ItemRows``). No decision and no setting
changes them, so a model rebuilt over the same
items, or over a copy with them, can take them instead of tokenising every text again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._bm25_parts import Bm25Stats
from ._ranker import TfidfRanker
from ._schema import Need, Organization
from ._signals import forms_named, forms_wanted

__all__ = ["ItemRows", "need_rows", "org_rows"]


def _fields(
    b: TfidfRanker, items: Sequence[Need] | Sequence[Organization], weights: dict[str, float]
) -> sp.csr_matrix:
    if not items:  # (the vectorizer wants one row at least)
        return sp.csr_matrix((0, b.need_vectors_.shape[1]))
    return b.vectorizer_.transform_fields(items, weights)


def need_rows(
    b: TfidfRanker, needs: Sequence[Need]
) -> tuple[sp.csr_matrix, sp.csr_matrix, list[set[str]]]:
    """What ``PairFeatures`` keeps per need: its problem's and its goal's vectors, the
    forms of collaboration it asks for (each row its own need's alone)."""
    return (
        _fields(b, needs, {"title": 1.0, "description": 1.0}),
        _fields(b, needs, {"goal": 1.0}),
        [forms_wanted(n) for n in needs],
    )


def org_rows(
    b: TfidfRanker, orgs: Sequence[Organization]
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray, list[set[str]]]:
    """What ``PairFeatures`` keeps per profile: the vectors of its activities, its offers
    and its wishes, its completeness, the forms of collaboration it names."""
    filled = np.array(
        [
            [
                bool(o.offerings),
                bool(o.wishes),
                bool(o.fields),
                bool(o.legal_form),
                len(o.activities) >= 60,
            ]
            for o in orgs
        ],
        dtype=np.float64,
    )
    return (
        _fields(b, orgs, {"activities": 1.0}),
        _fields(b, orgs, {"offerings": 1.0}),
        _fields(b, orgs, {"wishes": 1.0}),
        filled.mean(axis=1) if len(filled) else np.zeros(0),
        [forms_named(o) for o in orgs],
    )


@dataclass
class ItemRows:
    """What ``PairFeatures`` computes of the cold start's items alone (no decision, no
    setting): the field vectors, forms and completeness, BM25's tokens, statistics and
    parts by profile (``Bm25Parts.by_doc``; each ``None`` until a ranking needed them).
    Most of a model's rebuild is tokenising them; the service keeps them beside a saved
    fit and hands them to the rankers it loads (``TfidfRanker.item_rows_``, ``attach``): a
    model built over such a ranker, or a copy of it with the same items, takes them
    instead."""

    need_problem: sp.csr_matrix
    need_goal: sp.csr_matrix
    need_forms: list[set[str]]
    org_activities: sp.csr_matrix
    org_offerings: sp.csr_matrix
    org_wishes: sp.csr_matrix
    completeness: np.ndarray
    org_forms: list[set[str]]
    need_tokens: list[list[str]] | None = None
    org_tokens: list[list[str]] | None = None
    bm25_stats: Bm25Stats | None = None
    # (a restart's model read them in 0.5 s at 50,000 profiles, from every profile's
    # tokens: memory-mapped beside the fit, they are read as they are used)
    bm25_parts: sp.csr_matrix | None = None
    # the item lists they are of (set by ``attach``; not kept with them)
    needs: list[Need] | None = field(default=None, repr=False)
    orgs: list[Organization] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, b: TfidfRanker) -> ItemRows:
        problem, goal, forms = need_rows(b, b.needs_)
        return cls(problem, goal, forms, *org_rows(b, b.orgs_))

    def attach(self, b: TfidfRanker) -> None:
        """Hand these rows (made for ``b``'s items) to ``b``: its copies with the same
        item lists take them; an edited copy (other lists) computes its own."""
        self.needs, self.orgs = b.needs_, b.orgs_
        b.item_rows_ = self

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "needs": None, "orgs": None}
