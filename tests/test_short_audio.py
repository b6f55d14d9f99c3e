"""Audio too short to analyse: the reason says how long it is and what is needed."""

from __future__ import annotations

import pytest

from beetsplug.genreclf.features import (
    FeatureError,
    FeatureParams,
    mfcc_sequence,
    segments_from_windows,
)
from tests.audiogen import synthesize

PARAMS = FeatureParams()  # min_frames 32 of 512 samples at 22050 Hz: 0.74 s


@pytest.mark.parametrize(
    "seconds, reason",
    [
        (0.05, "too short to analyse (0.05 s; needs 0.74 s)"),  # under one FFT window
        (0.5, "too short to analyse (0.51 s; needs 0.74 s)"),  # 22 frames
        (0.7, "too short to analyse (0.72 s; needs 0.74 s)"),  # 31 frames
    ],
)
def test_too_short_audio_says_its_length_and_the_length_needed(seconds, reason):
    samples = synthesize("beats", seconds, PARAMS.sample_rate)

    with pytest.raises(FeatureError) as caught:
        segments_from_windows([samples], PARAMS)

    assert str(caught.value) == reason


def test_audio_as_long_as_needed_is_analysed():
    samples = synthesize("beats", 0.75, PARAMS.sample_rate)
    assert len(mfcc_sequence(samples, PARAMS)) >= PARAMS.min_frames
    assert len(segments_from_windows([samples], PARAMS)) == 1
