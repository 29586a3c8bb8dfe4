"""The stored suggestions kept in step with the matching index.

``ensure_fresh`` brings every need's stored top list up to the index's version: one
refresh at a time per process, over a snapshot of the index taken under its lock, so the
lock is not held while every need is ranked and explained (``index.progress`` says how
far it is). New pairs are added, moved ones re-ranked, and pairs that fell out of a top
list keep their row with no rank: nothing a coordinator may have seen is deleted. A need
ranked for the first time (just published) tells the groups at its top, in the same
transaction (``mail.new_needs``), when the index has a ``mail_base_url``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import matching

from .db import analyze
from .index import MatchingIndex, Refreshed, item_key, row_id
from .mail.new_needs import notify_new_needs
from .models import BY_DEPARTMENT, BY_HAND, Suggestion, SuggestionStatus, utcnow

__all__ = ["Snapshot", "ensure_fresh", "explain_pair", "warm_up"]

log = logging.getLogger(__name__)

# a refresh that adds more rows than this refreshes the planner's statistics
ANALYZE_AFTER = 500


@dataclass(frozen=True)
class Snapshot:
    """The index as one refresh sees it, taken under its lock in one go."""

    ranker: matching.TfidfRanker | None
    learned: matching.LearnedRanker | None  # when a promoted model ranks
    version: str
    model: str

    @classmethod
    def of(cls, index: MatchingIndex) -> Snapshot:
        with index.lock:
            learned = index.learned if index.active is index.learned else None
            return cls(index.ranker, learned, index.version, index.model_version)

    @property
    def active(self) -> matching.TfidfRanker | matching.LearnedRanker | None:
        return self.learned or self.ranker


def ensure_fresh(session: Session, index: MatchingIndex, *, top: int) -> None:
    """Bring the stored suggestions up to the index's current version (cheap when unchanged).

    One refresh at a time (``refresh_lock``), over a snapshot of the index: the index lock
    is not held while needs are ranked, so a request for one need's ranking or one pair's
    reasons is not kept waiting by it. After an edit applied to the same fit, only the
    needs whose lists it can move are ranked again (``matching.needs_to_rerank``: the
    needs edited, and those a changed profile was or now would be on the list of); after
    a refit, with a learned model, or in a process that has not refreshed yet, every
    need is. Either way the stored rows come out the same."""
    index.sync(session)
    with index.refresh_lock:
        snap = Snapshot.of(index)
        wanted = f"{snap.version}|{snap.model}"
        if index.suggestions_version == wanted:
            return
        scope = _scope(index.refreshed, snap, top=top)
        every = len(snap.ranker.need_ids_) if snap.ranker else 0
        index.progress.start("ranking", len(scope.needs) if scope is not None else every)
        try:
            for attempt in range(2):
                try:
                    lists = _refresh(session, snap, index, top=top, scope=scope)
                    break
                except IntegrityError:  # another process inserted the same pair first
                    session.rollback()
                    if attempt:
                        raise
        finally:
            index.progress.finish()
        index.suggestions_version = wanted
        index.refreshed = _refreshed(index.refreshed, snap, lists, scope, top=top)


def _scope(last: Refreshed | None, snap: Snapshot, *, top: int) -> matching.RerankScope | None:
    """The needs this refresh must rank (``None``: every need)."""
    if last is None or snap.learned is not None or last.top != top:
        return None
    return matching.needs_to_rerank(last.ranker, snap.ranker, last.lists, top=top)


def _refreshed(
    last: Refreshed | None,
    snap: Snapshot,
    lists: dict[str, list[tuple[str, float]]],
    scope: matching.RerankScope | None,
    *,
    top: int,
) -> Refreshed | None:
    """What the next refresh starts from: the cold-start lists just stored."""
    if snap.ranker is None or snap.learned is not None:
        return None  # a learned model ranks: the next refresh ranks every need again
    if scope is None or last is None:
        return Refreshed(snap.ranker, top, lists)
    gone = set(scope.removed)
    merged = {k: v for k, v in last.lists.items() if k not in gone}
    merged.update(lists)
    return Refreshed(snap.ranker, top, merged)


def _reasons(snap: Snapshot, need_key: str, org_keys: list[str]) -> dict[str, dict[str, Any]]:
    """Per group: the cold-start explanation, plus the learned model's part when one ranks
    (explained with the settings that model calibrated, so the factors match the score)."""
    assert snap.ranker is not None
    base = snap.learned.base_ if snap.learned is not None else snap.ranker
    out = {e.npo_id: e.as_dict() for e in base.explain_many(need_key, org_keys)}
    if snap.learned is not None:
        for org_key in org_keys:
            out[org_key]["model"] = snap.learned.contributions(need_key, org_key)
    return out


def explain_pair(index: MatchingIndex, need_id: int, org_id: int) -> dict[str, Any]:
    """The reasons one (need, group) pair would be shown with, suggested or not."""
    return _reasons(Snapshot.of(index), item_key(need_id), [item_key(org_id)])[item_key(org_id)]


def _existing(session: Session, need_ids: list[int] | None) -> dict[tuple[int, int], Suggestion]:
    """The stored suggestions of ``need_ids`` (``None``: every need), by pair."""
    if need_ids is None:
        rows = list(session.exec(select(Suggestion)).all())
    else:
        rows = []
        for start in range(0, len(need_ids), 1000):
            chunk = need_ids[start : start + 1000]
            rows += session.exec(select(Suggestion).where(col(Suggestion.need_id).in_(chunk))).all()
    return {(s.need_id, s.organization_id): s for s in rows}


def _refresh(
    session: Session,
    snap: Snapshot,
    index: MatchingIndex,
    *,
    top: int,
    scope: matching.RerankScope | None,
) -> dict[str, list[tuple[str, float]]]:
    """Store the top lists of the needs in ``scope`` (every need when ``None``): new pairs
    added, moved ones re-ranked, pairs that fell out keep their row with no rank (the
    needs gone from the index included). Returns the lists stored, by need."""
    active = snap.active
    version, model = snap.version, snap.model
    if scope is None:
        existing = _existing(session, None)
        rankings = active.rank_orgs(top=top) if active else []
    else:
        keys = scope.needs + scope.removed
        existing = _existing(session, [row_id(k) for k in keys])
        rankings = active.rank_orgs(scope.needs, top=top) if active and scope.needs else []
    # a department's proposal is its own (no rank, its marker and note): never rewritten
    proposed = {pair for pair, row in existing.items() if row.model_version == BY_DEPARTMENT}
    # needs the ranking never stored a suggestion for: ranked for the first time, i.e.
    # just published (a pair a person made, by hand or a department's proposal, is not one);
    # ``existing`` holds every row of each need ranked here
    seen_needs = {
        need_id
        for (need_id, _), row in existing.items()
        if row.model_version not in (BY_HAND, BY_DEPARTMENT)
    }
    first: dict[int, list[tuple[int, float]]] = {}
    current: set[tuple[int, int]] = set()
    lists: dict[str, list[tuple[str, float]]] = {}
    now = utcnow()
    for need_key, ranking in rankings:
        need_id = row_id(need_key)
        ranked = [
            (rank, org_key, score) for rank, (org_key, score) in enumerate(ranking, 1) if score > 0
        ]
        lists[need_key] = [(org_key, score) for _, org_key, score in ranked]
        stale = [
            org_key
            for _, org_key, score in ranked
            if (row := existing.get((need_id, row_id(org_key)))) is None
            or (
                (need_id, row_id(org_key)) not in proposed
                and row.status == SuggestionStatus.pending
                and (row.score, row.model_version) != (score, model)
            )
        ]
        reasons = _reasons(snap, need_key, stale) if stale else {}
        index.progress.done += 1
        if need_id not in seen_needs and ranked:
            first[need_id] = [(row_id(org_key), score) for _, org_key, score in ranked]
        for rank, org_key, score in ranked:
            pair = (need_id, row_id(org_key))
            current.add(pair)
            row = existing.get(pair)
            if pair in proposed:
                continue
            if row is None:
                session.add(
                    Suggestion(
                        need_id=need_id,
                        organization_id=pair[1],
                        score=score,
                        rank=rank,
                        reasons=reasons[org_key],
                        index_version=version,
                        model_version=model,
                    )
                )
            elif row.status == SuggestionStatus.pending and (
                row.rank,
                row.score,
                row.model_version,
            ) != (
                rank,
                score,
                model,
            ):
                if org_key in reasons:
                    row.reasons = reasons[org_key]
                row.score, row.rank = score, rank
                row.index_version, row.model_version, row.updated_at = version, model, now
                session.add(row)
    for pair, row in existing.items():
        if pair not in current and row.rank is not None and row.status == SuggestionStatus.pending:
            row.rank = None  # dropped out of the top list; kept, never silently deleted
            row.updated_at = now
            session.add(row)
    added = len(session.new)
    if first and index.mail_base_url is not None:  # in the suggestions' own transaction
        notify_new_needs(session, first, base_url=index.mail_base_url, now=now)
    session.commit()
    if added > ANALYZE_AFTER:
        analyze(session, "suggestion")
    return lists


def warm_up(engine: Engine, index: MatchingIndex, *, top: int) -> threading.Thread:
    """Fit the index and store every need's suggestions in a background thread, started
    with the server: the first request finds them ready (or, arriving earlier, waits for
    this work instead of doing it again); ``index.progress`` shows how far it is."""

    def run() -> None:
        try:
            with Session(engine) as session:
                ensure_fresh(session, index, top=top)
        except Exception:  # the database may be down at start; requests will try again
            log.exception("warm-up of the matching index failed")

    thread = threading.Thread(target=run, name="kyodo-warm-up", daemon=True)
    thread.start()
    return thread
