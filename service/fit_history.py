"""What a saved fit was made from, and whether this database leads on from it (#14).

A fit's key (``fit_key``) names everything it depends on: the code and settings and the
libraries' versions (``environment``), the last change to a need, a profile or the index
in the audit log (``last_change``: its id and time, this database's history), and the
very needs and profiles read. A saved fit of earlier data is resumed by a start only
when this database's items differ from the fit's where the audit rows written since say
so (``leads_on``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

import matching
from matching._vectors import ginza_vocab_dir

from .audit import READ_ACTIONS
from .models import AuditLog

__all__ = ["FORMAT", "RECHECK", "environment", "fit_key", "last_change", "leads_on", "recent_ids"]

log = logging.getLogger(__name__)

FORMAT = 2  # the layout of a saved file: raised when it changes (2: ``matching._persist``)
# audit ids a sync looks back over: a transaction that took an id earlier may commit later
# (PostgreSQL), so each sync applies what it missed among the last RECHECK ids
RECHECK = 50


@functools.cache
def environment() -> str:
    """What a fit depends on besides its data, digested once per process: the source of
    ``matching``, the ranker's settings, the libraries', dictionary's and word vectors'
    versions (the vectors' files by size and time too)."""
    h = hashlib.sha256(f"format {FORMAT}\n".encode())
    package = Path(matching.__file__).parent
    for source in sorted(package.rglob("*.py")):
        h.update(source.relative_to(package).as_posix().encode() + b"\0")
        h.update(source.read_bytes())
    h.update(repr(sorted(matching.TfidfRanker().get_params(deep=False).items())).encode())
    h.update(f"python {sys.version_info[:2]}\n".encode())
    for dist in ("numpy", "scipy", "scikit-learn", "joblib", "fugashi", "unidic-lite", "ja-ginza"):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{dist} {version}\n".encode())
    vocab = ginza_vocab_dir()
    if vocab is not None:
        for name in ("vectors", "key2row"):
            stat = (vocab / name).stat()
            h.update(f"{vocab / name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fit_key(
    session: Session,
    last: int,
    needs: Sequence[matching.Need],
    orgs: Sequence[matching.Organization],
) -> str:
    """The key of a fit of ``needs`` and ``orgs``, read when ``last`` was the newest audit
    id: equal keys, equal fits."""
    changed, at = last_change(session, last)
    h = hashlib.sha256(environment().encode())
    h.update(f"\naudit {changed} {at}\n".encode())
    for side in (needs, orgs):
        h.update(f"{len(side)}\n".encode())
        for item in sorted(side, key=lambda i: i.id):
            h.update(repr(item).encode())  # every field, in order
            h.update(b"\0")
    return h.hexdigest()


def last_change(session: Session, last: int) -> tuple[int, str]:
    """The newest change to a need, a profile or the index up to audit id ``last``: its
    id and time (0 and "" when there is none)."""
    changed = session.exec(
        select(AuditLog.id, AuditLog.at)
        .where(col(AuditLog.id) <= last)
        .where(col(AuditLog.entity).in_(["need", "organization", "index"]))
        .where(col(AuditLog.action).not_in(READ_ACTIONS))
        .order_by(col(AuditLog.id).desc())
        .limit(1)
    ).first()
    if changed is None or changed[0] is None:
        return 0, ""
    return int(changed[0]), changed[1].isoformat() if changed[1] is not None else ""


def recent_ids(session: Session, last: int) -> set[int]:
    """The audit ids of the ``RECHECK`` up to ``last`` that are written: what a sync
    after a fit read at ``last`` need not apply again."""
    window = select(AuditLog.id).where(col(AuditLog.id) > last - RECHECK, col(AuditLog.id) <= last)
    return {i for i in session.exec(window).all() if i is not None}


def leads_on(
    session: Session,
    ranker: matching.TfidfRanker,
    note: dict[str, Any],
    need_keys: set[str],
    org_keys: set[str],
    limit: float,
    key_of: Callable[[int], str],
) -> bool:
    """Whether a resumed fit's needs and profiles differ from the database's (their ranker
    ids: ``need_keys``, ``org_keys``) only where
    the audit rows after the fit's reading say they changed, and those rows are no more
    than would make a running index refit (``limit``). Rows written by other means, or by
    an import (whose one row stands for a file), make the start fit instead. ``key_of``:
    a row id as the ranker's id."""
    seen = set(note["recent"])  # written when the fit was read: in it
    changed = {  # by need and profile, as a running index counts them; readings are none
        (entity, i)
        for a, entity, i in session.exec(
            select(AuditLog.id, AuditLog.entity, AuditLog.entity_id)
            .where(col(AuditLog.id) > int(note["last"]) - RECHECK)
            .where(col(AuditLog.entity).in_(["need", "organization"]))
            .where(col(AuditLog.entity_id).is_not(None))
            .where(col(AuditLog.action).not_in(READ_ACTIONS))
        ).all()
        if a not in seen
    }
    if len(changed) > limit:
        log.info("保存済みの索引の後の変更が多いため、索引を作り直します")
        return False  # a running index would have refitted by now
    for entity, now, then in (
        ("need", need_keys, set(ranker.need_ids_)),
        ("organization", org_keys, set(ranker.org_ids_)),
    ):
        touched = {key_of(i) for e, i in changed if e == entity and i is not None}
        if not (now ^ then) <= touched:
            log.info("保存済みの索引の後に、監査記録にない変更があります。索引を作り直します")
            return False
    return True
