"""Parallel analysis: plain paths in, predictions (or reasons) out, in order.

Workers (loky processes by default, threads, or a Dask cluster; see
backends.py) only decode and compute features; they never see beets
objects. Files found in the analysis cache are not decoded again. The
parent runs the ONNX inference and hands results back in input order, so
whatever happens next (storing, writing tags) is the same at any worker
count. Work is streamed: only a few files per worker are in flight however
large the query.
"""

from __future__ import annotations

import contextvars
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import numpy as np
from joblib import Parallel, delayed, parallel_config

from .audio import NOT_FOUND, AudioError, WindowPolicy, captured_stderr, decode_timed_windows
from .backends import Backend, BackendError
from .cache import AnalysisCache
from .features import FeatureError, FeatureParams, segments_per_window
from .model import GenreModel, TrackPrediction

Key = TypeVar("Key")
# joblib's and loky's own warnings (physical cores not found, a generator
# closed from another thread) tell a beets user nothing.
warnings.filterwarnings("ignore", module="joblib")
WORKER_DIED = "the decoder crashed (its worker process died)"


@dataclass(frozen=True)
class AnalysedWindow:
    """A window that gave segments: where it starts, how many segments."""

    start: float  # seconds
    segments: int


@dataclass(frozen=True)
class FileFeatures:
    """A worker's answer for one file: segments, or why there are none (or,
    for a file in the cache, its cached probabilities and embedding).
    ``windows`` says which window each run of segments came from, in order."""

    segments: np.ndarray | None = None
    error: str | None = None
    windows: tuple[AnalysedWindow, ...] = ()
    cached: tuple[np.ndarray, np.ndarray] | None = None
    decoder_messages: str = ""  # what the decoders printed, for the debug log


def extract_features(
    path: str, params: FeatureParams, windows: WindowPolicy
) -> FileFeatures:
    """Decode ``path`` and compute its MFCC segments (runs in a worker).
    What the decoders print goes into ``decoder_messages``, not the terminal."""
    with captured_stderr() as said:
        features = _features_or_reason(path, params, windows)
    if not said.text:
        return features
    error = features.error and f"{features.error} (decoder: {said.gist()})"
    return replace(features, error=error, decoder_messages=said.text)


