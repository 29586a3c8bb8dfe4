"""A fitted ranker saved to one file and loaded back with its arrays memory-mapped (#14).

``joblib.load(..., mmap_mode="r")`` maps the arrays, but reads everything else through
pickle's pure-Python unpickler, one call per opcode: at 50,000 profiles the ranker's
Python objects (the needs and profiles it keeps, 60,000 dataclasses with their text) took
2.2–3.0 s of a start. Here the standard library does it all at C speed: pickle protocol 5
writes every contiguous numpy array out of band (``buffer_callback``), the rest as usual;
the file holds that pickle, each array's bytes aligned to 64, then a JSON header; a load
unpickles the header's part with ``pickle.loads`` and hands it each array as a read-only
view of one ``mmap`` of the file (``buffers``). The arrays (the sparse matrices' too) are
then maps of the file, shared through the page cache by every process that loads it, as
with joblib; with the garbage collector paused while it unpickles
(``_memory.collector_paused``), a 50k fit loads in 0.3–0.5 s where joblib took 2.3–2.6 s.

The header is JSON, so what a file says it is (``meta``: the caller's key and format) is
read before any pickle is: a file of another key or format is never unpickled. A file
that is cut short or damaged raises ``ValueError`` (or pickle's own error).

A pickle runs code when it is loaded: load only files this process's user wrote, in a
folder nobody else can write (the service's is mode 0700).
"""

from __future__ import annotations

import json
import mmap
import os
import pickle  # nosec B403
import struct
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._memory import collector_paused

__all__ = ["dump_mapped", "is_mapped", "load_mapped", "read_meta"]

_MAGIC = b"KYODOMAP"
_VERSION = 1
_HEAD = struct.Struct("<8sIQQ")  # magic, version, the header's offset and length
_ALIGN = 64


def dump_mapped(obj: object, fh: IO[bytes], meta: dict[str, Any]) -> None:
    """Write ``obj`` to ``fh`` (at its start), with ``meta`` (JSON) in the header. The
    layout: a fixed head (magic, version, where the header is and its length), the
    pickle, each array aligned, then the JSON header saying where each part lies."""
    buffers: list[pickle.PickleBuffer] = []
    body = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    position = _aligned(_HEAD.size)
    parts: list[tuple[int, memoryview]] = []
    for part in [memoryview(body), *(b.raw() for b in buffers)]:
        parts.append((position, part))
        position = _aligned(position + part.nbytes)
    spans = [[start, part.nbytes] for start, part in parts]
    header = json.dumps({"meta": meta, "pickle": spans[0], "buffers": spans[1:]}).encode()
    fh.write(_HEAD.pack(_MAGIC, _VERSION, position, len(header)))
    written = _HEAD.size
    for start, part in parts:
        fh.write(b"\0" * (start - written))
        fh.write(part)
        written = start + part.nbytes
    fh.write(b"\0" * (position - written))
    fh.write(header)


def _aligned(position: int) -> int:
    return position + -position % _ALIGN


def read_meta(path: Path) -> dict[str, Any]:
    """The ``meta`` a file was written with; ``ValueError`` when it is not such a file."""
    with path.open("rb") as fh:
        meta: dict[str, Any] = _header(fh, os.fstat(fh.fileno()).st_size)["meta"]
        return meta


def load_mapped(path: Path) -> tuple[dict[str, Any], Any]:
    """The ``meta`` and the object ``dump_mapped`` wrote to ``path``, every array of it
    a read-only view of one memory map of the file."""
    with path.open("rb") as fh:
        header = _header(fh, os.fstat(fh.fileno()).st_size)
        start, length = header["pickle"]
        fh.seek(start)
        body = fh.read(length)
        mapped = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
    buffers = [mapped[start : start + length] for start, length in header["buffers"]]
    # the 60,000 needs and profiles of a 50k fit are a million new objects: the collector's
    # passes they set off were three quarters of the load
    with collector_paused():
        # a file of our own, in a folder only we can write (see the module)
        obj = pickle.loads(body, buffers=buffers)  # nosec B301
    return header["meta"], obj


def _header(fh: IO[bytes], size: int) -> dict[str, Any]:
    head = fh.read(_HEAD.size)
    if len(head) != _HEAD.size:
        raise ValueError("not a saved index: too short")
    magic, version, offset, length = _HEAD.unpack(head)
    if magic != _MAGIC or version != _VERSION:
        raise ValueError("not a saved index of this layout")
    if offset + length > size:
        raise ValueError("the file is cut short")
    fh.seek(offset)
    try:
        header = json.loads(fh.read(length))
        spans = [header["pickle"], *header["buffers"]]
        if not isinstance(header["meta"], dict) or any(
            len(s) != 2 or not all(isinstance(v, int) and v >= 0 for v in s) for s in spans
        ):
            raise ValueError("a damaged header")
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"a damaged header ({exc})") from exc
    if any(start + length > offset for start, length in spans):
        raise ValueError("a damaged header")
    return header


def is_mapped(array: np.ndarray) -> bool:
    """Whether ``array``'s memory is a memory map of a file (``load_mapped``'s, or a
    ``numpy.memmap``)."""
    base: Any = array
    while base is not None:
        if isinstance(base, np.memmap | mmap.mmap):
            return True
        if isinstance(base, memoryview):
            base = base.obj
            continue
        base = getattr(base, "base", None)
    return False
