"""What an uploaded file is, before it is parsed: its kind by its first bytes and its
name, and the text of a CSV (UTF-8 with or without BOM, UTF-16 with a BOM, or CP932).

A file's name can say anything: the bytes decide. An old Excel file (.xls), a workbook
with a password, a PDF or an image is named as what it is, not reported as a broken
CSV; a CSV that is half UTF-8 and half Shift_JIS is refused rather than read as
garbage (mojibake), and so is UTF-16 without its byte-order mark.
"""

from __future__ import annotations

import re

from ._problems import DataFormatError, Problem

__all__ = ["check_kind", "decode"]

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# the first bytes of files people pick by mistake
_OTHER_KINDS = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "画像 (PNG)"),
    (b"\xff\xd8\xff", "画像 (JPEG)"),
    (b"GIF8", "画像 (GIF)"),
    (b"MZ", "実行ファイル"),
    (b"\x1f\x8b", "gzip 圧縮ファイル"),
    (b"7z\xbc\xaf", "7z 圧縮ファイル"),
    (b"Rar!", "RAR 圧縮ファイル"),
)
# the names a table file goes by; no extension is accepted (a path from a script)
EXTENSIONS = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")


def _refuse(code: str, message: str, file: str) -> DataFormatError:
    return DataFormatError([Problem(code, message, file)])


def check_kind(data: bytes, file: str) -> None:
    """Refuse what is no CSV or XLSX, by its first bytes, then by its name."""
    if data.startswith(OLE2):
        # an OLE2 container: an encrypted OOXML workbook names its streams in UTF-16
        if "EncryptedPackage".encode("utf-16-le") in data[:65536]:
            raise _refuse(
                "XLSX_ENCRYPTED",
                "パスワードで保護された Excel ファイルは読めません。"
                "保護を外して XLSX 形式で保存し直してください。",
                file,
            )
        raise _refuse(
            "XLS_OLD_FORMAT",
            "古い形式の Excel ファイル (.xls) は読めません。XLSX 形式で保存し直してください。",
            file,
        )
    for magic, label in _OTHER_KINDS:
        if data.startswith(magic):
            raise _refuse(
                "FILE_TYPE",
                f"{label}のファイルです。CSV または Excel (XLSX) のファイルを選んでください。",
                file,
            )
    name = file.rsplit("/", 1)[-1].strip().lower()
    if "." in name and not name.startswith("(") and not name.endswith(EXTENSIONS):
        raise _refuse(
            "FILE_TYPE",
            f"ファイルの種類（.{name.rsplit('.', 1)[-1]}）が違います。"
            "CSV (.csv) または Excel (.xlsx) のファイルを選んでください。",
            file,
        )


UNDETECTED = "文字コードを判別できません。UTF-8 または Shift_JIS (CP932) で保存してください。"
# three or more non-ASCII characters in a row as UTF-8 (Japanese is three bytes each)
_UTF8_RUN = re.compile(rb"(?:[\xe0-\xef][\x80-\xbf]{2}){3,}")


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without its byte-order mark: ASCII has a NUL in every other byte."""
    sample = data[:4096]
    return len(sample) >= 8 and sample.count(0) * 4 >= len(sample)


def _mixed(data: bytes) -> bool:
    """Whether a file has lines in UTF-8 and lines in CP932 (a UTF-8 file with a
    Shift_JIS line pasted in, or the other way round): read as CP932, its UTF-8 lines
    would turn to garbage without any error."""
    utf8 = cp932 = False
    for line in data.splitlines():
        try:
            line.decode("utf-8")
            utf8 = utf8 or bool(_UTF8_RUN.search(line))
        except UnicodeDecodeError:
            try:
                line.decode("cp932")
                cp932 = True
            except UnicodeDecodeError:
                return False  # neither: no mix, an unknown encoding
    return utf8 and cp932


def decode(data: bytes, file: str) -> str:
    """The text of a CSV file, or ``DataFormatError`` when its encoding is unclear."""
    if data.startswith(b"\xef\xbb\xbf"):
        encodings = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    elif _looks_utf16(data):
        raise _refuse(
            "ENCODING_UNDETECTED",
            "文字コードを判別できません（BOM のない UTF-16 のようです）。"
            "UTF-8 または Shift_JIS (CP932) で保存してください。",
            file,
        )
    else:
        # cp932, not shift_jis: Windows Excel writes ①, ㈱ and 髙, which shift_jis rejects.
        encodings = ["utf-8", "cp932"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "cp932" and _mixed(data):
            break
        return text
    else:
        if not _mixed(data):
            raise _refuse("ENCODING_UNDETECTED", UNDETECTED, file)
    raise _refuse(
        "ENCODING_MIXED",
        "UTF-8 と Shift_JIS (CP932) の行が混ざっています。"
        "どちらか一つの文字コードで保存し直してください。",
        file,
    )
