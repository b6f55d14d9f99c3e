"""Decoding, features, the model and packaging, each on its own."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from beetsplug.genreclf.audio import AudioError, WindowPolicy, decode_windows
from beetsplug.genreclf.features import (
    FeatureError,
    FeatureParams,
    mfcc_sequence,
    segments_from_windows,
    split_segments,
)
from beetsplug.genreclf.model import (
    DEFAULT_MODEL,
    PACKAGED,
    GenreModel,
    model_path,
    recommended_windows,
)
from tests.audiogen import synthesize, write_audio

PARAMS = FeatureParams()
REPO = Path(__file__).resolve().parent.parent


class TestWindowPolicy:
    def test_short_track_is_analysed_whole(self):
        assert WindowPolicy(30, 3).spans(80.0) == [(0.0, 80.0)]

    def test_long_track_gets_evenly_spread_windows(self):
        spans = WindowPolicy(30, 3).spans(240.0)
        assert [start for start, _ in spans] == pytest.approx([52.5, 105.0, 157.5])
        assert all(length == 30 and start + length <= 240 for start, length in spans)


class TestDecoding:
    @pytest.mark.parametrize("suffix", [".mp3", ".flac", ".ogg", ".wav", ".aiff", ".m4a"])
    def test_every_format_decodes_to_mono_at_the_model_rate(self, audio_dir, suffix):
        [window] = decode_windows(audio_dir / f"chords{suffix}", PARAMS.sample_rate, WindowPolicy())
        assert window.dtype == np.float32 and window.ndim == 1
        assert len(window) / PARAMS.sample_rate == pytest.approx(12.0, abs=0.1)
        assert 0.3 < np.max(np.abs(window)) <= 1.0

    @pytest.mark.parametrize("suffix", [".flac", ".mp3", ".m4a"])
    def test_long_file_decodes_only_its_windows(self, tmp_path, suffix):
        path = write_audio(tmp_path / f"long{suffix}", synthesize("beats", 100.0))
        windows = decode_windows(path, PARAMS.sample_rate, WindowPolicy(10, 3))
        assert [len(w) for w in windows] == [10 * PARAMS.sample_rate] * 3

    def test_windows_hold_the_right_audio(self, tmp_path):
        rate = 22050
        ramp = np.linspace(-0.9, 0.9, 100 * rate).astype(np.float32)
        path = write_audio(tmp_path / "ramp.flac", ramp, sample_rate=rate, channels=1)
        spans = WindowPolicy(10, 3).spans(100.0)
        windows = decode_windows(path, rate, WindowPolicy(10, 3))
        for (start, _), window in zip(spans, windows):
            first = int(start * rate)
            np.testing.assert_allclose(window, ramp[first : first + len(window)], atol=1e-4)

    def test_unreadable_file_raises_audio_error(self, tmp_path):
        bogus = tmp_path / "bogus.mp3"
        bogus.write_text("not audio")
        with pytest.raises(AudioError, match="not a readable audio file"):
            decode_windows(bogus, PARAMS.sample_rate, WindowPolicy())

    def test_missing_file_raises_audio_error(self, tmp_path):
        with pytest.raises(AudioError, match="file not found"):
            decode_windows(tmp_path / "gone.flac", PARAMS.sample_rate, WindowPolicy())


class TestFeatures:
    def test_mfcc_sequence_shape(self):
        sequence = mfcc_sequence(synthesize("chords", 3.0, PARAMS.sample_rate), PARAMS)
        assert sequence.shape == (3 * PARAMS.sample_rate // PARAMS.hop_length + 1, PARAMS.n_mfcc)
        assert sequence.dtype == np.float32 and np.all(np.isfinite(sequence))

    def test_segments_are_fixed_length(self):
        segments = split_segments(np.zeros((400, PARAMS.n_mfcc), np.float32), PARAMS)
        assert segments.shape == (3, PARAMS.segment_frames, PARAMS.n_mfcc)

    def test_short_audio_is_one_shorter_segment(self):
        segments = split_segments(np.zeros((50, PARAMS.n_mfcc), np.float32), PARAMS)
        assert segments.shape == (1, 50, PARAMS.n_mfcc)

    def test_too_short_audio_fails(self):
        with pytest.raises(FeatureError, match="too short"):
            split_segments(np.zeros((10, PARAMS.n_mfcc), np.float32), PARAMS)

    def test_non_finite_audio_fails(self):
        audio = synthesize("noise", 3.0, PARAMS.sample_rate)
        audio[100] = np.nan
        with pytest.raises(FeatureError, match="NaN"):
            mfcc_sequence(audio, PARAMS)

    def test_silence_fails(self):
        with pytest.raises(FeatureError, match="silent"):
            segments_from_windows([np.zeros(5 * PARAMS.sample_rate, np.float32)], PARAMS)

    def test_quiet_audio_gives_finite_features(self):
        quiet = 1e-3 * np.random.default_rng(0).normal(size=5 * PARAMS.sample_rate)
        segments = segments_from_windows([quiet.astype(np.float32)], PARAMS)
        assert np.all(np.isfinite(segments))

    def test_a_short_tail_window_is_dropped_next_to_full_ones(self):
        rate = PARAMS.sample_rate
        windows = [synthesize("beats", 6.0, rate), synthesize("beats", 1.0, rate)]
        segments = segments_from_windows(windows, PARAMS)
        assert segments.shape[1] == PARAMS.segment_frames


class TestModel:
    model = GenreModel(PACKAGED["mfcc"])  # MFCC input

    def test_metadata(self):
        assert len(self.model.labels) == len(set(self.model.labels)) >= 2
        assert self.model.params.n_mfcc > 0
        assert 0.0 <= self.model.min_confidence <= 1.0
        assert self.model.identity.startswith(f"{self.model.name}-{self.model.version}@")

    def test_batched_prediction_equals_one_track_at_a_time(self):
        rng = np.random.default_rng(0)
        tracks = [
            rng.normal(0, 20, (n, length, self.model.params.n_mfcc)).astype(np.float32)
            for n, length in [(3, 130), (1, 60), (5, 130), (2, 60)]
        ]
        together = self.model.predict_tracks(tracks)
        for track, prediction in zip(tracks, together):
            [alone] = self.model.predict_tracks([track])
            np.testing.assert_allclose(prediction.probabilities, alone.probabilities, atol=1e-5)
            np.testing.assert_allclose(prediction.embedding, alone.embedding, atol=1e-5)
            assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
            assert prediction.segment_probabilities.shape == (len(track), len(self.model.labels))


@pytest.mark.parametrize(
    "name, frontend, aggregation, windows",
    [
        ("accurate", "logmel", "geometric_mean", (4, 6.0)),
        ("fast", "logmel", "geometric_mean", (2, 3.0)),  # the same file, heard briefly
        ("mfcc", "mfcc", "mean", (3, 15.0)),
    ],
)
def test_each_packaged_model_declares_how_to_feed_it(name, frontend, aggregation, windows):
    model = GenreModel(PACKAGED[name])
    assert (model.frontend.name, model.aggregation) == (frontend, aggregation)
    assert recommended_windows(name, model) == windows
    assert model.path == model_path(name)
    assert model_path("") == PACKAGED[DEFAULT_MODEL]


def test_loading_the_plugin_imports_no_heavy_modules():
    probe = (
        "import sys, beetsplug.genreclf; "
        "print(sorted(m for m in ('librosa', 'onnxruntime', 'joblib', 'torch') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_the_wheel_ships_the_model(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("beets_genreclf-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("beetsplug/genreclf/data/genreclf.onnx")
    assert shipped == (REPO / "beetsplug" / "genreclf" / "data" / "genreclf.onnx").read_bytes()
