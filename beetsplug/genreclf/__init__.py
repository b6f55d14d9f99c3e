"""genreclf: tag genres by listening to the audio (MFCC + LSTM, ONNX).

The beets glue: configuration, the ``genreclf`` command and the import
stage. Both call :meth:`GenreClfPlugin.tag_items`, the one code path.
Heavy modules (librosa, onnxruntime, joblib) load only when analysis runs,
so ``beet --help`` stays fast.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import mediafile
from beets import config, ui
from beets.dbcore import types
from beets.dbcore.db import DBAccessError
from beets.library import FileOperationError
from beets.plugins import BeetsPlugin

from .apply import (
    APPLIED_FIELD,
    CONFIDENCE_FIELD,
    GENRE_FIELD,
    MODEL_FIELD,
    MODES,
    SOURCE_FIELD,
    TOP_FIELD,
    GenrePolicy,
    Labeller,
    interrupt_deferred,
    joined,
    prediction_fields,
    shown_path,
    write_tags,
)
from .progress import RunSummary

if TYPE_CHECKING:
    from beets.importer import ImportSession, ImportTask
    from beets.library import Item, Library

    from .analysis import Analyzer, Outcome
    from .backends import Backend
    from .learn import Example, Head
    from .model import GenreModel

CUSTOM_TAGS = {
    GENRE_FIELD: mediafile.MediaField(
        mediafile.MP3DescStorageStyle("GENRECLF_GENRE"),
        mediafile.MP4StorageStyle("----:com.apple.iTunes:GENRECLF_GENRE"),
        mediafile.StorageStyle("GENRECLF_GENRE"),
        mediafile.ASFStorageStyle("genreclf/genre"),
    ),
    CONFIDENCE_FIELD: mediafile.MediaField(
        mediafile.MP3DescStorageStyle("GENRECLF_CONFIDENCE", float_places=4),
        mediafile.MP4StorageStyle("----:com.apple.iTunes:GENRECLF_CONFIDENCE", float_places=4),
        mediafile.StorageStyle("GENRECLF_CONFIDENCE", float_places=4),
        mediafile.ASFStorageStyle("genreclf/confidence", float_places=4),
        out_type=float,
    ),
}


_RESUME = "what was analysed is stored; run the command again to continue"
HEAD_FILE = "genreclf-head.npz"  # the learned head, in the beets configuration folder


class GenreClfPlugin(BeetsPlugin):
    item_types = {
        GENRE_FIELD: types.STRING,
        CONFIDENCE_FIELD: types.NullFloat(2),
        TOP_FIELD: types.STRING,
        MODEL_FIELD: types.STRING,
        SOURCE_FIELD: types.STRING,
        APPLIED_FIELD: types.STRING,
    }

    def __init__(self) -> None:
        super().__init__()
        self.config.add(
            {
                "auto": True,
                "mode": "fill",
                "min_confidence": "auto",
                "map": {},
                "model": "",
                "jobs": 0,
                "windows": 3,
                "window_seconds": 30.0,
                "custom_tags": False,
                "explain_limit": 20,
                "backend": "loky",
                "dask": {"scheduler": "local", "path_map": {}},
                "learn": {
                    "min_examples": 20,
                    "labels": [],
                    "map": {},
                    "target_precision": 0.8,
                },
            }
        )
        self._tag_fields = ["genres"]  # what we write into files
        if self.config["custom_tags"].get(bool):
            self._tag_fields += CUSTOM_TAGS
            for name, descriptor in CUSTOM_TAGS.items():
                if name not in mediafile.MediaFile.fields():  # plugin reloaded
                    self.add_media_field(name, descriptor)
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]
            self.register_listener("import_task_files", self.write_imported)
        self._unwritten: set[int] = set()  # imported items tagged, not yet written

    # Configuration.

    @cached_property
    def model(self) -> GenreModel:
        from .model import DEFAULT_MODEL_PATH, GenreModel, ModelError

        configured = self.config["model"].get()
        path = self.config["model"].as_filename() if configured else DEFAULT_MODEL_PATH
        try:
            return GenreModel(path)
        except ModelError as exc:
            raise ui.UserError(f"genreclf: {exc}") from exc

    def _policy(self, labeller: Labeller) -> GenrePolicy:
        mode = self.config["mode"].as_str()
        if mode not in MODES:
            raise ui.UserError(
                f"genreclf: unknown mode '{mode}'; choose one of {', '.join(MODES)}"
            )
        return GenrePolicy(mode, self._min_confidence(labeller), self._label_map())

    def _min_confidence(self, labeller: Labeller) -> float:
        value = self.config["min_confidence"].get()
        if value == "auto":
            return labeller.min_confidence
        try:
            threshold = float(value)
        except (TypeError, ValueError):
            threshold = -1.0
        if not 0.0 <= threshold <= 1.0:
            raise ui.UserError(
                f"genreclf: min_confidence must be 'auto' or a number from 0 to 1, "
                f"not {value!r}"
            )
        return threshold

    def _labeller(self, base: bool) -> Labeller:
        """The learned head's labels unless ``base`` or there is none; a head
        learned on another base model is set aside with a warning."""
        base_labeller = Labeller(
            self.model.labels, self.model.identity, "base", self.model.min_confidence
        )
        head = None if base else self._head()
        if head is None:
            return base_labeller
        if head.base_model != self.model.identity:
            self._log.warning(
                "the learned genres were learned with model {}, not the current {}: "
                "using the model's own genres; run `beet genreclf --learn` again",
                head.base_model, self.model.identity,
            )
            return base_labeller
        return Labeller(
            head.labels, f"{self.model.identity}+{head.identity}", "learned",
            head.min_confidence, head,
        )

    def _head(self) -> Head | None:
        from .learn import Head, LearnError

        path = self._head_path()
        if not path.exists():
            return None
        try:
            return Head.load(path)
        except LearnError as exc:
            raise ui.UserError(f"genreclf: {exc}") from exc

    def _head_path(self) -> Path:
        return Path(config.config_dir()) / HEAD_FILE

    def _label_map(self) -> dict[str, list[str]]:
        mapping = {}
        for label, genres in (self.config["map"].get(dict) or {}).items():
            mapping[label] = [genres] if isinstance(genres, str) else list(genres)
        return mapping

    @contextmanager
    def _analyzer(self, lib: Library, cached: bool = True) -> Iterator[Analyzer]:
        """Built per run, so a run's -j counts (the worker pool is reused),
        with the library's analysis cache open (unless not ``cached``)."""
        from .analysis import Analyzer
        from .audio import WindowPolicy
        from .backends import BackendError
        from .cache import AnalysisCache, cache_file

        windows = WindowPolicy(
            window_seconds=self.config["window_seconds"].as_number(),
            max_windows=self.config["windows"].get(int),
        )
        jobs = self.config["jobs"].get(int) or os.cpu_count() or 1
        cache = None
        if cached:
            setup = f"{self.model.identity}|{windows.window_seconds}x{windows.max_windows}"
            cache = AnalysisCache(cache_file(lib.path, Path(config.config_dir())), setup)
        try:
            backend = self._backend()
            with backend.session(jobs):
                yield Analyzer(self.model, windows, jobs, cache=cache, backend=backend)
        except BackendError as exc:
            raise ui.UserError(f"genreclf: {exc}") from exc
        finally:
            if cache is not None:
                cache.close()

    def _backend(self) -> Backend:
        from .backends import Backend

        dask = self.config["dask"]
        path_map = dask["path_map"].get(dict) or {}
        return Backend(
            self.config["backend"].as_str(),
            dask["scheduler"].as_str(),
            tuple((str(local), str(remote)) for local, remote in path_map.items()),
        )

    # The command.

    def commands(self) -> list[ui.Subcommand]:
        command = ui.Subcommand(
            "genreclf", help="classify the genre of items by listening to them"
        )
        parser = command.parser
        parser.add_option(
            "-f", "--force", action="store_true", default=False,
            help="re-analyse items already analysed by the current model",
        )
        parser.add_option(
            "-p", "--pretend", action="store_true", default=False,
            help="show what would change; store and write nothing",
        )
        parser.add_option(
            "-w", "--write", dest="write", action="store_true", default=None,
            help="write the genre into the files' tags (default: import.write)",
        )
        parser.add_option(
            "-W", "--nowrite", dest="write", action="store_false",
            help="do not write tags, only update the database",
        )
        parser.add_option(
            "--learn", action="store_true", default=False,
            help="learn your genres from the matching items that have some",
        )
        parser.add_option(
            "--base", action="store_true", default=False,
            help="predict the model's own genres even if you learned yours",
        )
        parser.add_option(
            "-j", "--jobs", type="int", default=None,
            help="worker processes (default: config genreclf.jobs, 0 = all cores)",
        )
        parser.add_option(
            "--explain", action="store_true", default=False,
            help="show each genre's probability per analysed window; store nothing "
            "(at most genreclf.explain_limit items)",
        )
        parser.add_option(
            "--stats", action="store_true", default=False,
            help="show the predicted genres, their confidence and the items whose "
            "genres disagree with a confident prediction (no audio is decoded)",
        )
        parser.add_option(
            "--plot", metavar="FILE",
            help="with --explain or --stats: also draw it into FILE (e.g. genres.png)",
        )
        command.func = self.run_command
        return [command]

    def run_command(self, lib: Library, opts, args: list[str]) -> None:
        if opts.jobs is not None:
            self.config["jobs"] = opts.jobs
        if opts.learn:
            self.learn(lib, args)
            return
        if opts.explain or opts.stats or opts.plot:
            self._inspect(lib, opts, args)
            return
        items = lib.items(args)
        summary = RunSummary(total=len(items))
        try:
            self.tag_items(
                lib,
                items,
                summary,
                write=ui.should_write(opts.write),
                force=opts.force,
                pretend=opts.pretend,
                base=opts.base,
                progress=True,
            )
        except KeyboardInterrupt:
            self._report(summary)
            self._log.error("interrupted: {}", _RESUME)
            raise SystemExit(130) from None
        except (sqlite3.OperationalError, DBAccessError) as exc:
            self._report(summary)
            raise ui.UserError(
                f"genreclf: cannot write to the library database ({exc}); {_RESUME}"
            ) from exc
        self._report(summary)
        if summary.failures:
            raise ui.UserError(f"genreclf: {summary.failures} file(s) could not be analysed")

    def _inspect(self, lib: Library, opts, args: list[str]) -> None:
        """--explain and --stats: read-only views, printed and, with --plot, drawn."""
        if opts.explain == opts.stats:
            raise ui.UserError(
                "genreclf: choose one of --explain and --stats"
                if opts.explain
                else "genreclf: --plot goes with --explain or --stats"
            )
        if opts.plot:
            from .plots import require_matplotlib

            require_matplotlib()  # before any work
        if opts.stats:
            self._stats(lib.items(args), opts.plot)
        else:
            self._explain(lib, list(lib.items(args)), opts.plot)

    def _stats(self, items: Iterable[Item], plot: str | None) -> None:
        """Print (and plot) the stored predictions; no audio is decoded."""
        from .stats import library_stats, stats_text

        policy = self._policy(self._labeller(base=False))
        stats = library_stats(items, policy)
        ui.print_(stats_text(stats, policy))
        if plot and stats.analysed:
            from .plots import save, stats_figure

            save(stats_figure(stats), plot)
            ui.print_(f"plot written to {plot}")

    def _explain(self, lib: Library, items: list[Item], plot: str | None) -> None:
        """Print (and plot) what the model hears in each item; store nothing."""
        from .explain import explain, text_chart

        limit = self.config["explain_limit"].get(int)
        if len(items) > limit:
            raise ui.UserError(
                f"genreclf: --explain shows at most {limit} items and the query matches "
                f"{len(items)}; narrow it or raise genreclf.explain_limit"
            )
        explanations, failures = [], 0
        width = min(ui.term_width(), 100)
        work = ((item, os.fsdecode(item.path)) for item in items)
        with self._analyzer(lib, cached=False) as analyzer:  # per-window detail is not cached
            for outcome in analyzer.analyse(work):
                path = shown_path(outcome.key.path)
                if outcome.prediction is None:
                    self._log.error("{}: {}", path, outcome.error)
                    failures += 1
                    continue
                explanation = explain(path, outcome.prediction, outcome.windows, self.model.labels)
                ui.print_(text_chart(explanation, width) + "\n")
                explanations.append(explanation)
        if plot and explanations:
            from .plots import explanation_figure, save

            save(explanation_figure(explanations), plot)
            ui.print_(f"plot written to {plot}")
        if failures:
            raise ui.UserError(f"genreclf: {failures} file(s) could not be analysed")

    def _report(self, summary: RunSummary) -> None:
        for line in summary.lines():
            self._log.info("{}", line)

    # Learning the user's genres.

    def learn(self, lib: Library, query: list[str]) -> None:
        """Fit a head on the matching items' genres; report its grouped
        cross-validation; save it in the beets configuration folder."""
        from .learn import LearnError, check_enough, choose_labels, fit_head

        settings = self.config["learn"]
        min_examples = settings["min_examples"].get(int)
        tagged = [item for item in lib.items(query) if item.genres and not self._ours(item)]
        labels, assigned = choose_labels(
            [item.genres for item in tagged], min_examples,
            settings["labels"].as_str_seq(), settings["map"].get(dict),
        )
        chosen = [(item, label) for item, label in zip(tagged, assigned) if label]
        self._log.info(
            "learning {} genres from {} of {} tagged items: {} (genres that genreclf "
            "set are left out)",
            len(labels), len(chosen), len(tagged), ", ".join(labels) or "none",
        )
        try:
            check_enough([(label, _artist(item)) for item, label in chosen], labels, min_examples)
            examples = self._embeddings(lib, chosen)
            check_enough([(e.label, e.group) for e in examples], labels, min_examples)
            head, evaluation = fit_head(
                examples, labels, self.model.identity, settings["target_precision"].as_number()
            )
        except LearnError as exc:
            raise ui.UserError(f"genreclf: cannot learn: {exc}") from exc
        for line in evaluation.lines():
            self._log.info("{}", line)
        head.save(self._head_path())
        self._log.info(
            "saved {}; `beet genreclf` now predicts these genres (--base: the model's own)",
            self._head_path(),
        )

    @staticmethod
    def _ours(item: Item) -> bool:
        """Whether the item's genres are still the ones genreclf set: a head
        must not learn from its own (or the base model's) guesses."""
        applied = item.get(APPLIED_FIELD)
        return applied is not None and joined(item.genres) == applied

    def _embeddings(self, lib: Library, chosen: list[tuple[Item, str]]) -> list[Example]:
        from .learn import Example

        summary = RunSummary(total=len(chosen))
        examples = []
        with self._analyzer(lib) as analyzer:
            work = (((item, label), os.fsdecode(item.path)) for item, label in chosen)
            for outcome in analyzer.analyse(work):
                item, label = outcome.key
                if outcome.prediction is None:
                    self._failed(item, outcome.error, summary)
                    continue
                summary.analysed += 1
                examples.append(Example(label, _artist(item), outcome.prediction.embedding))
                if line := summary.progress_line():
                    self._log.info("{}", line)
            summary.from_cache = analyzer.cache.hits
        self._log.info(
            "embeddings: {} from the cache, {} decoded, {} failed",
            summary.from_cache, summary.analysed - summary.from_cache, summary.failures,
        )
        return examples

    # The import stage: store now; tags are written once files are in place.

    def imported(self, session: ImportSession, task: ImportTask) -> None:
        items = task.imported_items()
        summary = RunSummary(total=len(items))
        self.tag_items(session.lib, items, summary, write=False, force=False, pretend=False)
        self._unwritten.update(item.id for item in items if item.get(MODEL_FIELD))

    def write_imported(self, session: ImportSession, task: ImportTask) -> None:
        """beets writes tags only for APPLY/RETAG tasks: write the others."""
        from beets.importer import Action

        beets_wrote = task.apply or task.choice_flag == Action.RETAG
        items = [item for item in task.imported_items() if item.id in self._unwritten]
        self._unwritten.difference_update(item.id for item in items)
        if beets_wrote or not config["import"]["write"].get(bool):
            return
        for item in items:
            self._write(item)
            item.store()

    # The one code path.

    def tag_items(
        self,
        lib: Library,
        items: Iterable[Item],
        summary: RunSummary,
        write: bool,
        force: bool,
        pretend: bool,
        base: bool = False,
        progress: bool = False,
    ) -> None:
        """Analyse ``items``, store their predictions and, if ``write``,
        write their tags, counting what happened in ``summary``. Each item is
        stored as soon as it is done, so an interrupted run loses nothing.
        ``base``: the model's own genres even where the user's were learned."""
        labeller = self._labeller(base)
        policy = self._policy(labeller)  # a configuration error stops us before any work
        work = self._work(items, labeller.identity, force, summary)
        with self._analyzer(lib) as analyzer:
            for outcome in analyzer.analyse(work):
                with interrupt_deferred():
                    wrote = self._apply(outcome, labeller, policy, write, pretend, summary)
                    if wrote:
                        analyzer.cache.refresh(outcome.key.path)  # same audio, new tags
                if progress and (line := summary.progress_line()):
                    self._log.info("{}", line)
            summary.from_cache = analyzer.cache.hits

    def _work(
        self, items: Iterable[Item], identity: str, force: bool, summary: RunSummary
    ) -> Iterator[tuple[Item, str]]:
        """(item, plain path) for each item that needs analysing."""
        for item in items:
            if not force and item.get(MODEL_FIELD) == identity:
                summary.skipped += 1
                continue
            yield item, os.fsdecode(item.path)

    def _apply(
        self,
        outcome: Outcome[Item],
        labeller: Labeller,
        policy: GenrePolicy,
        write: bool,
        pretend: bool,
        summary: RunSummary,
    ) -> bool:
        """Store (and write) one outcome; returns whether tags were written."""
        item = outcome.key
        if outcome.prediction is None:
            self._failed(item, outcome.error, summary)
            return False
        fields = prediction_fields(labeller, outcome.prediction)
        genres = policy.genres_after(
            list(item.genres), fields[GENRE_FIELD], fields[CONFIDENCE_FIELD]
        )
        if genres != list(item.genres):
            fields[APPLIED_FIELD] = joined(genres)  # so --learn can tell them from yours
        tags_change = genres != list(item.genres) or len(self._tag_fields) > 1
        item.update({**fields, "genres": genres})
        wrote = write and tags_change and not pretend
        if pretend:
            ui.show_model_changes(item)
        elif wrote and not self._write(item):
            summary.failed["tags not written"] += 1
            return False  # nothing stored: the next run tries again
        else:
            item.store()
        summary.analysed += 1
        summary.genres[fields[GENRE_FIELD]] += 1
        return wrote

    def _failed(self, item: Item, error: str, summary: RunSummary) -> None:
        """One greppable line per file that could not be analysed."""
        self._log.error("{}: {}", shown_path(item.path), error)
        summary.failed[error] += 1

    def _write(self, item: Item) -> bool:
        """Write our tags; a failure is reported and the run goes on."""
        try:
            write_tags(item, self._tag_fields, id3v23=config["id3v23"].get(bool))
            return True
        except FileOperationError as exc:
            self._log.error("{}: tags not written: {}", shown_path(item.path), exc.reason)
            return False


def _artist(item: Item) -> str:
    """Who a track is by, for grouping folds (its folder when untagged)."""
    name = item.albumartist or item.artist or os.path.dirname(os.fsdecode(item.path))
    return name.casefold()
