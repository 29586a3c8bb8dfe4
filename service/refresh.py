"""The stored suggestions kept in step with the matching index.

``ensure_fresh`` brings every need's stored top list up to the index's version: one
refresh at a time per process, over a snapshot of the index taken under its lock, so the
lock is not held while every need is ranked and explained (``index.progress`` says how
far it is). New pairs are added, moved ones re-ranked, and pairs that fell out of a top
list keep their row with no rank: nothing a coordinator may have seen is deleted. A need
ranked for the first time (just published) tells the groups at its top, in the same
transaction (``mail.new_needs``), when the index has a ``mail_base_url``. The needs are
stored ``CHUNK`` at a time, a transaction each (``refresh_run.Run``): a request during a
long refresh reads what is stored (``served``) or stores its one need itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

import matching

from .db import analyze
from .index import MatchingIndex, Refreshed, item_key, row_id
from .kept_lists import keep, kept
from .mail.new_needs import notify_new_needs
from .models import BY_DEPARTMENT, BY_HAND, Suggestion, SuggestionStatus, utcnow
from .refresh_run import Run, announce

__all__ = ["Snapshot", "ensure_fresh", "explain_pair", "store"]

log = logging.getLogger(__name__)

# a refresh that adds more rows than this refreshes the planner's statistics
ANALYZE_AFTER = 500
# needs ranked and stored per transaction of a refresh
CHUNK = 200


@dataclass(frozen=True)
class Snapshot:
    """The index as one refresh sees it, taken under its lock in one go. ``floors``: under
    a learned model, each need's last candidate's score as its ranking gave it (the next
    refresh reads it to find the needs an edit can move), filled by every ranking made
    with this snapshot."""

    ranker: matching.TfidfRanker | None
    learned: matching.LearnedRanker | None  # when a promoted model ranks
    version: str
    model: str
    fit_key: str | None = None  # the saved state's key (``MatchingIndex.saved_key``)
    floors: dict[str, float] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, index: MatchingIndex) -> Snapshot:
        with index.lock:
            learned = index.learned if index.active is index.learned else None
            key = index.saved_key
            return cls(index.ranker, learned, index.version, index.model_version, key)


def ensure_fresh(session: Session, index: MatchingIndex, *, top: int) -> str:
    """Bring the stored suggestions up to the index's current version (cheap when
    unchanged); returns that version.

    One refresh at a time (``refresh_lock``), over a snapshot of the index: the index lock
    is not held while needs are ranked, so a request for one need's ranking or one pair's
    reasons is not kept waiting by it. After an edit applied to the same fit, only the
    needs whose lists it can move are ranked again (``matching.needs_to_rerank``: the
    needs edited, and those a changed profile was or now would be on the list of; under
    a promoted learned model, also among the candidates of, and with a re-ranking model
    every need after a profile's words changed); after a refit, a model promoted, or in
    a process that has not refreshed yet, every need is. Either way the stored rows come
    out the same. The needs are stored ``CHUNK``
    at a time, each chunk in its own transaction (``Run``)."""
    index.sync(session)
    with index.refresh_lock:
        snap = Snapshot.of(index)
        wanted = f"{snap.version}|{snap.model}"
        if index.suggestions_version == wanted:
            return snap.version
        scope = _scope(index.refreshed, snap, top=top)
        if scope is None:
            # a saved fit's lists, kept by the process that stored them (``kept_lists``)
            restored = kept(session, index, snap, top=top)
            if restored is not None:
                index.progress.start("ranking", 0)  # shown as a ranking of no need
                index.progress.finish()
                index.suggestions_version, index.refreshed = wanted, restored
                return snap.version
            needs = list(snap.ranker.need_ids_) if snap.ranker else []
            removed = None  # read once the run is open to requests (``_gone``: 0.3 s at 50k)
        else:
            needs, removed = scope.needs, scope.removed
        run = Run(snap, needs, full=scope is None)
        announce(index, running=run)
        try:
            with _alone(index, full=scope is None) as waited:
                # another worker ranked every need meanwhile: its lists, if of this fit
                done = kept(session, index, snap, top=top) if waited else None
                if done is not None:
                    index.progress.start("ranking", 0)
                else:
                    index.progress.start("ranking", len(needs))
                    if removed is None:
                        removed = _gone(session, snap)
                    lists = _refresh(session, run, index, top=top, removed=removed)
                    done = _refreshed(index.refreshed, snap, lists, scope, top=top)
                    if scope is None:  # kept before the run shows as done: a stop loses nothing
                        keep(session, index, snap, done, top=top)
        finally:
            run.close()
            announce(index, running=None)
            index.progress.finish()
        if scope is None or index.progress.last_seconds >= 1.0:
            log.info(
                "提案を更新しました: 課題 %d 件を順位付け（%s、%.1f 秒、%s）",
                index.progress.last_total,
                "すべての課題" if scope is None else "変更が動かしうる課題",
                index.progress.last_seconds,
                snap.model,
            )
        index.suggestions_version = wanted
        index.refreshed = done
        return snap.version


@contextlib.contextmanager
def _alone(index: MatchingIndex, *, full: bool) -> Iterator[bool]:
    """Around a refresh of every need: one process at a time over the saved fits' folder
    (``SavedIndexes.refreshing``), so that a second worker, started with the first, takes
    the first's kept lists instead of ranking every need beside it. Requests meanwhile are
    answered as during any refresh of every need (``served``: from the store, or the one
    need ranked on demand). Yields whether this process waited."""
    if not full or index.saved is None:
        yield False
        return
    with index.saved.refreshing(on_wait=lambda: _waiting(index)) as waited:
        yield waited


def _waiting(index: MatchingIndex) -> None:
    log.info("別のワーカーがすべての課題を順位付けしています。終わるのを待ちます")
    index.progress.start("waiting")


def _scope(last: Refreshed | None, snap: Snapshot, *, top: int) -> matching.RerankScope | None:
    """The needs this refresh must rank (``None``: every need)."""
    if last is None or last.top != top:
        return None
    if snap.learned is not None or last.learned is not None:  # a rebind of the same model
        return matching.needs_to_rerank(
            last.learned, snap.learned, last.lists, top=top, floors=last.floors
        )
    return matching.needs_to_rerank(last.ranker, snap.ranker, last.lists, top=top)


def _refreshed(
    last: Refreshed | None,
    snap: Snapshot,
    lists: dict[str, list[tuple[str, float]]],
    scope: matching.RerankScope | None,
    *,
    top: int,
) -> Refreshed | None:
    """What the next refresh starts from: the lists just stored (and, under a learned
    model, the needs' last candidates' scores)."""
    if snap.ranker is None:
        return None
    if scope is None or last is None:
        return Refreshed(snap.ranker, top, lists, snap.learned, dict(snap.floors))
    gone = set(scope.removed)
    merged = {k: v for k, v in last.lists.items() if k not in gone}
    merged.update(lists)
    floors = {k: v for k, v in last.floors.items() if k not in gone}
    floors.update(snap.floors)
    return Refreshed(snap.ranker, top, merged, snap.learned, floors)


def _reasons(
    snap: Snapshot,
    need_key: str,
    org_keys: list[str],
    contributed: dict[str, dict[str, float]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per group: the cold-start explanation, plus the learned model's part when one ranks
    (explained with the settings that model calibrated, so the factors match the score):
    ``contributed`` when the ranking gave it (``rank_orgs(contributions=)``), else computed."""
    assert snap.ranker is not None
    base = snap.learned.base_ if snap.learned is not None else snap.ranker
    out = {e.npo_id: e.as_dict() for e in base.explain_many(need_key, org_keys)}
    if snap.learned is not None:
        if contributed is None or not set(org_keys) <= set(contributed):
            contributed = snap.learned.contributions_many(need_key, org_keys)
        for org_key in org_keys:
            out[org_key]["model"] = contributed[org_key]
    return out


def explain_pair(index: MatchingIndex, need_id: int, org_id: int) -> dict[str, Any]:
    """The reasons one (need, group) pair would be shown with, suggested or not."""
    return _reasons(Snapshot.of(index), item_key(need_id), [item_key(org_id)])[item_key(org_id)]


def _existing(session: Session, need_ids: list[int]) -> dict[tuple[int, int], Suggestion]:
    """The stored suggestions of ``need_ids``, by pair, without their reasons (deferred:
    the refresh only ever writes them, and a need's rows hold a few kB of them each, for
    every pair it was ever suggested with)."""
    rows: list[Suggestion] = []
    for start in range(0, len(need_ids), 1000):
        chunk = need_ids[start : start + 1000]
        query = (
            select(Suggestion)
            .where(col(Suggestion.need_id).in_(chunk))
            .options(defer(cast(Any, Suggestion.reasons)))
        )
        rows += session.exec(query).all()
    return {(s.need_id, s.organization_id): s for s in rows}


def _gone(session: Session, snap: Snapshot) -> list[str]:
    """The needs with a ranked suggestion stored that are not in the index (withdrawn)."""
    known = snap.ranker.need_index_ if snap.ranker is not None else {}
    ranked = select(Suggestion.need_id).where(col(Suggestion.rank).is_not(None)).distinct()
    return [item_key(i) for i in session.exec(ranked).all() if item_key(i) not in known]


def _refresh(
    session: Session, run: Run, index: MatchingIndex, *, top: int, removed: list[str]
) -> dict[str, list[tuple[str, float]]]:
    """Store the top lists of ``run``'s needs, ``CHUNK`` needs a transaction, less those a
    request stored itself meanwhile (``Run.claim``); the pending rows of the needs
    ``removed`` from the index leave their lists. Returns every list stored, by need."""
    lists: dict[str, list[tuple[str, float]]] = {}
    added = 0
    while True:
        chunk = run.take(CHUNK)
        if not chunk and not run.settle():
            break
        if chunk:
            stored, n = store(session, run.snap, index, chunk, [], top=top)
            lists.update(stored)
            added += n
    if removed:
        added += store(session, run.snap, index, [], removed, top=top)[1]
    lists.update(run.early_lists())
    if added > ANALYZE_AFTER:
        analyze(session, "suggestion")
    return lists


def store(
    session: Session,
    snap: Snapshot,
    index: MatchingIndex,
    needs: list[str],
    removed: list[str],
    *,
    top: int,
) -> tuple[dict[str, list[tuple[str, float]]], int]:
    """Store the lists of ``needs`` (``_store_once``), once more if another process
    inserted one of the same pairs first."""
    for attempt in range(2):
        try:
            return _store_once(session, snap, index, needs, removed, top=top)
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _store_once(
    session: Session,
    snap: Snapshot,
    index: MatchingIndex,
    needs: list[str],
    removed: list[str],
    *,
    top: int,
) -> tuple[dict[str, list[tuple[str, float]]], int]:
    """Store the top lists of ``needs`` in one transaction: new pairs added, moved ones
    re-ranked, pairs that fell out keep their row with no rank (so do the rows of the
    needs ``removed`` from the index). Returns the lists stored, by need, and how many
    rows were added."""
    version, model = snap.version, snap.model
    existing = _existing(session, [row_id(k) for k in needs + removed])
    # the learned model's part of each listed pair's reasons, from the ranking's features
    explained: dict[str, dict[str, dict[str, float]]] = {}
    if not needs:
        rankings = []
    elif snap.learned is not None:  # each need's last candidate kept for the next refresh
        rankings = snap.learned.rank_orgs(
            needs, top=top, floors=snap.floors, contributions=explained
        )
    else:
        rankings = snap.ranker.rank_orgs(needs, top=top) if snap.ranker else []
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
        reasons = _reasons(snap, need_key, stale, explained.get(need_key)) if stale else {}
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
    return lists, added
