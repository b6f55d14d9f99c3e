"""What the base model made of each file, cached beside the library database.

Learning a head and then tagging, or re-learning after more tags were added,
must not decode a file twice. The cache holds a track's probabilities and
embedding, keyed by its path, size and modification time, and by the model
and window policy that produced them: change any of them and the entry is
simply not found. When genreclf writes tags itself, it refreshes the file's
entry (the audio did not change).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS analysis (
    path BLOB NOT NULL,
    setup TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    probabilities BLOB NOT NULL,
    embedding BLOB NOT NULL,
    PRIMARY KEY (path, setup)
)
"""
COMMIT_EVERY = 64  # entries; a crash loses at most this much work


class AnalysisCache:
    """A SQLite file of (probabilities, embedding) per file and ``setup``
    (model identity and window policy). Usable from several threads."""

    def __init__(self, path: Path, setup: str) -> None:
        self.path = path
        self.setup = setup
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()
        self._pending = 0
        self.hits = 0

    def get(self, path: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(probabilities, embedding) if ``path`` is unchanged since cached."""
        try:
            size, mtime_ns = _stat(path)
        except OSError:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT probabilities, embedding FROM analysis WHERE path = ? AND setup = ?"
                " AND size = ? AND mtime_ns = ?",
                (path, self.setup, size, mtime_ns),
            ).fetchone()
            if row is None:
                return None
            self.hits += 1
        return _array(row[0]), _array(row[1])

    def put(self, path: bytes, probabilities: np.ndarray, embedding: np.ndarray) -> None:
        try:
            size, mtime_ns = _stat(path)
        except OSError:
            return
        values = (path, self.setup, size, mtime_ns, _blob(probabilities), _blob(embedding))
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO analysis VALUES (?, ?, ?, ?, ?, ?)", values)
            self._commit_now_and_then()

    def refresh(self, path: bytes) -> None:
        """After a tag write: same audio, new size and mtime."""
        self.move(path, path)

    def move(self, old: bytes, new: bytes) -> None:
        """The file at ``old`` is now ``new`` (an import copied or moved it,
        and may have written its tags): same audio, so keep its entries."""
        try:
            size, mtime_ns = _stat(new)
        except OSError:
            return
        with self._lock:
            if old != new:  # a stale entry for the new path must not block the move
                self._db.execute("DELETE FROM analysis WHERE path = ?", (new,))
            self._db.execute(
                "UPDATE analysis SET path = ?, size = ?, mtime_ns = ? WHERE path = ?",
                (new, size, mtime_ns, old),
            )
            self._commit_now_and_then()

    def commit(self) -> None:
        with self._lock:
            self._db.commit()
            self._pending = 0

    def close(self) -> None:
        with self._lock:
            self._db.commit()
            self._db.close()

    def _commit_now_and_then(self) -> None:
        self._pending += 1
        if self._pending >= COMMIT_EVERY:
            self._db.commit()
            self._pending = 0


def cache_file(library_path: str | bytes, config_dir: Path) -> Path:
    """The cache beside the library database (in the beets configuration
    folder for an in-memory library)."""
    library = Path(os.fsdecode(library_path))
    if str(library) == ":memory:":
        return config_dir / "genreclf-cache.db"
    return library.with_name(library.name + ".genreclf-cache")


def _stat(path: bytes) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


def _blob(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def _array(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").copy()
