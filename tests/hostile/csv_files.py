"""Hostile CSV files: encodings, NUL, formula injection, sizes, broken quoting, headers."""

from __future__ import annotations

import random

# per kind: the header, and one good row (a "text" column at index 2 for both kinds)
HEADERS = {
    "needs": ["課題ID", "担当課", "件名", "課題の内容"],
    "organizations": ["団体ID", "法人格", "団体名", "活動内容"],
}
GOOD = {
    "needs": ["N1", "防災危機管理室", "避難所の運営", "備蓄が足りない。"],
    "organizations": ["P1", "任意団体", "ふれあいの会", "見守り訪問をしています。"],
}


def row(kind: str, text: str | None = None, key: str | None = None) -> list[str]:
    """The good row of ``kind`` with its text column (件名 / 団体名) or key replaced."""
    cells = list(GOOD[kind])
    if text is not None:
        cells[2] = text
    if key is not None:
        cells[0] = key
    return cells


def quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell


def lines(rows: list[list[str]], end: str = "\r\n") -> str:
    return "".join(",".join(quote(c) for c in r) + end for r in rows)


def text_file(kind: str, *rows: list[str], encoding: str = "utf-8") -> bytes:
    return lines([HEADERS[kind], *rows]).encode(encoding)


def formula(kind: str, payload: str) -> bytes:
    return text_file(kind, row(kind, text=payload))


def shift_jis_cut(kind: str) -> bytes:
    """Shift_JIS without a declaration, its last character cut in half (a lead byte
    with no trail byte): neither UTF-8 nor CP932."""
    return text_file(kind, row(kind), encoding="cp932") + "避".encode("cp932")[:1]


def utf16_without_bom(kind: str, big_endian: bool = False) -> bytes:
    return (
        text_file(kind, row(kind))
        .decode("utf-8")
        .encode("utf-16-be" if big_endian else "utf-16-le")
    )


def mixed_encodings(kind: str) -> bytes:
    """A UTF-8 file with a CP932 line pasted in: read as CP932 the UTF-8 lines would be
    garbage (mojibake), not an error."""
    head = lines([HEADERS[kind], row(kind)]).encode("utf-8")
    tail = lines([row(kind, key="X2", text="高齢者の見守り活動")]).encode("cp932")
    return head + tail


def nul_in_cell(kind: str) -> bytes:
    return text_file(kind, row(kind, text="避難\x00所"))


def nul_in_header(kind: str) -> bytes:
    header = list(HEADERS[kind])
    header[0] = header[0][:1] + "\x00" + header[0][1:]
    return lines([header, row(kind)]).encode("utf-8")


def huge_cell(kind: str, rng: random.Random) -> bytes:
    return text_file(kind, row(kind, text="".join(rng.choices("あいうえお見守り", k=20_001))))


def huge_row(kind: str, rng: random.Random) -> bytes:
    """One row of 5,000 cells under a header of four."""
    extra = [str(rng.randrange(10**6)) for _ in range(5000)]
    return text_file(kind, row(kind) + extra)


def many_columns(kind: str) -> bytes:
    header = HEADERS[kind] + [f"列{i}" for i in range(10_000 - len(HEADERS[kind]))]
    return lines([header, row(kind)]).encode("utf-8")


def unclosed_quote(kind: str) -> bytes:
    good = lines([HEADERS[kind], row(kind)])
    return (good + f'{GOOD[kind][0]}2,"閉じない引用符,x,y\r\n' + lines([row(kind)] * 3)).encode()


def bare_cr(kind: str) -> bytes:
    """CRLF, LF and a bare CR (an old Mac line end) pasted into an unquoted cell, which
    cuts its row in two."""
    header = ",".join(HEADERS[kind])
    broken = ",".join(row(kind, text="前半\r後半"))
    return f"{header}\n{broken}\r\n".encode()


def header_only(kind: str) -> bytes:
    return text_file(kind)


def duplicated_header(kind: str) -> bytes:
    return lines([[*HEADERS[kind], HEADERS[kind][2]], [*row(kind), "もう一つ"]]).encode()


def unknown_headers(kind: str) -> bytes:
    return lines([["番号", "名前", "メモ"], ["1", "防災", "x"]]).encode()


def too_many_rows(kind: str) -> bytes:
    rows = [row(kind, key=f"X{i}", text=f"行{i}") for i in range(50_001)]
    return text_file(kind, *rows)


def pdf_named_csv(kind: str, rng: random.Random) -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(2000) + b"\n%%EOF\n"


def png_named_csv(kind: str, rng: random.Random) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(500)
