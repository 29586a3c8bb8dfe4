"""Reading the interchange format (../shared/DATA_FORMAT.md): CSV or XLSX, either header language.

Every problem is reported with the file, the line (the spreadsheet row) and the column,
in Japanese for people and with a stable code for programs. Parsing never stops at the
first problem: all rejected rows are listed, and loaders refuse the whole file when any
row is rejected, so nothing is half-read.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

from ._dates import parse_date
from ._read import DataFormatError, Problem, Table, read_table
from ._schema import Need, Organization, parse_areas, parse_fields
from ._text import split_multi

__all__ = [
    "NEED_COLUMNS",
    "ORG_COLUMNS",
    "DataFormatError",
    "ParseResult",
    "Problem",
    "Table",
    "load_needs",
    "load_organizations",
    "parse_needs",
    "parse_organizations",
    "read_table",
]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    ja: str
    required: bool = False
    # other headers people write for the same column (read, never written)
    aliases: tuple[str, ...] = ()


NEED_COLUMNS: tuple[Column, ...] = (
    Column("id", "課題ID", True),
    Column("department", "担当課", True),
    Column("title", "件名", True),
    Column("description", "課題の内容", True),
    Column("goal", "協働で実現したいこと"),
    Column("fields", "分野", aliases=("活動分野",)),
    Column("area", "対象地域"),
    Column("forms", "協働の形態"),
    Column("contact_name", "担当者名"),
    # optional: a file without it says nothing about deadlines (``ParseResult.columns``)
    Column("deadline", "募集期限"),
)
ORG_COLUMNS: tuple[Column, ...] = (
    Column("id", "団体ID", True),
    Column("name", "団体名", True),
    Column("legal_form", "法人格"),
    Column("fields", "活動分野", aliases=("分野",)),
    Column("area", "活動地域"),
    Column("activities", "活動内容", True),
    Column("offerings", "協働でできること"),
    Column("wishes", "協働の希望"),
    Column("contact_name", "担当者名"),
    Column("contact_email", "メールアドレス"),
    Column("contact_phone", "電話番号"),
)


def _header_key(text: str) -> str:
    # (a BOM pasted into a header cell, or a second one at the file's start, is invisible)
    text = text.replace("\ufeff", "")
    return unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "_")


T = TypeVar("T")


@dataclass(slots=True)
class ParseResult(Generic[T]):
    """What a file gave: the valid ``items``, the rejected rows' ``problems``, ``warnings``
    that did not stop a row, and the ``unknown_columns`` kept aside."""

    file: str
    items: list[T] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    # the keys of the known columns the file has (an optional column absent is not empty)
    columns: list[str] = field(default_factory=list)

    def raise_for_problems(self) -> None:
        if self.problems:
            raise DataFormatError(self.problems)


def _map_header(
    table: Table, columns: tuple[Column, ...]
) -> tuple[dict[str, int], dict[str, int], list[Problem]]:
    names = {}
    for col in columns:
        names[_header_key(col.key)] = col
        names[_header_key(col.ja)] = col
        for alias in col.aliases:
            names[_header_key(alias)] = col
    index: dict[str, int] = {}
    unknown: dict[str, int] = {}
    problems: list[Problem] = []
    for i, raw in enumerate(table.header):
        if not raw:
            continue
        if "\x00" in raw:
            problems.append(
                Problem(
                    "NUL_CHARACTER",
                    "見出しに使えない文字（NUL、文字コード 0）が含まれています。",
                    table.file,
                    1,
                    raw.replace("\x00", ""),
                )
            )
            continue
        spec = names.get(_header_key(raw))
        if spec is None:
            unknown[raw] = i
        elif spec.key in index:
            problems.append(
                Problem("DUPLICATE_COLUMN", f"列「{spec.ja}」が2回あります。", table.file, 1, raw)
            )
        else:
            index[spec.key] = i
    for col in columns:
        if col.required and col.key not in index:
            problems.append(
                Problem(
                    "MISSING_COLUMN",
                    f"必須の列「{col.ja}」（{col.key}）がありません。",
                    table.file,
                    1,
                    col.ja,
                )
            )
    return index, unknown, problems


RowBuilder = Callable[[dict[str, str], dict[str, str], int, "ParseResult[T]"], T]


def _parse(
    table: Table, columns: tuple[Column, ...], build: RowBuilder[T], *, unique_id: str | None
) -> ParseResult[T]:
    result: ParseResult[T] = ParseResult(table.file)
    index, unknown, header_problems = _map_header(table, columns)
    result.unknown_columns = list(unknown)
    result.columns = list(index)
    for name in unknown:
        result.warnings.append(
            Problem(
                "UNKNOWN_COLUMN",
                f"列「{name}」は形式にない列です。取り込まずに別に保持します。",
                table.file,
                1,
                name,
            )
        )
    if header_problems:
        result.problems = header_problems
        return result
    labels = {col.key: col.ja for col in columns}
    names = {i: labels[k] for k, i in index.items()} | {i: name for name, i in unknown.items()}
    formulas: dict[int, list[int]] = {}
    for at, i in table.formulas:
        if i in names:
            formulas.setdefault(at, []).append(i)
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        result.rows_read += 1
        # a byte-order mark pasted inside a cell (U+FEFF) is invisible: it would make "N1"
        # and "\ufeffN1" two keys
        values = {
            k: (cells[i] if i < len(cells) else "").replace("\ufeff", "") for k, i in index.items()
        }
        extra = {k: (cells[i] if i < len(cells) else "") for k, i in unknown.items()}
        row_problems = [
            Problem("EMPTY_REQUIRED", f"必須の「{col.ja}」が空です。", table.file, line, col.ja)
            for col in columns
            if col.required and not values.get(col.key)
        ]
        # a NUL character is no text a person typed, and PostgreSQL cannot store it
        row_problems += [
            Problem(
                "NUL_CHARACTER",
                "使えない文字（NUL、文字コード 0）が含まれています。",
                table.file,
                line,
                labels[key],
            )
            for key, value in values.items()
            if "\x00" in value
        ]
        row_problems += [
            Problem(
                "FORMULA_CELL",
                "表計算ソフトで数式として実行されるおそれのある値（先頭が「=」など）は"
                "取り込めません。文字として取り込むときは先頭に「'」を付けてください。",
                table.file,
                line,
                names[i],
            )
            for i in formulas.get(line, [])
        ]
        if unique_id and values.get(unique_id):
            key = values[unique_id]
            if key in seen:
                row_problems.append(
                    Problem(
                        "DUPLICATE_ID",
                        f"{labels[unique_id]}「{key}」が重複しています（最初は{seen[key]}行目）。",
                        table.file,
                        line,
                        labels[unique_id],
                    )
                )
            else:
                seen[key] = line
        if row_problems:
            result.problems.extend(row_problems)
            continue
        try:
            item = build(values, extra, line, result)
        except ValueError as exc:
            column = getattr(exc, "column", None)
            code = getattr(exc, "code", "INVALID_VALUE")
            result.problems.append(Problem(code, str(exc), table.file, line, column))
            continue
        result.items.append(item)
        result.lines.append(line)
    return result


def _fields(cell: str, line: int, column: str, result: ParseResult[T]) -> list[int]:
    numbers, unknown = parse_fields(cell)
    for value in unknown:
        result.warnings.append(
            Problem(
                "UNKNOWN_FIELD",
                f"「{value}」は NPO 法の活動分野（1〜20）として認識できません。"
                "この値は分野の一致の判定に使いません。",
                result.file,
                line,
                column,
            )
        )
    return numbers


class _ValueProblem(ValueError):
    """A cell's value refused: its row is rejected with ``code`` on ``column``."""

    def __init__(self, message: str, column: str, code: str = "INVALID_VALUE") -> None:
        super().__init__(message)
        self.column = column
        self.code = code


