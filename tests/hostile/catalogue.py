"""The hostile-file set: each file's name, how it is made and the codes that refuse it.

A file is made for a kind (``needs`` or ``organizations``) from a seeded random source,
so every run sends the same bytes. The codes are those of the problems the reader
reports (the API's ``errors[].code``); any one of them is a right answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from . import cfb
from . import csv_files as c
from . import xlsx_files as x

Maker = Callable[[str, random.Random], bytes]


@dataclass(frozen=True)
class Hostile:
    filename: str
    make: Maker
    codes: frozenset[str]

    def build(self, kind: str, seed: int = 13) -> tuple[str, bytes]:
        return self.filename, self.make(kind, random.Random(f"{seed}:{self.filename}"))


def _h(filename: str, make: Maker, *codes: str) -> Hostile:
    return Hostile(filename, make, frozenset(codes))


def _k(function: Callable[[str], bytes]) -> Maker:
    return lambda kind, _rng: function(kind)


ENCODING = ("ENCODING_UNDETECTED",)
FORMULA = ("FORMULA_CELL",)
MALFORMED = ("XLSX_MALFORMED", "XLSX_UNREADABLE")

HOSTILE: dict[str, Hostile] = {
    h.filename.rsplit(".", 1)[0]: h
    for h in [
        # encodings
        _h("shift_jis_cut.csv", _k(c.shift_jis_cut), *ENCODING),
        _h("utf16le_no_bom.csv", _k(c.utf16_without_bom), *ENCODING),
        _h("utf16be_no_bom.csv", _k(lambda k: c.utf16_without_bom(k, True)), *ENCODING),
        _h("mixed_utf8_cp932.csv", _k(c.mixed_encodings), "ENCODING_MIXED"),
        _h("nul_in_cell.csv", _k(c.nul_in_cell), "NUL_CHARACTER"),
        _h("nul_in_header.csv", _k(c.nul_in_header), "NUL_CHARACTER"),
        # formula injection (a cell a spreadsheet would evaluate)
        _h("formula_dde.csv", _k(lambda k: c.formula(k, "=cmd|' /C calc'!A0")), *FORMULA),
        _h("formula_plus.csv", _k(lambda k: c.formula(k, "+cmd|' /C calc'!A0")), *FORMULA),
        _h("formula_minus.csv", _k(lambda k: c.formula(k, "-2+3+cmd|' /C calc'!A0")), *FORMULA),
        _h("formula_at.csv", _k(lambda k: c.formula(k, "@SUM(1+1)*cmd|' /C calc'!A0")), *FORMULA),
        _h("formula_tab.csv", _k(lambda k: c.formula(k, '\t=HYPERLINK("http://x/")')), *FORMULA),
        _h("formula_cr.csv", _k(lambda k: c.formula(k, "\r=1+1")), *FORMULA),
        _h("formula_in_key.csv", _k(lambda k: c.text_file(k, c.row(k, key="=A1"))), *FORMULA),
        # sizes
        _h("huge_cell.csv", c.huge_cell, "CELL_TOO_LONG"),
        _h("huge_row.csv", c.huge_row, "TOO_MANY_COLUMNS"),
        _h("ten_thousand_columns.csv", _k(c.many_columns), "TOO_MANY_COLUMNS"),
        _h("too_many_rows.csv", _k(c.too_many_rows), "TOO_MANY_ROWS"),
        # structure
        _h("unclosed_quote.csv", _k(c.unclosed_quote), "CSV_MALFORMED"),
        _h("bare_cr_in_cell.csv", _k(c.bare_cr), "EMPTY_REQUIRED"),
        _h("header_only.csv", _k(c.header_only), "NO_ROWS"),
        _h("duplicated_header.csv", _k(c.duplicated_header), "DUPLICATE_COLUMN"),
        _h("unknown_headers.csv", _k(c.unknown_headers), "MISSING_COLUMN"),
        _h("empty.csv", lambda k, r: b"", "EMPTY_FILE"),
        _h("blank_lines.csv", lambda k, r: b"\r\n \r\n\t\r\n", "EMPTY_FILE"),
        # not what its name says
        _h("pdf_named.csv", c.pdf_named_csv, "FILE_TYPE"),
        _h("png_named.csv", c.png_named_csv, "FILE_TYPE"),
        _h("csv_named.exe", _k(lambda k: c.text_file(k, c.row(k))), "FILE_TYPE"),
        _h("csv_named.xlsx", _k(lambda k: c.text_file(k, c.row(k))), "XLSX_UNREADABLE"),
        _h("biff_renamed.xlsx", lambda k, r: cfb.biff_workbook(), "XLS_OLD_FORMAT"),
        _h(
            "encrypted.xlsx", lambda k, r: cfb.encrypted_workbook(r.randbytes(64)), "XLSX_ENCRYPTED"
        ),
        _h("zip_not_workbook.xlsx", _k(x.not_a_workbook), "XLSX_UNREADABLE"),
        # XLSX
        _h("zip_bomb.xlsx", _k(x.zip_bomb), "XLSX_TOO_LARGE"),
        _h("xxe_sheet.xlsx", _k(x.xxe_in_sheet), *MALFORMED),
        _h("xxe_shared_strings.xlsx", _k(x.xxe_in_strings), *MALFORMED),
        _h("laughs_shared_strings.xlsx", _k(x.laughs_in_strings), *MALFORMED),
        _h("macro.xlsm", x.macro_enabled, "XLSX_MACRO"),
        _h("no_sheet.xlsx", _k(x.no_sheet), "XLSX_NO_SHEET", *MALFORMED),
        _h("truncated_sheet.xlsx", _k(x.truncated_sheet), *MALFORMED),
        _h("shared_string_out_of_range.xlsx", _k(x.string_out_of_range), *MALFORMED),
        _h("text_in_number_cell.xlsx", _k(x.text_in_number), *MALFORMED),
        _h("bad_date_cell.xlsx", _k(x.bad_date), *MALFORMED),
        _h("claimed_dimension.xlsx", _k(x.claimed_dimension), "TOO_MANY_COLUMNS"),
        _h("hundred_sheets.xlsx", _k(x.many_sheets), "XLSX_TOO_MANY_SHEETS"),
        _h("cell_40k.xlsx", x.long_cell, "CELL_TOO_LONG"),
        _h("formula_text.xlsx", _k(x.inline_formula_text), *FORMULA),
    ]
}
