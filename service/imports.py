"""Bulk import through the API: a dry run first, then all or nothing.

The preview says what would be created, updated (same id) or left unchanged, and lists
every rejected row with its line, column and reason in Japanese. Applying a file with
rejected rows changes nothing unless the user asks to import the valid rows only.
Several files (``service load --needs … --npos …``) are one import: one refused file
and none is written.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import matching

from . import loader
from .db import analyze
from .deadlines import today_jst
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
) -> tuple[list[matching.Need] | list[matching.Organization], ImportReport, bool]:
    """The file's valid rows, its report, and whether it has a 募集期限 column."""
    report = ImportReport(kind, filename, hashlib.sha256(data).hexdigest(), 0)
    try:
        table = matching.read_table(data, filename=filename, limits=limits)
    except matching.DataFormatError as exc:  # the file as a whole: nothing is importable
        report.rejected = [p.as_dict() for p in exc.problems]
        return [], report, False
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
    today = today_jst()
    report.warnings += [
        matching.Problem(
            "PAST_DEADLINE",
            f"募集期限 {item.deadline:%Y年%m月%d日} は過ぎています。取り込むと募集終了"
            "（期限切れ）として扱い、公開ページや確認待ちには出ません。",
            filename,
            line,
            "募集期限",
        ).as_dict()
        for item, line in zip(result.items, result.lines, strict=True)
        if isinstance(item, matching.Need) and item.deadline and item.deadline < today
    ]
    report.unknown_columns = result.unknown_columns
    return result.items, report, "deadline" in result.columns


@dataclass(frozen=True)
class Source:
    """One file to import: its kind, its bytes and the name it is reported under."""

    kind: Kind
    data: bytes
    filename: str


@dataclass
class _Read:
    """A file read and compared with the database, not yet written."""

    source: Source
    needs: list[matching.Need]
    orgs: list[matching.Organization]
    report: ImportReport
    accept_valid: bool = False
    deadline: bool = False  # the needs file has a 募集期限 column

    @property
    def refused(self) -> bool:
        """Rejected rows and no leave to keep the valid ones (or nothing valid to keep)."""
        return bool(self.report.rejected) and not (self.accept_valid and (self.needs or self.orgs))


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
    (report,) = run_imports(
        session,
        [Source(kind, data, filename)],
        user=user,
        apply=apply,
        accept_valid=accept_valid,
        limits=limits,
        on_stage=on_stage,
    )
    return report


def run_imports(
    session: Session,
    sources: Sequence[Source],
    *,
    user: User | None,
    apply: bool,
    accept_valid: bool = False,
    limits: matching.Limits | None = None,
    on_stage: Callable[[Literal["checking", "writing"], ImportReport], None] | None = None,
) -> list[ImportReport]:
    """Preview or apply several files as one import: every file is read and checked
    before anything is written, and they are written in one transaction, so a file
    refused (or a conflict while writing) leaves every file unwritten. One report per
    file, in order; each file keeps its own audit row."""
    if user is not None and user.role != Role.coordinator:
        raise PermissionDenied("一括取り込みはコーディネーターが行います。")
    for source in sources:
        if "\x00" in source.filename:  # (a multipart file name is not scanned by ``limits``)
            raise Invalid(
                "ファイル名に使えない文字（NUL、文字コード 0）が含まれています。",
                code="NUL_CHARACTER",
            )
    read: list[_Read] = []
    for source in sources:
        items, report, deadline = _parse(
            source.kind, source.data, source.filename, limits or matching.Limits()
        )
        one = _Read(
            source,
            [i for i in items if isinstance(i, matching.Need)],
            [i for i in items if isinstance(i, matching.Organization)],
            report,
            accept_valid,
            deadline,
        )
        if on_stage is not None:
            on_stage("checking", report)
        _plan(session, one)
        read.append(one)
    if not apply:
        return [one.report for one in read]
    refused = [one for one in read if one.refused]
    if refused:
        problems = [p for one in refused for p in one.report.rejected]
        raise Invalid(
            f"{len(problems)}件の問題があるため取り込みませんでした（何も変更していません）。"
            if len(read) == 1
            else f"{len(problems)}件の問題があるため、どのファイルも取り込みませんでした"
            "（何も変更していません）。",
            code="IMPORT_REJECTED",
            errors=problems,
        )
    # one import applies at a time in a process, compared again as it writes, so its
    # report says what it did; across processes the database's unique keys decide
    with _APPLYING:
        session.rollback()  # a fresh snapshot: what an import that just finished wrote
        _apply(session, read, user, on_stage)
    return [one.report for one in read]


def _plan(session: Session, one: _Read) -> None:
    p = (
        loader.plan_needs(session, one.needs, deadline=one.deadline)
        if one.source.kind == "needs"
        else loader.plan_organizations(session, one.orgs)
    )
    one.report.created, one.report.updated, one.report.unchanged = (
        p.created,
        p.updated,
        p.unchanged,
    )


_APPLYING = threading.Lock()


def _apply(
    session: Session,
    read: list[_Read],
    user: User | None,
    on_stage: Callable[[Literal["checking", "writing"], ImportReport], None] | None,
) -> None:
    try:
        for one in read:
            if on_stage is not None:
                on_stage("writing", one.report)
            # the file's one audit row (loader): file, counts, the keys written, by whom
            written: dict[str, Any] = {
                "user": user,
                "source": one.source.data,
                "file": one.source.filename,
                "rejected": len(one.report.rejected),
                "commit": False,
            }
            done = (
                loader.import_needs(session, one.needs, deadline=one.deadline, **written)
                if one.source.kind == "needs"
                else loader.import_organizations(session, one.orgs, **written)
            )
            one.report.created, one.report.updated, one.report.unchanged = (
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
    if any(one.report.created for one in read):
        analyze(session, "need", "organization", "department", "audit_log")
    for one in read:
        one.report.applied = True
