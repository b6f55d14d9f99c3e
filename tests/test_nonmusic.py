"""Not music and mood, end to end: a real beets library, the shipped model.

``tests/data/speech.ogg`` is 16 s of English read by espeak-ng (voice
en-us+m3, 150 words a minute; made with ``espeak-ng -w``, then resampled to
22 050 Hz mono by sox and written as Ogg Vorbis), text of our own, so it is
none of the training clips; the noise is generated here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from mediafile import MediaFile

from beetsplug.genreclf.mood import MOOD_FIELDS, MOOD_LABELS
from tests.audiogen import write_audio
from tests.helper import GenreClfTestBase, file_genres

SPEECH = Path(__file__).parent / "data" / "speech.ogg"


def brown_noise(seconds: float, sample_rate: int = 44100) -> np.ndarray:
    """Rumbling noise (the integral of white noise), like wind or traffic."""
    walk = np.cumsum(np.random.default_rng(7).normal(size=int(seconds * sample_rate)))
    walk -= np.convolve(walk, np.ones(2048) / 2048, mode="same")  # no slow drift
    return (0.8 * walk / np.abs(walk).max()).astype(np.float32)


class TestNotMusic(GenreClfTestBase):
    @pytest.fixture(autouse=True)
    def _not_music(self, tmp_path: Path) -> None:
        self.speech = Path(shutil.copy(SPEECH, tmp_path / "speech.ogg"))
        self.noise = write_audio(tmp_path / "noise.flac", brown_noise(40.0))

    def add_not_music(self):
        speech, noise = self.add_tracks(self.speech, self.noise)
        speech.genres = ["Audiobook"]
        speech.store()
        return speech, noise

    def add_tracks(self, *paths: Path, **values):
        return super().add_tracks(*(str(p) for p in paths), **values)

    def test_speech_and_noise_are_not_music_and_keep_their_genres(self, caplog):
        self.setup_plugin(min_confidence="auto")
        self.config["import"]["write"] = True
        speech, noise = self.add_not_music()

        with caplog.at_level("INFO", "beets.genreclf"):
            self.run_command("genreclf")

        speech, noise = map(self.reloaded, (speech, noise))
        assert (speech.genreclf_genre, noise.genreclf_genre) == ("nonmusic", "nonmusic")
        assert speech.genres == ["Audiobook"] and noise.genres == []
        assert file_genres(self.noise) == []
        assert "genreclf_applied" not in noise
        assert {i.id for i in self.lib.items("genreclf_genre:nonmusic")} == {speech.id, noise.id}
        assert any(m.startswith("not music: 2 ") for m in caplog.messages)

    def test_a_mapped_nonmusic_label_sets_that_genre(self):
        self.setup_plugin(map={"nonmusic": "Spoken Word"})
        speech, noise = self.add_not_music()

        self.run_command("genreclf")

        assert self.reloaded(noise).genres == ["Spoken Word"]  # fill: it had none
        assert self.reloaded(speech).genres == ["Audiobook"]  # fill keeps yours

    @pytest.mark.parametrize("options", [[], ["-f"]])
    def test_unmapping_nonmusic_takes_away_the_genre_it_set(self, options):
        """`nonmusic: Spoken Word` removed from map: the next run (no need
        for -f) takes "Spoken Word" off the items and files genreclf gave it
        to; a genre of yours stays."""
        self.config["import"]["copy"] = False  # the files stay where they are
        self.setup_plugin(map={"nonmusic": "Spoken Word"})
        speech, noise = self.add_not_music()
        self.run_command("genreclf", "-w")
        assert file_genres(self.noise) == ["Spoken Word"]
        self.unload_plugins()
        self.setup_plugin(map={})

        self.run_command("genreclf", "-w", *options)

        assert self.reloaded(noise).genres == [] and file_genres(self.noise) == []
        assert self.reloaded(speech).genres == ["Audiobook"]

    def test_not_music_gets_no_mood(self):
        self.setup_plugin()
        items = self.add_not_music()

        self.run_command("genreclf")

        for item in map(self.reloaded, items):
            assert item.genreclf_genre == "nonmusic"
            assert not set(MOOD_FIELDS) & set(item.keys(with_album=False))

    @pytest.mark.parametrize("options", [[], ["-f"]])
    def test_a_mood_an_earlier_run_gave_not_music_is_removed(self, options):
        self.setup_plugin()
        _, noise = self.add_not_music()
        self.run_command("genreclf")
        noise = self.reloaded(noise)
        noise.update({"genreclf_mood": "aggressive", "genreclf_mood_confidence": 0.6,
                      "genreclf_arousal": 0.7, "genreclf_valence": 0.3})  # as before the fix
        noise.store()

        self.run_command("genreclf", *options)

        assert not set(MOOD_FIELDS) & set(self.reloaded(noise).keys(with_album=False))
        assert list(self.lib.items("genreclf_mood:aggressive")) == []

    def test_an_album_of_not_music_gets_no_mood(self):
        self.setup_plugin()
        album = self.lib.add_album(self.add_not_music())

        self.run_command("genreclf", "-a")

        album = self.lib.get_album(album.id)
        assert album.genreclf_genre == "nonmusic"
        assert not set(MOOD_FIELDS) & set(album.keys())


class TestMood(GenreClfTestBase):
    def test_every_analysed_track_gets_a_queryable_mood(self):
        self.setup_plugin()
        items = self.add_tracks("chords.mp3", "beats.flac")

        self.run_command("genreclf")

        for item in map(self.reloaded, items):
            assert item.genreclf_mood in MOOD_LABELS
            assert 0.25 <= item.genreclf_mood_confidence <= 1.0
            assert 0.0 <= item.genreclf_arousal <= 1.0 and 0.0 <= item.genreclf_valence <= 1.0
        some = self.reloaded(items[0])
        assert some.id in {i.id for i in self.lib.items(f"genreclf_mood:{some.genreclf_mood}")}
        assert some.id in {
            i.id for i in self.lib.items(f"genreclf_arousal:{some.genreclf_arousal - 0.01:.2f}..")
        }

    def test_mood_is_written_to_files_only_when_asked(self):
        self.setup_plugin(mood_tags=True)
        self.config["import"]["write"] = True
        asked, _ = self.add_tracks("chords.mp3", "beats.flac")
        self.run_command("genreclf")
        asked = self.reloaded(asked)
        assert MediaFile(asked.path).genreclf_mood == asked.genreclf_mood

    def test_mood_tags_are_off_by_default(self):
        self.setup_plugin()
        self.config["import"]["write"] = True
        [item] = self.add_tracks("beats.flac")
        self.run_command("genreclf")
        assert "MOOD" not in {key.upper() for key in MediaFile(item.path).mgfile.keys()}

    def test_mood_off_sets_no_mood_field(self):
        self.setup_plugin(mood=False)
        [item] = self.add_tracks("beats.flac")
        self.run_command("genreclf")
        assert not self.reloaded(item).get("genreclf_mood")
