"""Reading a file's cells: CSV (UTF-8 with or without BOM, CP932) or XLSX, within limits.

Uploaded files are untrusted: the size, the number of rows and the length of a cell are
bounded, and an XLSX is refused before it is opened when its zip directory promises more
than ``Limits.xlsx_bytes`` uncompressed or a member compressed more than
``Limits.xlsx_ratio`` times (a zip bomb) or when it carries macros. openpyxl parses the
XML with defusedxml, which is a dependency of this package. What a file is (by its bytes)
and how its text is encoded is ``_sniff``'s; a text cell a spreadsheet would evaluate is
marked in ``Table.formulas`` for the parser to refuse with its line and column.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ._problems import DataFormatError, Problem
from ._sniff import check_kind, decode

__all__ = ["DataFormatError", "Limits", "Problem", "Table", "read_table"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that protect the reader (and the server) from oversized input."""

    file_bytes: int = 20 * 1024 * 1024
    rows: int = 50_000
    cell_chars: int = 20_000
    # the format has a dozen columns; unknown ones are kept, but not ten thousand of them
    columns: int = 200
    xlsx_sheets: int = 50
    xlsx_bytes: int = 200 * 1024 * 1024
    xlsx_ratio: int = 200
    # reading one XLSX stops after this long (a sheet can hold a million rows of nothing)
    xlsx_seconds: int = 30


DEFAULT_LIMITS = Limits()
# Cells we exported with a leading apostrophe (formula neutralisation) read back as written.
_NEUTRALISED = ("'=", "'+", "'-", "'@")
# A cell a spreadsheet would evaluate when the data is opened again (CSV injection): any
# "=…", and "+", "-" or "@" before a function call, a DDE link or a sheet reference
# ("+cmd|' /C calc'!A0", "@SUM(1)"). "+81 90-…", "-5" and "- 見守り（月2回）" are text.
FORMULA = re.compile(r"=.|[+\-@][\s\d.+\-*/^]*[A-Za-z_][\w.]*\s*[(|!]", re.ASCII)


@dataclass(slots=True)
class Table:
    """A file's cells: the header row and ``(line, values)`` for each non-empty row."""

    file: str
    header: list[str]
    rows: list[tuple[int, list[str]]]
    # ``(line, column index)`` of the text cells that read as a formula (``FORMULA``);
    # a cell written with a leading apostrophe is text, as in a spreadsheet
    formulas: list[tuple[int, int]] = field(default_factory=list)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text[1:] if text.startswith(_NEUTRALISED) else text


def _cells(values: Iterable[object], line: int, formulas: list[tuple[int, int]]) -> list[str]:
    cells = []
    for i, value in enumerate(values):
        if isinstance(value, str) and FORMULA.match(value.strip()):
            formulas.append((line, i))
        cells.append(_cell(value))
    return cells


def _too_big(code: str, message: str, file: str, line: int | None = None) -> DataFormatError:
    return DataFormatError([Problem(code, message, file, line)])


def _check_row(cells: list[str], line: int, file: str, limits: Limits, count: int) -> None:
    if count > limits.rows:
        raise _too_big(
            "TOO_MANY_ROWS", f"行数が上限（{limits.rows:,}行）を超えています。", file, line
        )
    if len(cells) > limits.columns and any(cells[limits.columns :]):
        raise _too_big(
            "TOO_MANY_COLUMNS", f"列の数が上限（{limits.columns:,}列）を超えています。", file, line
        )
    for cell in cells:
        if len(cell) > limits.cell_chars:
            raise _too_big(
                "CELL_TOO_LONG",
                f"セルの文字数が上限（{limits.cell_chars:,}文字）を超えています。",
                file,
                line,
            )


