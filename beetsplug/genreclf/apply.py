"""What a prediction changes on an item, and writing it into the file.

Policy for beets' own ``genres`` field (config ``mode``):
- ``fill``: set it only when the item has no genre (never overrides a
  curated genre);
- ``append``: add the predicted genre after the existing ones;
- ``replace``: set it to the predicted genre;
- ``off``: leave it alone (only the genreclf_* fields are set).
Nothing changes ``genres`` when the confidence is below ``min_confidence``.
``map`` translates model labels into the user's vocabulary (one label may
become several genres).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from beets.library import ReadError, WriteError
from beets.util import displayable_path, syspath
from mediafile import MediaFile, UnreadableFileError
from mutagen.id3 import ID3

if TYPE_CHECKING:
    from .learn import Head
    from .model import TrackPrediction

MODES = ("fill", "append", "replace", "off")

GENRE_FIELD = "genreclf_genre"
CONFIDENCE_FIELD = "genreclf_confidence"
TOP_FIELD = "genreclf_top"
MODEL_FIELD = "genreclf_model"
SOURCE_FIELD = "genreclf_source"
APPLIED_FIELD = "genreclf_applied"  # the genres genreclf set, joined


@dataclass(frozen=True)
class GenrePolicy:
    mode: str = "fill"
    min_confidence: float = 0.5
    label_map: dict[str, list[str]] = field(default_factory=dict)

    def mapped(self, label: str) -> list[str]:
        return self.label_map.get(label, [label])

    def genres_after(self, current: list[str], label: str, confidence: float) -> list[str]:
        """The item's ``genres`` once this prediction is applied."""
        if self.mode == "off" or confidence < self.min_confidence:
            return current
        predicted = self.mapped(label)
        if self.mode == "replace" or (self.mode == "fill" and not current):
            return predicted
        if self.mode == "append":
            return current + [g for g in predicted if g not in current]
        return current


def joined(genres: list[str]) -> str:
    return "; ".join(genres)


@dataclass(frozen=True)
class Labeller:
    """Which labels a prediction is read in: the base model's own, or those
    of a head learned from the user's library (on the model's embedding)."""

    labels: list[str]
    identity: str  # stored in genreclf_model: a different one means re-analysis
    source: str  # "base" or "learned"
    min_confidence: float  # the recommended threshold for these labels
    head: Head | None = None

    def probabilities(self, prediction: TrackPrediction) -> np.ndarray:
        if self.head is None:
            return prediction.probabilities
        return self.head.predict(prediction.embedding)


def prediction_fields(
    labeller: Labeller, prediction: TrackPrediction, top: int = 3
) -> dict[str, Any]:
    """The genreclf_* flexible attributes for a prediction."""
    probabilities = labeller.probabilities(prediction)
    order = np.argsort(-probabilities, kind="stable")
    ranked = [(labeller.labels[i], float(probabilities[i])) for i in order]
    best_label, best_probability = ranked[0]
    return {
        GENRE_FIELD: best_label,
        CONFIDENCE_FIELD: round(best_probability, 4),
        TOP_FIELD: ", ".join(f"{label} {p:.2f}" for label, p in ranked[:top]),
        MODEL_FIELD: labeller.identity,
        SOURCE_FIELD: labeller.source,
    }


def write_tags(item, fields: list[str], id3v23: bool) -> None:
    """Write only ``fields`` of ``item`` into its file.

    beets' ``Item.write`` would rewrite every media field from the database;
    writing just ours (through mediafile, as beets does) guarantees that any
    other tag in the file stays exactly as it was. An existing ID3 tag keeps
    its version (``id3v23`` applies to files without one). Raises beets'
    ReadError/WriteError.
    """
    path = syspath(item.path)
    try:
        media = MediaFile(path, id3v23=id3v23)
    except UnreadableFileError as exc:
        raise ReadError(item.path, _reason(exc)) from exc
    tags = getattr(media.mgfile, "tags", None)
    if isinstance(tags, ID3):  # saving as the other version would convert frames
        media.id3v23 = tags.version[:2] == (2, 3)
    media.update({name: item.get(name) for name in fields})
    try:
        _check_free_space(path)
        media.save()
    except (UnreadableFileError, OSError) as exc:
        raise WriteError(item.path, _reason(exc)) from exc
    item.mtime = item.current_mtime()


def _reason(exc: BaseException) -> str:
    """Why a write failed, without the path that mutagen's messages repeat:
    the operating system's words where an OSError is behind it."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    message = str(exc.args[0]) if exc.args else ""
    return re.sub(r"^\[Errno \d+\] |: '.*'$", "", message) or type(exc).__name__


def _check_free_space(path: str) -> None:
    """Refuse to write on a (nearly) full disk: mutagen grows some files
    (WAV, AIFF) by rewriting their headers first, and a write that then runs
    out of space would leave the file damaged."""
    needed = os.path.getsize(path) // 50 + 2**20  # mutagen pads ~1 % + 1 KiB
    free = shutil.disk_usage(os.path.dirname(path) or ".").free
    if free < needed:
        raise OSError(errno.ENOSPC, f"disk full ({free} bytes free)")


def shown_path(path: bytes) -> str:
    """``path`` for a log line: undecodable bytes replaced and control
    characters escaped, so that one file is always one greppable line."""
    return displayable_path(path).translate(_ESCAPED_CONTROLS)


_ESCAPED_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(32), 127)}


@contextmanager
def interrupt_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, so that a tag write and its
    database row are done together or not at all. Only the main thread can
    handle signals; elsewhere (beets' import threads) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
