"""Files that cannot be analysed: one line each, and a record on the item
(the reason, and the file state and setup it holds for), so that the next
run does not try the file again until it (or the setup) changes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .tags import shown_path

if TYPE_CHECKING:
    from beets.library import Item

    from .progress import RunSummary

ERROR_FIELD = "genreclf_error"  # why the file could not be analysed
ERROR_ON_FIELD = "genreclf_error_on"  # for which file state and model it holds


class ErrorRecord:
    """The unanalysable-file record of one run (under setup ``setup``)."""

    def __init__(self, log, summary: RunSummary, setup: str) -> None:
        self.log = log
        self.summary = summary
        self.setup = setup

    def record(self, item: Item, reason: str, pretend: bool) -> None:
        """One greppable line per file; the reason is stored with the file's
        state, so the next run skips it unless the file (or setup) changes."""
        self.failed(item, reason)
        state = self.file_state(item)
        if pretend or state is None:
            return
        item.update({ERROR_FIELD: reason, ERROR_ON_FIELD: state})
        item.store()

    def failed(self, item: Item, reason: str | None) -> None:
        """One greppable line per file that could not be analysed."""
        reason = reason or "unknown error"
        self.log.error("{}: {}", shown_path(item.path), reason)
        self.summary.failed[reason] += 1

    def worth_trying(self, item: Item, force: bool) -> bool:
        """False (and counted) for a file an earlier run could not analyse,
        unchanged since, unless ``force``."""
        recorded = item.get(ERROR_ON_FIELD)
        if force or recorded is None or recorded != self.file_state(item):
            return True
        self.summary.unanalysable_skipped += 1
        return False

    def file_state(self, item: Item) -> str | None:
        """The file's size and mtime, with the setup; None for a file we
        cannot read (missing, no permission): no lasting verdict on it."""
        state = _size_and_mtime(item.path)
        return None if state is None else f"{state} {self.setup}"


def _size_and_mtime(path: bytes) -> str | None:
    if not os.access(path, os.R_OK):
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    return f"{status.st_size}:{status.st_mtime_ns}"


def clear(item: Item) -> None:
    """Forget an earlier failure (the file has now been analysed)."""
    for field in (ERROR_FIELD, ERROR_ON_FIELD):
        if field in item:
            del item[field]


def clear_if_fixed(item: Item) -> bool:
    """For an item whose prediction holds for its file: forget an earlier
    failure once the file is readable and no longer the one that failed
    (restored from a backup, say). Returns whether there was one to forget."""
    recorded = item.get(ERROR_ON_FIELD)
    state = _size_and_mtime(item.path)
    if recorded is None or state is None or recorded.split(" ", 1)[0] == state:
        return False
    clear(item)
    return True