def _features_or_reason(
    path: str, params: FeatureParams, windows: WindowPolicy
) -> FileFeatures:
    try:
        decoded = decode_timed_windows(path, params.sample_rate, windows)
        parts = segments_per_window([samples for _, samples in decoded], params)
        analysed = tuple(
            AnalysedWindow(start, len(part))
            for (start, _), part in zip(decoded, parts)
            if len(part)
        )
        return FileFeatures(segments=np.concatenate(parts), windows=analysed)
    except (AudioError, FeatureError) as exc:
        return FileFeatures(error=str(exc))
    except Exception as exc:  # a decoder bug must cost this file only
        return FileFeatures(error=f"unexpected {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Outcome(Generic[Key]):
    key: Key
    prediction: TrackPrediction | None = None
    error: str | None = None
    windows: tuple[AnalysedWindow, ...] = ()  # where the prediction's segments come from


class Analyzer:
    """Runs feature extraction in ``jobs`` worker processes and inference in
    the parent. The loky pool is reused between calls (and import tasks)."""

    def __init__(
        self,
        model: GenreModel,
        windows: WindowPolicy,
        jobs: int,
        extract: Callable[[str, FeatureParams, WindowPolicy], FileFeatures] = extract_features,
        cache: AnalysisCache | None = None,
        backend: Backend = Backend(),
    ) -> None:
        self.model = model
        self.windows = windows
        self.jobs = jobs
        self.extract = extract  # what workers run on each path
        self.cache = cache  # files found there are not decoded again
        self.backend = backend  # where extraction runs

    def analyse(self, work: Iterable[tuple[Key, str]]) -> Iterator[Outcome[Key]]:
        """Yield an Outcome for each (key, path), in input order.

        ``work`` is consumed lazily (only a few files are in flight) and, though
        joblib pulls it from its own threads, in the caller's context, where
        beets can resolve library paths. Workers only ever see plain paths.
        """
        work = _in_context(iter(work), contextvars.copy_context())
        for (key, path), features in self._extract_all(work):
            if features.cached is not None:
                yield Outcome(key, prediction=TrackPrediction(*features.cached))
            elif features.segments is None:
                self._check_worker_sees(path, features.error)
                yield Outcome(key, error=features.error)
            else:  # one track per call: batching tracks measured no faster
                [prediction] = self.model.predict_tracks([features.segments])
                if self.cache is not None:
                    self.cache.put(
                        os.fsencode(path), prediction.probabilities, prediction.embedding
                    )
                yield Outcome(key, prediction=prediction, windows=features.windows)

    def _extract_all(
        self, work: Iterator[tuple[Key, str]]
    ) -> Iterator[tuple[tuple[Key, str], FileFeatures]]:
        """((key, path), features) in input order. A worker that dies costs only the
        file that killed it: the files it shared the pool with are retried
        one at a time, and the run goes on with a fresh pool."""
        if self.backend.name == "dask":
            yield from self._extract_on_dask(work)
            return
        while True:
            in_flight: deque[tuple[Key, str]] = deque()  # dispatched, not yet answered
            try:
                with self._pool(self.jobs) as parallel:
                    for features in parallel(self._tasks(work, in_flight)):
                        yield in_flight.popleft(), features
                return
            except BrokenProcessPool:
                for key, path in in_flight:
                    yield (key, path), self._extract_alone(path)

    def _extract_on_dask(
        self, work: Iterator[tuple[Key, str]]
    ) -> Iterator[tuple[tuple[Key, str], FileFeatures]]:
        """As _extract_all, with dask's own futures: joblib's dask backend
        hangs when a task kills its workers (it never reports KilledWorker).
        Dask reschedules the tasks of a lost worker; a file that kills every
        worker it is tried on (``distributed.scheduler.allowed-failures``)
        fails alone."""
        from distributed import get_client
        from distributed.scheduler import KilledWorker

        client = get_client()
        ahead = 4 * max(1, len(client.scheduler_info()["workers"]))
        in_flight: deque = deque()  # ((key, path), future or cached features), in order

        def oldest() -> tuple[tuple[Key, str], FileFeatures]:
            (key, path), pending = in_flight.popleft()
            if isinstance(pending, FileFeatures):  # from the cache: no round trip
                return (key, path), pending
            try:
                return (key, path), pending.result()
            except KilledWorker:  # it, or a task beside it, killed workers: once more
                try:
                    return (key, path), self._submit(client, path).result()
                except KilledWorker:
                    return (key, path), FileFeatures(error=WORKER_DIED)

        for key, path in work:
            hit = self._cache_hit(path)
            pending = FileFeatures(cached=hit) if hit is not None else self._submit(client, path)
            in_flight.append(((key, path), pending))
            if len(in_flight) >= ahead:
                yield oldest()
        while in_flight:
            yield oldest()

    def _submit(self, client, path: str):
        function, args, kwargs = self._extraction(path)
        return client.submit(function, *args, pure=False, **kwargs)

    def _extraction(self, path: str) -> tuple:
        """The worker's task for ``path`` (a joblib delayed call)."""
        worker_path = self.backend.worker_path(path)
        return delayed(self.extract)(worker_path, self.model.params, self.windows)

    def _cache_hit(self, path: str) -> tuple[np.ndarray, np.ndarray] | None:
        return self.cache.get(os.fsencode(path)) if self.cache is not None else None

    def _check_worker_sees(self, path: str, error: str | None) -> None:
        """A file here that the workers cannot find means a wrong path_map:
        stop rather than fail every file."""
        worker_path = self.backend.worker_path(path)
        if error == NOT_FOUND and worker_path != path and os.path.exists(path):
            raise BackendError(
                f"{worker_path}: not found on the workers, though {path} is here; "
                "check genreclf.dask.path_map"
            )

    def _tasks(self, work: Iterator[tuple[Key, str]], in_flight: deque) -> Iterator:
        for key, path in work:
            in_flight.append((key, path))
            hit = self._cache_hit(path)
            # A cache hit still goes through the pool, as a trivial task: joblib
            # hands results back in order only for what it dispatched.
            yield delayed(FileFeatures)(cached=hit) if hit is not None else self._extraction(path)

    def _extract_alone(self, path: str) -> FileFeatures:
        # Two jobs for one task: joblib would run a single job in this process.
        try:
            with self._pool(2) as parallel:
                return next(parallel([self._extraction(path)]))
        except BrokenProcessPool:
            return FileFeatures(error=WORKER_DIED)

    @contextmanager
    def _pool(self, jobs: int) -> Iterator[Parallel]:
        with (
            parallel_config(**self.backend.joblib_config()),
            Parallel(n_jobs=jobs, return_as="generator") as parallel,
        ):
            yield parallel


def _in_context(iterator: Iterator, context: contextvars.Context) -> Iterator:
    """``iterator``, advanced inside ``context`` whichever thread pulls it."""
    while True:
        try:
            yield context.run(next, iterator)
        except StopIteration:
            return
