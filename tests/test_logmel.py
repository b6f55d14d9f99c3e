"""The musicnn log-mel front-end, checked against musicnn's own preprocessing.

``tests/data/musicnn_logmel_reference.npz`` holds musicnn 0.1.0's
``extractor.batch_data`` patches (float16, as musicnn computes them) of
``training.accurate.convert.reference_signal()``; it was written in the conversion
environment by ``python -m training.accurate.convert reference`` (``make reference``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from beetsplug.genreclf.features import FeatureError, LogMelParams, logmel_patches
from training.accurate.convert import reference_signal

PARAMS = LogMelParams()
REFERENCE = Path(__file__).parent / "data" / "musicnn_logmel_reference.npz"
FLOAT16_ROUNDING = 3e-3  # musicnn compresses in float16: ~1e-3 steps at values near 3


def test_patches_match_musicnns_own_preprocessing():
    expected = np.load(REFERENCE)["patches"].astype(np.float32)
    actual = logmel_patches(reference_signal(), PARAMS)
    assert actual.shape == expected.shape == (1, PARAMS.patch_frames, PARAMS.n_mels)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=FLOAT16_ROUNDING)


def test_patches_do_not_overlap_and_the_tail_is_dropped():
    seconds = 10  # 626 frames: three whole 187-frame patches
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, PARAMS.sample_rate * seconds)
    patches = logmel_patches(samples.astype(np.float32), PARAMS)
    assert patches.shape == (3, PARAMS.patch_frames, PARAMS.n_mels)
    assert patches.dtype == np.float32


def test_loud_audio_stays_finite():
    """musicnn's float16 compression overflows here; ours must not."""
    time = np.arange(PARAMS.sample_rate * 4) / PARAMS.sample_rate
    patches = logmel_patches(np.sin(2 * np.pi * 440 * time).astype(np.float32), PARAMS)
    assert np.isfinite(patches).all() and patches.max() > np.log10(65504)


def test_audio_shorter_than_a_patch_is_repeated_to_fill_one():
    samples = np.random.default_rng(1).uniform(-0.5, 0.5, PARAMS.sample_rate * 2)
    patch = logmel_patches(samples.astype(np.float32), PARAMS)[0]
    frames = 1 + len(samples) // PARAMS.hop_length
    np.testing.assert_array_equal(patch[frames:], patch[: PARAMS.patch_frames - frames])


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros(PARAMS.sample_rate // 2, np.float32), "too short"),
        (np.full(PARAMS.sample_rate * 4, np.nan, np.float32), "NaN"),
        (np.zeros((PARAMS.sample_rate * 4, 2), np.float32), "mono"),
        (np.full(PARAMS.sample_rate * 4, 1e6, np.float32), "out of range"),
    ],
)
def test_unusable_audio_raises_feature_error(samples, message):
    with pytest.raises(FeatureError, match=message):
        logmel_patches(samples, PARAMS)


def test_params_round_trip_through_metadata():
    assert LogMelParams.from_dict(PARAMS.to_dict()) == PARAMS
