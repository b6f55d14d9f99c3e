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
from functools import cached_property
from typing import TYPE_CHECKING

import mediafile
from beets import config, ui
from beets.dbcore import types
from beets.dbcore.db import DBAccessError
from beets.library import FileOperationError
from beets.plugins import BeetsPlugin

from .apply import (
    CONFIDENCE_FIELD,
    GENRE_FIELD,
    MODEL_FIELD,
    MODES,
    TOP_FIELD,
    GenrePolicy,
    interrupt_deferred,
    prediction_fields,
    shown_path,
    write_tags,
)
from .progress import RunSummary

if TYPE_CHECKING:
    from beets.importer import ImportSession, ImportTask
    from beets.library import Item, Library

    from .analysis import Analyzer, Outcome
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


class GenreClfPlugin(BeetsPlugin):
    item_types = {
        GENRE_FIELD: types.STRING,
        CONFIDENCE_FIELD: types.NullFloat(2),
        TOP_FIELD: types.STRING,
        MODEL_FIELD: types.STRING,
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

    @cached_property
    def policy(self) -> GenrePolicy:
        mode = self.config["mode"].as_str()
        if mode not in MODES:
            raise ui.UserError(
                f"genreclf: unknown mode '{mode}'; choose one of {', '.join(MODES)}"
            )
        return GenrePolicy(mode, self._min_confidence(), self._label_map())

    def _min_confidence(self) -> float:
        value = self.config["min_confidence"].get()
        if value == "auto":
            return self.model.min_confidence
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

    def _label_map(self) -> dict[str, list[str]]:
        mapping = {}
        for label, genres in (self.config["map"].get(dict) or {}).items():
            mapping[label] = [genres] if isinstance(genres, str) else list(genres)
        return mapping

    def _analyzer(self) -> Analyzer:
        """Built per run, so a run's -j counts (the worker pool is reused)."""
        from .analysis import Analyzer
        from .audio import WindowPolicy

        windows = WindowPolicy(
            window_seconds=self.config["window_seconds"].as_number(),
            max_windows=self.config["windows"].get(int),
        )
        jobs = self.config["jobs"].get(int) or os.cpu_count() or 1
        return Analyzer(self.model, windows, jobs)

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
        if opts.explain or opts.stats or opts.plot:
            self._inspect(lib, opts, args)
            return
        items = lib.items(args)
        summary = RunSummary(total=len(items))
        try:
            self.tag_items(
                items,
                summary,
                write=ui.should_write(opts.write),
                force=opts.force,
                pretend=opts.pretend,
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
            self._explain(list(lib.items(args)), opts.plot)

    def _stats(self, items: Iterable[Item], plot: str | None) -> None:
        """Print (and plot) the stored predictions; no audio is decoded."""
        from .stats import library_stats, stats_text

        stats = library_stats(items, self.policy)
        ui.print_(stats_text(stats, self.policy))
        if plot and stats.analysed:
            from .plots import save, stats_figure

            save(stats_figure(stats), plot)
            ui.print_(f"plot written to {plot}")

    def _explain(self, items: list[Item], plot: str | None) -> None:
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
        for outcome in self._analyzer().analyse(work):
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

    # The import stage: store now; tags are written once files are in place.

    def imported(self, session: ImportSession, task: ImportTask) -> None:
        items = task.imported_items()
        summary = RunSummary(total=len(items))
        self.tag_items(items, summary, write=False, force=False, pretend=False)
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
        items: Iterable[Item],
        summary: RunSummary,
        write: bool,
        force: bool,
        pretend: bool,
        progress: bool = False,
    ) -> None:
        """Analyse ``items``, store their predictions and, if ``write``,
        write their tags, counting what happened in ``summary``. Each item is
        stored as soon as it is done, so an interrupted run loses nothing."""
        policy = self.policy  # a configuration error stops us before any work
        work = self._work(items, force, summary)
        for outcome in self._analyzer().analyse(work):
            with interrupt_deferred():
                self._apply(outcome, policy, write, pretend, summary)
            if progress and (line := summary.progress_line()):
                self._log.info("{}", line)

    def _work(
        self, items: Iterable[Item], force: bool, summary: RunSummary
    ) -> Iterator[tuple[Item, str]]:
        """(item, plain path) for each item that needs analysing."""
        for item in items:
            if not force and item.get(MODEL_FIELD) == self.model.identity:
                summary.skipped += 1
                continue
            yield item, os.fsdecode(item.path)

    def _apply(
        self,
        outcome: Outcome[Item],
        policy: GenrePolicy,
        write: bool,
        pretend: bool,
        summary: RunSummary,
    ) -> None:
        item = outcome.key
        if outcome.prediction is None:
            self._log.error("{}: {}", shown_path(item.path), outcome.error)
            summary.failed[outcome.error] += 1
            return
        fields = prediction_fields(outcome.prediction, self.model.labels, self.model.identity)
        genres = policy.genres_after(
            list(item.genres), fields[GENRE_FIELD], fields[CONFIDENCE_FIELD]
        )
        tags_change = genres != list(item.genres) or len(self._tag_fields) > 1
        item.update({**fields, "genres": genres})
        if pretend:
            ui.show_model_changes(item)
        elif write and tags_change and not self._write(item):
            summary.failed["tags not written"] += 1
            return  # nothing stored: the next run tries again
        else:
            item.store()
        summary.analysed += 1
        summary.genres[fields[GENRE_FIELD]] += 1

    def _write(self, item: Item) -> bool:
        """Write our tags; a failure is reported and the run goes on."""
        try:
            write_tags(item, self._tag_fields, id3v23=config["id3v23"].get(bool))
            return True
        except FileOperationError as exc:
            self._log.error("{}: tags not written: {}", shown_path(item.path), exc.reason)
            return False
