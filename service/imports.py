"""Bulk import through the API: a dry run first, then all or nothing.

The preview says what would be created, updated (same id) or left unchanged, and lists
every rejected row with its line, column and reason in Japanese. Applying a file with
rejected rows changes nothing unless the user asks to import the valid rows only.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import matching

from . import loader
from .db import analyze
from .errors import Conflict, Invalid, PermissionDenied
from .models import Role, User

Kind = Literal["needs", "organizations"]


@dataclass
class ImportReport:
    kind: str
    file: str
    sha256: str
    rows: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    applied: bool = False


def _parse(
    kind: Kind, data: bytes, filename: str, limits: matching.Limits
) -> tuple[list[matching.Need] | list[matching.Organization], ImportReport]:
    report = ImportReport(kind, filename, hashlib.sha256(data).hexdigest(), 0)
    try:
        table = matching.read_table(data, filename=filename, limits=limits)
    except matching.DataFormatError as exc:  # the file as a whole: nothing is importable
        report.rejected = [p.as_dict() for p in exc.problems]
        return [], report
    result = matching.parse_needs(table) if kind == "needs" else matching.parse_organizations(table)
    report.rows = result.rows_read
    report.rejected = [p.as_dict() for p in result.problems]
    if not result.rows_read and not result.problems:  # a header and nothing under it
        report.rejected = [
            matching.Problem(
                "NO_ROWS", "見出し行のほかに取り込む行がありません。", filename, 2
            ).as_dict()
        ]
    report.warnings = [p.as_dict() for p in result.warnings]
    report.unknown_columns = result.unknown_columns
    return result.items, report


def run_import(
    session: Session,
    kind: Kind,
    data: bytes,
    filename: str,
    *,
    user: User | None,
    apply: bool,
    accept_valid: bool = False,
    limits: matching.Limits | None = None,
    on_stage: Callable[[Literal["checking", "writing"], ImportReport], None] | None = None,
) -> ImportReport:
    """Preview (``apply=False``) or apply an import; see the module docstring. ``limits``
    bound the file (size, rows); the API's are the defaults, the CLI may raise them.
    ``on_stage`` hears when the rows are read and compared, then before they are written
    (the CLI's progress)."""
    if user is not None and user.role != Role.coordinator:
        raise PermissionDenied("一括取り込みはコーディネーターが行います。")
    if "\x00" in filename:  # (a multipart file name is not scanned by ``limits``)
        raise Invalid(
            "ファイル名に使えない文字（NUL、文字コード 0）が含まれています。", code="NUL_CHARACTER"
        )
    items, report = _parse(kind, data, filename, limits or matching.Limits())
    needs = [i for i in items if isinstance(i, matching.Need)]
    orgs = [i for i in items if isinstance(i, matching.Organization)]
    if on_stage is not None:
        on_stage("checking", report)

    def plan() -> None:
        p = (
            loader.plan_needs(session, needs)
            if kind == "needs"
            else loader.plan_organizations(session, orgs)
        )
        report.created, report.updated, report.unchanged = p.created, p.updated, p.unchanged

    plan()
    if not apply:
        return report
    # one import applies at a time in a process, compared again as it writes, so its
    # report says what it did; across processes the database's unique keys decide
    refused = bool(report.rejected) and not (accept_valid and (needs or orgs))
    if on_stage is not None and not refused:  # a refused file is reported by _apply
        on_stage("writing", report)
    with _APPLYING:
        session.rollback()  # a fresh snapshot: what an import that just finished wrote
        return _apply(session, kind, data, filename, needs, orgs, report, user, accept_valid)


_APPLYING = threading.Lock()


def _apply(
    session: Session,
    kind: Kind,
    data: bytes,
    filename: str,
    needs: list[matching.Need],
    orgs: list[matching.Organization],
    report: ImportReport,
    user: User | None,
    accept_valid: bool,
) -> ImportReport:
    items = needs or orgs
    if report.rejected and not (accept_valid and items):
        raise Invalid(
            f"{len(report.rejected)}件の問題があるため取り込みませんでした（何も変更していません）。",
            code="IMPORT_REJECTED",
            errors=report.rejected,
        )
    # the import's one audit row (loader): file, counts, the keys written, by whom
    written: dict[str, Any] = {
        "user": user,
        "source": data,
        "file": filename,
        "rejected": len(report.rejected),
        "commit": False,
    }
    try:
        done = (
            loader.import_needs(session, needs, **written)
            if kind == "needs"
            else loader.import_organizations(session, orgs, **written)
        )
        report.created, report.updated, report.unchanged = (
            done.created,
            done.updated,
            done.unchanged,
        )
        session.commit()
    except IntegrityError as exc:
        # another import of the same rows committed first (two coordinators, a double
        # click): nothing of this one is written; reading the file again shows the rest
        session.rollback()
        raise Conflict(
            "同じ行を取り込む処理が同時に行われたため、この取り込みは反映していません"
            "（何も変更していません）。もう一度確認してから取り込んでください。",
            code="IMPORT_CONFLICT",
        ) from exc
    if report.created:
        analyze(session, "need", "organization", "department", "audit_log")
    report.applied = True
    return report
