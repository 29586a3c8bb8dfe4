"""Word vectors from a registry package: chiVe, as ja-ginza ships it, read without spaCy.

ja-ginza's ``vocab/`` folder holds spaCy's vector table: ``vectors`` (a ``.npy`` array of
20,000 × 300 float32 rows), ``key2row`` (a msgpack map from a word's 64-bit hash to its
row; 480,443 words share the 20,000 rows, each pruned word pointing at its nearest kept
one) and ``strings.json``. A word's key is MurmurHash64A of its UTF-8 bytes with seed 1
(spaCy's ``hash_string``), so a word is looked up without loading spaCy or the strings.

chiVe was trained on Sudachi's normalised forms; our tokens are UniDic lemmas. The two
agree for most content words (子供, 高齢者, 見守り); a token is looked up as its lemma,
then as the form a person reads, and a word found under neither has no vector.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["KeyTable", "WordVectors", "ginza_vocab_dir", "murmurhash64a"]

_MASK = (1 << 64) - 1
_M = 0xC6A4A7935BD1E995
_R = 47


def murmurhash64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A (Austin Appleby), unsigned: the hash spaCy keys its vectors by."""
    h = (seed ^ (len(data) * _M)) & _MASK
    end = len(data) - len(data) % 8
    for i in range(0, end, 8):
        k = int.from_bytes(data[i : i + 8], "little")
        k = (k * _M) & _MASK
        k ^= k >> _R
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    tail = data[end:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> _R
    h = (h * _M) & _MASK
    h ^= h >> _R
    return h


def ginza_vocab_dir() -> Path | None:
    """The ``vocab/`` folder of the installed ja-ginza package (found without importing it:
    its ``__init__`` imports spaCy), or ``None``."""
    spec = importlib.util.find_spec("ja_ginza")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        for vocab in sorted(Path(base).glob("ja_ginza-*/vocab")):
            if (vocab / "vectors").is_file() and (vocab / "key2row").is_file():
                return vocab
    return None


class KeyTable(Mapping[int, int]):
    """A read-only map from 64-bit word hashes to rows, as two sorted arrays: 480,443
    words take 5.5 MB (a dict of Python ints took 57 MB in every process)."""

    def __init__(self, keys: np.ndarray, rows: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self._keys = np.ascontiguousarray(keys[order], dtype=np.uint64)
        self._rows = np.ascontiguousarray(rows[order], dtype=np.int32)

    @classmethod
    def read(cls, fh: BinaryIO) -> KeyTable:
        """spaCy's ``key2row`` file (a msgpack map), read pair by pair."""
        import msgpack

        unpacker = msgpack.Unpacker(fh, strict_map_key=False)
        n = unpacker.read_map_header()
        flat = np.fromiter((unpacker.unpack() for _ in range(2 * n)), dtype=np.uint64, count=2 * n)
        return cls(flat[0::2], flat[1::2])

    def _find(self, key: int) -> int | None:
        if not 0 <= key < 1 << 64:
            return None
        i = int(np.searchsorted(self._keys, np.uint64(key)))
        return i if i < len(self._keys) and int(self._keys[i]) == key else None

    def __getitem__(self, key: int) -> int:
        i = self._find(key)
        if i is None:
            raise KeyError(key)
        return int(self._rows[i])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self._find(key) is not None

    def __iter__(self) -> Iterator[int]:
        return (int(k) for k in self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class WordVectors:
    """A read-only table of word vectors: ``lookup(words)`` gives unit rows (or none).

    ``rows`` is memory-mapped, so every process that loads the table shares its pages.
    """

    def __init__(self, rows: np.ndarray, key2row: Mapping[int, int]) -> None:
        self.rows = rows
        self.key2row = key2row
        self.shared = False  # ``default_vectors``' table: pickled as a reference to it

    def __reduce__(self) -> tuple[object, ...]:
        """The process's shared table (``default_vectors``) pickles as a reference to it:
        a saved ranker (or a deep copy) does not carry 28 MB of vectors it only read
        while fitting, and loads with the table the process maps already."""
        if self.shared:
            return (default_vectors, ())
        return (WordVectors, (self.rows, self.key2row))

    @classmethod
    def load(cls, vocab_dir: str | Path | None = None) -> WordVectors:
        """Load ja-ginza's chiVe table (or a folder in the same layout)."""
        folder = Path(vocab_dir) if vocab_dir is not None else ginza_vocab_dir()
        if folder is None:
            raise FileNotFoundError("ja-ginza is not installed: no word vectors to load")
        rows = np.load(folder / "vectors", mmap_mode="r", allow_pickle=False)
        with (folder / "key2row").open("rb") as fh:
            key2row = KeyTable.read(fh)
        return cls(rows, key2row)

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    def row_of(self, word: str) -> int | None:
        return self.key2row.get(murmurhash64a(word.encode("utf-8")))

    def lookup(self, words: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """For each entry (a word's spellings, tried in order), its unit vector.

        Returns ``(found, vectors)``: a boolean mask over the entries and the unit rows of
        the found ones, in order.
        """
        found: list[bool] = []
        picked: list[int] = []
        for spellings in words:
            row = next((r for r in map(self.row_of, spellings) if r is not None), None)
            found.append(row is not None)
            if row is not None:
                picked.append(row)
        vectors = np.asarray(self.rows[np.array(picked, dtype=np.intp)], dtype=np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.array(found, dtype=bool), vectors / np.maximum(norms, 1e-12)


@functools.cache
def default_vectors() -> WordVectors | None:
    """ja-ginza's table, loaded once per process; ``None`` when the package is missing."""
    try:
        table = WordVectors.load()
    except FileNotFoundError:
        return None
    table.shared = True
    return table
