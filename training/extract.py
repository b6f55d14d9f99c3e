"""Decode, augment and analyse every clip once: cached on disk, in parallel.

Per clip we keep whole-clip feature sequences for the clean audio and for
``n_augmented`` augmented versions: MFCCs from the plugin's own feature
module (LSTM, statistics baseline) and log-mel spectrograms (CNN baseline).
Training crops fixed-length segments from them at random. The cache is keyed
by path and parameters: clear it (``--cache``) if audio files change in place.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import joblib
import librosa
import numpy as np

from beetsplug.genreclf.audio import AudioError, decode_whole
from beetsplug.genreclf.features import FeatureError, FeatureParams, mfcc_sequence
from training.augment import AugmentParams, augment
from training.data import Clip

LOGMEL_BANDS = 64


@dataclass
class ClipFeatures:
    mfcc: list[np.ndarray]  # (frames, n_mfcc) float32 per version; [0] is clean
    logmel: list[np.ndarray]  # (frames, LOGMEL_BANDS) float16 per version


def clip_features(
    path: str,
    key: str,
    params: FeatureParams,
    augment_params: AugmentParams,
    n_augmented: int,
    seed: int,
) -> ClipFeatures | str:
    """Features of the clip at ``path``, or why it cannot be read.

    ``key`` (label/clip id) seeds the augmentation, so the versions do not
    depend on where the data lies or in which order clips are processed.
    """
    try:
        clean = decode_whole(path, params.sample_rate)
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        versions = [clean] + [
            augment(clean, params.sample_rate, rng, augment_params) for _ in range(n_augmented)
        ]
        return ClipFeatures(
            mfcc=[mfcc_sequence(y, params) for y in versions],
            logmel=[logmel_sequence(y, params) for y in versions],
        )
    except (AudioError, FeatureError) as exc:
        return str(exc)


def logmel_sequence(samples: np.ndarray, params: FeatureParams) -> np.ndarray:
    """(frames, LOGMEL_BANDS) log-mel spectrogram on the MFCCs' STFT grid."""
    mel = librosa.feature.melspectrogram(
        y=samples,
        sr=params.sample_rate,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        n_mels=LOGMEL_BANDS,
        pad_mode=params.pad_mode,
    )
    return librosa.power_to_db(mel, ref=1.0, top_db=None).T.astype(np.float16)


def extract_all(
    clips: list[Clip],
    params: FeatureParams,
    augment_params: AugmentParams,
    n_augmented: int,
    seed: int,
    cache_dir: Path,
    jobs: int,
) -> tuple[dict[Clip, ClipFeatures], list[tuple[Clip, str]]]:
    """Features of every readable clip, and (clip, reason) for the others."""
    cached = joblib.Memory(cache_dir, verbose=0).cache(clip_features)
    results = joblib.Parallel(n_jobs=jobs)(
        joblib.delayed(cached)(
            str(clip.path.resolve()),
            f"{clip.label}/{clip.clip_id}",
            params,
            augment_params,
            n_augmented,
            seed,
        )
        for clip in clips
    )
    features = {c: r for c, r in zip(clips, results) if isinstance(r, ClipFeatures)}
    failures = [(c, r) for c, r in zip(clips, results) if isinstance(r, str)]
    return features, failures
