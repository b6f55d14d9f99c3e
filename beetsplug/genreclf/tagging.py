"""Deciding what predictions change: track by track, or album by album
(each album's prediction from all its tracks, which its tracks follow).

A track of an album follows the album rule whichever command touches it:
``beet genreclf`` without ``-a`` decides a (non-compilation) album's tracks
with their whole album, under ``genres_from: album``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .policy import (
    APPLIED_FIELD,
    CONFIDENCE_FIELD,
    GENRE_FIELD,
    MODEL_FIELD,
    album_decision,
    album_leads,
    album_supported,
    decide,
    following_album,
    keeps_own_genre,
    refilled,
    set_by_us,
    stale_fields,
)
from .tags import interrupt_deferred

if TYPE_CHECKING:
    from beets.library import Album, Item

    from .analysis import Outcome
    from .run import TaggingRun

VARIOUS_ARTISTS = {"various artists", "various", "va"}


class Tagger:
    """One tagging request over a run: write tags or not, re-analyse
    (``force``) or not, store or only show (``pretend``)."""

    def __init__(self, run: TaggingRun, write: bool, force: bool, pretend: bool) -> None:
        run.check()  # a damaged model or head stops us before any work
        run.summary.pretend = pretend
        self.run = run
        self.write, self.force, self.pretend = write, force, pretend

    def items(self, items: Sequence[Item]) -> None:
        """Tag ``items``: tracks of albums that follow the album rule with
        their whole album, the others track by track. All are counted before
        any is analysed: the progress total does not grow mid-run."""
        albums, singles = self._split_by_album(items)
        left = self.to_analyse(singles)
        self.albums(albums)
        self._analyse(left)

    def tracks(self, items: Sequence[Item]) -> None:
        """Analyse ``items`` (those not analysed by this setup, unless
        ``force``), store their predictions and, if ``write``, write our tags.
        Each item is stored as soon as it is done: an interrupted run loses
        nothing."""
        self._analyse(self.to_analyse(items))

    def _analyse(self, items: Sequence[Item]) -> None:
        work = [(item, os.fsdecode(item.path)) for item in items]
        if not work:
            return
        for outcome in self.run.outcomes(work, fresh=self.force):
            self.apply(outcome)

    def to_analyse(self, items: Sequence[Item]) -> list[Item]:
        """Count ``items`` in the run's summary, skip those analysed by this
        setup (unless ``force``) and those recorded as unanalysable: the
        items left to analyse."""
        run = self.run
        run.summary.total += len(items)
        left = []
        for item in items:
            if not self.force and self._analysed(item):
                self._skip(item, *own_prediction(item))
            elif run.errors.worth_trying(item, self.force):
                left.append(item)
        return left

    def apply(self, outcome: Outcome[Item]) -> None:
        """Store (and maybe write) one track's outcome, then show progress."""
        with interrupt_deferred():
            self._apply(outcome)
        self.run.show_progress()

    def albums(self, albums: Sequence[Album]) -> None:
        """As :meth:`tracks`, album by album. Each album gets a prediction
        from all its tracks (from the cache for tracks analysed before),
        stored on the album; its tracks' genres follow it (``genres_from:
        album``) unless it is a compilation, few of its tracks support it
        (:func:`~.policy.album_supported`) or a track is confidently of
        another genre (:func:`~.policy.keeps_own_genre`)."""
        run = self.run
        plans: list[Album] = []
        work = []
        for album in albums:
            items = list(album.items())
            run.summary.total += len(items)
            if not self.force and self._album_done(album, items):
                self._skip_album(album, items)
                continue
            plans.append(album)
            for item in items:
                if run.errors.worth_trying(item, self.force):
                    work.append(((len(plans) - 1, item), os.fsdecode(item.path)))
        if not work:
            return
        outcomes = run.outcomes(work, fresh=self.force)
        for index, group in itertools.groupby(outcomes, key=lambda o: o.key[0]):
            self._apply_album(plans[index], list(group))

    def _split_by_album(self, items: Sequence[Item]) -> tuple[list[Album], list[Item]]:
        """The albums whose tracks follow the album rule among ``items``, and
        the items that are tagged on their own."""
        albums: dict[int, Album] = {}
        singles = []
        for item in items:
            album = item.get_album() if self.run.settings.genres_from == "album" else None
            if album is None or is_compilation(album):
                singles.append(item)
            else:
                albums.setdefault(album.id, album)
        return list(albums.values()), singles

    def _album_done(self, album: Album, items: list[Item]) -> bool:
        return album.get(MODEL_FIELD) == self.run.labeller.identity and all(
            self._analysed(item) for item in items
        )

    def _analysed(self, item: Item) -> bool:
        """Analysed by this setup, and its file still holds the audio that
        was heard (not replaced by a re-rip since: see the cache)."""
        return item.get(MODEL_FIELD) == self.run.labeller.identity and not (
            self.run.cache.audio_changed(item.path)
        )

    def _skip(self, item: Item, label: str | None, confidence: float | None) -> None:
        """An item already analysed by this setup, brought up to date from
        the database (nothing analysed): its genres follow the current policy
        on the stored prediction (``label``, ``confidence``; see
        :func:`~.policy.refilled`), not music loses a mood an earlier version
        gave it, and the file says what the database says, when writing."""
        run = self.run
        if label is not None and confidence is not None:
            current = list(item.genres)
            genres = refilled(run.policy, current, ours(item), label, confidence)
            stale = stale_fields(own_prediction(item)[0])
            cleared = [name for name in stale if item.get(name, with_album=False) is not None]
            if genres != current or cleared:
                run.storer.refill(item, genres, cleared, self.pretend)
        run.storer.skip([item], self.write, self.pretend)

    def _skip_album(self, album: Album, items: list[Item]) -> None:
        """An album analysed by this setup, brought up to date as
        :meth:`_skip` does a track; its tracks skipped, each refilled from
        the prediction it follows."""
        labels = [own_prediction(item)[0] for item in items]
        label, confidence = album.get(GENRE_FIELD), album.get(CONFIDENCE_FIELD)
        if label is None or confidence is None:
            follows = False
        else:
            self._refill_album(album, label, confidence, labels)
            leads = album_leads(label, confidence, labels, self.run.policy)
            follows = not self._per_track(album) and leads
        for item in items:
            own = own_prediction(item)
            keeps_own = None in own or keeps_own_genre(*own, label, self.run.policy)
            self._skip(item, *(own if keeps_own or not follows else (label, confidence)))

    def _refill_album(
        self, album: Album, label: str, confidence: float, track_labels: list[str | None]
    ) -> None:
        """The album's genres from its stored prediction (``label``,
        ``confidence``) under the current policy, where enough of its tracks
        (whose top labels are ``track_labels``) support it; see :meth:`_skip`."""
        current = list(album.genres)
        genres = current
        if album_supported(label, track_labels):
            genres = refilled(self.run.policy, current, album_ours(album), label, confidence)
        cleared = [name for name in stale_fields(label) if album.get(name) is not None]
        if genres != current or cleared:
            self.run.storer.refill_album(album, genres, cleared, self.pretend)

    def _per_track(self, album: Album) -> bool:
        return self.run.settings.genres_from == "track" or is_compilation(album)

    def _apply(self, outcome: Outcome[Item]) -> None:
        run, item = self.run, outcome.key
        if outcome.prediction is None:
            run.errors.record(item, outcome.error or "unknown error", self.pretend)
            return
        decision = decide(item.genres, outcome.prediction, run.labeller, run.policy, ours(item))
        run.storer.store(item, decision, outcome, self.write, self.pretend)

    def _apply_album(self, album: Album, outcomes: list[Outcome]) -> None:
        run = self.run
        analysed = []
        for outcome in outcomes:
            _, item = outcome.key
            if outcome.prediction is None:
                run.errors.record(item, outcome.error or "unknown error", self.pretend)
            else:
                analysed.append((item, outcome))
        if not analysed:
            return
        labeller, policy = run.labeller, run.policy
        decisions = [
            (item, outcome, decide(item.genres, outcome.prediction, labeller, policy, ours(item)))
            for item, outcome in analysed
        ]
        together = album_decision(
            album.genres,
            [labeller.probabilities(outcome.prediction) for _, outcome in analysed],
            labeller,
            policy,
            album_ours(album),
            [outcome.prediction.embedding for _, outcome in analysed],
        )
        tops = [decision.label for _, _, decision in decisions]
        leads = album_leads(together.label, together.confidence, tops, policy)
        follows = not self._per_track(album) and leads
        for item, outcome, decision in decisions:
            if follows and not keeps_own_genre(
                decision.label, decision.confidence, together.label, policy
            ):
                decision = following_album(item.genres, ours(item), decision, together, policy)
            if (
                self.force
                or item.get(MODEL_FIELD) != labeller.identity
                or decision.genres_changed
            ):
                with interrupt_deferred():
                    run.storer.store(item, decision, outcome, self.write, self.pretend)
            else:
                run.storer.skip([item], self.write, self.pretend)
            run.show_progress()
        run.storer.store_album(album, together, self.pretend)


def is_compilation(album: Album) -> bool:
    """Various artists: its tracks keep their own genres."""
    return bool(album.comp) or album.albumartist.casefold() in VARIOUS_ARTISTS


def ours(item: Item) -> bool:
    """Whether the item's genres are the ones genreclf set (so --learn leaves
    it out, and a newer prediction may replace them)."""
    return set_by_us(list(item.genres), item.get(APPLIED_FIELD, with_album=False))


def own_prediction(item: Item) -> tuple[str | None, float | None]:
    """The item's stored label and confidence (not its album's)."""
    return item.get(GENRE_FIELD, with_album=False), item.get(CONFIDENCE_FIELD, with_album=False)


def album_ours(album: Album) -> bool:
    """Whether the album's genres are the ones genreclf set (a newer album
    prediction may replace them; --stats does not count them against it)."""
    return set_by_us(list(album.genres), album.get(APPLIED_FIELD))
