"""The fitted index saved to a folder and memory-mapped back (#14).

A fit takes minutes at 50,000 profiles, and every server process (``serve --workers N``)
used to make its own and hold its own matrices. Now ``MatchingIndex.refit`` first looks
for a saved fit of the same data (``fit_key``): found, it is loaded with
``matching.load_mapped``, whose numpy arrays (the arrays of the sparse matrices too) are
read-only maps of the file, so the OS page cache holds one copy for every process and
restart (the rest is a pickle, unpickled at C speed: 0.3–0.5 s at 50,000 profiles, where
joblib's pure-Python unpickler took 2.3–2.6 s; a learned model's rows kept beside a fit
are saved so too, the lists kept beside it are joblib's). Not
found, the process fits, saves (a temporary file, then ``os.replace``: a reader never sees
half a file), and maps back what it saved, so it shares those pages too. While one process
fits, another that wants the same fit waits for it (a lock file) and loads it.

The key names everything a fit depends on, so a saved fit of other data is never loaded:
the last change to a need, a profile or the index in the audit log (its id and time: this
database's history), a digest of the very needs and profiles read for the fit, the
``matching`` package's source, the ranker's settings, and the versions of the libraries,
tokenizer dictionary and word vectors it reads. Views (audit rows that change nothing) do
not move it: a restart after a day of reading loads.

A saved file is a pickle: whoever can write the folder can run code in the service, so
it is made for the service's user only (mode 0700), like the database file itself. The
folder keeps the last ``KEEP`` fits. Anything that goes wrong with it (not writable,
full, a damaged file) is logged for the operator and the service goes on fitting as before.

A start whose data changed since the newest saved fit *resumes* it (``resumable``): each
fit is saved with a note of the audit id it was read at and the last change before it
(its id and time, this database's history); a process starting on the same database
with the same code loads that fit and applies the audit rows written since, as a running
server applies edits, instead of fitting again: a restart after a day of edits takes
seconds and moves no score, where a refit (a new vocabulary and IDF) rescored and
rewrote every stored row. A resume reads only the needs' and profiles' ids (to check that
the audit rows account for every one added or gone) and the rows changed; every need and
profile is read (and digested for the key) only when the start loads a fit of the same
data or fits. The index refits, as a running one does, once a quarter of it
has changed since the fit, or after a large import.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import joblib
from sqlmodel import Session

import matching
from matching._memory import release_freed

from .fit_history import FORMAT, environment, fit_key, last_change, recent_ids

__all__ = ["KEEP", "SavedIndexes", "fit_key", "fit_or_load"]

log = logging.getLogger(__name__)

KEEP = 2  # saved fits kept in the folder (the newest)
_PREFIX = "ranker-"
_FIT = ".pickle"  # ``matching.dump_mapped``'s layout: a pickle, its arrays to be mapped
_LISTS = "lists-"  # beside a fit: the lists a refresh of every need stored with it
ROWS = "rows-"  # beside a fit: a learned model's rows of its items (``saved_rows``)
PARTS = "parts-"  # beside a fit: what a learned model's build scored (``saved_rows``)
_NOTE = ".json"  # beside a fit: when it was read (``resumable``)
_STALE_TMP = 3600.0  # seconds after which a temporary file is a dead process's


class SavedIndexes:
    """The folder of saved fits (``Settings.saved_index_dir``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / f"{_PREFIX}{key[:40]}{_FIT}"

    def _read(self, path: Path, key: str) -> dict[str, Any] | None:
        """The saved dict at ``path`` (a ``joblib`` file) if it is ``key``'s (``None``: no
        file, damaged, of another format, or renamed by hand)."""
        if not path.is_file():
            return None
        try:
            saved = joblib.load(path)
        except Exception as exc:  # a damaged file or one of another format
            log.warning("保存済みのファイル %s を読み込めませんでした（%s）", path, exc)
            return None
        return saved if isinstance(saved, dict) and saved.get("key") == key else None

    def _write(self, path: Path, key: str, payload: dict[str, Any]) -> None:
        """``payload`` saved under ``key`` at ``path`` (``_atomic``)."""
        self._atomic(path, lambda fh: joblib.dump({"key": key, "format": FORMAT, **payload}, fh))

    def _atomic(self, path: Path, dump: Callable[[BinaryIO], object]) -> None:
        """``dump`` into a temporary file of the folder, synced, then renamed to ``path``
        (a reader never sees half a file); raises what went wrong."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                dump(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load(self, key: str) -> matching.TfidfRanker | None:
        """The saved fit of ``key``, its arrays memory-mapped read-only; ``None`` if there
        is none (or it cannot be read: then the service fits)."""
        path = self.path(key)
        ranker = self.read_mapped(path, key)
        if not isinstance(ranker, matching.TfidfRanker):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # the newest in use: the last pruned
        return ranker

    def read_mapped(self, path: Path, key: str) -> Any:
        """What ``write_mapped`` saved at ``path`` under ``key``, its arrays memory-mapped
        read-only (``None``: no file, of another key or format, renamed by hand, or
        damaged)."""
        if not path.is_file():
            return None
        try:  # what the file is (its header) is read before anything is unpickled
            if matching.read_meta(path) != {"key": key, "format": FORMAT}:
                return None
            return matching.load_mapped(path)[1]
        except Exception as exc:  # a damaged file
            log.warning("保存済みのファイル %s を読み込めませんでした（%s）", path, exc)
            return None

    def write_mapped(self, path: Path, key: str, obj: object) -> None:
        """``obj`` saved under ``key`` at ``path`` in ``matching.dump_mapped``'s layout
        (``_atomic``)."""
        self._atomic(path, lambda fh: matching.dump_mapped(obj, fh, {"key": key, "format": FORMAT}))

    def any_saved(self) -> bool:
        """Whether the folder holds a saved fit (of any data)."""
        return any(self.folder.glob(f"{_PREFIX}*{_FIT}"))

    def lists_path(self, key: str) -> Path:
        """Where the lists of ``key`` are kept: a fit's key, or a resumed state's (the fit's
        key + the audit id its batch reached: ``MatchingIndex.saved_key``), each in a file
        of its own, so that looking for one state's lists never reads another's."""
        fit, plus, batch = key.partition("+")
        return self.folder / f"{_LISTS}{fit[:40]}{plus}{batch}.joblib"

    def save_lists(self, key: str, state: dict[str, Any]) -> None:
        """Keep ``state`` (what a refresh of every need stored with the fit of ``key``:
        ``kept_lists.keep``) beside that fit (with the newest ``KEEP`` resumed states'
        of the same fit); a failure is logged and costs the next start's skipping only."""
        try:
            self._write(self.lists_path(key), key, state)
            resumed = sorted(
                self.folder.glob(f"{_LISTS}{key.partition('+')[0][:40]}+*.joblib"),
                key=lambda p: p.stat().st_mtime_ns,
            )
            for old in resumed[:-KEEP]:
                old.unlink(missing_ok=True)
        except Exception as exc:
            log.warning("提案一覧の記録を %s に保存できませんでした（%s）", self.folder, exc)

    def load_lists(self, key: str) -> dict[str, Any] | None:
        """What ``save_lists`` kept for the fit of ``key`` (``None``: nothing, or unreadable)."""
        if not self.path(key).is_file():
            return None  # its fit is gone
        return self._read(self.lists_path(key), key)

    def note_path(self, key: str) -> Path:
        return self.folder / f"{_PREFIX}{key[:40]}{_NOTE}"

    def save(
        self, key: str, ranker: matching.TfidfRanker, note: dict[str, Any] | None = None
    ) -> matching.TfidfRanker | None:
        """Save ``ranker`` under ``key`` (and ``note``, when it was read: ``resumable``)
        and return it memory-mapped back from the file (``None`` when it could not be
        saved: logged, and the service goes on)."""
        started = time.perf_counter()
        try:
            self.write_mapped(self.path(key), key, ranker)
            if note is not None:
                self._write_note(key, note)
        except Exception as exc:  # not writable, full, …: the fit is used as it is
            log.warning(
                "索引を %s に保存できませんでした（%s）。保存せずに続けます", self.folder, exc
            )
            return None
        self._prune()
        loaded = self.load(key)
        log.info(
            "索引を保存しました: %s（%.1f MB、%.1f 秒）",
            self.path(key),
            self.path(key).stat().st_size / 1e6,
            time.perf_counter() - started,
        )
        return loaded

    def _prune(self) -> None:
        """Only the newest ``KEEP`` fits stay (a process that maps an older one keeps its
        pages until it lets go of it), and no temporary file of a process that died."""
        try:
            saved = sorted(
                self.folder.glob(f"{_PREFIX}*{_FIT}"), key=lambda p: p.stat().st_mtime_ns
            )
            # and the fits of the format before (joblib's), which no start loads
            for old in [*saved[:-KEEP], *self.folder.glob(f"{_PREFIX}*.joblib")]:
                old.unlink(missing_ok=True)
            kept = {p.name.removeprefix(_PREFIX).removesuffix(_FIT) for p in saved[-KEEP:]}
            # the rows of the format before (joblib's: 2.4 s to read at 50k), never read
            for old in self.folder.glob(f"{ROWS}*.joblib"):
                old.unlink(missing_ok=True)
            for prefix, suffix in ((_LISTS, ".joblib"), (ROWS, _FIT), (PARTS, _FIT)):
                for beside in self.folder.glob(f"{prefix}*{suffix}"):
                    name = beside.name.removeprefix(prefix).removesuffix(suffix)
                    if name.partition("+")[0] not in kept:
                        beside.unlink(missing_ok=True)
            for note in self.folder.glob(f"{_PREFIX}*{_NOTE}"):
                if note.name.removeprefix(_PREFIX).removesuffix(_NOTE) not in kept:
                    note.unlink(missing_ok=True)
            for tmp in self.folder.glob(".tmp-*"):
                if time.time() - tmp.stat().st_mtime > _STALE_TMP:
                    tmp.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("古い保存済みの索引を消せませんでした（%s）: %s", self.folder, exc)

    def _write_note(self, key: str, note: dict[str, Any]) -> None:
        text = json.dumps({"key": key, "environment": environment(), **note})
        self._atomic(self.note_path(key), lambda fh: fh.write(text.encode()))

    def resumable(self, session: Session, last: int) -> tuple[str, dict[str, Any]] | None:
        """The newest saved fit this database went on from: made by the same code and
        settings, read at an audit id up to ``last``, whose last change before it is
        this database's (the same id at the same time); its key and note (the audit id
        it was read at, ``last``, and the ids then written, ``recent``). ``None``: none."""
        try:
            notes = sorted(
                self.folder.glob(f"{_PREFIX}*{_NOTE}"),
                key=lambda p: p.stat().st_mtime_ns,
                reverse=True,
            )
        except OSError:
            return None
        for path in notes:
            try:
                note = json.loads(path.read_text(encoding="utf-8"))
                key, read_at = str(note["key"]), int(note["last"])
                history = note["changed"], note["at"] = int(note["changed"]), str(note["at"])
                note["recent"] = [int(i) for i in note["recent"]]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # damaged or of another format: not resumed
            if note.get("environment") != environment() or not 0 < read_at <= last:
                continue
            if history[0] and last_change(session, read_at) == history:
                if self.path(key).is_file():
                    return key, note
        return None

    @contextlib.contextmanager
    def fitting(self) -> Iterator[None]:
        """Held while this process fits and saves: another one that wants a fit waits,
        then loads what was saved."""
        with self._locked(".fit.lock"):
            yield

    @contextlib.contextmanager
    def refreshing(self, on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
        """Held while this process ranks and stores every need: another worker about to
        do the same waits (``on_wait`` called first), then takes the lists this one kept
        (``kept_lists``) instead of ranking them all again on the same two cores. Yields
        whether it waited."""
        with self._locked(".refresh.lock", on_wait) as waited:
            yield waited

    @contextlib.contextmanager
    def _locked(self, name: str, on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
        """An exclusive lock on the folder's file ``name``, between processes (``flock``:
        let go when the process ends, however it ends); yields whether it had to wait.
        Without a lock file (a folder not writable, no ``fcntl``), nobody waits."""
        try:
            import fcntl

            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fh: Any = open(self.folder / name, "a+b")  # held until the work is done
        except (ImportError, OSError):
            yield False
            return
        waited = False
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waited = True
                if on_wait is not None:
                    on_wait()
                with contextlib.suppress(OSError):
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except OSError:
                pass  # a file system without locks: work alongside
            yield waited
        finally:
            fh.close()  # lets the lock go


def fit_or_load(
    saved: SavedIndexes | None,
    session: Session,
    last: int,
    read: Callable[[], tuple[list[matching.Need], list[matching.Organization]]],
    *,
    resume: Callable[[matching.TfidfRanker, dict[str, Any]], bool] | None = None,
) -> tuple[matching.TfidfRanker | None, bool, str | None, dict[str, Any] | None]:
    """A ranker over the needs and profiles ``read()`` returns: with ``resume`` (a start),
    the newest saved fit of this database's earlier state (``SavedIndexes.resumable``) if
    ``resume(fit, note)`` accepts it (the caller applies the audit rows after the note's
    ``last``): then nothing else is read; else the saved fit of the same data if there is
    one; else a new fit (saved, and mapped back). Also whether it was loaded, the key it is
    saved under (``None``: not saved) and, when resumed, its note. The ranker is ``None``
    when there is nothing to rank (no content word at all)."""
    started = time.perf_counter()
    found = saved.resumable(session, last) if saved is not None and resume else None
    # changed since that fit: resumed without reading every need and profile (seconds at
    # 50,000), whose digest names the same data's fit, which a change rules out
    moved_on = found is not None and (found[1]["changed"], found[1]["at"]) != last_change(
        session, last
    )
    if moved_on and (resumed := _resumed(saved, found, resume, started)):
        return resumed
    needs, orgs = read()
    if saved is None or not needs or not orgs:
        return _fit(needs, orgs), False, None, None
    key = fit_key(session, last, needs, orgs)
    ranker = saved.load(key)
    if ranker is None and not moved_on and (resumed := _resumed(saved, found, resume, started)):
        return resumed
    if ranker is None:
        with saved.fitting():
            ranker = saved.load(key)  # another process fitted it while this one waited
            if ranker is None:
                fitted = _fit(needs, orgs)
                if fitted is None:
                    return None, False, None, None
                changed, at = last_change(session, last)
                read_at = {"last": last, "recent": sorted(recent_ids(session, last))}
                mapped = saved.save(key, fitted, {**read_at, "changed": changed, "at": at})
                if mapped is None:  # not saved (logged): the fit serves as it is
                    return fitted, False, None, None
                del fitted
                release_freed()  # the fit's own arrays: the mapped ones serve
                return mapped, False, key, None
    return _loaded(ranker, started, key, None)


def _resumed(
    saved: SavedIndexes | None,
    found: tuple[str, dict[str, Any]] | None,
    resume: Callable[[matching.TfidfRanker, dict[str, Any]], bool] | None,
    started: float,
) -> tuple[matching.TfidfRanker, bool, str, dict[str, Any] | None] | None:
    """``fit_or_load``'s answer when the saved fit ``found`` loads and ``resume`` accepts
    it; ``None`` otherwise."""
    if saved is None or found is None or resume is None:
        return None
    earlier = saved.load(found[0])
    if earlier is None or not resume(earlier, found[1]):
        return None
    return _loaded(earlier, started, *found)


def _loaded(
    ranker: matching.TfidfRanker, started: float, key: str, note: dict[str, Any] | None
) -> tuple[matching.TfidfRanker, bool, str, dict[str, Any] | None]:
    log.info(
        "保存済みの索引を読み込みました%s: 課題 %d 件、団体 %d 件（%.2f 秒）",
        f"（監査ID {note['last']} 時点。その後の変更を反映します）" if note else "",
        len(ranker.need_ids_),
        len(ranker.org_ids_),
        time.perf_counter() - started,
    )
    return ranker, True, key, note


def _fit(
    needs: list[matching.Need], orgs: list[matching.Organization]
) -> matching.TfidfRanker | None:
    if not needs or not orgs:
        return None
    try:
        return matching.TfidfRanker().fit(needs, orgs)
    except ValueError:  # no content word at all: nothing to rank yet
        return None
