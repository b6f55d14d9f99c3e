"""Decode, augment and analyse every track once: cached on disk, in parallel.

Per track we keep whole-track MFCC sequences (the plugin's own feature
module) for the clean audio and for ``n_augmented`` augmented versions.
Training crops segments from them at random. MFCCs are extracted with the
largest coefficient count searched: the first ``n`` coefficients of a DCT-II
(orthonormal) are the same whatever the count, so a recipe with fewer
coefficients slices them (``ClipFeatures.sliced``). The cache is keyed by
path and parameters: clear it (``--cache``) if audio files change in place.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

from beetsplug.genreclf.audio import AudioError, decode_whole
from beetsplug.genreclf.features import FeatureError, FeatureParams, mfcc_sequence
from training.fast.augment import AugmentParams, augment


@dataclass
class ClipFeatures:
    mfcc: list[np.ndarray]  # (frames, n_mfcc) float32 per version; [0] is clean

    def sliced(self, n_mfcc: int, augmented: bool = True) -> list[np.ndarray]:
        """The first ``n_mfcc`` coefficients, of every version or the clean one only."""
        versions = self.mfcc if augmented else self.mfcc[:1]
        return [np.ascontiguousarray(m[:, :n_mfcc]) for m in versions]


def clip_features(
    path: str,
    key: str,
    params: FeatureParams,
    augment_params: AugmentParams,
    n_augmented: int,
    seed: int,
) -> ClipFeatures | str:
    """Features of the clip at ``path``, or why it cannot be read.

    ``key`` (label/track key) seeds the augmentation, so the versions do not
    depend on where the data lies or in which order tracks are processed.
    """
    try:
        clean = decode_whole(path, params.sample_rate)
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        versions = [clean] + [
            augment(clean, params.sample_rate, rng, augment_params) for _ in range(n_augmented)
        ]
        return ClipFeatures(mfcc=[mfcc_sequence(y, params) for y in versions])
    except (AudioError, FeatureError) as exc:
        return str(exc)


def extract_all(
    items: list[tuple[Path, str]],
    params: FeatureParams,
    augment_params: AugmentParams,
    n_augmented: int,
    seed: int,
    cache_dir: Path,
    jobs: int,
) -> dict[str, ClipFeatures | str]:
    """Features (or why not) per key of ``(path, key)`` items."""
    cached = joblib.Memory(cache_dir, verbose=0).cache(clip_features)
    results = joblib.Parallel(n_jobs=jobs, batch_size=1)(
        joblib.delayed(cached)(str(path.resolve()), key, params, augment_params, n_augmented, seed)
        for path, key in items
    )
    return {key: result for (_, key), result in zip(items, results)}
