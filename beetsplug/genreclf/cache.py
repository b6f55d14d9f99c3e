"""What the base model made of each file, cached beside the library database.

Learning a head and then tagging, or re-learning after more tags were added,
must not decode a file twice. The cache holds a track's probabilities and
embedding for the model and window policy that produced them (the
``setup``), found two ways:

- by path, size and modification time: one ``stat`` per file, so a run over
  files analysed before costs next to nothing;
- failing that, by a digest of the file's audio payload (see payload.py),
  which a tag write does not change: after beets, another plugin or a tag
  editor rewrote the tags, the file is read once, not decoded, and its entry
  takes the new path, size and time.

When genreclf writes tags itself, or an import moves a file, it updates the
file's entry at once (the audio did not change).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import numpy as np

from .payload import audio_digest

SCHEMA = """
CREATE TABLE IF NOT EXISTS analysis (
    path BLOB NOT NULL,
    setup TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    probabilities BLOB NOT NULL,
    embedding BLOB NOT NULL,
    audio BLOB,
    PRIMARY KEY (path, setup)
)
"""
# Caches written before the audio digest lack its column: their entries are
# found by path, and get their digest the first time they are.
ADD_AUDIO_COLUMN = "ALTER TABLE analysis ADD COLUMN audio BLOB"
AUDIO_INDEX = "CREATE INDEX IF NOT EXISTS analysis_audio ON analysis (audio, setup)"
COMMIT_EVERY = 64  # entries; a crash loses at most this much work


class AnalysisCache:
    """A SQLite file of (probabilities, embedding) per file and ``setup``
    (model identity and window policy). Usable from several threads."""

    def __init__(self, path: Path, setup: str) -> None:
        self.path = path
        self.setup = setup
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(analysis)")}
        if "audio" not in columns:
            self._db.execute(ADD_AUDIO_COLUMN)
        self._db.execute(AUDIO_INDEX)
        self._lock = threading.Lock()
        self._pending = 0
        self._digests: dict[bytes, bytes] = {}  # path -> audio digest, from a miss to its put
        self.hits = 0

    def get(self, path: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(probabilities, embedding) if ``path`` is unchanged since cached,
        or if its audio is that of a cached file (its tags were rewritten,
        or it is a copy)."""
        try:
            found = self._lookup(path, file_state(path))
        except OSError:
            return None
        if found is None:
            return None
        with self._lock:
            self.hits += 1
        return _array(found[0]), _array(found[1])

    def audio_changed(self, path: bytes) -> bool:
        """Whether the file at ``path`` no longer holds audio cached for this
        setup (it was replaced, or nothing is cached for it), so that its
        stored prediction may be stale. A file that cannot be read has
        nothing new to hear: not changed."""
        try:
            state = file_state(path)
        except OSError:
            return False
        return self._lookup(path, state) is None

    def _lookup(self, path: bytes, state: tuple[int, int]) -> tuple[bytes, bytes] | None:
        return self._by_path(path, state) or self._by_audio(path, state)

    def _by_path(self, path: bytes, state: tuple[int, int]) -> tuple[bytes, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT probabilities, embedding, audio IS NULL FROM analysis"
                " WHERE path = ? AND setup = ? AND size = ? AND mtime_ns = ?",
                (path, self.setup, *state),
            ).fetchone()
        if row is None:
            return None
        probabilities, embedding, undigested = row
        if undigested:  # cached before entries had a digest: give it one
            self._put(path, state, audio_digest(path), probabilities, embedding)
        return probabilities, embedding

    def _by_audio(self, path: bytes, state: tuple[int, int]) -> tuple[bytes, bytes] | None:
        """The entry of a file with ``path``'s audio, now also ``path``'s."""
        digest = audio_digest(path)
        if digest is None:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT probabilities, embedding FROM analysis WHERE audio = ? AND setup = ?",
                (digest, self.setup),
            ).fetchone()
            if row is None:
                self._digests[path] = digest  # for the put after its analysis
                return None
        self._put(path, state, digest, *row)
        return row

    def put(self, path: bytes, probabilities: np.ndarray, embedding: np.ndarray) -> None:
        try:
            state = file_state(path)
        except OSError:
            return
        with self._lock:
            digest = self._digests.pop(path, None)
        digest = digest or audio_digest(path)
        self._put(path, state, digest, _blob(probabilities), _blob(embedding))

    def _put(
        self,
        path: bytes,
        state: tuple[int, int],
        digest: bytes | None,
        probabilities: bytes,
        embedding: bytes,
    ) -> None:
        values = (path, self.setup, *state, probabilities, embedding, digest)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO analysis"
                " (path, setup, size, mtime_ns, probabilities, embedding, audio)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            self._commit_now_and_then()

    def refresh(self, path: bytes, before: tuple[int, int]) -> None:
        """After a tag write: same audio, new size and mtime. Only an entry
        that held for the file as it was ``before`` the write (its size and
        mtime) follows it: an entry for other audio once at this path must
        never come to look current."""
        try:
            size, mtime_ns = file_state(path)
        except OSError:
            return
        with self._lock:
            self._db.execute(
                "UPDATE analysis SET size = ?, mtime_ns = ?"
                " WHERE path = ? AND size = ? AND mtime_ns = ?",
                (size, mtime_ns, path, *before),
            )
            self._commit_now_and_then()

    def move(self, old: bytes, new: bytes) -> None:
        """The file at ``old`` is now ``new`` (an import copied or moved it,
        and may have written its tags): same audio, so keep its entries."""
        try:
            size, mtime_ns = file_state(new)
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


def file_state(path: bytes) -> tuple[int, int]:
    """A file's size and modification time, as the cache keys it."""
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


def _blob(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def _array(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").copy()
