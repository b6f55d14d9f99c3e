"""Parallel analysis: plain paths in, predictions (or reasons) out, in order.

Workers (joblib, loky processes by default) only decode and compute
features; they never see beets objects. The parent batches the ONNX
inference and hands results back in input order, so whatever happens
next (storing, writing tags) is the same at any worker count. Work is
streamed: only a few batches are in flight however large the query.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from joblib import Parallel, delayed, parallel_config

from .audio import AudioError, WindowPolicy, decode_windows
from .features import FeatureError, FeatureParams, segments_from_windows
from .model import GenreModel, TrackPrediction

Key = TypeVar("Key")
INFERENCE_BATCH_TRACKS = 32
CHUNK_FILES = 64  # files resolved and queued at a time


@dataclass(frozen=True)
class FileFeatures:
    """A worker's answer for one file: segments, or why there are none."""

    segments: np.ndarray | None = None
    error: str | None = None


def extract_features(
    path: str, params: FeatureParams, windows: WindowPolicy
) -> FileFeatures:
    """Decode ``path`` and compute its MFCC segments (runs in a worker)."""
    try:
        decoded = decode_windows(path, params.sample_rate, windows)
        return FileFeatures(segments=segments_from_windows(decoded, params))
    except (AudioError, FeatureError) as exc:
        return FileFeatures(error=str(exc))
    except Exception as exc:  # a decoder bug must cost this file only
        return FileFeatures(error=f"unexpected {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Outcome(Generic[Key]):
    key: Key
    prediction: TrackPrediction | None = None
    error: str | None = None


class Analyzer:
    """Runs feature extraction in ``jobs`` worker processes and inference in
    the parent. The loky pool is reused between calls (and import tasks)."""

    def __init__(self, model: GenreModel, windows: WindowPolicy, jobs: int) -> None:
        self.model = model
        self.windows = windows
        self.jobs = jobs

    def analyse(self, work: Iterable[tuple[Key, str]]) -> Iterator[Outcome[Key]]:
        """Yield an Outcome for each (key, path), in input order.

        ``work`` is consumed here, in the caller's thread, a chunk at a time
        (joblib would otherwise pull it from its own thread, where beets
        cannot resolve library paths). Workers only ever see plain paths.
        """
        # One BLAS/OpenMP thread per worker: the workers already fill the cores.
        with (
            parallel_config(backend="loky", inner_max_num_threads=1),
            Parallel(n_jobs=self.jobs, return_as="generator") as parallel,
        ):
            for chunk in _batched(work, CHUNK_FILES):
                features = parallel(
                    delayed(extract_features)(path, self.model.params, self.windows)
                    for _, path in chunk
                )
                keyed = zip((key for key, _ in chunk), features)
                for batch in _batched(keyed, INFERENCE_BATCH_TRACKS):
                    yield from self._predict(batch)

    def _predict(self, batch: list[tuple[Key, FileFeatures]]) -> list[Outcome[Key]]:
        decoded = [f.segments for _, f in batch if f.segments is not None]
        predictions = iter(self.model.predict_tracks(decoded))
        return [
            Outcome(key, error=features.error)
            if features.segments is None
            else Outcome(key, prediction=next(predictions))
            for key, features in batch
        ]


def _batched(iterable: Iterable, size: int) -> Iterator[list]:
    """Successive lists of ``size`` items (itertools.batched needs 3.12)."""
    iterator = iter(iterable)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
