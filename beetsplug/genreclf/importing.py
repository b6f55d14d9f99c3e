"""The import-time part: one run for a whole ``beet import``. An album's
predictions are stored in the import stage (files are not in place yet).
Singletons only wait there: each task holds one file, so analysing it in
the stage would leave all workers but one idle. They are analysed when the
first of them has its file placed, together with every singleton waiting
by then (beets' threads keep staging while files are placed), and each is
stored once its own file is placed. Once beets has copied or moved the files,
the cache follows them, our tags are written and unanalysable files are
recorded with the state of their library copy. Ctrl-C stops the import
with our summary and a non-zero status; so do files that could not be
analysed or written, once the import is otherwise complete."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence
from contextlib import closing
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

    from .analysis import Outcome

INTERRUPTED = (
    "genreclf: import interrupted; items beets had added but not yet copied or moved "
    "stay at their source paths: `beet genreclf` analyses those not analysed (it never "
    "writes files outside the library directory when imports copy or move)"
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
        self._waiting: dict[int, Item] = {}  # item id -> singleton staged, not analysed
        self._handover = threading.Lock()  # guards _waiting: staged and placed in two threads
        self._outcomes: dict[int, Outcome[Item]] = {}  # item id -> outcome, until placed
        # Held while analysing or placing (beets' stage and placing threads
        # would share the workers and the cache); the import's end waits for it.
        self._working = threading.Lock()

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

    def finish(self) -> str | None:
        """The import is over: its summary, and a non-zero status (a
        UserError) if Ctrl-C ended it. Returns why the import must still end
        with status 1 (files that could not be analysed or written), if any."""
        with self._working, self:
            if self.summary.total or self.interrupted:
                self.report()
        if self.interrupted:
            raise ui.UserError(INTERRUPTED)
        return self.summary.failure_line()

    def tag_imported(self, items: Sequence[Item]) -> None:
        """The import stage for singletons: counted, and those to analyse
        left waiting for :meth:`files_placed`."""
        left = self._tagger().to_analyse(items)
        self._remember_paths(items)
        with self._handover:
            self._waiting.update((item.id, item) for item in left)

    def tag_imported_album(self, album: Album, items: Sequence[Item]) -> None:
        """The import stage for an album task."""
        with self._working:
            self._tagger().albums([album])
        self._remember_paths(items)

    def _tagger(self) -> Tagger:
        return Tagger(self, write=False, force=False, pretend=False)

    def _remember_paths(self, items: Sequence[Item]) -> None:
        for item in items:
            self._analysed_at[item.id] = item.path

    def files_placed(self, items: Sequence[Item], write: bool) -> None:
        """After beets copied/moved the files (and maybe wrote their tags):
        the cache follows each file, failures are recorded, and our tags are
        written if asked. Singletons are stored first."""
        with self._working:
            if self.interrupted:  # the import's end has reported and closed the run
                raise ImportInterrupted
            self._store_singletons(items)
            self._follow_files(items, write)

    def _store_singletons(self, items: Sequence[Item]) -> None:
        """Store the outcomes of those of ``items`` that were left waiting,
        analysing all that wait if one of them is not analysed yet."""
        with self._handover:
            unanalysed = any(item.id in self._waiting for item in items)
        if unanalysed:
            self._analyse_waiting()
        tagger = self._tagger()
        for item in items:
            outcome = self._outcomes.pop(item.id, None)
            if outcome is not None:
                self._analysed_at[item.id] = os.fsencode(outcome.path)
                tagger.apply(outcome)

    def _analyse_waiting(self) -> None:
        """Analyse every singleton waiting, each at its path now (moved or
        not yet), in one batch; Ctrl-C stops it after the file at hand."""
        with self._handover:
            batch, self._waiting = list(self._waiting.values()), {}
        work = [(item, os.fsdecode(item.path)) for item in batch]
        with closing(self.outcomes(work)) as outcomes:
            for outcome in outcomes:
                if self.interrupted:
                    raise ImportInterrupted
                self._outcomes[outcome.key.id] = outcome

    def _follow_files(self, items: Sequence[Item], write: bool) -> None:
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
