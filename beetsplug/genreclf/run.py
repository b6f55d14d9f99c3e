"""One tagging run: everything one command, or one whole import, works with.

A :class:`TaggingRun` owns the model, the labeller (the model's genres or
learned ones), the genre policy, the analysis cache and the worker backend,
built once and closed together. It is the one place that stores items,
writes tags, keeps the cache in step with the files and logs per item.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from beets import config, ui
from beets.library import FileOperationError

from .audio import WindowPolicy
from .policy import (
    APPLIED_FIELD,
    MODEL_FIELD,
    SOURCE_FIELD,
    Decision,
    GenrePolicy,
    Labeller,
    album_decision,
    album_probabilities,
    decide,
    following_album,
    keeps_own_genre,
    set_by_us,
)
from .progress import RunSummary
from .settings import Settings
from .tags import interrupt_deferred, shown_path, write_tags

if TYPE_CHECKING:
    from beets.library import Album, Item, Library

    from .analysis import Analyzer, Outcome
    from .cache import AnalysisCache
    from .explain import Explanation
    from .learn import Example, Head
    from .model import GenreModel, TrackPrediction

ERROR_FIELD = "genreclf_error"  # why the file could not be analysed
ERROR_ON_FIELD = "genreclf_error_on"  # for which file state and model it holds
HEAD_FILE = "genreclf-head.npz"  # the learned head, in the beets configuration folder
PER_TRACK_FIELDS = (SOURCE_FIELD, APPLIED_FIELD)  # not stored on albums
VARIOUS_ARTISTS = {"various artists", "various", "va"}


class TaggingRun:
    """Use as a context manager; ``base`` ignores a learned head. Progress
    and the summary go to ``say`` (default: the log at INFO level)."""

    def __init__(
        self,
        settings: Settings,
        lib: Library,
        log,
        base: bool = False,
        progress: bool = True,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.lib = lib
        self.log = log
        self.base = base
        self.progress = progress
        self.say = say or (lambda line: log.info("{}", line))
        self.summary = RunSummary(total=0)
        self._resources = ExitStack()
        self._analyzer: Analyzer | None = None
        self._analysed_at: dict[int, bytes] = {}  # item id -> path when analysed (imports)

    def __enter__(self) -> TaggingRun:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._resources.close()
        self._analyzer = None
        self.__dict__.pop("cache", None)  # closed: a later use opens it again

    # What the run works with, built on first use.

    @cached_property
    def model(self) -> GenreModel:
        from .model import GenreModel, ModelError, model_path

        try:
            return GenreModel(model_path(self.settings.model))
        except ModelError as exc:
            raise ui.UserError(f"genreclf: {exc}") from exc

    @cached_property
    def setup(self) -> str:
        return setup_name(self.model.identity, self.windows)

    @cached_property
    def windows(self) -> WindowPolicy:
        """How much of each file to hear: the settings, else the model's own
        recommendation (measured for it: see its model card)."""
        count, seconds = self.model.windows
        return WindowPolicy(
            window_seconds=self.settings.window_seconds or seconds,
            max_windows=self.settings.window_count or count,
        )

    @cached_property
    def labeller(self) -> Labeller:
        """The learned head's labels unless ``base`` or there is none; a head
        learned on another base model is set aside with a warning."""
        model = self.model
        base_labeller = Labeller(model.labels, self.setup, "base", model.min_confidence)
        head = None if self.base else self.head
        if head is None:
            return base_labeller
        if head.base_model != model.identity:
            self.log.warning(
                "the learned genres were learned with model {}, not the current {}: "
                "using the model's own genres; run `beet genreclf --learn` again",
                head.base_model, model.identity,
            )
            return base_labeller
        return Labeller(
            head.labels, f"{self.setup}+{head.identity}", "learned", head.min_confidence, head
        )

    @cached_property
    def head(self) -> Head | None:
        from .learn import Head, LearnError

        if not self.head_path.exists():
            return None
        try:
            return Head.load(self.head_path)
        except LearnError as exc:
            raise ui.UserError(f"genreclf: {exc}") from exc

    @property
    def head_path(self) -> Path:
        return head_path()

    @cached_property
    def policy(self) -> GenrePolicy:
        threshold = self.settings.min_confidence
        if threshold is None:
            threshold = self.labeller.min_confidence
        return GenrePolicy(self.settings.mode, threshold, self.settings.label_map)

    @cached_property
    def cache(self) -> AnalysisCache:
        """Opened on first use: by analysis, or by a tag write (whose file
        keeps its audio, so its entry must follow its new size and time)."""
        from .cache import AnalysisCache, cache_file

        cache = AnalysisCache(cache_file(self.lib.path, Path(config.config_dir())), self.setup)
        self._resources.callback(cache.close)
        return cache

    def analyzer(self, files: int) -> Analyzer:
        """Workers for ``files`` files (for an import, whose files keep
        coming: as many as allowed), the cache open; started once per run,
        however many times it is asked for."""
        if self._analyzer is None:
            from .analysis import Analyzer
            from .backends import BackendError, make_backend
            from .model import reference

            settings = self.settings
            # An import's files keep coming: size its pool by the cores alone.
            jobs = settings.workers((os.cpu_count() or 1) if self.summary.open_ended else files)
            backend = make_backend(
                settings.backend, settings.dask_scheduler, settings.dask_path_map
            )
            try:
                self._resources.enter_context(backend.session(jobs))
            except BackendError as exc:
                raise ui.UserError(f"genreclf: {exc}") from exc
            self._analyzer = Analyzer(
                reference(self.model), self.windows, jobs, cache=self.cache, backend=backend
            )
        return self._analyzer

    # Tagging.

    def tag(
        self,
        items: Sequence[Item],
        write: bool,
        force: bool = False,
        pretend: bool = False,
    ) -> None:
        """Analyse ``items`` (those not analysed by this setup, unless
        ``force``), store their predictions and, if ``write``, write our tags.
        Each item is stored as soon as it is done: an interrupted run loses
        nothing."""
        self.policy  # a configuration error stops us before any work
        self.summary.total += len(items)
        self.summary.pretend = pretend
        work = []
        for item in items:
            if not force and item.get(MODEL_FIELD) == self.labeller.identity:
                self._skip([item], write, pretend)
            elif self._worth_trying(item, force):
                work.append((item, os.fsdecode(item.path)))
        if not work:
            return
        for outcome in self._outcomes(work):
            with interrupt_deferred():
                self._apply(outcome, write, pretend)
            self._progress()

    def tag_albums(
        self, albums: Sequence[Album], write: bool, force: bool = False, pretend: bool = False
    ) -> None:
        """As :meth:`tag`, album by album. Each album gets a prediction from
        all its tracks (from the cache for tracks analysed before), stored on
        the album; its tracks' genres follow it (``genres_from: album``)
        unless it is a compilation or a track is confidently of another
        genre (:func:`~.policy.keeps_own_genre`)."""
        self.policy  # a configuration error stops us before any work
        self.summary.pretend = pretend
        plans: list[Album] = []
        work = []
        for album in albums:
            items = list(album.items())
            self.summary.total += len(items)
            if not force and self._album_done(album, items):
                self._skip(items, write, pretend)
                continue
            plans.append(album)
            for item in items:
                if self._worth_trying(item, force):
                    work.append(((len(plans) - 1, item), os.fsdecode(item.path)))
        if not work:
            return
        outcomes = self._outcomes(work)
        for index, group in itertools.groupby(outcomes, key=lambda o: o.key[0]):
            self._apply_album(plans[index], list(group), write, force, pretend)

    def _album_done(self, album: Album, items: list[Item]) -> bool:
        identity = self.labeller.identity
        return album.get(MODEL_FIELD) == identity and all(
            item.get(MODEL_FIELD) == identity for item in items
        )

    def _skip(self, items: Sequence[Item], write: bool, pretend: bool) -> None:
        """Items already analysed by this setup: their files must say what
        the database says, when writing."""
        self.summary.skipped += len(items)
        if write and not pretend:
            for item in items:
                self._write(item)

    def _apply_album(
        self, album: Album, outcomes: list[Outcome], write: bool, force: bool, pretend: bool
    ) -> None:
        analysed = []
        for outcome in outcomes:
            _, item = outcome.key
            if outcome.prediction is None:
                self._unanalysable(item, outcome.error or "unknown error", pretend)
            else:
                analysed.append((item, outcome))
        if not analysed:
            return
        labeller, policy = self.labeller, self.policy
        together = album_decision(
            album.genres,
            [labeller.probabilities(outcome.prediction) for _, outcome in analysed],
            labeller,
            policy,
        )
        per_track = self.settings.genres_from == "track" or is_compilation(album)
        for item, outcome in analysed:
            decision = decide(item.genres, outcome.prediction, labeller, policy, ours(item))
            if not per_track and not keeps_own_genre(decision, together, policy):
                decision = following_album(item.genres, ours(item), decision, together, policy)
            if force or item.get(MODEL_FIELD) != labeller.identity or decision.genres_changed:
                with interrupt_deferred():
                    self._store(item, decision, outcome, write, pretend)
            else:
                self._skip([item], write, pretend)
            self._progress()
        self._store_album(album, together, pretend)

    def _store_album(self, album: Album, decision: Decision, pretend: bool) -> None:
        self.log.debug(
            "album {}: {} {:.2f} ({}); genres {} -> {}",
            album, decision.label, decision.confidence, decision.top,
            list(album.genres), decision.genres,
        )
        if pretend:
            ui.print_(f"album {album}: {decision.label} {decision.confidence:.2f}")
            return
        album.update({k: v for k, v in decision.fields().items() if k not in PER_TRACK_FIELDS})
        album.store(inherit=False)  # its tracks' genres were decided one by one

    def _outcomes(self, work: list, detail: bool = False) -> Iterator[Outcome]:
        """The outcomes of analysing ``work`` ((key, path) pairs), in order,
        counting cache hits; a backend that cannot run is one UserError."""
        from .backends import BackendError

        analyzer = self.analyzer(len(work))
        try:
            yield from analyzer.analyse(work, detail)
        except BackendError as exc:
            raise ui.UserError(f"genreclf: {exc}") from exc
        finally:
            self.summary.from_cache = analyzer.cache.hits

    def _apply(self, outcome: Outcome[Item], write: bool, pretend: bool) -> None:
        item = outcome.key
        if outcome.prediction is None:
            self._unanalysable(item, outcome.error or "unknown error", pretend)
            return
        decision = decide(item.genres, outcome.prediction, self.labeller, self.policy, ours(item))
        self._store(item, decision, outcome, write, pretend)

    def _store(
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
        self.summary.genres[decision.label] += 1
        if pretend:
            self._show(item, decision)
            self.summary.analysed += 1
            return
        item.update(decision.fields())
        for field in (ERROR_FIELD, ERROR_ON_FIELD):
            if field in item:
                del item[field]
        if write and not self._write(item):
            return  # nothing stored: the next run tries the write again
        item.store()
        self.summary.analysed += 1

    def _show(self, item: Item, decision: Decision) -> None:
        """What pretend would have done, one line per item."""
        change = (
            f"genres {'; '.join(item.genres) or '(none)'} -> {'; '.join(decision.genres)}"
            if decision.genres_changed
            else "genres unchanged"
        )
        ui.print_(f"{display_name(item)}: {decision.label} {decision.confidence:.2f}, {change}")

    def _write(self, item: Item) -> bool:
        """Write our tags if the file lacks them; a failure is reported (one
        line) and counted, and the run goes on. Returns False on failure."""
        fields = ["genres", *self._custom_tags()]
        try:
            wrote = write_tags(item, fields, id3v23=config["id3v23"].get(bool))
        except FileOperationError as exc:
            self.log.error("{}: tags not written: {}", shown_path(item.path), exc.reason)
            self.summary.write_failed[exc.reason] += 1
            return False
        if wrote:
            self.summary.written += 1
            self.cache.refresh(item.path)  # same audio, new tags
            item.store()  # its new mtime
        return True

    def _custom_tags(self) -> list[str]:
        from .policy import CONFIDENCE_FIELD, GENRE_FIELD

        return [GENRE_FIELD, CONFIDENCE_FIELD] if self.settings.custom_tags else []

    # Files that cannot be analysed: recorded, and not tried again until they change.

    def _unanalysable(self, item: Item, reason: str, pretend: bool) -> None:
        """One greppable line per file; the reason is stored with the file's
        state, so the next run skips it unless the file (or setup) changes."""
        self._failed(item, reason)
        state = self._file_state(item)
        if pretend or state is None:
            return
        item.update({ERROR_FIELD: reason, ERROR_ON_FIELD: state})
        item.store()

    def _failed(self, item: Item, reason: str | None) -> None:
        """One greppable line per file that could not be analysed."""
        reason = reason or "unknown error"
        self.log.error("{}: {}", shown_path(item.path), reason)
        self.summary.failed[reason] += 1

    def _worth_trying(self, item: Item, force: bool) -> bool:
        """False (and counted) for a file an earlier run could not analyse,
        unchanged since, unless ``force``."""
        recorded = item.get(ERROR_ON_FIELD)
        if force or recorded is None or recorded != self._file_state(item):
            return True
        self.summary.unanalysable_skipped += 1
        return False

    def _file_state(self, item: Item) -> str | None:
        """The file's size and mtime, with the setup; None for a file we
        cannot read (missing, no permission): no lasting verdict on it."""
        if not os.access(item.path, os.R_OK):
            return None
        try:
            status = os.stat(item.path)
        except OSError:
            return None
        return f"{status.st_size}:{status.st_mtime_ns} {self.setup}"

    def _progress(self) -> None:
        if self.progress and (line := self.summary.progress_line()):
            self.say(line)

    # Imports: tag in the stage, finish once files are where they stay.

    def tag_imported(self, items: Sequence[Item]) -> None:
        """The import stage for singletons: store predictions now (files are
        not in place yet)."""
        self.tag(items, write=False)
        self._remember_paths(items)

    def tag_imported_album(self, album: Album, items: Sequence[Item]) -> None:
        """The import stage for an album task."""
        self.tag_albums([album], write=False)
        self._remember_paths(items)

    def _remember_paths(self, items: Sequence[Item]) -> None:
        for item in items:
            self._analysed_at[item.id] = item.path

    def files_placed(self, items: Sequence[Item], write: bool) -> None:
        """After beets copied/moved the files (and maybe wrote their tags):
        the cache follows each file, and our tags are written if asked."""
        for item in items:
            analysed_at = self._analysed_at.pop(item.id, None)
            if analysed_at is not None and self._analyzer is not None:
                self._analyzer.cache.move(analysed_at, item.path)
            if write and item.get(MODEL_FIELD):
                self._write(item)
        if self._analyzer is not None:
            self._analyzer.cache.commit()

    def report(self) -> None:
        for line in self.summary.lines():
            self.say(line)

    # Learning and explaining.

    def embeddings(self, chosen: Sequence[tuple[Item, str]]) -> list[Example]:
        """Each chosen (item, label)'s base-model embedding, from the cache
        where it is there."""
        from .learn import Example

        summary = self.summary
        summary.total += len(chosen)
        examples = []
        work = [((item, label), os.fsdecode(item.path)) for item, label in chosen]
        for outcome in self._outcomes(work):
            item, label = outcome.key
            if outcome.prediction is None:
                self._failed(item, outcome.error)
                continue
            summary.analysed += 1
            examples.append(Example(label, artist_of(item), outcome.prediction.embedding))
            self._progress()
        self.log.info(
            "embeddings: {} from the cache, {} decoded, {} failed",
            summary.from_cache, summary.analysed - summary.from_cache, summary.failures,
        )
        return examples

    def explanations(self, items: Sequence[Item]) -> Iterator[Explanation]:
        """What the model hears in each window of each item, in the labels
        tagging would store (a learned head's, if there is one)."""
        from .explain import display_title, explain

        detail = self.labeller.head is not None
        work = [(item, os.fsdecode(item.path)) for item in items]
        for outcome in self._outcomes(work, detail=True):
            item = outcome.key
            if outcome.prediction is None:
                self._failed(item, outcome.error)
                continue
            prediction = self._in_labels(outcome.prediction) if detail else outcome.prediction
            path = shown_path(item.path)
            yield explain(
                path, prediction, outcome.analysis.windows, self.labeller.labels,
                title=display_title(path, item.artist, item.title),
            )

    def album_explanations(self, albums: Sequence[Album]) -> Iterator[Explanation]:
        """Each album's tracks side by side and the album's prediction, in
        the labels tagging would store (from the cache where it can)."""
        from .explain import album_explanation

        work = [
            ((index, item), os.fsdecode(item.path))
            for index, album in enumerate(albums)
            for item in album.items()
        ]
        outcomes = self._outcomes(work)
        for index, group in itertools.groupby(outcomes, key=lambda o: o.key[0]):
            names, probabilities = [], []
            for outcome in group:
                _, item = outcome.key
                if outcome.prediction is None:
                    self._failed(item, outcome.error)
                    continue
                names.append(f"{item.track:02d}" if item.track else item.title[:8])
                probabilities.append(self.labeller.probabilities(outcome.prediction))
            if probabilities:
                tracks = np.stack(probabilities)
                yield album_explanation(
                    str(albums[index]), names, tracks, album_probabilities(tracks),
                    self.labeller.labels,
                )

    def _in_labels(self, prediction: TrackPrediction) -> TrackPrediction:
        """``prediction`` in the learned head's labels: the head per segment,
        and overall on the track's embedding, as tagging does."""
        from .model import TrackPrediction

        head = self.labeller.head
        per_segment = np.stack([head.predict(e) for e in prediction.segment_embeddings])
        return TrackPrediction(
            probabilities=head.predict(prediction.embedding),
            embedding=prediction.embedding,
            segment_probabilities=per_segment,
        )


def head_path() -> Path:
    """Where --learn saves the learned head: the beets configuration folder."""
    return Path(config.config_dir()) / HEAD_FILE


def setup_name(model_identity: str, windows: WindowPolicy) -> str:
    """The model and how much of each file it hears, as stored in
    genreclf_model: a file analysed under another setup is analysed again."""
    return f"{model_identity} {windows.max_windows}x{windows.window_seconds:g}s"


def display_name(item: Item) -> str:
    """"Artist – Title" when the item has both, else its path."""
    if item.artist and item.title:
        return f"{item.artist} – {item.title}"
    return shown_path(item.path)


def artist_of(item: Item) -> str:
    """Who a track is by, for grouping folds (its folder when untagged)."""
    name = item.albumartist or item.artist or os.path.dirname(os.fsdecode(item.path))
    return name.casefold()


def is_compilation(album: Album) -> bool:
    """Various artists: its tracks keep their own genres."""
    return bool(album.comp) or album.albumartist.casefold() in VARIOUS_ARTISTS


def ours(item: Item) -> bool:
    """Whether the item's genres are the ones genreclf set (so --learn leaves
    it out, and a newer prediction may replace them)."""
    return set_by_us(list(item.genres), item.get(APPLIED_FIELD))
