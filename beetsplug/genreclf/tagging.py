"""Deciding what predictions change: track by track, or album by album
(each album's prediction from all its tracks, which its tracks follow)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .policy import (
    APPLIED_FIELD,
    MODEL_FIELD,
    album_decision,
    decide,
    following_album,
    keeps_own_genre,
    set_by_us,
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
        run.policy  # a configuration error stops us before any work
        run.summary.pretend = pretend
        self.run = run
        self.write, self.force, self.pretend = write, force, pretend

    def tracks(self, items: Sequence[Item]) -> None:
        """Analyse ``items`` (those not analysed by this setup, unless
        ``force``), store their predictions and, if ``write``, write our tags.
        Each item is stored as soon as it is done: an interrupted run loses
        nothing."""
        run = self.run
        run.summary.total += len(items)
        work = []
        for item in items:
            if not self.force and item.get(MODEL_FIELD) == run.labeller.identity:
                run.storer.skip([item], self.write, self.pretend)
            elif run.errors.worth_trying(item, self.force):
                work.append((item, os.fsdecode(item.path)))
        if not work:
            return
        for outcome in run.outcomes(work):
            with interrupt_deferred():
                self._apply(outcome)
            run.show_progress()

    def albums(self, albums: Sequence[Album]) -> None:
        """As :meth:`tracks`, album by album. Each album gets a prediction
        from all its tracks (from the cache for tracks analysed before),
        stored on the album; its tracks' genres follow it (``genres_from:
        album``) unless it is a compilation or a track is confidently of
        another genre (:func:`~.policy.keeps_own_genre`)."""
        run = self.run
        plans: list[Album] = []
        work = []
        for album in albums:
            items = list(album.items())
            run.summary.total += len(items)
            if not self.force and self._album_done(album, items):
                run.storer.skip(items, self.write, self.pretend)
                continue
            plans.append(album)
            for item in items:
                if run.errors.worth_trying(item, self.force):
                    work.append(((len(plans) - 1, item), os.fsdecode(item.path)))
        if not work:
            return
        outcomes = run.outcomes(work)
        for index, group in itertools.groupby(outcomes, key=lambda o: o.key[0]):
            self._apply_album(plans[index], list(group))

    def _album_done(self, album: Album, items: list[Item]) -> bool:
        identity = self.run.labeller.identity
        return album.get(MODEL_FIELD) == identity and all(
            item.get(MODEL_FIELD) == identity for item in items
        )

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
        together = album_decision(
            album.genres,
            [labeller.probabilities(outcome.prediction) for _, outcome in analysed],
            labeller,
            policy,
        )
        per_track = run.settings.genres_from == "track" or is_compilation(album)
        for item, outcome in analysed:
            decision = decide(item.genres, outcome.prediction, labeller, policy, ours(item))
            if not per_track and not keeps_own_genre(decision, together, policy):
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
    return set_by_us(list(item.genres), item.get(APPLIED_FIELD))