def _deadline(cell: str) -> date | None:
    try:
        return parse_date(cell)
    except ValueError:
        raise _ValueProblem(
            f"募集期限「{cell}」を日付として読めません。2026-12-20 か 2026/12/20 のように"
            "書いてください（空欄は期限なし）。",
            "募集期限",
            "BAD_DATE",
        ) from None


def _build_need(v: dict[str, str], extra: dict[str, str], line: int, r: ParseResult[Need]) -> Need:
    return Need(
        id=v["id"],
        department=v["department"],
        title=v["title"],
        description=v["description"],
        goal=v.get("goal", ""),
        fields=_fields(v.get("fields", ""), line, "分野", r),
        areas=parse_areas(v.get("area", "")),
        forms=split_multi(v.get("forms", "")),
        contact_name=v.get("contact_name", ""),
        extra=extra,
        deadline=_deadline(v.get("deadline", "")),
    )


def _build_org(
    v: dict[str, str], extra: dict[str, str], line: int, r: ParseResult[Organization]
) -> Organization:
    return Organization(
        id=v["id"],
        name=v["name"],
        activities=v["activities"],
        legal_form=v.get("legal_form", ""),
        fields=_fields(v.get("fields", ""), line, "活動分野", r),
        areas=parse_areas(v.get("area", "")),
        offerings=v.get("offerings", ""),
        wishes=v.get("wishes", ""),
        contact_name=v.get("contact_name", ""),
        contact_email=v.get("contact_email", ""),
        contact_phone=v.get("contact_phone", ""),
        extra=extra,
    )


def parse_needs(table: Table) -> ParseResult[Need]:
    return _parse(table, NEED_COLUMNS, _build_need, unique_id="id")


def parse_organizations(table: Table) -> ParseResult[Organization]:
    return _parse(table, ORG_COLUMNS, _build_org, unique_id="id")


def load_needs(
    source: str | os.PathLike[str] | bytes, *, filename: str | None = None
) -> ParseResult[Need]:
    """Read a needs file; raise ``DataFormatError`` listing every problem if any row is bad."""
    result = parse_needs(read_table(source, filename=filename))
    result.raise_for_problems()
    return result


def load_organizations(
    source: str | os.PathLike[str] | bytes, *, filename: str | None = None
) -> ParseResult[Organization]:
    """Read a profiles file; raise ``DataFormatError`` listing every problem if any row is bad."""
    result = parse_organizations(read_table(source, filename=filename))
    result.raise_for_problems()
    return result
