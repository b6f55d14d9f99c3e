"""Which patches of a track each window policy analyses (the seconds-analysed check)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from beetsplug.genreclf.audio import WindowPolicy  # noqa: E402
from training.accurate.evaluate import windowed  # noqa: E402

PATCH_SECONDS = 187 * 256 / 16000  # 2.992 s


def test_three_windows_take_whole_patches_spread_over_the_track():
    track = np.arange(60)[:, np.newaxis]  # 60 patches, about 180 s
    chosen = windowed(track, WindowPolicy(10.0, 3), PATCH_SECONDS)[:, 0]
    assert len(chosen) == 9  # three whole patches fit in each 10 s window
    assert list(chosen[::3]) == [15, 29, 43]  # windows start at 42.4, 84.8 and 127.1 s


def test_a_short_track_is_analysed_whole():
    track = np.arange(10)[:, np.newaxis]  # 30 s: shorter than three 30 s windows
    np.testing.assert_array_equal(windowed(track, WindowPolicy(30.0, 3), PATCH_SECONDS), track)
