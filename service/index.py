"""The in-process matching index, kept in step with the database.

Each server process holds one fitted ``TfidfRanker``. Every change to a need or a
profile writes an audit row; before ranking, a process reads the audit rows it has not
seen (one indexed query) and applies them with ``upsert`` / ``remove``, so a profile
registered through one process is rankable in every process at its next request,
without a refit. A bulk import writes one audit row for the whole file, with the keys it
created and updated; a process that reads one applies those rows the same way, or refits
when they would pass the refit threshold. A full refit (new vocabulary and IDF) runs on
command, and by itself once the items changed since the last fit pass a quarter of the
index.

The lock is held for the swap, not the work: a refit reads and fits outside it (one fit
at a time, ``fit_lock``) and then swaps the new ranker in; changes are applied to a
shallow copy of the ranker that then replaces it, so a request that took the ranker keeps
a consistent one however long it ranks. A fit is saved to a folder and memory-mapped
back (``saved_index``): a restart or another worker with the same data loads it in
seconds, and the processes share its pages; a start on data changed since resumes it and
applies the audit rows written since (``fit_history``). ``progress`` says what the index is doing
(fitting, ranking every need), for ``/models`` and ``GET /api/index``.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import matching

from . import models
from .audit import READ_ACTIONS
from .fit_history import RECHECK, leads_on, recent_ids
from .heap import freeze_fit, freeze_more
from .index_rows import item_key, live_keys, live_needs, live_orgs, row_id
from .models import AuditLog
from .progress import Progress
from .saved_index import SavedIndexes, fit_or_load
from .saved_rows import attach_rows, build_model, keep_rows

if TYPE_CHECKING:
    from .refresh import Run

log = logging.getLogger(__name__)

REFIT_SHARE = 0.25
REFIT_MIN_CHANGES = 50
_KEY_CHUNK = 2000  # keys per ``IN (...)``: an import's keys read back as row ids


@dataclass
class Refreshed:
    """The stored suggestions as this process last wrote them: ``ranker`` ranked every
    need in ``lists`` (its pairs with a positive score, best first, ``top`` at most), or
    the promoted ``learned`` model over it did (and gave each need's last candidate's
    score in ``floors``)."""

    ranker: matching.TfidfRanker
    top: int
    lists: dict[str, list[tuple[str, float]]]
    learned: matching.LearnedRanker | None = None
    floors: dict[str, float] = field(default_factory=dict)


class MatchingIndex:
    """Thread-safe holder of the fitted ranker for one process."""

    def __init__(
        self,
        engine: Engine,
        *,
        mail_base_url: str | None = None,
        index_dir: Path | None = None,
        resume: bool = True,
    ) -> None:
        self.engine = engine
        # where fits are saved and loaded from, memory-mapped (``saved_index``); None: never
        self.saved = SavedIndexes(index_dir) if index_dir is not None else None
        # whether a start may resume a saved fit of earlier data (``prepare`` fits anew, so
        # that the next start loads that fit and its kept lists and ranks nothing)
        self.resume = resume
        self.loaded = False  # the ranker is a saved fit, loaded instead of fitted
        self.fit_key: str | None = None  # the key the ranker's fit is saved under
        # after a start resumed a saved fit: the audit id its first batch of rows reached,
        # while no other batch is applied (another process resuming the same fit up to the
        # same id has the same ranker: ``saved_key``); None otherwise
        self.resumed_at: int | None = None
        self._resume_pending = False
        self.saved_state: str | None = None  # ``saved_key``
        # where the links in mail start: with it, storing a just-published need's
        # suggestions tells the groups at its top (``refresh``); without it, no mail
        self.mail_base_url = mail_base_url
        self.lock = threading.RLock()  # held to read or swap the ranker, not to fit
        self.fit_lock = threading.Lock()  # one refit at a time
        self.refresh_lock = threading.Lock()  # one refresh of the stored suggestions at a time
        self.progress = Progress()
        self.ranker: matching.TfidfRanker | None = None
        self.seen_audit_id = 0
        self.fitted_audit_id = 0
        self.changes_since_fit = 0
        self.suggestions_version = ""  # the index version the stored suggestions reflect
        # what the last refresh in this process stored: the ranker (and learned model) it
        # ranked with and each need's list, so the next one ranks only the needs a change
        # can move (``refresh``)
        self.refreshed: Refreshed | None = None
        self.learned: matching.LearnedRanker | None = None
        self.model_version = "cold-start"
        # the refresh of the stored suggestions under way (``refresh.Run``), and whether
        # the start's warm-up is: a request meanwhile answers from the store (``refresh``)
        self.running: Run | None = None
        self.warming = False
        # audit ids applied lately: a transaction that took an id earlier may commit later
        # (PostgreSQL), so each sync looks back RECHECK ids and applies what it missed
        self.recent_ids: set[int] = set()

    @property
    def active(self) -> matching.TfidfRanker | matching.LearnedRanker | None:
        """What ranks: the promoted learned model over the index, else the cold start."""
        if self.learned is not None and self.learned.promoted_:
            return self.learned
        return self.ranker

    def load_model(self, session: Session) -> None:
        """Rebuild the promoted model from its stored training decisions (deterministic);
        over a saved fit with no edit applied, with what its build scores kept beside it
        (``saved_rows``); what it made frozen with the fit (``heap``)."""
        unedited = self.fit_key if self.saved_state == self.fit_key else None
        self.learned, self.model_version = self._learned_for(session, self.ranker, unedited)
        freeze_more(self.ranker)

    def _model_moved(self, session: Session) -> bool:
        """Whether the promoted model is another than the one this index holds. A start
        that resumed a saved fit reads the promotion's audit row after building the
        model it names (``refit``): building it again cost 38 s at 50,000 profiles, and
        the model is the same (a version names one stored model, promoted once)."""
        from .training import current_model

        model = current_model(session)
        return (model.version if model is not None else "cold-start") != self.model_version

    @property
    def saved_key(self) -> str | None:
        """The saved state the ranker is, for the lists kept beside it (``kept_lists``):
        the saved fit's key while no edit is applied to it; after a resume, that key and
        the audit id its one batch of rows reached; ``None`` once edited otherwise. Rows
        that edit no need or profile (a model's promotion) leave it as it is: the ranker
        is the same."""
        return self.saved_state

    @property
    def version(self) -> str:
        """Which data the rankings come from: the audit id at the fit and the last one applied."""
        return f"fit{self.fitted_audit_id}+{self.seen_audit_id}"

    def refit(self, session: Session) -> bool:
        """Fit a new ranker on every published need and active profile, then swap it in;
        a fit of the same data saved before (by this process, an earlier one or another
        worker) is memory-mapped instead, and at a start the newest of this database's
        earlier state is resumed (``saved_index``; returns ``True``: the rows written
        since are for ``_apply``). The index lock is not held while reading and fitting
        (requests go on with the ranker they have); a second caller waits for the fit in
        progress, then refits only if rows were written since it started."""
        started_at = self.fitted_audit_id
        with self.fit_lock:
            if self.fitted_audit_id != started_at and self.ranker is not None:
                return False  # another request refitted while this one waited
            last = int(session.exec(select(func.max(AuditLog.id))).one() or 0)
            need_keys, org_keys = live_keys(session)
            self.progress.start("fitting", len(need_keys) + len(org_keys))
            try:
                # at a start, the newest of this database's earlier state, the rows written
                # since applied after; else the saved fit of the same data if there is one
                # (``saved_index``); else a fit
                limit = max(REFIT_MIN_CHANGES, REFIT_SHARE * (len(need_keys) + len(org_keys)))

                def resume(earlier: matching.TfidfRanker, note: dict[str, Any]) -> bool:
                    return leads_on(session, earlier, note, need_keys, org_keys, limit, item_key)

                def read() -> tuple[list[matching.Need], list[matching.Organization]]:
                    return live_needs(session, None), live_orgs(session, None)

                start = self.resume and self.ranker is None and need_keys and org_keys
                ranker, loaded, key, note = fit_or_load(
                    self.saved, session, last, read, resume=resume if start else None
                )
                read_at = int(note["last"]) if note is not None else last
                recent = set(note["recent"]) if note is not None else recent_ids(session, last)
                freeze_fit(ranker)  # (``heap``: before the model's build over it)
                learned, model_version = self._learned_over_fit(session, ranker, key)
                freeze_more(ranker)
                with self.lock:  # the swap
                    self.ranker, self.loaded, self.fit_key = ranker, loaded, key
                    self.resumed_at, self._resume_pending = None, note is not None
                    self.saved_state = key
                    self.seen_audit_id = self.fitted_audit_id = read_at
                    self.recent_ids = recent
                    self.changes_since_fit = 0
                    self.learned, self.model_version = learned, model_version
                    self.refreshed = None  # the next refresh ranks every need: let the old fit go
            finally:
                self.progress.finish()
        return note is not None

    def _learned_over_fit(
        self, session: Session, ranker: matching.TfidfRanker | None, key: str | None
    ) -> tuple[matching.LearnedRanker | None, str]:
        """``_learned_for`` over ``ranker``, the saved fit of ``key`` as loaded or fitted,
        with the rows of its items kept beside it (``saved_rows``): attached when kept,
        kept when the model made them (none read while no model is promoted)."""
        from .training import current_model

        if self.saved is None or key is None or ranker is None or current_model(session) is None:
            return self._learned_for(session, ranker)
        attached = attach_rows(self.saved, key, ranker)
        learned, model_version = self._learned_for(session, ranker, key)
        if learned is not None and not attached:
            keep_rows(self.saved, key, learned, ranker)
        return learned, model_version

    def _learned_for(
        self, session: Session, ranker: matching.TfidfRanker | None, key: str | None = None
    ) -> tuple[matching.LearnedRanker | None, str]:
        """The promoted model rebuilt over ``ranker`` from its stored decisions, with the
        stages its validation chose (``stored_stages``): nothing is validated again.
        ``key``: ``ranker`` is the saved fit of that key with no edit applied; what the
        build scores against every profile is then taken from beside it, or kept there."""
        from .training import current_model, stored_decisions, stored_stages

        model = current_model(session)
        if model is None or ranker is None:
            return None, "cold-start"
        started = time.monotonic()
        decisions = stored_decisions(session, up_to=model.max_decision_id)
        stages = stored_stages(model)
        learned, kept = build_model(self.saved, key, model.version, ranker, decisions, stages)
        log.info(
            "学習済みモデル %s を組み立てました（判断 %d 件、%.1f 秒%s）",
            model.version,
            len(decisions),
            time.monotonic() - started,
            "、保存済みの組み立て結果を使用" if kept else "",
        )
        return (learned, model.version) if learned.promoted_ else (None, "cold-start")

    def sync(self, session: Session) -> matching.TfidfRanker | None:
        """Apply the changes other requests and processes made; return the current ranker
        (a refit, when one is due, runs outside the lock and swaps in)."""
        if self._apply(session):
            resumed = self.refit(session)
            # what was written while it fitted, or since the resumed fit: a refit after
            # all when that is more than edits (a large import)
            if self._apply(session) and resumed:
                self.refit(session)
                self._apply(session)
        return self.ranker

    def _apply(self, session: Session) -> bool:
        """Apply unseen audit rows to a copy of the ranker and swap it in; ``True`` when
        a refit is due instead."""
        with self.lock:
            if self.ranker is None and self.seen_audit_id == 0:
                return True
            rows = [
                r
                for r in session.exec(
                    select(AuditLog.id, AuditLog.entity, AuditLog.entity_id, AuditLog.action)
                    .where(col(AuditLog.id) > self.seen_audit_id - RECHECK)
                    .where(col(AuditLog.entity).in_(["need", "organization", "index"]))
                    .where(col(AuditLog.action).not_in(READ_ACTIONS))  # reads change nothing
                    .order_by(col(AuditLog.id))
                ).all()
                if r[0] is not None and r[0] not in self.recent_ids
            ]
            if rows and any(r[3] == "import" and r[2] is None for r in rows):
                rows = self._without_noop_imports(session, rows)
                if self.ranker is not None and rows:
                    expanded = self._import_rows(session, rows)
                    if expanded is None:
                        return True  # a big import: a refit (new vocabulary)
                    rows = expanded
            if not rows:
                return False
            if self.ranker is None or any(
                (r[1] == "index" and r[3] == "refit") or (r[3] == "import" and r[2] is None)
                for r in rows
            ):
                return True  # a bulk import changed rows: a refit (new vocabulary)
            last = max(self.seen_audit_id, *(int(r[0] or 0) for r in rows))
            if any(r[1] == "index" and r[3] == "promote" for r in rows) and self._model_moved(
                session
            ):
                self.load_model(session)
            need_ids = {r[2] for r in rows if r[1] == "need" and r[2] is not None}
            org_ids = {r[2] for r in rows if r[1] == "organization" and r[2] is not None}
            needs = live_needs(session, need_ids)
            orgs = live_orgs(session, org_ids)
            gone_needs = need_ids - {row_id(n.id) for n in needs}
            gone_orgs = org_ids - {row_id(o.id) for o in orgs}
            # copy on write: a request ranking with the old ranker keeps a consistent one
            ranker = copy.copy(self.ranker)
            ranker.upsert(needs, orgs)
            ranker.remove([item_key(i) for i in gone_needs], [item_key(i) for i in gone_orgs])
            if self.learned is not None and (need_ids or org_ids):
                learned = copy.copy(self.learned)
                learned.rebind(ranker)
                self.learned = learned
            self.ranker = ranker
            self.seen_audit_id = last
            if need_ids or org_ids:  # the ranker moves off the saved state
                resumed = self._resume_pending and self.fit_key is not None
                self.resumed_at = last if resumed else None
                self.saved_state = f"{self.fit_key}+{last}" if resumed else None
                self._resume_pending = False
            self.recent_ids = {i for i in self.recent_ids if i > last - RECHECK}
            self.recent_ids.update(int(r[0] or 0) for r in rows)
            self.changes_since_fit += len(need_ids) + len(org_ids)
            size = len(ranker.need_ids_) + len(ranker.org_ids_)
            return self.changes_since_fit > max(REFIT_MIN_CHANGES, REFIT_SHARE * size)

    def _without_noop_imports(self, session: Session, rows: list[Any]) -> list[Any]:
        """Drop the audit rows of imports that changed nothing (a file imported again):
        seen, but no new version. An import's one row stands for the whole file; its
        detail (read once, when the row is new) says how many rows it wrote."""
        ids = [int(r[0]) for r in rows if r[3] == "import" and r[2] is None]
        details = session.exec(
            select(AuditLog.id, AuditLog.detail).where(col(AuditLog.id).in_(ids))
        ).all()
        noop = {
            i for i, d in details if i is not None and not (d.get("created") or d.get("updated"))
        }
        self.recent_ids.update(noop)
        return [r for r in rows if r[0] not in noop]

    def _import_rows(self, session: Session, rows: list[Any]) -> list[Any] | None:
        """``rows`` with each import's row replaced by one row per need or profile it
        created or updated (its audit id, the entity, the row's id), to be applied like
        single edits; ``None`` when they would pass the refit threshold (a refit instead)."""
        assert self.ranker is not None
        ids = [int(r[0]) for r in rows if r[3] == "import" and r[2] is None]
        read = select(AuditLog.id, AuditLog.detail).where(col(AuditLog.id).in_(ids))
        details = {int(i or 0): d for i, d in session.exec(read).all()}
        if any("created_keys" not in d or "updated_keys" not in d for d in details.values()):
            return None  # a row that does not list its keys: refit
        written = sum(len(d["created_keys"]) + len(d["updated_keys"]) for d in details.values())
        size = len(self.ranker.need_ids_) + len(self.ranker.org_ids_)
        if self.changes_since_fit + written > max(REFIT_MIN_CHANGES, REFIT_SHARE * size):
            return None
        out = []
        for r in rows:
            if not (r[3] == "import" and r[2] is None):
                out.append(r)
                continue
            detail = details[int(r[0])]
            model = models.Need if r[1] == "need" else models.Organization
            keys = [*detail["created_keys"], *detail["updated_keys"]]
            for start in range(0, len(keys), _KEY_CHUNK):
                chunk = keys[start : start + _KEY_CHUNK]
                found = session.exec(select(model.id).where(col(model.key).in_(chunk))).all()
                out += [(r[0], r[1], i, "import") for i in found]
        return out
