"""genreclf: tag genres by listening to the audio (ONNX models).

The beets wiring only: settings (checked when beets loads the plugin), the
typed fields, the optional custom tags, the ``genreclf`` command (see
commands.py) and the import hooks. The work happens in a
:class:`~.run.TaggingRun`: one per command, one per whole import
(:class:`~.importing.ImportRun`). Heavy
modules (onnxruntime, joblib) load only when analysis runs, so
``beet --help`` stays fast.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import mediafile
from beets import config, ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin

from .mood import AROUSAL_FIELD, MOOD_CONFIDENCE_FIELD, MOOD_FIELD, VALENCE_FIELD
from .policy import (
    APPLIED_FIELD,
    CONFIDENCE_FIELD,
    GENRE_FIELD,
    MODEL_FIELD,
    SOURCE_FIELD,
    TOP_FIELD,
)
from .importing import ImportRun
from .run import HEAD_FILE
from .settings import DEFAULTS, Settings, SettingsError, load_settings
from .stats import DISAGREES_FIELD, Judge, stats_judge
from .unanalysable import ERROR_FIELD, ERROR_ON_FIELD

if TYPE_CHECKING:
    from beets.importer import ImportSession, ImportTask
    from beets.library import Album, Item

__all__ = ["GenreClfPlugin", "HEAD_FILE"]

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


# With mood_tags: the mood where players look for it (ID3 TMOO, Vorbis MOOD).
MOOD_TAG = mediafile.MediaField(
    mediafile.MP3StorageStyle("TMOO"),
    mediafile.MP4StorageStyle("----:com.apple.iTunes:MOOD"),
    mediafile.StorageStyle("MOOD"),
    mediafile.ASFStorageStyle("WM/Mood"),
)
MOOD_TYPES = {
    MOOD_FIELD: types.STRING,
    MOOD_CONFIDENCE_FIELD: types.NullFloat(2),
    AROUSAL_FIELD: types.NullFloat(2),
    VALENCE_FIELD: types.NullFloat(2),
}


class GenreClfPlugin(BeetsPlugin):
    item_types = {
        GENRE_FIELD: types.STRING,
        CONFIDENCE_FIELD: types.NullFloat(2),
        TOP_FIELD: types.STRING,
        MODEL_FIELD: types.STRING,
        SOURCE_FIELD: types.STRING,
        APPLIED_FIELD: types.STRING,
        ERROR_FIELD: types.STRING,
        ERROR_ON_FIELD: types.STRING,
        **MOOD_TYPES,
    }

    album_types = {
        GENRE_FIELD: types.STRING,
        CONFIDENCE_FIELD: types.NullFloat(2),
        TOP_FIELD: types.STRING,
        MODEL_FIELD: types.STRING,
        SOURCE_FIELD: types.STRING,
        APPLIED_FIELD: types.STRING,
        **MOOD_TYPES,
    }

    def __init__(self) -> None:
        super().__init__()
        self.config.add(DEFAULTS)
        try:
            self.settings: Settings | None = load_settings(self.config)
        except SettingsError as exc:
            # beets would log an exception raised here and go on without the
            # plugin: report it once plugins are loaded, which stops beets.
            self.settings = None
            self.register_listener("pluginload", _raiser(exc))
            return
        media_fields = dict(CUSTOM_TAGS) if self.settings.custom_tags else {}
        if self.settings.mood and self.settings.mood_tags:
            media_fields[MOOD_FIELD] = MOOD_TAG
        for name, descriptor in media_fields.items():
            if name not in mediafile.MediaFile.fields():  # plugin reloaded
                self.add_media_field(name, descriptor)
        # `beet ls [-a] genreclf_disagrees:1`: computed for each item and album,
        # so it follows edits of genres and of map/min_confidence without a re-analysis.
        self.template_fields[DISAGREES_FIELD] = self.disagrees
        self.album_template_fields[DISAGREES_FIELD] = self.album_disagrees
        self._import_run: ImportRun | None = None
        if self.settings.auto:
            self.import_stages = [self.imported]
            self.register_listener("import_begin", self.import_begin)
            self.register_listener("import_task_files", self.import_task_files)
            self.register_listener("import", self.import_end)

    def commands(self) -> list[ui.Subcommand]:
        from .commands import run_command, subcommand

        command = subcommand()
        command.func = lambda lib, opts, args: run_command(
            self.settings, self._log, lib, opts, args
        )
        return [command]

    @cached_property
    def _judge(self) -> Judge:
        return stats_judge(self.settings, None, self._log)

    def disagrees(self, item: Item) -> int:
        return int(self._judge.item_disagrees(item))

    def album_disagrees(self, album: Album) -> int:
        return int(self._judge.album_disagrees(album))

    # Import: one run for the whole import, opened at its start.

    def import_begin(self, session: ImportSession) -> None:
        self.import_end()
        # beets shows import-time plugin logs only with -v: print, as the importer does.
        say = lambda line: ui.print_(f"genreclf: {line}")  # noqa: E731
        run = ImportRun(self.settings, session.lib, self._log, say=say)
        try:
            run.check()  # a damaged model or head stops us before beets adds any file
        except ui.UserError:
            run.close()
            raise
        self._import_run = run
        run.catch_interrupt()

    def imported(self, session: ImportSession, task: ImportTask) -> None:
        if self._import_run is None:  # an importer driven without import_begin
            self.import_begin(session)
        if task.is_album:
            self._import_run.tag_imported_album(task.album, task.imported_items())
        else:
            self._import_run.tag_imported(task.imported_items())

    def import_task_files(self, session: ImportSession, task: ImportTask) -> None:
        """Files are in place: singletons get their predictions, the cache
        follows the files, and tags are written where beets did not write
        ours (it writes APPLY/RETAG tasks only, before a singleton's
        prediction is stored)."""
        from beets.importer import Action

        if self._import_run is None:
            return
        beets_wrote = task.apply or task.choice_flag == Action.RETAG
        write = config["import"]["write"].get(bool) and not (beets_wrote and task.is_album)
        self._import_run.files_placed(task.imported_items(), write)

    def import_end(self, **_) -> None:
        """The import is over (or Ctrl-C ended it): report it and release
        its workers and cache. Files that failed make `beet import` exit 1."""
        run, self._import_run = self._import_run, None
        problem = run.finish() if run is not None else None
        if problem:
            self._fail_at_exit(problem)

    def _fail_at_exit(self, problem: str) -> None:
        """A UserError (exit status 1) at ``cli_exit``, after every other
        plugin's listener (registered now, so last): what they do at the end
        (an MPD update, say) still happens. It fires once: it then removes
        itself, for whatever command the same process runs next."""

        def fail(**_) -> None:
            for listeners in (BeetsPlugin.listeners, BeetsPlugin._raw_listeners):
                listeners["cli_exit"] = [
                    handler for handler in listeners["cli_exit"]
                    if handler is not fail and getattr(handler, "__wrapped__", None) is not fail
                ]
            raise ui.UserError(problem)

        self.register_listener("cli_exit", fail)


def _raiser(error: SettingsError):
    def raise_it(**_) -> None:
        raise error

    return raise_it
