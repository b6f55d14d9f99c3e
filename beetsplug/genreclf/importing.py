"""The import-time part: one run for a whole ``beet import``. Predictions
are stored in the import stage (files are not in place yet); once beets has
copied or moved the files, the cache follows them, our tags are written and
unanalysable files are recorded with the state of their library copy.
Ctrl-C stops the import with our summary and a non-zero status."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from beets import ui
from beets.importer import ImportAbortError

from .policy import MODEL_FIELD
from .run import TaggingRun
from .tagging import Tagger
from .unanalysable import ErrorRecord

if TYPE_CHECKING:
    from beets.library import Album, Item

INTERRUPTED = (
    "genreclf: import interrupted; items beets had added but not yet moved stay at "
    "their source paths: run `beet genreclf` to analyse the ones not analysed"
)


class ImportInterrupted(ImportAbortError):
    """Ctrl-C: beets ends the import as if the user aborted it, which lets
    the import's end report it (a KeyboardInterrupt it would swallow)."""


class ImportRun(TaggingRun):
    """A run whose files keep coming, task by task."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.summary.open_ended = True  # files come album by album
        self.interrupted = False
        self._analysed_at: dict[int, bytes] = {}  # item id -> path when analysed
        self._previous_handler = None

    @cached_property
    def errors(self) -> PlacedErrorRecord:
        return PlacedErrorRecord(self.log, self.summary, self.setup)

    def catch_interrupt(self) -> None:
        """Take Ctrl-C over (main thread only) until the run closes."""
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._interrupt)

    def _interrupt(self, signum, frame) -> None:
        self._restore_handler()  # a second Ctrl-C is beets' own
        self.interrupted = True
        raise ImportInterrupted

    def _restore_handler(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None

    def close(self) -> None:
        self._restore_handler()
        super().close()

    def finish(self) -> None:
        """The import is over: its summary, and a non-zero status (a
        UserError) if Ctrl-C ended it."""
        with self:
            if self.summary.total or self.interrupted:
                self.report()
        if self.interrupted:
            raise ui.UserError(INTERRUPTED)

    def tag_imported(self, items: Sequence[Item]) -> None:
        """The import stage for singletons: store predictions now (files are
        not in place yet)."""
        Tagger(self, write=False, force=False, pretend=False).tracks(items)
        self._remember_paths(items)

    def tag_imported_album(self, album: Album, items: Sequence[Item]) -> None:
        """The import stage for an album task."""
        Tagger(self, write=False, force=False, pretend=False).albums([album])
        self._remember_paths(items)

    def _remember_paths(self, items: Sequence[Item]) -> None:
        for item in items:
            self._analysed_at[item.id] = item.path

    def files_placed(self, items: Sequence[Item], write: bool) -> None:
        """After beets copied/moved the files (and maybe wrote their tags):
        the cache follows each file, failures are recorded, and our tags are
        written if asked."""
        cache = self.storer.cache()
        for item in items:
            analysed_at = self._analysed_at.pop(item.id, None)
            if analysed_at is not None:
                cache.move(analysed_at, item.path)
            self.errors.placed(item)
            if write and item.get(MODEL_FIELD):
                self.storer.write(item)
        cache.commit()


class PlacedErrorRecord(ErrorRecord):
    """At import, a file that cannot be analysed is reported and recorded
    once it is where it stays: its line names the library path, and the
    record holds the library file's state (not the staged source's)."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._pending: dict[int, str] = {}  # item id -> reason

    def record(self, item: Item, reason: str, pretend: bool) -> None:
        self._pending[item.id] = reason

    def placed(self, item: Item) -> None:
        reason = self._pending.pop(item.id, None)
        if reason is not None:
            super().record(item, reason, pretend=False)
