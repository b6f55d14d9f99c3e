"""One run per command and per import, end to end through `beet`: the cache
follows imported files, workers start once per import, files always carry
what the database says, unanalysable files are not retried."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from beets import ui

from beetsplug.genreclf.run import HEAD_FILE
from tests.audiogen import write_track
from tests.helper import SETUP, GenreClfTestBase, file_genres, tag_file, written

# (file, genre written in its tags, artist)
LABELLED = [
    ("chords.flac", "Ambient", "Artist A"),
    ("chords.ogg", "Ambient", "Artist B"),
    ("beats.flac", "Techno", "Artist C"),
    ("beats.ogg", "Techno", "Artist D"),
]


class ImportTestBase(GenreClfTestBase):
    def import_folder(self, *options: str, albums: int = 1) -> None:
        """`beet import -A` (as is) of ``albums`` folders of the labelled tracks."""
        for album in range(albums):
            folder = self.temp_path / "incoming" / f"album{album}"
            folder.mkdir(parents=True)
            for name, genre, artist in LABELLED:
                target = folder / name
                shutil.copy(self.music / name, target)
                tag_file(target, genres=[genre], artist=artist, title=f"{name} {album}")
        self.run_command("import", "-A", "-q", *options, str(self.temp_path / "incoming"))

    def messages(self, caplog) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "beets.genreclf"]

    def assert_learn_and_retag_decode_nothing(self, caplog, items: int) -> None:
        """`--learn` then a run over ``items`` items with the learned genres
        (a new setup: every item again, without `-f`): all from the cache."""
        with caplog.at_level(logging.INFO, "beets.genreclf"):
            self.run_command("genreclf", "--learn")
            self.run_command("genreclf", "-W")

        messages = self.messages(caplog)
        assert f"embeddings: {items} from the cache, 0 decoded, 0 failed" in messages
        assert any(m.startswith(f"analysed {items} ({items} from the cache)") for m in messages)


class TestImportRun(ImportTestBase):
    @pytest.mark.parametrize("operation", ["-c", "-m"])
    def test_after_a_copy_or_move_import_nothing_is_decoded_again(self, operation, caplog):
        self.setup_plugin(learn={"min_examples": 2})
        self.config["import"]["write"] = True
        self.import_folder(operation, "-s")  # singletons: one artist each
        items = list(self.lib.items())
        assert len(items) == len(LABELLED)
        assert all(self.lib_path in Path(os.fsdecode(item.path)).parents for item in items)

        self.assert_learn_and_retag_decode_nothing(caplog, len(items))

    def test_an_import_shows_one_summary(self, capsys):
        self.setup_plugin()
        self.import_folder("-c", albums=2)
        out = capsys.readouterr().out.splitlines()
        summaries = [line for line in out if line.startswith("genreclf: analysed ")]
        assert len(summaries) == 1, out
        assert summaries[0].startswith(f"genreclf: analysed {2 * len(LABELLED)}")

    def test_one_dask_cluster_and_one_cache_for_a_whole_import(self, monkeypatch):
        import distributed

        from beetsplug.genreclf import cache

        started = {"clusters": 0, "caches": 0}

        class CountedCluster(distributed.LocalCluster):
            def __init__(self, *args, **kwargs):
                started["clusters"] += 1
                super().__init__(*args, **kwargs)

        class CountedCache(cache.AnalysisCache):
            def __init__(self, *args, **kwargs):
                started["caches"] += 1
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(distributed, "LocalCluster", CountedCluster)
        monkeypatch.setattr(cache, "AnalysisCache", CountedCache)
        self.setup_plugin(backend="dask")

        self.import_folder("-c", albums=3)

        assert len(self.analysed_ids()) == 3 * len(LABELLED)
        assert started == {"clusters": 1, "caches": 1}


class TestWrite(ImportTestBase):
    def test_w_writes_what_the_database_holds_for_analysed_items(self):
        """Import storing only (-W), then `genreclf -w`: every file gets the
        genre already in the database, without a new analysis."""
        self.setup_plugin(mode="replace")
        self.config["import"]["write"] = False
        self.import_folder("-c")
        items = list(self.lib.items())
        assert all(file_genres(item.path) != item.genres for item in items)

        self.run_command("genreclf", "-w")

        for item in self.lib.items():
            assert item.genres == written(item.genreclf_genre)
            assert file_genres(item.path) == item.genres

    def test_force_w_writes_too(self):
        self.setup_plugin()
        [item] = self.add_tracks("beats.mp3")
        self.run_command("genreclf", "-W")
        assert file_genres(item.path) == []

        self.run_command("genreclf", "-f", "-w")

        assert file_genres(item.path) == self.reloaded(item).genres != []

    def test_nothing_is_rewritten_when_the_file_already_agrees(self):
        self.setup_plugin()
        [item] = self.add_tracks("beats.flac")
        self.run_command("genreclf", "-w")
        written = os.stat(item.path).st_mtime_ns

        self.run_command("genreclf", "-w")

        assert os.stat(item.path).st_mtime_ns == written


class TestUnanalysable(GenreClfTestBase):
    def test_a_file_that_cannot_be_analysed_is_not_retried_until_it_changes(self, caplog):
        self.setup_plugin()
        short = write_track(self.music / "short.flac", "beats", seconds=0.5, seed=1)
        [item] = self.add_tracks(short.name)
        with pytest.raises(ui.UserError, match="1 file"):
            self.run_command("genreclf", "-W")
        assert self.reloaded(item).genreclf_error

        caplog.clear()
        with caplog.at_level(logging.INFO, "beets.genreclf"):
            self.run_command("genreclf", "-W")  # exit status 0: nothing new failed
        messages = [r.getMessage() for r in caplog.records if r.name == "beets.genreclf"]
        assert "1 skipped: unanalysable, see `beet ls genreclf_error::.`" in messages
        assert [i.id for i in self.lib.items("genreclf_error::.")] == [item.id]

        with pytest.raises(ui.UserError, match="1 file"):
            self.run_command("genreclf", "-W", "-f")  # forced: tried again
        write_track(short, "beats", seconds=6.0, seed=1)  # the file changed: analysed
        self.run_command("genreclf", "-W")
        item = self.reloaded(item)
        assert item.genreclf_model == SETUP and "genreclf_error" not in item


class TestImportedUnanalysable(ImportTestBase):
    @pytest.mark.parametrize("operation", ["-c", "-m"])
    def test_it_is_reported_and_recorded_for_its_library_file(self, operation, caplog):
        """The error line names the library path and the record holds the
        library file's state: the next run does not try it again."""
        self.setup_plugin()
        folder = self.temp_path / "incoming"
        folder.mkdir()
        short = write_track(folder / "short.flac", "beats", seconds=0.5, seed=1)
        tag_file(short, artist="Artist", title="Short")
        with pytest.raises(ui.UserError, match="1 file could not be analysed"):
            self.run_command("import", "-A", "-q", "-s", operation, str(folder))  # exit 1
        [item] = self.lib.items()
        assert self.lib_path in Path(os.fsdecode(item.path)).parents
        assert any(m.startswith(f"{os.fsdecode(item.path)}: ") for m in self.messages(caplog))

        caplog.clear()
        with caplog.at_level(logging.INFO, "beets.genreclf"):
            self.run_command("genreclf", "-W")  # exit status 0: nothing new failed
        assert "1 skipped: unanalysable, see `beet ls genreclf_error::.`" in self.messages(caplog)


