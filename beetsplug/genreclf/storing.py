"""Storing decisions on items and albums, and writing our tags into files.

The one place that stores what a run decided and writes tags; a write that
fails is one line and a count, and the run goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TYPE_CHECKING

from beets import config, ui
from beets.library import FileOperationError

from .cache import file_state
from .mood import MOOD_FIELD
from .policy import APPLIED_FIELD, CONFIDENCE_FIELD, GENRE_FIELD, NONMUSIC, joined
from .tags import differing_tags, display_name, shown_path, write_tags
from .unanalysable import clear, clear_if_fixed

if TYPE_CHECKING:
    from beets.library import Album, Item, Library

    from .analysis import Outcome
    from .cache import AnalysisCache
    from .policy import Decision
    from .progress import RunSummary
    from .settings import Settings


def tag_fields(settings: Settings) -> list[str]:
    """The fields a tag write puts into files: genres, and ours when asked."""
    custom = [GENRE_FIELD, CONFIDENCE_FIELD] if settings.custom_tags else []
    mood = [MOOD_FIELD] if settings.mood and settings.mood_tags else []
    return ["genres", *custom, *mood]


# Those fields as a file names them, for the lines of -p.
TAG_NAMES = {
    "genres": "genre",
    GENRE_FIELD: "GENRECLF_GENRE",
    CONFIDENCE_FIELD: "GENRECLF_CONFIDENCE",
    MOOD_FIELD: "MOOD",
}


def library_dir_if_imports_copy(lib: Library | None) -> bytes | None:
    """The library directory when beets copies or moves imports into it:
    a file outside it is then a user's original (left there by an
    interrupted import, say), which beets never writes, and neither do we."""
    imports = config["import"]
    if lib is None or not (imports["copy"].get(bool) or imports["move"].get(bool)):
        return None
    return os.path.abspath(os.fsencode(lib.directory))


class Storer:
    """Stores (or, pretending, shows) decisions; writes ``tag_fields`` into
    files when asked, and then refreshes the run's ``cache`` (opened on
    first use: the file's audio is unchanged, its size and time are new)."""

    def __init__(
        self,
        log,
        summary: RunSummary,
        tag_fields: list[str],
        cache: Callable[[], AnalysisCache],
        library_dir: bytes | None = None,
    ) -> None:
        self.log = log
        self.summary = summary
        self.tag_fields = tag_fields
        self.cache = cache
        self.library_dir = library_dir  # set: files outside it are never written

    def store(
        self, item: Item, decision: Decision, outcome: Outcome, write: bool, pretend: bool
    ) -> None:
        """Store (or, pretending, show) one item's decision; write its tags."""
        self.log.debug(
            "{}: {} {:.2f} ({}){}; genres {} -> {}",
            shown_path(item.path), decision.label, decision.confidence, decision.top,
            " from the cache" if outcome.analysis.from_cache else "",
            list(item.genres), decision.genres,
        )
        if outcome.analysis.decoder_messages:
            self.log.debug(
                "{}: decoder said: {}", shown_path(item.path), outcome.analysis.decoder_messages
            )
        if decision.genres_changed:
            self.summary.genres_set[shown_genres(decision.genres)] += 1
        if decision.label == NONMUSIC:
            self.summary.not_music += 1
        if pretend:
            show(item, decision)
            self.summary.analysed += 1
            if write:
                self.would_write(decided(item, decision))
            return
        item.update(decision.fields())
        remove(item, decision.cleared())
        clear(item)
        if write and not self.write(item):
            return  # nothing stored: the next run tries the write again
        item.store()
        self.summary.analysed += 1

    def refill(self, item: Item, genres: list[str], cleared: list[str], pretend: bool) -> None:
        """Bring an analysed item up to date from its stored prediction (see
        ``Tagger._skip``): its new ``genres``, the ``cleared`` fields removed."""
        if genres != list(item.genres):
            self.summary.genres_set[shown_genres(genres)] += 1
        if self._refilled(item, display_name(item), genres, cleared, pretend):
            item.store()

    def refill_album(
        self, album: Album, genres: list[str], cleared: list[str], pretend: bool
    ) -> None:
        """As :meth:`refill`, for an album (its tracks are refilled one by one)."""
        if self._refilled(album, f"album {album}", genres, cleared, pretend):
            album.store(inherit=False)

    def _refilled(
        self, entity: Item | Album, name: str, genres: list[str], cleared: list[str], pretend: bool
    ) -> bool:
        """Log the change and make it (pretending: show it, and make it in
        memory only, for :meth:`would_write` to see); whether to store."""
        current = list(entity.genres)
        change = f"genres {shown_genres(current)} -> {shown_genres(genres)}"
        if genres == current:
            change = "genres unchanged"
        removed = f", {', '.join(cleared)} removed" if cleared else ""
        self.log.debug("{}: {}{} (stored prediction)", name, change, removed)
        if pretend:
            ui.print_(f"{name}: {change}{removed}")
        if genres != current:
            entity.update({"genres": genres, APPLIED_FIELD: joined(genres)})
        remove(entity, cleared)
        return not pretend

    def skip(self, items: list[Item], write: bool, pretend: bool) -> None:
        """Items already analysed by this setup: a failure recorded for an
        earlier state of the file is forgotten, and, when writing, their
        files must say what the database says (pretending: listed). A file
        gone missing is one line, not a failure: nothing of ours is lost."""
        self.summary.skipped += len(items)
        for item in items:
            if not pretend and clear_if_fixed(item):
                item.store()
            if not write:
                continue
            if not os.path.exists(item.path):
                self.log.warning(
                    "{}: tags not written: file not found (`beet update` removes "
                    "missing files from the library)", shown_path(item.path),
                )
            elif pretend:
                self.would_write(item)
            else:
                self.write(item)

    def would_write(self, item: Item) -> None:
        """Pretending: one line for a file whose tags :meth:`write` would
        write (the file's differ from ``item``'s values), counted."""
        if self._is_original(item.path):
            return  # never written (see write)
        try:
            differing = differing_tags(item, self.tag_fields)
        except FileOperationError as exc:
            self.log.warning(
                "{}: tags would not be written: {}", shown_path(item.path), exc.reason
            )
            return
        if differing:
            self.summary.written += 1
            names = ", ".join(TAG_NAMES[name] for name in differing)
            ui.print_(f"would write {shown_path(item.path)}: {names}")

    def write(self, item: Item) -> bool:
        """Write our tags if the file lacks them; a failure is reported (one
        line) and counted, and the run goes on. Returns False on failure.
        A user's original (see :func:`library_dir_if_imports_copy`) is not
        written: one line, and the prediction is stored all the same."""
        if self._is_original(item.path):
            self.log.warning(
                "{}: tags not written: outside the library directory (beets copies or "
                "moves imports and never writes the originals)", shown_path(item.path),
            )
            self.summary.originals_kept += 1
            return True
        before = _state(item.path)  # the cache's entry follows the write only from it
        try:
            wrote = write_tags(item, self.tag_fields, id3v23=config["id3v23"].get(bool))
        except FileOperationError as exc:
            self.log.error("{}: tags not written: {}", shown_path(item.path), exc.reason)
            self.summary.write_failed[exc.reason] += 1
            return False
        if wrote:
            self.summary.written += 1
            if before is not None:
                self.cache().refresh(item.path, before)  # same audio, new tags
            item.store()  # its new mtime
        return True

    def _is_original(self, path: bytes) -> bool:
        if self.library_dir is None:
            return False
        return not os.path.abspath(path).startswith(os.path.join(self.library_dir, b""))

    def store_album(self, album: Album, decision: Decision, pretend: bool) -> None:
        self.log.debug(
            "album {}: {} {:.2f} ({}); genres {} -> {}",
            album, decision.label, decision.confidence, decision.top,
            list(album.genres), decision.genres,
        )
        if pretend:
            ui.print_(f"album {album}: {decision.label} {decision.confidence:.2f}")
            return
        album.update(decision.fields())
        remove(album, decision.cleared())
        album.store(inherit=False)  # its tracks' genres were decided one by one


def _state(path: bytes) -> tuple[int, int] | None:
    """:func:`~.cache.file_state`, or None for a file gone (write_tags says why)."""
    try:
        return file_state(path)
    except OSError:
        return None


def decided(item: Item, decision: Decision) -> Item:
    """A copy of ``item`` as storing ``decision`` would leave it."""
    copy = item.copy()
    copy.update(decision.fields())
    remove(copy, decision.cleared())
    return copy


def remove(entity: Item | Album, fields: Iterable[str]) -> None:
    """Remove these flexible fields from ``entity`` where it has them."""
    for name in fields:
        with suppress(KeyError):
            del entity[name]


def shown_genres(genres: list[str]) -> str:
    return joined(genres) or "(none)"


def show(item: Item, decision: Decision) -> None:
    """What pretend would have done, one line per item."""
    change = (
        f"genres {shown_genres(item.genres)} -> {shown_genres(decision.genres)}"
        if decision.genres_changed
        else "genres unchanged"
    )
    gone = [name for name in decision.cleared() if item.get(name, with_album=False) is not None]
    removed = f", {', '.join(gone)} removed" if gone else ""
    ui.print_(
        f"{display_name(item)}: {decision.label} {decision.confidence:.2f}, {change}{removed}"
    )
