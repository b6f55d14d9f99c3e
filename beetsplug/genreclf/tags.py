"""The file side: writing our tags into a file, and nothing else.

Only genreclf's own fields are written (never every media field, as beets'
``Item.write`` would), an existing ID3 version is kept, a nearly full disk
is refused, and Ctrl-C waits until a write and its database row are done.
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

from beets.library import ReadError, WriteError
from beets.util import displayable_path, syspath
from mediafile import MediaFile, UnreadableFileError
from mutagen.id3 import ID3


def write_tags(item, fields: list[str], id3v23: bool) -> bool:
    """Write only ``fields`` of ``item`` into its file, if the file does not
    already hold those values; returns whether it wrote.

    beets' ``Item.write`` would rewrite every media field from the database;
    writing just ours (through mediafile, as beets does) guarantees that any
    other tag in the file stays exactly as it was. An existing ID3 tag keeps
    its version (``id3v23`` applies to files without one). Raises beets'
    ReadError/WriteError.
    """
    media = _open(item, id3v23)
    tags = getattr(media.mgfile, "tags", None)
    if isinstance(tags, ID3):  # saving as the other version would convert frames
        media.id3v23 = tags.version[:2] == (2, 3)
    differing = _differing(media, item, fields)
    if not differing:
        return False
    media.update({name: item.get(name) for name in differing})
    path = syspath(item.path)
    try:
        _check_free_space(path)
        media.save()
    except (UnreadableFileError, OSError) as exc:
        raise WriteError(item.path, _reason(exc, item.path)) from exc
    item.mtime = item.current_mtime()
    return True


def differing_tags(item, fields: list[str]) -> list[str]:
    """The ``fields`` whose tags in ``item``'s file differ from its values:
    what :func:`write_tags` would write, the file untouched. Raises ReadError."""
    return _differing(_open(item, id3v23=False), item, fields)


def _open(item, id3v23: bool) -> MediaFile:
    try:
        return MediaFile(syspath(item.path), id3v23=id3v23)
    except UnreadableFileError as exc:
        raise ReadError(item.path, _reason(exc, item.path)) from exc


def _differing(media: MediaFile, item, fields: list[str]) -> list[str]:
    return [name for name in fields if not _same(getattr(media, name), item.get(name))]


def _same(in_file: object, stored: object) -> bool:
    """Whether a tag already holds the stored value (floats to the 4 places
    that are written; a missing tag equals an empty value)."""
    if isinstance(stored, float) and isinstance(in_file, float):
        return round(in_file, 4) == round(stored, 4)
    return (in_file or None) == (stored or None)


def _reason(exc: BaseException, path: bytes) -> str:
    """Why a write failed, without the ``path`` that mediafile's and
    mutagen's messages repeat (our line names it already): the operating
    system's words where an OSError is behind it, else the innermost message."""
    cause: BaseException | None = exc
    innermost = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        innermost = cause
        cause = cause.__cause__ or cause.__context__
    message = str(innermost.args[0]) if innermost.args else ""
    message = message.removeprefix(f"{os.fsdecode(path)}: ")
    return re.sub(r"^\[Errno \d+\] |: '.*'$", "", message) or type(innermost).__name__


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


def display_name(item) -> str:
    """"Artist – Title" when the item has both, else its path."""
    if item.artist and item.title:
        return f"{item.artist} – {item.title}"
    return shown_path(item.path)


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
