"""Audio too short to analyse: the reason says how long it is and what is needed."""

from __future__ import annotations

import pytest

from beetsplug.genreclf.features import (
    FeatureError,
    FeatureParams,
    LogMelParams,
    mfcc_sequence,
    segments_from_windows,
)
from tests.audiogen import synthesize

MFCC = FeatureParams()  # min_frames 32 of 512 samples at 22050 Hz: 0.74 s
LOGMEL = LogMelParams()  # min_frames 94 of 256 samples at 16000 Hz: 1.50 s


@pytest.mark.parametrize(
    "params, seconds, reason",
    [
        (MFCC, 0.05, "too short to analyse (0.05 s; needs 0.74 s)"),  # under one FFT window
        (MFCC, 0.5, "too short to analyse (0.51 s; needs 0.74 s)"),  # 22 frames
        (MFCC, 0.7, "too short to analyse (0.72 s; needs 0.74 s)"),  # 31 frames
        (LOGMEL, 0.02, "too short to analyse (0.02 s; needs 1.50 s)"),  # under one FFT window
        (LOGMEL, 0.5, "too short to analyse (0.50 s; needs 1.50 s)"),
        (LOGMEL, 1.45, "too short to analyse (1.45 s; needs 1.50 s)"),  # 91 frames
    ],
)
def test_too_short_audio_says_its_length_and_the_length_needed(params, seconds, reason):
    samples = synthesize("beats", seconds, params.sample_rate)

    with pytest.raises(FeatureError) as caught:
        params.segments_per_window([samples])

    assert str(caught.value) == reason


def test_audio_as_long_as_needed_is_analysed():
    samples = synthesize("beats", 0.75, MFCC.sample_rate)
    assert len(mfcc_sequence(samples, MFCC)) >= MFCC.min_frames
    assert len(segments_from_windows([samples], MFCC)) == 1
    [patches] = LOGMEL.segments_per_window([synthesize("beats", 1.5, LOGMEL.sample_rate)])
    assert len(patches) == 1
