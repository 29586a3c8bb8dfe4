"""The structured multipliers of a pair's score besides area and members-only:
活動分野 agreement, the kind of partner, and the target population."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from ._kinds import (
    FOR_PROFIT_KINDS,
    POPULATION_LABELS,
    invites_companies,
    need_populations,
    org_kind,
    org_populations,
    sells_offering,
)
from ._schema import FIELD_NAMES, Need, Organization, area_relation

if TYPE_CHECKING:
    from ._ranker import TfidfRanker
    from ._splice import Splice

__all__ = [
    "PairSignals",
    "area_tables",
    "distinct_rows",
    "factor_product",
    "field_factor",
    "field_matrix",
    "group_codes",
    "need_keys",
    "org_keys",
    "pair_factors",
    "with_area_groups",
]

# what a profile's multipliers read (``org_keys``)
_ORG_KEYED = ("org_fields_", "org_area_codes_", "members_only_", "signals_")

_POPULATIONS = tuple(POPULATION_LABELS)


def field_factor(
    need_fields: sp.csr_matrix, org_fields: sp.csr_matrix, weight: float, focus: float
) -> np.ndarray:
    """``1 + weight × (2·agree − 1)`` for each need row × organisation; neutral (1) when
    either side names no 活動分野.

    ``agree`` is the share of the need's fields the group names (recall), times the share
    of the group's fields that the need names (precision) to the power ``focus``: a group
    that ticks eight fields covers any need's field without saying it works on it, and
    should not gain from the overlap the way a group focused on that field does. With
    ``focus`` 0.5 such a group (one field of eight shared) keeps 0.85, between a group
    naming another field (0.5) and one naming none (1). Measured on the devset, whose
    broad groups (an intermediary NPO, a 社会福祉協議会) tick 6-8 fields: scaling only the
    gain (leaving such a group at 1.18) lost 0.01 nDCG@10 there and 0.005 on part a.
    """
    overlap = (need_fields @ org_fields.T).toarray()
    n_count = np.asarray(need_fields.sum(axis=1)).ravel()
    o_count = np.asarray(org_fields.sum(axis=1)).ravel()
    known = (n_count[:, None] > 0) & (o_count[None, :] > 0)
    recall = overlap / np.maximum(n_count, 1)[:, None]
    agree = recall
    if focus:
        precision = overlap / np.maximum(o_count, 1)[None, :]
        agree = recall * precision**focus
    return np.where(known, 1.0 + weight * (2.0 * agree - 1.0), 1.0)


def distinct_rows(fields: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """The distinct rows of an items × 活動分野 matrix (each item's set of fields) and each
    item's code among them: ``field_factor`` of the distinct sets, gathered by the codes,
    is ``field_factor`` of the items, value for value (a handful of sets stand for
    thousands of items)."""
    if not fields.shape[0]:
        return fields, np.zeros(0, dtype=np.intp)
    first, codes = _distinct(fields.toarray())
    return fields[first], codes


def field_matrix(items: Sequence[Need | Organization]) -> sp.csr_matrix:
    """items × 活動分野 (1 where the item names the field)."""
    rows: list[int] = []
    cols: list[int] = []
    for i, item in enumerate(items):
        for f in item.fields:
            rows.append(i)
            cols.append(f)
    data = np.ones(len(rows), dtype=np.float64)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(items), max(FIELD_NAMES) + 1))


def group_codes(keys: list[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Distinct keys in first-seen order, and each item's code among them."""
    index: dict[tuple[str, ...], int] = {}
    codes = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.intp)
    return list(index), codes


def area_tables(
    need_areas: Sequence[tuple[str, ...]],
    org_areas: Sequence[tuple[str, ...]],
    factors: Mapping[str, float],
) -> tuple[
    list[tuple[str, ...]], np.ndarray, list[tuple[str, ...]], np.ndarray, np.ndarray, np.ndarray
]:
    """Both sides' distinct area lists (each item's areas, entered or read from its text)
    and each item's code among them, the relation of every pair of lists
    (``area_relation``) and its factor: computed per distinct pair, not per item pair (a
    city has a handful of wards)."""
    need_groups, need_codes = group_codes(list(need_areas))
    org_groups, org_codes = group_codes(list(org_areas))
    relations, table = _relations(need_groups, org_groups, factors)
    return need_groups, need_codes, org_groups, org_codes, relations, table


