"""Changing ``map`` after a run, end to end: the genres genreclf set follow
the new map (without -f, nothing analysed again), yours stay; and a ``map``
key that names no label of the model is warned about. A real library,
generated audio, the shipped model."""

from __future__ import annotations

import pytest

from tests.helper import MODEL, GenreClfTestBase, file_genres, written

MY_NAMES = {label: f"My {label}" for label in MODEL.labels}


class TestMapChanges(GenreClfTestBase):
    @pytest.mark.parametrize("options", [[], ["-f"]])
    def test_a_new_map_reaches_the_genres_genreclf_set(self, options, caplog):
        self.config["import"]["copy"] = False  # the files stay where they are
        self.setup_plugin()
        ours, yours = self.add_tracks("beats.flac", "chords.flac")
        yours.genres = ["Shoegaze"]
        yours.store()
        self.run_command("genreclf", "-w")
        ours = self.reloaded(ours)
        assert ours.genres == written(ours.genreclf_genre)
        self.unload_plugins()
        self.setup_plugin(map=MY_NAMES)

        with caplog.at_level("INFO", "beets.genreclf"):
            self.run_command("genreclf", "-w", *options)

        mapped = [f"My {ours.genreclf_genre}"]
        assert self.reloaded(ours).genres == mapped and file_genres(ours.path) == mapped
        assert self.reloaded(yours).genres == ["Shoegaze"]
        assert f"genres set: {mapped[0]} 1" in caplog.messages

    def test_an_unknown_map_key_is_one_warning_naming_the_labels(self, caplog):
        self.setup_plugin(map={"soul": "Soul", "Hip Hop": "Rap"})
        self.add_tracks("beats.flac", "chords.flac")

        with caplog.at_level("WARNING", "beets.genreclf"):
            self.run_command("genreclf", "-W")

        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert warnings == [
            f"map: not a label of the model, ignored: soul (its labels: {', '.join(MODEL.labels)})"
        ]
