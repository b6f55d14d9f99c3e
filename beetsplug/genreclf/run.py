"""One tagging run: what one command, or one whole import, works with.

A :class:`TaggingRun` owns the model, the labeller (the model's genres or
learned ones), the genre policy, the analysis cache and the worker backend,
built once and closed together, and the run's summary. What is done with
them lives beside it: deciding (tagging.py), storing and writing
(storing.py), the unanalysable-file record (unanalysable.py), the import
stage (importing.py), and reading predictions for --learn and --explain
(inspection.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from beets import config, ui

from .audio import WindowPolicy
from .policy import GenrePolicy, Labeller
from .progress import RunSummary
from .settings import Settings
from .storing import Storer, library_dir_if_imports_copy, tag_fields
from .unanalysable import ErrorRecord

if TYPE_CHECKING:
    from beets.library import Library

    from .analysis import Analyzer, Outcome
    from .cache import AnalysisCache
    from .learn import Head
    from .model import GenreModel

HEAD_FILE = "genreclf-head.npz"  # the learned head, in the beets configuration folder


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
        self.storer = Storer(
            log, self.summary, tag_fields(settings), lambda: self.cache,
            library_dir_if_imports_copy(lib),
        )
        self._resources = ExitStack()
        self._analyzer: Analyzer | None = None

    def __enter__(self) -> TaggingRun:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._resources.close()
        self._analyzer = None
        self.__dict__.pop("cache", None)  # closed: a later use opens it again

    def check(self) -> None:
        """Load the model and the learned head now: a damaged one is one
        UserError before any work."""
        self.policy

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
    def errors(self) -> ErrorRecord:
        return ErrorRecord(self.log, self.summary, self.setup)

    @cached_property
    def windows(self) -> WindowPolicy:
        """How much of each file to hear: the settings, else the model's own
        recommendation (measured for it: see its model card)."""
        from .model import recommended_windows

        count, seconds = recommended_windows(self.settings.model, self.model)
        return WindowPolicy(
            window_seconds=self.settings.window_seconds or seconds,
            max_windows=self.settings.window_count or count,
        )

    @cached_property
    def labeller(self) -> Labeller:
        """The learned head's labels unless ``base`` or there is none; a head
        learned on another base model is set aside with a warning."""
        model = self.model
        mood = model.mood_head if self.settings.mood else None
        base_labeller = Labeller(
            model.labels, self.setup, "base", model.min_confidence, mood_head=mood
        )
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
            head.output_labels, f"{self.setup}+{head.identity}", "learned", head.min_confidence,
            head, mood,
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
        policy = GenrePolicy(
            self.settings.mode, threshold, self.settings.label_map, self.labeller.display_names
        )
        # Known only now: the model may be any file, the head any genres.
        if unknown := policy.unknown_keys([*self.model.labels, *self.labeller.labels]):
            self.log.warning(
                "map: not a label of the model, ignored: {} (its labels: {})",
                ", ".join(unknown), ", ".join(self.labeller.labels),
            )
        return policy

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

    def outcomes(
        self, work: list, detail: bool = False, fresh: bool = False
    ) -> Iterator[Outcome]:
        """The outcomes of analysing ``work`` ((key, path) pairs), in order,
        counting cache hits; ``fresh``: every file decoded, none read from
        the cache (``-f``). A backend that cannot run is one UserError."""
        from .backends import BackendError

        analyzer = self.analyzer(len(work))
        try:
            yield from analyzer.analyse(work, detail, fresh)
        except BackendError as exc:
            raise ui.UserError(f"genreclf: {exc}") from exc
        finally:
            self.summary.from_cache = analyzer.cache.hits

    def show_progress(self) -> None:
        if self.progress and (line := self.summary.progress_line()):
            self.say(line)

    def report(self) -> None:
        for line in self.summary.lines():
            self.say(line)


def head_path() -> Path:
    """Where --learn saves the learned head: the beets configuration folder."""
    return Path(config.config_dir()) / HEAD_FILE


def setup_name(model_identity: str, windows: WindowPolicy) -> str:
    """The model and how much of each file it hears, as stored in
    genreclf_model: a file analysed under another setup is analysed again."""
    return f"{model_identity} {windows.max_windows}x{windows.window_seconds:g}s"
