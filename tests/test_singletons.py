"""Singleton imports through beets' importer, threaded as `beet import` runs
it: the workers get the singletons staged so far together, not one task's
file at a time, and every item still ends with its prediction."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from beets.plugins import BeetsPlugin

from beetsplug.genreclf import backends
from beetsplug.genreclf.backends import Entry, JoblibBackend, Task
from tests.helper import SETUP, GenreClfTestBase, file_genres, tag_file, written

NAMES = ["chords.mp3", "beats.flac", "noise.m4a", "chords.ogg"]


class BatchRecordingBackend(JoblibBackend):
    """The default loky workers, noting how many files each call hands them."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def results(self, entries: Iterator[Entry], jobs: int) -> Iterator[tuple[Any, Any]]:
        self.batches.append(0)
        yield from super().results(self._counted(entries), jobs)

    def _counted(self, entries: Iterator[Entry]) -> Iterator[Entry]:
        for entry in entries:
            self.batches[-1] += isinstance(entry[1], Task)
            yield entry


def hold_placing_until_staged(plugin: BeetsPlugin, tasks: int, placed_event: str) -> None:
    """Hold beets' placing thread at its first file until ``tasks`` tasks
    have passed the plugin's import stage: what a first file that takes a
    while does, made certain rather than timed."""
    stage = plugin.import_stages[0]
    staged: list[object] = []
    all_staged = threading.Event()

    def counting_stage(session, task) -> None:
        stage(session, task)
        staged.append(task)
        if len(staged) == tasks:
            all_staged.set()

    plugin.import_stages = [counting_stage]
    # The timeout only keeps a broken run from hanging the suite.
    plugin.register_listener(placed_event, lambda **_: all_staged.wait(timeout=60))


class TestSingletonImport(GenreClfTestBase):
    db_on_disk: ClassVar[bool] = True  # beets' import threads each open it

    @pytest.mark.parametrize(
        "operation, placed_event", [("-c", "item_copied"), ("-m", "item_moved")]
    )
    def test_singletons_are_analysed_together_and_each_gets_its_prediction(
        self, monkeypatch, capsys, operation, placed_event
    ):
        plugin = self.setup_plugin(genres_from="track")
        backend = BatchRecordingBackend()
        monkeypatch.setattr(backends, "make_backend", lambda *args: backend)
        hold_placing_until_staged(plugin, len(NAMES), placed_event)
        incoming = self.temp_path / "incoming"
        incoming.mkdir()
        for name in NAMES:
            shutil.copy(self.music / name, incoming / name)
            tag_file(incoming / name, artist="Artist", title=name)  # no duplicates
        self.config["threaded"] = True  # as `beet import` runs
        self.config["import"]["write"] = True
        self.run_command("import", "-A", "-q", "-s", operation, str(incoming))

        assert backend.batches == [len(NAMES)]
        items = list(self.lib.items())
        assert len(items) == len(NAMES)
        for item in items:
            assert item.genreclf_model == SETUP
            assert item.genres == written(item.genreclf_genre)
            assert self.lib_path in Path(os.fsdecode(item.path)).parents
            assert file_genres(item.path) == item.genres
        summaries = [line for line in capsys.readouterr().out.splitlines()
                     if line.startswith("genreclf: analysed ")]
        assert len(summaries) == 1 and summaries[0].startswith(f"genreclf: analysed {len(NAMES)}")
