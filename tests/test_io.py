"""Reading the interchange format: encodings, XLSX, both header languages, and bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from matching import (
    DataFormatError,
    Limits,
    load_needs,
    load_organizations,
    load_qrels,
    read_table,
)
from matching._io import NEED_COLUMNS, ORG_COLUMNS

from .conftest import NEED_ROWS, ORG_ROWS, run_matching, write_csv

JA_NEED_HEADER = [c.ja for c in NEED_COLUMNS]
EN_ORG_HEADER = [c.key for c in ORG_COLUMNS]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_encodings(make_csv, encoding: str) -> None:
    rows = [r.copy() for r in NEED_ROWS]
    rows[0][3] = "①丁目の㈱髙島屋前で見守りが不足している。"  # cp932-only characters
    path = make_csv("needs.csv", JA_NEED_HEADER, rows, encoding)
    needs = load_needs(path).items
    assert [n.id for n in needs] == ["N1", "N2", "N3"]
    assert needs[0].description.startswith("①丁目の㈱髙島屋")
    assert needs[0].areas == ["北区"]
    assert needs[1].fields == [8, 13]
    assert needs[2].fields == [7, 5]


def test_xlsx_with_english_headers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(EN_ORG_HEADER)
    for row in ORG_ROWS:
        ws.append(row)
    ws.append([None] * len(EN_ORG_HEADER))  # trailing empty row is ignored
    path = tmp_path / "npos.xlsx"
    wb.save(path)
    orgs = load_organizations(path).items
    assert [o.id for o in orgs] == ["P1", "P2", "P3", "P4", "P5"]
    assert orgs[2].fields == [8, 13]
    assert orgs[0].contact_email == "hanako@example.jp"


def test_headers_in_any_order_and_language_mix(make_csv) -> None:
    header = ["活動内容", "id", "団体名", "area"]
    path = make_csv("npos.csv", header, [["竹林の整備", "P9", "竹の会", "西区；北区"]])
    org = load_organizations(path).items[0]
    assert (org.id, org.name, org.activities, org.areas) == (
        "P9",
        "竹の会",
        "竹林の整備",
        ["西区", "北区"],
    )


def test_the_field_column_under_either_sides_name(make_csv) -> None:
    # DATA_FORMAT calls it 分野 for needs and 活動分野 for profiles; sheets mix them up
    need_path = make_csv(
        "needs.csv",
        ["課題ID", "担当課", "件名", "課題の内容", "活動分野"],
        [["N9", "公園緑地課", "花壇", "花壇の手入れ", "まちづくり"]],
    )
    needs = load_needs(need_path)
    assert needs.items[0].fields == [3] and needs.unknown_columns == []
    org_path = make_csv(
        "npos.csv", ["団体ID", "団体名", "活動内容", "分野"], [["P9", "竹の会", "竹林", "7"]]
    )
    assert load_organizations(org_path).items[0].fields == [7]


def test_unknown_columns_are_kept_and_reported(make_csv) -> None:
    header = [*EN_ORG_HEADER, "備考"]
    path = make_csv("npos.csv", header, [[*ORG_ROWS[0], "要確認"]])
    result = load_organizations(path)
    assert result.unknown_columns == ["備考"]
    assert result.items[0].extra == {"備考": "要確認"}
    assert [w.code for w in result.warnings] == ["UNKNOWN_COLUMN"]


def test_unknown_field_value_is_a_warning_not_a_loss(make_csv) -> None:
    rows = [[*NEED_ROWS[0][:5], "福祉；謎の分野", *NEED_ROWS[0][6:]]]
    result = load_needs(make_csv("needs.csv", JA_NEED_HEADER, rows))
    assert result.items[0].fields == [1]
    assert [(w.code, w.line, w.column) for w in result.warnings] == [("UNKNOWN_FIELD", 2, "分野")]


def test_missing_required_column(make_csv) -> None:
    header = [h for h in JA_NEED_HEADER if h != "課題の内容"]
    rows = [r[:3] + r[4:] for r in NEED_ROWS]
    with pytest.raises(DataFormatError) as info:
        load_needs(make_csv("needs.csv", header, rows))
    (problem,) = info.value.problems
    assert (problem.code, problem.line, problem.column) == ("MISSING_COLUMN", 1, "課題の内容")
    assert "必須の列" in problem.message


def test_every_bad_row_is_reported_with_its_line(make_csv) -> None:
    rows = [r.copy() for r in NEED_ROWS]
    rows[1][3] = ""  # empty description on line 3
    rows.append(["N1", "保育課", "重複", "重複した課題ID"])  # duplicate id on line 5
    path = make_csv("needs.csv", JA_NEED_HEADER, rows)
    with pytest.raises(DataFormatError) as info:
        load_needs(path)
    found = [(p.code, p.line, p.column) for p in info.value.problems]
    assert found == [("EMPTY_REQUIRED", 3, "課題の内容"), ("DUPLICATE_ID", 5, "課題ID")]
    assert "最初は2行目" in info.value.problems[1].message
    assert str(path) in str(info.value)


def test_line_numbers_count_multiline_cells(make_csv) -> None:
    rows = [r.copy() for r in NEED_ROWS]
    rows[0][3] = "一行目\n二行目\n三行目"
    rows[2][2] = ""
    with pytest.raises(DataFormatError) as info:
        load_needs(make_csv("needs.csv", JA_NEED_HEADER, rows))
    assert [(p.line, p.column) for p in info.value.problems] == [(6, "件名")]


def test_unreadable_encoding(tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    path.write_bytes("課題ID,担当課\n".encode() + b"\x81\x20\xeb\x40\n")
    with pytest.raises(DataFormatError) as info:
        read_table(path)
    assert info.value.problems[0].code == "ENCODING_UNDETECTED"


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "EMPTY_FILE"), (b"PK\x03\x04broken", "XLSX_UNREADABLE")],
)
def test_empty_and_broken_files(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        read_table(path)
    assert info.value.problems[0].code == code


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError) as info:
        read_table(tmp_path / "nope.csv")
    assert info.value.problems[0].code == "FILE_NOT_FOUND"


def test_qrels(make_csv) -> None:
    path = make_csv("q.csv", ["need_id", "npo_id", "grade"], [["N1", "P1", "2"], ["N1", "P2", "1"]])
    assert load_qrels(path) == {"N1": {"P1": 2, "P2": 1}}
    bad = make_csv("b.csv", ["need_id", "npo_id", "grade"], [["N1", "P1", "よい"]])
    with pytest.raises(DataFormatError) as info:
        load_qrels(bad)
    assert (info.value.problems[0].code, info.value.problems[0].line) == ("INVALID_VALUE", 2)


def test_cli_reports_bad_input_with_exit_status_2(make_csv, toy_files) -> None:
    _, npos = toy_files
    rows = [r.copy() for r in NEED_ROWS]
    rows[2][0] = "N1"
    needs = make_csv("bad_needs.csv", JA_NEED_HEADER, rows)
    proc = run_matching("rank", "--needs", str(needs), "--npos", str(npos))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{needs}:4行目 列「課題ID」" in proc.stderr
    assert "DUPLICATE_ID" in proc.stderr


def _xlsx_bytes(extra_member: tuple[str, bytes] | None = None) -> bytes:
    import io
    import zipfile

    wb = Workbook()
    ws = wb.active
    ws.append(EN_ORG_HEADER)
    ws.append(ORG_ROWS[0])
    buf = io.BytesIO()
    wb.save(buf)
    if extra_member is None:
        return buf.getvalue()
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(*extra_member)
    return buf.getvalue()


def test_zip_bomb_xlsx_is_refused_before_opening() -> None:
    assert read_table(_xlsx_bytes(), filename="ok.xlsx").rows
    bomb = _xlsx_bytes(("xl/media/padding.bin", b"\0" * 30_000_000))
    with pytest.raises(DataFormatError) as info:
        read_table(bomb, filename="bomb.xlsx")
    assert info.value.problems[0].code == "XLSX_TOO_LARGE"


def test_openpyxl_parses_with_defusedxml() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML


@pytest.mark.parametrize(
    ("limits", "code", "line"),
    [
        (Limits(file_bytes=100), "FILE_TOO_LARGE", None),
        (Limits(rows=2), "TOO_MANY_ROWS", 4),  # the third data row
        (Limits(cell_chars=30), "CELL_TOO_LONG", 2),
    ],
)
def test_limits(toy_files, limits: Limits, code: str, line: int | None) -> None:
    needs, _ = toy_files
    with pytest.raises(DataFormatError) as info:
        read_table(needs, limits=limits)
    assert (info.value.problems[0].code, info.value.problems[0].line) == (code, line)


def test_neutralised_formula_cells_read_back_as_written(make_csv) -> None:
    path = make_csv("n.csv", EN_ORG_HEADER[:6], [["P1", "'=SUM(A1)", "", "", "", "'-でも活動"]])
    org = load_organizations(path).items[0]
    assert (org.name, org.activities) == ("=SUM(A1)", "-でも活動")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("保健、医療又は福祉の増進を図る活動", [1]),
        ("社会教育の推進を図る活動", [2]),
        ("まちづくりの推進を図る活動", [3]),
        ("農山漁村又は中山間地域の振興を図る活動", [5]),
        ("学術、文化、芸術又はスポーツの振興を図る活動", [6]),
        ("環境の保全を図る活動；災害救援活動", [7, 8]),
        ("職業能力の開発又は雇用機会の拡充を支援する活動", [17]),
        ("前各号に掲げる活動を行う団体の運営又は活動に関する連絡、助言又は援助の活動", [19]),
        ("前各号に掲げる活動に準ずる活動として都道府県又は指定都市の条例で定める活動", [20]),
        ("7.環境の保全、１３", [7, 13]),
        ("保健・医療", [1]),
    ],
)
def test_field_names_as_the_law_writes_them(cell: str, expected: list[int]) -> None:
    from matching import parse_fields

    assert parse_fields(cell)[0] == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("市全域", []),
        ("若葉市全域", []),
        ("若葉市", []),
        ("市内一円", []),
        ("北区；山手地区", ["北区", "山手地区"]),
        ("港小学校区", ["港小学校区"]),
        ("浜町", ["浜町"]),  # a district, not a town
        ("", []),
    ],
)
def test_city_wide_areas(cell: str, expected: list[str]) -> None:
    from matching import parse_areas

    assert parse_areas(cell) == expected


def test_a_byte_order_mark_inside_a_cell_is_not_part_of_the_key(tmp_path: Path) -> None:
    """(The probe: a BOM pasted inside a key cell became part of the stored key.)"""
    path = write_csv(
        tmp_path / "needs.csv",
        ["課題ID", "担当課", "件名", "課題の内容"],
        [["\ufeffN1", "防災課", "\ufeff避難所", "内容"], ["N2", "防災課", "訓練", "内容"]],
    )
    needs = load_needs(path).items
    assert [n.id for n in needs] == ["N1", "N2"] and needs[0].title == "避難所"
    dup = write_csv(
        tmp_path / "dup.csv",
        ["課題ID", "担当課", "件名", "課題の内容"],
        [["N1", "防災課", "a", "b"], ["\ufeffN1", "防災課", "c", "d"]],
    )
    with pytest.raises(DataFormatError) as caught:
        load_needs(dup)
    assert [p.code for p in caught.value.problems] == ["DUPLICATE_ID"]


def test_the_deadline_column_is_read_as_a_date(make_csv, tmp_path: Path) -> None:
    """募集期限 (or ``deadline``): optional; YYYY-MM-DD, YYYY/MM/DD, 年月日, full-width digits
    and an Excel date cell; an empty cell is no deadline; a file without the column says so."""
    cells = ["2026-12-20", "２０２７／１／５", ""]
    rows = [[*r, cell] for r, cell in zip(NEED_ROWS, cells, strict=True)]
    result = load_needs(make_csv("needs.csv", JA_NEED_HEADER, rows))
    assert JA_NEED_HEADER[-1] == "募集期限" and "deadline" in result.columns
    assert [n.deadline for n in result.items] == [date(2026, 12, 20), date(2027, 1, 5), None]
    english = ["id", "department", "title", "description", "deadline"]
    path = make_csv("en.csv", english, [[*NEED_ROWS[0][:4], "2027年3月31日"]])
    assert load_needs(path).items[0].deadline == date(2027, 3, 31)
    without = load_needs(make_csv("old.csv", JA_NEED_HEADER[:-1], NEED_ROWS))
    assert "deadline" not in without.columns and without.items[0].deadline is None
    wb = Workbook()
    ws = wb.active
    ws.append(JA_NEED_HEADER)
    ws.append([*NEED_ROWS[0], date(2026, 12, 20)])  # a date cell, as Excel keeps one
    ws.append([*NEED_ROWS[1], "2026/12/21"])  # a date typed as text
    xlsx = tmp_path / "needs.xlsx"
    wb.save(xlsx)
    assert [n.deadline for n in load_needs(xlsx).items] == [date(2026, 12, 20), date(2026, 12, 21)]


@pytest.mark.parametrize(
    "cell", ["2026-13-01", "2026-02-30", "来週の金曜", "46000", "2026-12-20 10:00"]
)
def test_a_bad_deadline_rejects_its_row_with_its_line_and_a_code(make_csv, cell: str) -> None:
    rows = [[*r, "2026-12-20"] for r in NEED_ROWS]
    rows[1][-1] = cell  # line 3
    with pytest.raises(DataFormatError) as info:
        load_needs(make_csv("needs.csv", JA_NEED_HEADER, rows))
    (problem,) = info.value.problems
    assert (problem.code, problem.line, problem.column) == ("BAD_DATE", 3, "募集期限")
    assert f"募集期限「{cell}」を日付として読めません" in problem.message
