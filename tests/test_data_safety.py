"""A user's originals and stale predictions, through `beet`: files that an
interrupted copy or move import left at their source are never written,
replaced audio is heard again (never written with the old genre), `-f`
always decodes, and a damaged learned head stops an import before beets
adds a single file."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from beets.ui import UserError

from beetsplug.genreclf import HEAD_FILE
from beetsplug.genreclf.analysis import analyse_file
from beetsplug.genreclf.cache import AnalysisCache, file_state
from beetsplug.genreclf.model import reference
from tests.helper import DEFAULT_WINDOWS, MODEL, SETUP, GenreClfTestBase, file_genres, written


def genreclf_lines(caplog, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "beets.genreclf" and r.levelno >= level]


class TestOriginals(GenreClfTestBase):
    """Items as an interrupted copy/move import leaves them: added to the
    library, still at their source paths (outside the library directory)."""

    @pytest.mark.parametrize("operation", ["copy", "move"])
    def test_originals_are_stored_not_written_until_brought_home(self, operation, caplog):
        self.setup_plugin()
        self.config["import"][operation] = True
        self.config["import"]["write"] = True
        items = self.add_tracks("chords.flac", "beats.mp3")
        sources = {item.id: Path(os.fsdecode(item.path)) for item in items}
        originals = {id: path.read_bytes() for id, path in sources.items()}

        with caplog.at_level(logging.INFO, "beets.genreclf"):
            self.run_command("genreclf")

        for item in map(self.reloaded, items):
            assert sources[item.id].read_bytes() == originals[item.id]
            assert item.genreclf_model == SETUP  # the prediction is stored
        warnings = genreclf_lines(caplog, logging.WARNING)
        assert len(warnings) == 2
        assert all("tags not written: outside the library directory" in w for w in warnings)
        assert any("tags not written to 2 files outside the library directory" in line
                   and "beet move" in line for line in genreclf_lines(caplog))

        # The summary's advice: beets copies them home, then genreclf writes the copies.
        self.run_command("move", "--copy")
        self.run_command("genreclf", "-w")
        for item in map(self.reloaded, items):
            assert self.lib_path in Path(os.fsdecode(item.path)).parents
            assert file_genres(item.path) == item.genres == written(item.genreclf_genre)
            assert sources[item.id].read_bytes() == originals[item.id]

    def test_a_library_kept_in_place_is_written_wherever_its_files_are(self):
        self.setup_plugin()  # in place: import.copy off
        self.config["import"]["write"] = True
        [item] = self.add_tracks("chords.flac")
        self.run_command("genreclf")
        item = self.reloaded(item)
        assert file_genres(item.path) == item.genres == written(item.genreclf_genre)


class TestReplacedAudio(GenreClfTestBase):
    def heard(self, path: Path) -> np.ndarray:
        analysis = analyse_file(str(path), reference(MODEL), DEFAULT_WINDOWS)
        return analysis.prediction.probabilities

    def test_a_rerip_at_the_same_path_is_heard_again_not_written_with_the_old_genre(
        self, caplog
    ):
        self.config["import"]["write"] = True
        self.setup_plugin()
        [item] = self.add_tracks("noise.flac")
        self.run_command("genreclf")
        old = self.reloaded(item)
        rerip = self.music / "noise.flac"
        shutil.copyfile(self.music / "chords.flac", rerip)  # other audio, same path
        new_top = MODEL.labels[int(np.argmax(self.heard(rerip)))]
        assert new_top != old.genreclf_genre  # the premise: the new audio says otherwise

        self.run_command("update")
        with caplog.at_level(logging.INFO, "beets.genreclf"):
            self.run_command("genreclf")

        item = self.reloaded(item)
        assert item.genreclf_genre == new_top
        assert file_genres(item.path) == list(item.genres) == written(new_top)
        assert any(line.startswith("analysed 1, skipped 0") for line in genreclf_lines(caplog))

    def test_force_decodes_every_file(self, caplog):
        self.setup_plugin()
        self.add_tracks("chords.flac", "beats.ogg")
        self.run_command("genreclf")
        with caplog.at_level(logging.INFO, "beets.genreclf"):
            self.run_command("genreclf", "-f")
        summary = [line for line in genreclf_lines(caplog) if line.startswith("analysed ")]
        assert summary and summary[0].startswith("analysed 2, ")
        assert "from the cache" not in summary[0]


def test_a_tag_write_never_makes_an_entry_for_other_audio_look_current(tmp_path, audio_dir):
    """The cache follows a tag write only if its entry held for the file
    just before it: an entry for audio since replaced stays stale."""
    path = tmp_path / "track.flac"
    shutil.copyfile(audio_dir / "chords.flac", path)
    cache = AnalysisCache(tmp_path / "cache.db", SETUP)
    cache.put(bytes(path), np.ones(3), np.ones(4))
    shutil.copyfile(audio_dir / "noise.flac", path)  # replaced: the entry is stale
    replaced_state = file_state(bytes(path))
    path.write_bytes(path.read_bytes())  # a tag write: new mtime
    cache.refresh(bytes(path), replaced_state)
    assert cache.audio_changed(bytes(path))

    cache.put(bytes(path), np.ones(3), np.ones(4))  # heard again
    current_state = file_state(bytes(path))
    path.write_bytes(path.read_bytes())
    cache.refresh(bytes(path), current_state)
    assert not cache.audio_changed(bytes(path))
    cache.close()


class TestDamagedHead(GenreClfTestBase):
    db_on_disk = True

    def test_a_damaged_head_stops_an_import_before_beets_adds_a_file(self):
        self.setup_plugin()
        self.config["import"]["copy"] = True
        (Path(self.config.config_dir()) / HEAD_FILE).write_bytes(b"PK\x03\x04 damaged")
        incoming = self.temp_path / "incoming"
        incoming.mkdir()
        shutil.copy(self.music / "chords.flac", incoming / "chords.flac")
        original = (incoming / "chords.flac").read_bytes()

        with pytest.raises(UserError, match=f"{HEAD_FILE} is damaged"):
            self.run_command("import", "-A", "-q", "-s", str(incoming))

        assert len(self.lib.items()) == 0
        assert (incoming / "chords.flac").read_bytes() == original
        assert not any(self.lib_path.iterdir())
