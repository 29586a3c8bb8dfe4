"""A minimal Compound File Binary writer (the OLE2 container of .xls and of an encrypted
OOXML workbook): version 3, 512-byte sectors, every stream at least 4,096 bytes so no
mini stream is needed. Enough for a reader to recognise what the file is."""

from __future__ import annotations

import struct

SECTOR = 512
FREE, END, FAT_SECT, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)
        + struct.pack("<III", NO_STREAM, right, child)
        + b"\0" * 16  # CLSID
        + b"\0" * 4  # state bits
        + b"\0" * 16  # creation and modification times
        + struct.pack("<IQ", start, size)
    )


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams`` (at most three) under its root."""
    assert 0 < len(streams) <= 3
    padded = {
        n: d.ljust(max(4096, -(-len(d) // SECTOR) * SECTOR), b"\0") for n, d in streams.items()
    }
    fat = [FAT_SECT, END]  # sector 0: the FAT, sector 1: the directory
    starts = {}
    for name, data in padded.items():
        starts[name] = len(fat)
        count = len(data) // SECTOR
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [END]
    assert len(fat) <= SECTOR // 4
    fat_sector = struct.pack(f"<{SECTOR // 4}I", *(fat + [FREE] * (SECTOR // 4 - len(fat))))
    names = list(padded)
    entries = _entry("Root Entry", 5, 1, NO_STREAM, END, 0)
    for i, name in enumerate(names, start=1):
        right = i + 1 if i < len(names) else NO_STREAM
        entries += _entry(name, 2, NO_STREAM, right, starts[name], len(streams[name]))
    while len(entries) < SECTOR:
        entries += _entry("", 0, NO_STREAM, NO_STREAM, 0, 0)
    header = (
        MAGIC
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, END, 0, END, 0)
        + struct.pack("<109I", 0, *([FREE] * 108))
    )
    assert len(header) == SECTOR
    return header + fat_sector + entries + b"".join(padded.values())


def biff_workbook() -> bytes:
    """An Excel 97–2003 (.xls) file: a Workbook stream of BIFF8 records (BOF … EOF)."""
    bof = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x0600, 0x0005, 0, 0, 0, 0)
    eof = struct.pack("<HH", 0x000A, 0)
    return compound_file({"Workbook": bof + eof})


def encrypted_workbook(seed: bytes) -> bytes:
    """What Excel writes for a workbook with a password to open: an OLE2 container with
    EncryptionInfo (agile, XML descriptor) and the encrypted package."""
    info = struct.pack("<HHI", 4, 4, 0x40) + (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption">'
        b'<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
        b'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512"/>'
        b"</encryption>"
    )
    package = struct.pack("<Q", 8192) + (seed * (8192 // len(seed) + 1))[:8192]
    return compound_file({"EncryptionInfo": info, "EncryptedPackage": package})