def _read_csv(data: bytes, file: str, limits: Limits) -> Table:
    text = decode(data, file)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    # strict: a quote never closed is an error, not the rest of the file in one cell
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    formulas: list[tuple[int, int]] = []
    start = 1
    try:
        for values in reader:
            cells = _cells(values, start, formulas)
            _check_row(cells, start, file, limits, len(rows) + 1)
            if header is None:
                header = cells
            elif any(cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataFormatError(
            [Problem("CSV_MALFORMED", f"CSV として読めません（{exc}）。", file, start)]
        ) from exc
    return Table(file, header or [], rows, formulas)


def _check_zip(data: bytes, file: str, limits: Limits) -> None:
    """Refuse an XLSX whose zip directory promises too much, before anything is inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise _too_big("XLSX_UNREADABLE", "Excel ファイル (XLSX) として開けません。", file) from exc
    if any(m.filename.lower().endswith("vbaproject.bin") for m in members):
        raise _too_big(
            "XLSX_MACRO",
            "マクロを含む Excel ファイル (.xlsm) は取り込みません。"
            "マクロのない Excel ブック (.xlsx) として保存し直してください。",
            file,
        )
    total = sum(m.file_size for m in members)
    if total > limits.xlsx_bytes or any(
        m.file_size > limits.xlsx_ratio * max(m.compress_size, 1) for m in members
    ):
        raise _too_big(
            "XLSX_TOO_LARGE",
            "展開後の大きさが上限を超える Excel ファイルは開きません（圧縮爆弾の疑い）。",
            file,
        )


# what a malformed part of an XLSX raises while openpyxl reads it (ParseError is a
# SyntaxError; defusedxml's refusals are ValueErrors)
_BROKEN_XLSX = (
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    SyntaxError,
    EOFError,
    zipfile.BadZipFile,
)


def _read_xlsx(data: bytes, file: str, limits: Limits) -> Table:
    from openpyxl import load_workbook

    _check_zip(data, file, limits)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataFormatError(
            [Problem("XLSX_UNREADABLE", "Excel ファイル (XLSX) として開けません。", file)]
        ) from exc
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    formulas: list[tuple[int, int]] = []
    deadline = time.monotonic() + limits.xlsx_seconds
    try:
        if not workbook.worksheets:
            raise DataFormatError(
                [Problem("XLSX_NO_SHEET", "Excel ファイルにシートがありません。", file)]
            )
        if len(workbook.worksheets) > limits.xlsx_sheets:
            raise _too_big(
                "XLSX_TOO_MANY_SHEETS",
                f"シートの数が上限（{limits.xlsx_sheets}枚）を超えています。"
                "取り込む一覧だけのブックにしてください（読むのは最初のシートです）。",
                file,
            )
        sheet = workbook.worksheets[0]
        # the sheet's own <dimension> may claim A1:XFD1048576: read the cells present
        # instead, or openpyxl pads every row to the claimed width
        sheet.reset_dimensions()
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if line % 1000 == 0 and time.monotonic() > deadline:
                raise _too_big(
                    "XLSX_TOO_SLOW",
                    f"Excel ファイルの読み込みが {limits.xlsx_seconds} 秒を超えたため"
                    "中止しました。",
                    file,
                )
            cells = _cells(values, line, formulas)
            _check_row(cells, line, file, limits, len(rows) + 1)
            if header is None:
                header = cells
            elif any(cells):
                rows.append((line, cells))
    except DataFormatError:  # (a ValueError too) a limit or a missing sheet, as it said
        raise
    except _BROKEN_XLSX as exc:
        # a sheet that is not what its parts say: truncated XML, text in a number cell, a
        # shared string that does not exist, a date out of range
        raise DataFormatError(
            [
                Problem(
                    "XLSX_MALFORMED",
                    "Excel ファイル (XLSX) の中身が壊れているため読めません"
                    f"（{len(rows) + 1 + (header is not None)}行目付近）。",
                    file,
                )
            ]
        ) from exc
    finally:
        workbook.close()
    while header and not header[-1]:
        header.pop()
    return Table(file, header or [], rows, formulas)


def read_table(
    source: str | os.PathLike[str] | bytes,
    *,
    filename: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Table:
    """Read a CSV (UTF-8 with or without BOM, or CP932) or XLSX file into a ``Table``.

    ``source`` is a path, or the file's bytes with ``filename`` naming it (for uploads).
    """
    if isinstance(source, bytes):
        data, file = source, filename or "(アップロード)"
    else:
        path = Path(source)
        file = filename or str(path)
        try:
            if path.stat().st_size > limits.file_bytes:
                raise _too_big(
                    "FILE_TOO_LARGE",
                    f"ファイルが大きすぎます（上限 {limits.file_bytes // (1024 * 1024)} MB）。",
                    file,
                )
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise DataFormatError(
                [Problem("FILE_NOT_FOUND", "ファイルが見つかりません。", file)]
            ) from exc
        except OSError as exc:
            raise DataFormatError(
                [Problem("FILE_UNREADABLE", f"ファイルを読めません（{exc.strerror}）。", file)]
            ) from exc
    if len(data) > limits.file_bytes:
        raise _too_big(
            "FILE_TOO_LARGE",
            f"ファイルが大きすぎます（上限 {limits.file_bytes // (1024 * 1024)} MB）。",
            file,
        )
    if not data.strip():
        raise DataFormatError([Problem("EMPTY_FILE", "ファイルが空です。", file)])
    check_kind(data, file)
    if data.startswith(b"PK\x03\x04"):
        table = _read_xlsx(data, file, limits)
    elif file.lower().endswith((".xlsx", ".xlsm")):
        raise DataFormatError(
            [Problem("XLSX_UNREADABLE", "Excel ファイル (XLSX) として開けません。", file)]
        )
    else:
        table = _read_csv(data, file, limits)
    if not any(table.header):
        raise DataFormatError([Problem("EMPTY_FILE", "見出し行がありません。", file, 1)])
    return table
