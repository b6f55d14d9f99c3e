"""The NumPy spectrograms against librosa's, which the models were trained with."""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest

from beetsplug.genreclf import spectrum
from beetsplug.genreclf.features import FeatureParams, LogMelParams
from tests.audiogen import synthesize, write_track

FLOAT32_ROUNDING = 1e-5  # of the largest magnitude in the spectrogram
MFCC = FeatureParams()
LOGMEL = LogMelParams()
SIGNALS = [
    ("chords", 4.0),
    ("beats", 4.0),
    ("noise", 4.0),
    ("chords", 2048 / 22050),  # exactly one MFCC window long
]


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def spectrogram_settings(params: FeatureParams | LogMelParams, pad_mode: str) -> dict:
    """The settings both implementations share, as librosa names them."""
    return {
        "sr": params.sample_rate,
        "n_fft": params.n_fft,
        "hop_length": params.hop_length,
        "n_mels": params.n_mels,
        "pad_mode": pad_mode,
    }


def ours(settings: dict, samples: np.ndarray, n_mfcc: int | None) -> np.ndarray:
    names = ("sr", "n_fft", "hop_length", "n_mels", "pad_mode")
    rate, n_fft, hop_length, n_mels, pad_mode = (settings[name] for name in names)
    if n_mfcc is None:
        return spectrum.mel_spectrogram(samples, rate, n_fft, hop_length, n_mels, pad_mode)
    return spectrum.mfcc(samples, rate, n_mfcc, n_fft, hop_length, n_mels, pad_mode)


def librosas(settings: dict, samples: np.ndarray, n_mfcc: int | None) -> np.ndarray:
    if n_mfcc is None:
        return librosa.feature.melspectrogram(y=samples, **settings)
    return librosa.feature.mfcc(y=samples, n_mfcc=n_mfcc, **settings)


@pytest.mark.parametrize("style, seconds", SIGNALS)
@pytest.mark.parametrize(
    "params, n_mfcc, pad_mode",
    [
        (MFCC, MFCC.n_mfcc, "constant"),
        (MFCC, MFCC.n_mfcc, "reflect"),
        (LOGMEL, None, "constant"),  # the mel power spectrogram alone
        (LOGMEL, None, "reflect"),
    ],
)
def test_equals_librosa(style, seconds, params, n_mfcc, pad_mode):
    samples = synthesize(style, seconds, params.sample_rate)
    settings = spectrogram_settings(params, pad_mode)
    expected = librosas(settings, samples, n_mfcc)
    assert relative_error(ours(settings, samples, n_mfcc), expected) < FLOAT32_ROUNDING


@pytest.mark.parametrize(
    "sample_rate, n_fft, n_mels", [(22050, 2048, 128), (16000, 512, 96), (44100, 1024, 40)]
)
def test_mel_filters_equal_librosas(sample_rate, n_fft, n_mels):
    ours = spectrum.mel_filters(sample_rate, n_fft, n_mels)
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
    assert relative_error(ours, theirs) < FLOAT32_ROUNDING


@pytest.mark.parametrize("model", ["mfcc", "accurate"])
def test_analysing_a_track_imports_neither_librosa_nor_scipy(model, tmp_path):
    """Each worker pays for what it imports at the start of every run."""
    track = write_track(tmp_path / "track.flac", "chords", seconds=12.0)
    probe = (
        "import sys\n"
        "from beetsplug.genreclf.analysis import analyse_file\n"
        "from beetsplug.genreclf.audio import WindowPolicy\n"
        "from beetsplug.genreclf.model import GenreModel, model_path, reference\n"
        f"model = GenreModel(model_path({model!r}))\n"
        f"result = analyse_file({str(track)!r}, reference(model), WindowPolicy())\n"
        "assert result.error is None, result.error\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'librosa', 'scipy', 'numba'}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
