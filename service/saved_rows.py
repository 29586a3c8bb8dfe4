"""A learned model's item rows kept beside the saved fit they are of (#14).

A start with a promoted learned model builds it again over the fit it loaded
(``MatchingIndex._learned_for``, from the model's stages). Most of that was tokenising every
need and profile again: the field vectors and BM25's tokens of the re-ranking features,
which depend on the fit's items and vectorizer alone (``matching.ItemRows``; 34 s of
tokenising and more at 50,000 profiles). The first process to build a model over a saved
fit keeps them beside it; a start or a worker that loads the same fit attaches them to it
(``ItemRows.attach``), and a model built over it (or over a copy with the same items)
takes them. The fit's key names its data and the code's digest, so the rows of other
data or another version are never read; they go with their fit (``SavedIndexes._prune``).

What the model's build then scored against every profile (``matching.BuildParts``: each
confirmed need's top groups, each decided need's best scores; 2 s at 50,000 profiles)
depends on that fit and on the model's decisions and stages as well: it is kept beside
the fit under the fit's key, the model's version and a digest of the decisions read
(``parts_key``; a decision's suggestion can change status after the model was stored, so
the version alone does not name them), and a build of the same three takes it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import matching

from .saved_index import PARTS, ROWS, SavedIndexes

__all__ = ["attach_rows", "build_model", "keep_parts", "keep_rows", "parts_key", "read_parts"]

# the parts kept per fit, the newest (a model trained again makes new ones)
KEEP_PARTS = 2

log = logging.getLogger(__name__)


def _path(saved: SavedIndexes, key: str) -> Path:
    # memory-mapped as the fit is (``write_mapped``): joblib's pure-Python unpickler read
    # them in 2.4 s at 50,000 profiles, most of a restart's wait for the model
    return saved.folder / f"{ROWS}{key[:40]}.pickle"


def attach_rows(saved: SavedIndexes, key: str, ranker: matching.TfidfRanker) -> bool:
    """Attach the rows kept beside the fit of ``key`` to ``ranker`` (that fit, as loaded);
    ``False`` when none are kept (or they cannot be read)."""
    if not saved.path(key).is_file():
        return False  # its fit is gone
    rows = saved.read_mapped(_path(saved, key), key)
    if not isinstance(rows, matching.ItemRows):
        return False
    rows.attach(ranker)
    return True


def keep_rows(
    saved: SavedIndexes, key: str, learned: matching.LearnedRanker, ranker: matching.TfidfRanker
) -> None:
    """Keep what ``learned`` (built over the fit of ``key``, no edit applied) computed of
    the items, unless the rows of that fit are kept already, and attach them to ``ranker``
    (that fit, which ``learned`` was built over): a model this process builds over it
    again takes them too. A failure to keep them is logged and costs the next start's
    tokenising only."""
    rows = learned.features_.item_rows()
    rows.attach(ranker)
    path = _path(saved, key)
    if path.is_file() or not saved.path(key).is_file():
        return
    try:
        saved.write_mapped(path, key, rows)
    except Exception as exc:
        log.warning("学習モデルの項目データを %s に保存できませんでした（%s）", saved.folder, exc)


def parts_key(
    key: str,
    version: str,
    decisions: Sequence[matching.Decision],
    stages: matching.Stages | None = None,
) -> str:
    """The name of the build parts of the model ``version`` (with ``stages``) over the fit
    of ``key`` from ``decisions`` (as read, in order): the fit's key, then a digest of the
    rest."""
    about = (version, stages.as_dict() if stages is not None else None, list(decisions))
    digest = hashlib.sha256(repr(about).encode()).hexdigest()[:24]
    return f"{key[:40]}+{digest}"


def _parts_path(saved: SavedIndexes, name: str) -> Path:
    return saved.folder / f"{PARTS}{name}.pickle"


def read_parts(saved: SavedIndexes, name: str) -> matching.BuildParts | None:
    """The build parts kept under ``name`` (``parts_key``), or ``None``."""
    if not saved.path(name.partition("+")[0]).is_file():
        return None  # its fit is gone
    parts = saved.read_mapped(_parts_path(saved, name), name)
    return parts if isinstance(parts, matching.BuildParts) else None


def keep_parts(saved: SavedIndexes, name: str, learned: matching.LearnedRanker) -> None:
    """Keep what ``learned`` (just built, no edit applied) scored against every profile
    under ``name`` (``parts_key``), and only the newest ``KEEP_PARTS`` of its fit. A
    failure is logged and costs the next start those scores."""
    path = _parts_path(saved, name)
    if path.is_file() or not saved.path(name.partition("+")[0]).is_file():
        return
    try:
        saved.write_mapped(path, name, learned.build_parts())
        fit = name.partition("+")[0]
        others = sorted(
            (p for p in saved.folder.glob(f"{PARTS}{fit}+*.pickle") if p != path),
            key=lambda p: p.stat().st_mtime_ns,
        )
        for old in others[: max(0, len(others) - (KEEP_PARTS - 1))]:
            old.unlink(missing_ok=True)
    except Exception as exc:
        log.warning("学習モデルの組み立て結果を %s に保存できませんでした（%s）", saved.folder, exc)


def build_model(
    saved: SavedIndexes | None,
    key: str | None,
    version: str,
    ranker: matching.TfidfRanker,
    decisions: Sequence[matching.Decision],
    stages: matching.Stages | None,
) -> tuple[matching.LearnedRanker, bool]:
    """The model ``version`` built over ``ranker`` from ``decisions`` and ``stages``. With
    a folder ``saved``, a ``key`` (``ranker`` is that saved fit as it is) and ``stages``
    (nothing validated again), what the build scores against every profile is taken from
    beside the fit, or kept there once built. Returns the model and whether it took kept
    parts."""
    name, parts = None, None
    if saved is not None and key is not None and stages is not None:
        name = parts_key(key, version, decisions, stages)
        parts = read_parts(saved, name)
    learned = matching.LearnedRanker().fit_on(ranker, decisions, stages=stages, parts=parts)
    if saved is not None and name is not None and parts is None and learned.promoted_:
        keep_parts(saved, name, learned)
    return learned, parts is not None
