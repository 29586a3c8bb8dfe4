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
"""

from __future__ import annotations

import logging
from pathlib import Path

import matching

from .saved_index import ROWS, SavedIndexes

__all__ = ["attach_rows", "keep_rows"]

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
