"""Storing decisions on items and albums, and writing our tags into files.

The one place that stores what a run decided and writes tags; a write that
fails is one line and a count, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TYPE_CHECKING

from beets import config, ui
from beets.library import FileOperationError

from .mood import MOOD_FIELD
from .policy import APPLIED_FIELD, CONFIDENCE_FIELD, GENRE_FIELD, NONMUSIC, joined
from .tags import display_name, shown_path, write_tags
from .unanalysable import clear

if TYPE_CHECKING:
    from beets.library import Album, Item

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


class Storer:
    """Stores (or, pretending, shows) decisions; writes ``tag_fields`` into
    files when asked, and then refreshes the run's ``cache`` (opened on
    first use: the file's audio is unchanged, its size and time are new)."""

    def __init__(
        self, log, summary: RunSummary, tag_fields: list[str], cache: Callable[[], AnalysisCache]
    ) -> None:
        self.log = log
        self.summary = summary
        self.tag_fields = tag_fields
        self.cache = cache

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
        """Items already analysed by this setup: their files must say what
        the database says, when writing."""
        self.summary.skipped += len(items)
        if write and not pretend:
            for item in items:
                self.write(item)

    def write(self, item: Item) -> bool:
        """Write our tags if the file lacks them; a failure is reported (one
        line) and counted, and the run goes on. Returns False on failure."""
        try:
            wrote = write_tags(item, self.tag_fields, id3v23=config["id3v23"].get(bool))
        except FileOperationError as exc:
            self.log.error("{}: tags not written: {}", shown_path(item.path), exc.reason)
            self.summary.write_failed[exc.reason] += 1
            return False
        if wrote:
            self.summary.written += 1
            self.cache().refresh(item.path)  # same audio, new tags
            item.store()  # its new mtime
        return True

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
    ui.print_(f"{display_name(item)}: {decision.label} {decision.confidence:.2f}, {change}")
