"""Malformed and hostile XLSX files: each a clear problem with a code, never a crash."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable

import pytest
from openpyxl import Workbook

from matching import DataFormatError, load_needs, read_table

HEADER = ["課題ID", "担当課", "件名", "課題の内容"]


def _workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["N1", "防災課", "避難所の運営", "備蓄が足りない。"])
    sheet.append(["N2", "環境課", "海岸清掃", "ごみが多い。"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _tamper(data: bytes, name: str, change: Callable[[str], str]) -> bytes:
    """``data`` with one part of the zip rewritten."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == name:
                content = change(content.decode("utf-8")).encode("utf-8")
            dst.writestr(item, content)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


def _far_cell(column: str) -> Callable[[str], str]:
    def change(xml: str) -> str:
        xml = re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', xml)
        cell = f'<c r="{column}1048576" t="inlineStr"><is><t>x</t></is></c>'
        return xml.replace("</sheetData>", f'<row r="1048576">{cell}</row></sheetData>')

    return change


HOSTILE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated sheet XML": (
        lambda d: _tamper(d, SHEET, lambda x: x[: len(x) // 2]),
        "XLSX_MALFORMED",
    ),
    "text in a number cell": (
        lambda d: _tamper(
            d,
            SHEET,
            lambda x: x.replace("</row></sheetData>", '<c r="E3"><v>abc</v></c></row></sheetData>'),
        ),
        "XLSX_MALFORMED",
    ),
    "shared string out of range": (
        lambda d: _tamper(
            d,
            SHEET,
            lambda x: x.replace(
                "</row></sheetData>", '<c r="E3" t="s"><v>9999</v></c></row></sheetData>'
            ),
        ),
        "XLSX_MALFORMED",
    ),
    "bad date cell": (
        lambda d: _tamper(
            d,
            SHEET,
            lambda x: x.replace(
                "</row></sheetData>", '<c r="E3" t="d"><v>not-a-date</v></c></row></sheetData>'
            ),
        ),
        "XLSX_MALFORMED",
    ),
    "no sheet": (
        lambda d: _tamper(
            d, "xl/workbook.xml", lambda x: re.sub(r"<sheets>.*</sheets>", "<sheets></sheets>", x)
        ),
        None,  # either code: unreadable or no sheet
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_malformed_xlsx_is_a_clear_problem(name: str) -> None:
    make, code = HOSTILE[name]
    data = make(_workbook())
    with pytest.raises(DataFormatError) as caught:
        load_needs(data, filename=f"{name}.xlsx")
    codes = {p.code for p in caught.value.problems}
    assert codes <= {"XLSX_MALFORMED", "XLSX_UNREADABLE", "XLSX_NO_SHEET"}, codes
    if code:
        assert codes == {code}
    assert all(p.message.endswith("。") or "）" in p.message for p in caught.value.problems)


def test_a_claimed_huge_dimension_reads_only_the_cells_present() -> None:
    """(A 1.6 KB file with A1:XFD1048576 and one far cell burned a core for minutes.)"""
    data = _tamper(_workbook(), SHEET, _far_cell("A"))
    assert len(data) < 10_000
    started = time.monotonic()
    table = read_table(data, filename="far.xlsx")
    assert table.header == HEADER
    assert [line for line, _ in table.rows] == [2, 3, 1048576]
    assert table.rows[-1][1] == ["x"]
    # a cell in the sheet's last column is past the column limit: refused, as quickly
    with pytest.raises(DataFormatError) as caught:
        read_table(_tamper(_workbook(), SHEET, _far_cell("XFD")), filename="far.xlsx")
    assert [(p.code, p.line) for p in caught.value.problems] == [("TOO_MANY_COLUMNS", 1048576)]
    assert time.monotonic() - started < 10


def test_a_valid_workbook_still_reads() -> None:
    needs = load_needs(_workbook(), filename="ok.xlsx").items
    assert [n.id for n in needs] == ["N1", "N2"]