class TestCommandEdges(GenreClfTestBase):
    def test_learn_pretend_saves_nothing(self, tmp_path):
        self.setup_plugin(learn={"min_examples": 2})
        for name, genre, artist in LABELLED:
            self.add_tracks(name, genres=[genre], artist=artist)
        head = Path(self.config.config_dir()) / HEAD_FILE

        self.run_command("genreclf", "--learn", "-p")

        assert not head.exists()

    @pytest.mark.parametrize(
        "options, words",
        [
            (["--stats", "-p"], "-p/--pretend does not apply to --stats"),
            (["--learn", "-w"], "-w/-W does not apply to --learn"),
            (["--explain", "-f"], "-f/--force does not apply to --explain"),
            (["--learn", "--base"], "--base does not apply to --learn"),
            (["--explain", "--learn"], "choose one of --learn, --explain"),
        ],
    )
    def test_options_that_do_not_apply_are_refused(self, options, words):
        self.setup_plugin()
        with pytest.raises(ui.UserError, match=words):
            self.run_command("genreclf", *options)

    def test_help_mentions_the_query(self, capsys):
        self.setup_plugin()
        with pytest.raises(SystemExit):
            self.run_command("genreclf", "-h")
        assert "genreclf [options] [QUERY...]" in capsys.readouterr().out

    def test_a_new_window_policy_means_reanalysis(self):
        self.setup_plugin()
        [item] = self.add_tracks("beats.flac")
        self.run_command("genreclf", "-W")
        assert self.reloaded(item).genreclf_model == SETUP
        self.unload_plugins()

        self.setup_plugin(windows=2, window_seconds=20)
        self.run_command("genreclf", "-W")

        assert self.reloaded(item).genreclf_model.endswith(" 2x20s")


class TestDamagedHead(GenreClfTestBase):
    def test_a_truncated_head_is_one_clear_error(self):
        self.setup_plugin(min_confidence="auto")
        self.add_tracks("beats.flac")
        head = Path(self.config.config_dir()) / HEAD_FILE
        head.write_bytes(b"PK\x03\x04 truncated")

        with pytest.raises(ui.UserError, match="is damaged.*--learn"):
            self.run_command("genreclf", "-W")
        assert self.analysed_ids() == set()
        # --stats reads only the database: it warns and goes on (test_stats.py)
