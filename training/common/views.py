"""What the plugin hears of a track under each window policy.

Training keeps whole-track MFCC sequences; a view cuts from one the frames
of each window of a ``WindowPolicy`` and splits each window into segments,
as the plugin's front-end does with the windows it decodes.
"""

from __future__ import annotations

import numpy as np

from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.features import FeatureParams, split_segments

POLICIES = {
    "1×30 s": WindowPolicy(30.0, 1),
    "2×30 s": WindowPolicy(30.0, 2),
    "3×30 s": WindowPolicy(30.0, 3),
    "3×15 s": WindowPolicy(15.0, 3),
}
WHOLE = "3×30 s"  # every track here is at most 90 s long: the whole track


def window_segments(
    sequence: np.ndarray, policy: WindowPolicy, params: FeatureParams
) -> np.ndarray:
    """(n_segments, frames, n_mfcc) of the windows ``policy`` picks."""
    frame_s = params.hop_length / params.sample_rate
    parts = []
    for start, length in policy.spans(len(sequence) * frame_s):
        first = int(round(start / frame_s))
        window = sequence[first : first + int(round(length / frame_s))]
        if len(window) >= params.min_frames:
            parts.append(split_segments(window, params))
    return np.concatenate(parts).astype(np.float32)


def all_views(sequence: np.ndarray, params: FeatureParams) -> dict[str, np.ndarray]:
    return {name: window_segments(sequence, p, params) for name, p in POLICIES.items()}
