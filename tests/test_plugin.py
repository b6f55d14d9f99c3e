"""The plugin end to end: a real beets library, real audio, the shipped model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mutagen
import pytest
from beets import ui
from beets.library import Item
from beets.test.helper import ImporterMixin
from mediafile import MediaFile

from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH
from beetsplug.genreclf.run import TaggingRun, setup_name
from tests.helper import MODEL, SETUP, GenreClfTestBase, file_genres, tag_file, written


class TestCommand(GenreClfTestBase):
    def test_tags_every_format_and_writes_files(self):
        self.setup_plugin()
        self.config["import"]["write"] = True
        names = sorted(p.name for p in self.music.iterdir())
        items = self.add_tracks(*names)

        self.run_command("genreclf")

        for item in map(self.reloaded, items):
            assert item.genreclf_genre in MODEL.labels
            assert 0.0 < item.genreclf_confidence <= 1.0
            assert item.genreclf_model == SETUP
            assert item.genreclf_top.startswith(f"{item.genreclf_genre} ")
            assert item.genres == written(item.genreclf_genre)
            assert file_genres(item.path) == item.genres, item.path

    def test_pretend_stores_and_writes_nothing(self, capsys):
        self.setup_plugin()
        [item] = self.add_tracks("chords.mp3")

        self.run_command("genreclf", "--pretend", "--write")

        line, would_write = capsys.readouterr().out.splitlines()
        assert line.startswith(f"{item.filepath}: ") and "genres (none) -> " in line
        assert would_write == f"would write {item.filepath}: genre"
        assert item.id not in self.analysed_ids()
        assert self.reloaded(item).genres == []
        assert file_genres(item.path) == []

    def test_skips_analysed_items_unless_forced(self):
        self.setup_plugin()
        [item] = self.add_tracks("beats.flac")
        self.run_command("genreclf", "-W")
        item = self.reloaded(item)
        item.genreclf_confidence = 0.0123  # a marker a re-analysis would overwrite
        item.store()

        self.run_command("genreclf", "-W")
        assert self.reloaded(item).genreclf_confidence == 0.0123

        self.run_command("genreclf", "-W", "--force")
        assert self.reloaded(item).genreclf_confidence != 0.0123

    def test_a_changed_model_means_reanalysis_without_force(self):
        self.setup_plugin()
        [item] = self.add_tracks("beats.flac", genreclf_model="older-1@00000000")

        self.run_command("genreclf", "-W")

        assert self.reloaded(item).genreclf_model == SETUP

    @pytest.mark.parametrize(
        "settings, heard",
        [
            ({"model": "fast"}, (2, 3.0)),  # the default model's file, two 3 s windows
            ({"model": "fast", "windows": 3}, (3, 3.0)),
            ({"model": "accurate"}, MODEL.windows),
        ],
    )
    def test_fast_is_the_default_model_heard_briefly(self, settings, heard):
        self.setup_plugin(**settings)
        [item] = self.add_tracks("beats.flac")

        self.run_command("genreclf", "-W")

        count, seconds = heard
        windows = WindowPolicy(window_seconds=seconds, max_windows=count)
        item = self.reloaded(item)
        assert item.genreclf_model == setup_name(MODEL.identity, windows)
        assert item.genreclf_genre in MODEL.labels

    @pytest.mark.parametrize(
        "option, import_write, expect_written",
        [("-w", False, True), ("-W", True, False), (None, True, True), (None, False, False)],
    )
    def test_write_options(self, option, import_write, expect_written):
        self.setup_plugin()
        self.config["import"]["write"] = import_write
        [item] = self.add_tracks("noise.ogg")

        self.run_command("genreclf", *([option] if option else []))

        item = self.reloaded(item)
        assert item.genres == written(item.genreclf_genre)  # the database always
        assert file_genres(item.path) == (item.genres if expect_written else [])

    def test_query_selects_items(self):
        self.setup_plugin()
        [chosen] = self.add_tracks("chords.wav", title="Chosen One")
        [other] = self.add_tracks("beats.flac", title="Another")

        self.run_command("genreclf", "-W", "title:chosen")

        assert self.analysed_ids() == {chosen.id}

    def test_summary_counts_analysed_skipped_and_genres(self, caplog):
        self.setup_plugin()
        _, beats = self.add_tracks("chords.mp3", "beats.flac")
        self.run_command("genreclf", "-W", "title:nothing-matches-this")
        self.run_command("genreclf", "-W", "path::chords")
        caplog.clear()

        self.run_command("genreclf", "-W")

        messages = [r.getMessage() for r in caplog.records if r.name == "beets.genreclf"]
        assert any(
            m.startswith("analysed 1, skipped 1 (already analysed), failed 0")
            for m in messages
        )
        [genre] = written(self.reloaded(beats).genreclf_genre)
        assert f"genres set: {genre} 1" in messages

    def test_summary_counts_genres_set_not_predictions(self, caplog):
        self.setup_plugin(mode="off")
        self.add_tracks("chords.mp3")
        with caplog.at_level("INFO", "beets.genreclf"):
            self.run_command("genreclf", "-W")
        messages = [r.getMessage() for r in caplog.records if r.name == "beets.genreclf"]
        assert any(m.startswith("analysed 1,") for m in messages)
        assert not any(m.startswith("genres") for m in messages)

    def test_custom_tags_carry_label_and_confidence(self):
        self.setup_plugin(custom_tags=True)
        [item] = self.add_tracks("beats.mp3")

        self.run_command("genreclf", "-w")

        item, media = self.reloaded(item), MediaFile(item.path)
        assert media.genreclf_genre == item.genreclf_genre
        assert media.genreclf_confidence == pytest.approx(item.genreclf_confidence)

    def test_jobs_option_gives_the_same_result(self):
        self.setup_plugin()
        items = self.add_tracks("chords.mp3", "beats.flac", "noise.ogg")
        self.run_command("genreclf", "-W", "-j", "1")
        first = [self.reloaded(i).genreclf_top for i in items]

        self.run_command("genreclf", "-W", "-j", "2", "--force")

        assert [self.reloaded(i).genreclf_top for i in items] == first


class TestGenrePolicy(GenreClfTestBase):
    @pytest.mark.parametrize(
        "mode, existing, expected",
        [
            ("fill", [], ["{predicted}"]),
            ("fill", ["Shoegaze"], ["Shoegaze"]),
            ("append", ["Shoegaze"], ["Shoegaze", "{predicted}"]),
            ("replace", ["Shoegaze"], ["{predicted}"]),
            ("off", ["Shoegaze"], ["Shoegaze"]),
            ("off", [], []),
        ],
    )
    def test_modes(self, mode, existing, expected):
        self.setup_plugin(mode=mode)
        tag_file(self.music / "chords.flac", genres=existing)
        [item] = self.add_tracks("chords.flac")

        self.run_command("genreclf", "-w")

        item = self.reloaded(item)
        [predicted] = written(item.genreclf_genre)  # chords: a genre, not nonmusic
        expected = [g.format(predicted=predicted) for g in expected]
        assert item.genres == expected
        assert file_genres(item.path) == expected

    def test_the_file_gets_the_canonical_name_and_genreclf_genre_the_label(self):
        self.setup_plugin()
        [item] = self.add_tracks("beats.flac")

        self.run_command("genreclf", "-w")

        item = self.reloaded(item)
        label = item.genreclf_genre
        assert label in MODEL.labels and label.islower()
        assert file_genres(item.path) == item.genres == [label.capitalize()]
        assert [i.id for i in self.lib.items(f"genreclf_genre:{label}")] == [item.id]

    def test_append_adds_no_other_spelling_of_a_genre_the_item_has(self):
        """Each label in capitals already: whichever is predicted, nothing is added."""
        self.setup_plugin(mode="append")
        shouted = [label.upper() for label in MODEL.labels]
        tag_file(self.music / "beats.flac", genres=shouted)
        [item] = self.add_tracks("beats.flac")

        self.run_command("genreclf", "-w")

        item = self.reloaded(item)
        assert item.genreclf_genre in MODEL.labels
        assert item.genres == shouted
        assert file_genres(item.path) == shouted

    def test_below_min_confidence_only_our_fields_change(self):
        self.setup_plugin(mode="replace", min_confidence=1.0)
        [item] = self.add_tracks("chords.flac", genres=["Shoegaze"])

        self.run_command("genreclf", "-w")

        item = self.reloaded(item)
        assert item.genres == ["Shoegaze"]
        assert item.genreclf_genre in MODEL.labels

    def test_auto_min_confidence_is_the_models(self):
        plugin = self.setup_plugin(min_confidence="auto")
        with TaggingRun(plugin.settings, self.lib, plugin._log) as run:
            assert run.policy.min_confidence == MODEL.min_confidence

    def test_map_translates_into_the_users_vocabulary(self):
        mapping = {label: [f"My {label}", "Mapped"] for label in MODEL.labels}
        self.setup_plugin(mode="append", map=mapping)
        tag_file(self.music / "beats.mp3", genres=["Mapped"])
        [item] = self.add_tracks("beats.mp3")

        self.run_command("genreclf", "-w")

        item = self.reloaded(item)
        assert item.genreclf_genre in MODEL.labels  # our field keeps the model's label
        assert item.genres == ["Mapped", f"My {item.genreclf_genre}"]
        assert file_genres(item.path) == item.genres

    def test_unknown_mode_is_a_clear_error_at_load(self):
        with pytest.raises(ui.UserError, match="genreclf.mode.*fill.*sometimes"):
            self.setup_plugin(mode="sometimes")

    def test_bad_min_confidence_is_a_clear_error_at_load(self):
        with pytest.raises(ui.UserError, match="min_confidence.*'auto' or a number"):
            self.setup_plugin(min_confidence="high")


class TestQueries(GenreClfTestBase):
    def test_typed_fields_query_and_sort(self):
        self.setup_plugin()
        analysed = self.add_tracks("chords.wav", "beats.flac", "noise.ogg")
        [unanalysed] = self.add_tracks("chords.mp3")
        self.run_command("genreclf", "-W", "^path:" + str(unanalysed.path, "utf-8"))

        in_range = list(self.lib.items("genreclf_confidence:0.0..1.0"))
        assert {i.id for i in in_range} == {i.id for i in analysed}
        assert unanalysed.id not in {i.id for i in self.lib.items("genreclf_confidence:..1")}

        ordered = [i.genreclf_confidence for i in self.lib.items("genreclf_confidence:0.. genreclf_confidence-")]
        assert ordered == sorted(ordered, reverse=True)

        label = self.reloaded(analysed[0]).genreclf_genre
        assert analysed[0].id in {i.id for i in self.lib.items(f"genreclf_genre:{label}")}

    def test_fields_in_templates(self):
        self.setup_plugin()
        [item] = self.add_tracks("beats.wav")
        self.run_command("genreclf", "-W")
        item = self.reloaded(item)

        formatted = item.evaluate_template("$genreclf_genre $genreclf_confidence")

        assert formatted == f"{item.genreclf_genre} {item.genreclf_confidence:.2f}"


class TestBadInput(GenreClfTestBase):
    def test_a_corrupt_file_mid_batch_is_reported_and_the_rest_tagged(self, caplog):
        self.setup_plugin()
        good_before = self.add_tracks("chords.wav")
        corrupt = self.music / "broken.mp3"
        shutil.copy(self.music / "beats.mp3", corrupt)
        [bad] = self.add_tracks("broken.mp3", genres=["Curated"])
        corrupt.write_bytes(b"this is not audio at all" * 100)
        good_after = self.add_tracks("noise.flac", "beats.flac")

        with pytest.raises(ui.UserError, match="1 file"):
            self.run_command("genreclf", "-w")

        for item in good_before + good_after:
            assert self.reloaded(item).genreclf_model == SETUP
        assert bad.id not in self.analysed_ids()
        assert self.reloaded(bad).genres == ["Curated"]
        assert corrupt.read_bytes() == b"this is not audio at all" * 100
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert any(str(corrupt) in e and "not a readable audio file" in e for e in errors)

    def test_missing_model_is_refused_at_load(self, tmp_path):
        missing = tmp_path / "nowhere.onnx"
        with pytest.raises(ui.UserError, match=r"genreclf.model: .* \(no such file\)"):
            self.setup_plugin(model=str(missing))

    def test_truncated_model_is_refused_at_load(self, tmp_path):
        corrupt = tmp_path / "corrupt.onnx"
        corrupt.write_bytes(DEFAULT_MODEL_PATH.read_bytes()[:1000])
        with pytest.raises(ui.UserError, match=r"genreclf.model: .* \(not an ONNX model"):
            self.setup_plugin(model=str(corrupt))

    def test_model_damaged_inside_is_one_clear_error(self, tmp_path):
        """Its outline and metadata pass the check at load: onnxruntime
        finds the damage when the run loads it."""
        content = bytearray(DEFAULT_MODEL_PATH.read_bytes())
        content[200:1200] = bytes(1000)  # inside the graph
        corrupt = tmp_path / "corrupt.onnx"
        corrupt.write_bytes(content)
        self.setup_plugin(model=str(corrupt))
        self.add_tracks("chords.wav")

        with pytest.raises(ui.UserError, match=f"{corrupt}: not a loadable ONNX model"):
            self.run_command("genreclf")
        assert self.analysed_ids() == set()

    def test_an_onnx_model_that_is_not_ours_is_refused_at_load(self, tmp_path):
        onnx = pytest.importorskip("onnx")  # a training dependency

        foreign = onnx.load(DEFAULT_MODEL_PATH)
        del foreign.metadata_props[:]
        onnx.save(foreign, tmp_path / "foreign.onnx")
        with pytest.raises(ui.UserError, match="an ONNX model, but not genreclf's"):
            self.setup_plugin(model=str(tmp_path / "foreign.onnx"))


class TestTagsPreserved(GenreClfTestBase):
    @pytest.mark.parametrize("name", ["chords.mp3", "beats.flac", "chords.ogg", "beats.m4a"])
    def test_only_the_genre_tag_changes(self, name):
        self.setup_plugin(mode="replace")
        path = self.music / name
        tag_file(path, title="Tïtle", artist="Ärtist", album="Album", year=1999,
                 track=3, comments="keep me", genres=["Old"])
        before = _tag_dump(path)
        [item] = self.add_tracks(name)

        self.run_command("genreclf", "-w")

        after = _tag_dump(path)
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        assert changed and all("genre" in key.lower() or key in {"TCON", "\xa9gen"} for key in changed)
        assert file_genres(path) == written(self.reloaded(item).genreclf_genre)


def _tag_dump(path: Path) -> dict[str, str]:
    tags = mutagen.File(path).tags
    return {str(key): repr(value) for key, value in tags.items()}


class TestImport(GenreClfTestBase, ImporterMixin):
    def import_tracks(self, *names: str, **import_config) -> list[Item]:
        album = self.import_path / "album"
        album.mkdir()
        for name in names:
            shutil.copy(self.music / name, album / name)
        self.setup_importer(autotag=False, duplicate_action="keep", **import_config).run()
        return list(self.lib.items())

    def test_as_is_import_tags_and_writes_the_library_files(self):
        self.setup_plugin(genres_from="track")  # album genres: see test_albums.py
        items = self.import_tracks("chords.mp3", "beats.flac", "noise.m4a", write=True)

        assert len(items) == 3
        for item in items:
            assert item.genreclf_model == SETUP
            assert item.genres == written(item.genreclf_genre)
            assert self.lib_path in Path(os.fsdecode(item.path)).parents  # copied
            assert file_genres(item.path) == item.genres
        assert file_genres(self.import_path / "album" / "chords.mp3") == []  # source untouched

    def test_import_without_write_stores_only(self):
        self.setup_plugin(genres_from="track")
        [item] = self.import_tracks("beats.flac", write=False)

        assert item.genres == written(item.genreclf_genre)
        assert file_genres(item.path) == []

    def test_auto_off_leaves_imports_alone(self):
        self.setup_plugin(auto=False)
        [item] = self.import_tracks("beats.flac", write=True)

        assert not self.analysed_ids()
        assert file_genres(item.path) == []
