"""How long the plugin takes per track under each window policy."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from beetsplug.genreclf.audio import WindowPolicy, decode_windows
from beetsplug.genreclf.model import GenreModel
from training.accurate.convert import parity_audio

REPEATS = 3


def window_speed(model_path: Path, policies: dict[str, WindowPolicy]) -> dict:
    """Seconds to decode, analyse and classify a 4-minute 44.1 kHz stereo
    FLAC (10 s of generated music-like audio, repeated) under each policy, through the
    plugin's model and front-end on one thread; median of ``REPEATS``."""
    model = GenreModel(model_path)
    mono = np.tile(parity_audio(44100, 10.0, 0), 24)  # generating 4 minutes outright is slow
    speeds = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "four-minutes.flac"
        soundfile.write(path, np.stack([mono, mono[::-1]], axis=1), 44100)
        for name, policy in policies.items():
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                windows = decode_windows(path, model.frontend.sample_rate, policy)
                segments = np.concatenate(model.frontend.segments_per_window(windows))
                model.predict_track(segments)
                times.append(time.perf_counter() - start)
            speeds[name] = {"seconds": float(np.median(times)), "segments": len(segments)}
    return speeds
