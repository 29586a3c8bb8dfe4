"""Hostile XLSX files: bombs, external entities, macros, broken parts, claimed sizes."""

from __future__ import annotations

import datetime
import io
import random
import re
import zipfile
from collections.abc import Callable

from openpyxl import Workbook

from .csv_files import HEADERS, row

# every part dated the same, so a file is the same bytes every run
DATE = (2026, 12, 1, 9, 0, 0)
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"


def workbook(
    kind: str, *rows: list[str], sheets: int = 1, header: list[str] | None = None
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for values in [header or HEADERS[kind], *(rows or [row(kind)])]:
        sheet.append(values)
    for i in range(1, sheets):
        book.create_sheet(f"シート{i + 1}").append(["メモ", str(i)])
    book.properties.created = book.properties.modified = datetime.datetime(*DATE)
    buf = io.BytesIO()
    book.save(buf)
    # (openpyxl stamps the time of saving, whatever the properties say)
    stamp = datetime.datetime(*DATE).isoformat() + "Z"
    return tamper(
        buf.getvalue(),
        "docProps/core.xml",
        lambda xml: re.sub(r"(<dcterms:modified[^>]*>)[^<]*", lambda m: m.group(1) + stamp, xml),
    )


def tamper(data: bytes, name: str, change: Callable[[str], str]) -> bytes:
    """``data`` with one part of the zip rewritten."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == name:
                content = change(content.decode("utf-8")).encode("utf-8")
            item.date_time = DATE
            dst.writestr(item, content)
    return out.getvalue()


def add_member(data: bytes, name: str, content: bytes) -> bytes:
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, DATE), content, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _extra_cell(xml: str, cell: str) -> str:
    """Append ``cell`` to the sheet's last row."""
    return xml.replace("</row></sheetData>", cell + "</row></sheetData>")


def zip_bomb(kind: str) -> bytes:
    return add_member(workbook(kind), "xl/media/padding.bin", b"\0" * 30_000_000)


EXTERNAL = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '<!DOCTYPE x [<!ENTITY a "ははははははははは">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]>"
)


def _doctype(xml: str, doctype: str) -> str:
    return re.sub(r"(<\?xml[^>]*\?>)?", lambda m: (m.group(0) or "") + doctype, xml, count=1)


def xxe_in_sheet(kind: str) -> bytes:
    def change(xml: str) -> str:
        xml = _doctype(xml, EXTERNAL)
        return _extra_cell(xml, '<c r="E2" t="inlineStr"><is><t>&e;</t></is></c>')

    return tamper(workbook(kind), SHEET, change)


def with_shared_strings(data: bytes, doctype: str, text: str) -> bytes:
    """``data`` with a shared-strings part (under ``doctype``) holding ``text``, which the
    sheet's cell E2 refers to."""
    sst = (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        f'uniqueCount="1"><si><t>{text}</t></si></sst>'
    )
    rel = (
        '<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
    )
    override = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxml'
        'formats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    data = tamper(
        data,
        "xl/_rels/workbook.xml.rels",
        lambda x: x.replace("</Relationships>", rel + "</Relationships>"),
    )
    data = tamper(
        data, "[Content_Types].xml", lambda x: x.replace("</Types>", override + "</Types>")
    )
    data = tamper(data, SHEET, lambda x: _extra_cell(x, '<c r="E2" t="s"><v>0</v></c>'))
    return add_member(data, STRINGS, sst.encode())


def xxe_in_strings(kind: str) -> bytes:
    return with_shared_strings(workbook(kind), EXTERNAL, "&e;")


def laughs_in_strings(kind: str) -> bytes:
    return with_shared_strings(workbook(kind), LAUGHS, "&i;")


def macro_enabled(kind: str, rng: random.Random) -> bytes:
    macro = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    data = tamper(
        workbook(kind),
        "[Content_Types].xml",
        lambda x: re.sub(
            r"application/vnd\.openxmlformats-officedocument\.spreadsheetml"
            r"\.sheet\.main\+xml",
            macro,
            x,
        ),
    )
    return add_member(data, "xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + rng.randbytes(4000))


def no_sheet(kind: str) -> bytes:
    return tamper(
        workbook(kind),
        "xl/workbook.xml",
        lambda x: re.sub(r"<sheets>.*</sheets>", "<sheets></sheets>", x),
    )


def truncated_sheet(kind: str) -> bytes:
    return tamper(workbook(kind), SHEET, lambda x: x[: len(x) // 2])


def string_out_of_range(kind: str) -> bytes:
    return tamper(
        workbook(kind), SHEET, lambda x: _extra_cell(x, '<c r="E2" t="s"><v>9999</v></c>')
    )


def text_in_number(kind: str) -> bytes:
    return tamper(workbook(kind), SHEET, lambda x: _extra_cell(x, '<c r="E2"><v>abc</v></c>'))


def bad_date(kind: str) -> bytes:
    return tamper(
        workbook(kind), SHEET, lambda x: _extra_cell(x, '<c r="E2" t="d"><v>not-a-date</v></c>')
    )


def claimed_dimension(kind: str) -> bytes:
    """A 2 KB file that says A1:XFD1048576 and has one cell there."""

    def change(xml: str) -> str:
        xml = re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', xml)
        far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        return xml.replace("</sheetData>", far + "</sheetData>")

    return tamper(workbook(kind), SHEET, change)


def many_sheets(kind: str) -> bytes:
    return workbook(kind, sheets=100)


def long_cell(kind: str, rng: random.Random) -> bytes:
    text = "".join(rng.choices("見守り訪問サロン", k=40_000))
    return tamper(
        workbook(kind),
        SHEET,
        lambda x: _extra_cell(x, f'<c r="E2" t="inlineStr"><is><t>{text}</t></is></c>'),
    )


def inline_formula_text(kind: str) -> bytes:
    """A text cell (not a formula cell) that reads "=HYPERLINK(…)"."""
    return tamper(
        workbook(kind),
        SHEET,
        lambda x: re.sub(
            r'(<c r="C2" t="inlineStr"><is><t>)[^<]*',
            lambda m: m.group(1) + '=HYPERLINK("http://evil.example/","開く")',
            x,
        ),
    )


def not_a_workbook(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("readme.txt", DATE), "これはただの zip です。")
        archive.writestr(zipfile.ZipInfo("data/needs.csv", DATE), ",".join(HEADERS[kind]))
    return buf.getvalue()