def _relations(
    need_groups: Sequence[tuple[str, ...]],
    org_groups: Sequence[tuple[str, ...]],
    factors: Mapping[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """need groups × profile groups: each pair's ``area_relation`` and its factor."""
    relations = np.array(
        [[area_relation(list(a), list(b)) for b in org_groups] for a in need_groups],
        dtype=object,
    ).reshape(len(need_groups), len(org_groups))
    table = (
        np.vectorize(factors.__getitem__, otypes=[np.float64])(relations)
        if relations.size
        else np.ones(relations.shape)
    )
    return relations, table


def with_area_groups(
    need_groups: Sequence[tuple[str, ...]],
    org_groups: Sequence[tuple[str, ...]],
    relations: np.ndarray,
    table: np.ndarray,
    areas: Sequence[tuple[str, ...]],
    factors: Mapping[str, float],
    *,
    side: Literal["need", "org"],
) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray, np.ndarray]:
    """``area_tables``' groups of one ``side``, grown by the items ``areas`` (#14: an
    edit coded every need and profile again): that side's groups, the items' codes
    among them, and the relations and factors, each area list not seen before added as
    a group with its relation to every group of the other side. A group no item uses
    any more stays until the next fit; the codes give the same relations as
    ``area_tables``'."""
    groups = need_groups if side == "need" else org_groups
    index = {g: c for c, g in enumerate(groups)}
    codes = np.array([index.setdefault(a, len(index)) for a in areas], dtype=np.intp)
    added = list(index)[len(groups) :]
    if not added:
        return list(groups), codes, relations, table
    if side == "need":
        more, more_table = _relations(added, org_groups, factors)
    else:
        more, more_table = _relations(need_groups, added, factors)
    axis = 0 if side == "need" else 1
    return (
        list(index),
        codes,
        np.concatenate([relations, more], axis=axis),
        np.concatenate([table, more_table], axis=axis),
    )


@dataclass(frozen=True, slots=True)
class PairSignals:
    """Per-side facts, computed once per fit: which groups are businesses, which needs
    invite companies, and the populations each side names."""

    kinds: list[str]
    for_profit: np.ndarray
    sells: np.ndarray
    invites: np.ndarray
    need_pops: np.ndarray
    org_pops: np.ndarray

    @classmethod
    def of(
        cls,
        needs: Sequence[Need],
        orgs: Sequence[Organization],
        org_texts: Sequence[str] | None = None,
    ) -> PairSignals:
        """``org_texts``: each profile's ``profile_text``, if made already."""
        kinds = [org_kind(o) for o in orgs]
        need_sets = [need_populations(n) for n in needs]
        texts = org_texts if org_texts is not None else [None] * len(orgs)
        org_sets = [org_populations(o, text=t) for o, t in zip(orgs, texts, strict=True)]
        return cls(
            kinds=kinds,
            for_profit=np.array([k in FOR_PROFIT_KINDS for k in kinds], dtype=bool),
            sells=np.array([sells_offering(o) for o in orgs], dtype=bool),
            invites=np.array([invites_companies(n) for n in needs], dtype=bool),
            need_pops=np.array(
                [[p in s for p in _POPULATIONS] for s in need_sets], dtype=np.float64
            ).reshape(len(needs), len(_POPULATIONS)),
            org_pops=np.array(
                [[p in s for p in _POPULATIONS] for s in org_sets], dtype=np.float64
            ).reshape(len(orgs), len(_POPULATIONS)),
        )

    def with_orgs(self, splice: Splice, added: PairSignals) -> PairSignals:
        """These signals with the profiles' rows spliced (``_splice``), ``added``'s fresh
        among them; the needs' are kept."""
        return replace(
            self,
            kinds=splice.items(self.kinds, added.kinds),
            for_profit=splice.array(self.for_profit, added.for_profit),
            sells=splice.array(self.sells, added.sells),
            org_pops=splice.array(self.org_pops, added.org_pops),
        )

    def with_needs(self, splice: Splice, added: PairSignals) -> PairSignals:
        """These signals with the needs' rows spliced, ``added``'s fresh among them; the
        profiles' are kept."""
        return replace(
            self,
            invites=splice.array(self.invites, added.invites),
            need_pops=splice.array(self.need_pops, added.need_pops),
        )

    def supplier(self, need_rows: np.ndarray, org_rows: np.ndarray | None = None) -> np.ndarray:
        """need rows × organisations (all, or ``org_rows``): a business for a need that
        does not invite one, or a business whose menu is priced (selling, not joining)."""
        cols = slice(None) if org_rows is None else org_rows
        for_profit = self.for_profit[cols]
        selling = for_profit & self.sells[cols]
        return ((~self.invites[need_rows])[:, None] & for_profit[None, :]) | selling[None, :]

    def population_mismatch(
        self, need_rows: np.ndarray, org_rows: np.ndarray | None = None
    ) -> np.ndarray:
        """need rows × organisations (all, or ``org_rows``): both name populations, and
        none in common."""
        need_pops = self.need_pops[need_rows]
        org_pops = self.org_pops if org_rows is None else self.org_pops[org_rows]
        shared = need_pops @ org_pops.T
        named = (need_pops.sum(axis=1) > 0)[:, None] & (org_pops.sum(axis=1) > 0)[None, :]
        return named & (shared == 0)

    def factors(
        self,
        need_rows: np.ndarray,
        kind_factor: float,
        population_factor: float,
        org_rows: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        return {
            "kind": np.where(self.supplier(need_rows, org_rows), kind_factor, 1.0),
            "population": np.where(
                self.population_mismatch(need_rows, org_rows), population_factor, 1.0
            ),
        }

    def populations_of(self, need_row: int, org_row: int) -> tuple[list[str], list[str]]:
        """The populations (in Japanese) the need and the group name."""
        labels = [POPULATION_LABELS[p] for p in _POPULATIONS]
        return (
            [name for name, v in zip(labels, self.need_pops[need_row], strict=True) if v],
            [name for name, v in zip(labels, self.org_pops[org_row], strict=True) if v],
        )


def _distinct(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct row of an integer matrix (in the rows' sorted
    order), and each row's code: ``np.unique(axis=0)``'s, index for index. Each row is
    read as one number in mixed radix (the first column most significant), which sorts
    as the rows do: a 1-D unique, 5× faster at 50,000 rows (it runs again after every
    profile's edit); past 62 bits, ``np.unique(axis=0)`` itself."""
    if not len(columns):
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    low = columns.min(axis=0)
    radix = [int(r) + 1 for r in columns.max(axis=0) - low]
    whole = np.issubdtype(columns.dtype, np.integer) or bool((columns == np.round(columns)).all())
    if whole and math.prod(radix) < 2**62:
        key = np.zeros(len(columns), dtype=np.int64)
        for j, r in enumerate(radix):
            key *= r
            key += (columns[:, j] - low[j]).astype(np.int64)
        _, first, codes = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, codes = np.unique(columns, axis=0, return_index=True, return_inverse=True)
    return first.astype(np.intp), codes.astype(np.intp).ravel()


def _bits(pops: np.ndarray) -> np.ndarray:
    """Each row of a 0/1 populations matrix as one integer."""
    return (pops > 0).astype(np.int64) @ (np.int64(1) << np.arange(pops.shape[1], dtype=np.int64))


def org_keys(ranker: TfidfRanker, field_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Everything the multipliers read of a profile (its 活動分野 set, by ``field_codes``,
    its area, members-only, kind and priced menu, its populations): a representative
    profile of each distinct combination and each profile's code among them."""
    s = ranker.signals_
    return _distinct(
        np.column_stack(
            [
                field_codes,
                ranker.org_area_codes_,
                ranker.members_only_,
                s.for_profit,
                s.sells,
                _bits(s.org_pops),
            ]
        ).astype(np.int64)
    )


def need_keys(ranker: TfidfRanker, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Everything the multipliers read of the needs at ``rows`` (活動分野 set, area,
    whether it invites companies, populations): a representative (a position in ``rows``)
    of each distinct combination and each need's code among them."""
    s = ranker.signals_
    _, field_codes = distinct_rows(ranker.need_fields_[rows])
    return _distinct(
        np.column_stack(
            [field_codes, ranker.need_area_codes_[rows], s.invites[rows], _bits(s.need_pops[rows])]
        ).astype(np.int64)
    )


def pair_factors(
    r: TfidfRanker, need_rows: np.ndarray, org_rows: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Structured multipliers for ``need_rows`` × the organisations (all, or
    ``org_rows``), a dense block."""
    cols = np.arange(len(r.org_ids_)) if org_rows is None else org_rows
    if org_rows is None:  # per distinct pair of 活動分野 sets, gathered: the same values
        need_sets, need_codes = distinct_rows(r.need_fields_[need_rows])
        org_sets, org_codes = r._derived("org_fields_", distinct_rows)
        fields = field_factor(need_sets, org_sets, r.field_weight, r.field_focus)[
            np.ix_(need_codes, org_codes)
        ]
    else:
        fields = field_factor(
            r.need_fields_[need_rows], r.org_fields_[cols], r.field_weight, r.field_focus
        )
    area = r.area_table_[np.ix_(r.need_area_codes_[need_rows], r.org_area_codes_[cols])]
    members = np.where(r.members_only_[cols], r.members_only_factor, 1.0)[None, :]
    return {
        "fields": fields,
        "area": area,
        "members": members,
        **r.signals_.factors(need_rows, r.kind_factor, r.population_factor, cols),
    }


def _product(r: TfidfRanker, need_rows: np.ndarray, org_rows: np.ndarray | None) -> np.ndarray:
    width = len(r.org_ids_) if org_rows is None else len(org_rows)
    product = np.ones((len(need_rows), width))
    for factor in pair_factors(r, need_rows, org_rows).values():
        product *= factor
    return product


def factor_product(
    r: TfidfRanker, need_rows: np.ndarray, org_rows: np.ndarray | None = None
) -> np.ndarray:
    """The product of every structured multiplier (``pair_factors``), in their order.
    Against every profile it is made per distinct pair of the keys the multipliers
    read (a need's fields, area, invitation and populations; a profile's fields, area,
    members-only, kind and populations) and gathered: the same values, and a handful of
    keys stand for thousands of items."""
    if org_rows is None:
        org_first, org_codes = r._derived(
            "org_keys",
            lambda *_: org_keys(r, r._derived("org_fields_", distinct_rows)[1]),
            *_ORG_KEYED,
        )
        if 2 * len(org_first) <= len(r.org_ids_):
            need_first, need_codes = need_keys(r, need_rows)
            table = _product(r, need_rows[need_first], org_first)
            return table[np.ix_(need_codes, org_codes)]
    return _product(r, need_rows, org_rows)
