"""The hostile-file set read by the library (the service's gate is
tests/service/test_hostile_files.py), and the files that only look odd, which still read."""

from __future__ import annotations

import time

import pytest

from matching import DataFormatError, parse_needs, parse_organizations, read_table

from .hostile import csv_files as c
from .hostile import xlsx_files as x
from .hostile.catalogue import HOSTILE


def _codes(filename: str, data: bytes, kind: str) -> set[str]:
    try:
        table = read_table(data, filename=filename)
    except DataFormatError as exc:
        return {p.code for p in exc.problems}
    result = parse_needs(table) if kind == "needs" else parse_organizations(table)
    return {p.code for p in result.problems} or {f"OK {len(result.items)}"}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_a_clear_problem_and_quick(name: str) -> None:
    hostile = HOSTILE[name]
    for kind in ("needs", "organizations"):
        filename, data = hostile.build(kind)
        started = time.monotonic()
        codes = _codes(filename, data, kind)
        assert time.monotonic() - started < 5, name
        # a header with nothing under it is refused by the import (NO_ROWS), not the reader
        assert codes & hostile.codes or (codes == {"OK 0"} and "NO_ROWS" in hostile.codes), codes


def test_the_files_are_the_same_every_run() -> None:
    for hostile in HOSTILE.values():
        assert hostile.build("needs") == hostile.build("needs"), hostile.filename


ODD_BUT_FINE = {
    # text that starts like a sign but is no formula
    "phone with a country code": c.text_file(
        "organizations", c.row("organizations", text="+81 の会"), c.row("organizations", key="P2")
    ),
    "a dash list": c.text_file("needs", c.row("needs", text="- 見守り(月2回)")),
    "a negative number": c.text_file("needs", c.row("needs", text="-5")),
    "an account name": c.text_file("needs", c.row("needs", text="@wakaba_city で発信")),
    # a cell our exports neutralised: text, as the apostrophe says
    "a neutralised formula": c.text_file("needs", c.row("needs", text="'=SUM(A1)")),
    # Shift_JIS (CP932) with no declaration, Windows-only characters included
    "CP932": c.text_file("needs", c.row("needs", text="①髙橋さんの㈱見守り"), encoding="cp932"),
    "UTF-16 with its BOM": c.text_file("needs", c.row("needs"), encoding="utf-16"),
    # CRLF, LF and CR between records (not inside a cell)
    "mixed line ends": (
        ",".join(c.HEADERS["needs"])
        + "\r\n"
        + ",".join(c.row("needs"))
        + "\n"
        + ",".join(c.row("needs", key="N2"))
        + "\r"
        + ",".join(c.row("needs", key="N3"))
        + "\r\n"
    ).encode(),
    "a few sheets": x.workbook("needs", sheets=5),
    # a byte-order mark twice at the start, and one pasted into a header cell of a sheet
    "two BOMs": b"\xef\xbb\xbf" + c.text_file("needs", c.row("needs"), encoding="utf-8-sig"),
    "a BOM in a sheet's header": x.workbook(
        "needs", header=["\ufeff課題ID", "担当課", "件名", "課題の内容"]
    ),
    "a stray quote in an unquoted cell": c.text_file("needs", c.row("needs", text='5"の棚')),
}
KEPT = {
    "phone with a country code": 2,
    "mixed line ends": 3,
}


@pytest.mark.parametrize("name", sorted(ODD_BUT_FINE))
def test_a_file_that_only_looks_odd_still_reads(name: str) -> None:
    data = ODD_BUT_FINE[name]
    kind = "organizations" if name.startswith("phone") else "needs"
    filename = "odd.xlsx" if data.startswith(b"PK") else "odd.csv"
    table = read_table(data, filename=filename)
    result = parse_needs(table) if kind == "needs" else parse_organizations(table)
    assert not result.problems, result.problems
    assert len(result.items) == KEPT.get(name, 1)


def test_a_neutralised_cell_reads_back_as_its_text() -> None:
    data = c.text_file("needs", c.row("needs", text="'=SUM(A1)"))
    assert parse_needs(read_table(data, filename="n.csv")).items[0].title == "=SUM(A1)"
