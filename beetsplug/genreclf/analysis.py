"""Analysis: plain paths in, predictions (or reasons) out, in input order.

Each worker (see backends.py) decodes a file, computes the model's features
and runs the model itself, with one onnxruntime session per worker process
for its whole life; only probabilities and embeddings travel back. Workers
never see beets objects. Files in the analysis cache are not sent at all, and
no worker starts while every file so far was cached. Results come back in
input order, so what happens next (storing, writing tags) is the same at any
worker count. Work is streamed: only a few files per worker are in flight.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Callable, Generic, TypeVar

import numpy as np

from .audio import (
    NOT_FOUND,
    AudioError,
    WindowPolicy,
    captured_stderr,
    decode_timed_windows,
)
from .backends import Backend, BackendError, JoblibBackend, Ready, Task, WorkerDied
from .cache import AnalysisCache
from .features import FeatureError
from .model import ModelError, ModelRef, TrackPrediction

Key = TypeVar("Key")
WORKER_DIED = "the decoder crashed (its worker process died)"


@dataclass(frozen=True)
class AnalysedWindow:
    """A window that gave segments: where it starts, how many segments."""

    start: float  # seconds
    segments: int


@dataclass(frozen=True)
class FileAnalysis:
    """A worker's answer for one file: its prediction, or why there is none.
    ``windows`` says which window each run of segments came from, in order."""

    prediction: TrackPrediction | None = None
    error: str | None = None
    windows: tuple[AnalysedWindow, ...] = ()
    from_cache: bool = False
    decoder_messages: str = ""  # what the decoders printed, for the debug log


def analyse_file(
    path: str, model: ModelRef, windows: WindowPolicy, detail: bool = False
) -> FileAnalysis:
    """Decode ``path``, compute its features and predict (runs in a worker).
    ``detail``: keep each segment's embedding (for --explain with a head).
    What the decoders print, then what damage decoding worked around, goes
    into ``decoder_messages`` (for the debug log), not the terminal."""
    ignore_interrupts_in_worker_process()
    with captured_stderr() as said:
        analysis = _prediction_or_reason(path, model, windows, detail)
    if not said.text:
        return analysis
    error = analysis.error and f"{analysis.error} (decoder: {said.gist()})"
    messages = "\n".join(filter(None, (said.text, analysis.decoder_messages)))
    return replace(analysis, error=error, decoder_messages=messages)


def ignore_interrupts_in_worker_process() -> None:
    """Ctrl-C reaches the whole process group, but stopping is the beets
    process's job (it stores what is done and ends the pool): a worker
    process ignores SIGINT, so that it never dies printing a traceback. Not
    in the beets process itself (``-j 1``, threads), nor in a worker thread."""
    in_worker = multiprocessing.current_process().name != "MainProcess"
    if in_worker and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _prediction_or_reason(
    path: str, model: ModelRef, windows: WindowPolicy, detail: bool
) -> FileAnalysis:
    try:
        loaded = model.load()
        decoded = decode_timed_windows(path, loaded.frontend.sample_rate, windows)
        parts = loaded.frontend.segments_per_window(decoded.windows)
        analysed = tuple(
            AnalysedWindow(start, len(part))
            for start, part in zip(decoded.starts, parts)
            if len(part)
        )
        prediction = loaded.predict_track(np.concatenate(parts), detail)
        return FileAnalysis(prediction, windows=analysed, decoder_messages=decoded.notes)
    except (AudioError, FeatureError, ModelError) as exc:
        return FileAnalysis(error=str(exc))
    except Exception as exc:  # a decoder bug must cost this file only
        return FileAnalysis(error=f"unexpected {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Outcome(Generic[Key]):
    key: Key
    path: str
    analysis: FileAnalysis

    @property
    def prediction(self) -> TrackPrediction | None:
        return self.analysis.prediction

    @property
    def error(self) -> str | None:
        return self.analysis.error


Analyse = Callable[[str, ModelRef, WindowPolicy, bool], FileAnalysis]


class Analyzer:
    """Sends files to ``backend``'s workers, and keeps their results in the
    analysis cache (when there is one)."""

    def __init__(
        self,
        model: ModelRef,
        windows: WindowPolicy,
        jobs: int,
        cache: AnalysisCache | None = None,
        backend: Backend | None = None,
        analyse: Analyse = analyse_file,
    ) -> None:
        self.model = model
        self.windows = windows
        self.jobs = jobs
        self.cache = cache  # files found there are not decoded again
        self.backend = backend or JoblibBackend()  # where analysis runs
        self.analyse_file = analyse  # what workers run on each path

    def analyse(
        self, work: Iterable[tuple[Key, str]], detail: bool = False, fresh: bool = False
    ) -> Iterator[Outcome[Key]]:
        """An Outcome for each (key, path), in input order. ``detail``: per
        segment embeddings too, and so no cache (it holds track results).
        ``fresh``: decode every file, and cache what is heard."""
        entries = (
            ((key, path), self._entry(path, detail or fresh, detail)) for key, path in work
        )
        for (key, path), result in self.backend.results(entries, self.jobs):
            if isinstance(result, WorkerDied):
                result = FileAnalysis(error=WORKER_DIED)
            if result.prediction is None:
                self._check_worker_sees(path, result.error)
            elif not result.from_cache and not detail:
                self._cache_put(path, result.prediction)
            yield Outcome(key, path, result)

    def _entry(self, path: str, decode: bool, detail: bool) -> Task | Ready:
        hit = None if decode else self._cache_get(path)
        if hit is not None:
            return Ready(FileAnalysis(TrackPrediction(*hit), from_cache=True))
        worker_path = self.backend.worker_path(path)
        return Task(self.analyse_file, (worker_path, self.model, self.windows, detail))

    def _cache_get(self, path: str):
        return self.cache.get(os.fsencode(path)) if self.cache is not None else None

    def _cache_put(self, path: str, prediction: TrackPrediction) -> None:
        if self.cache is not None:
            self.cache.put(os.fsencode(path), prediction.probabilities, prediction.embedding)

    def _check_worker_sees(self, path: str, error: str | None) -> None:
        """A file here that the workers cannot find means a wrong path_map:
        stop rather than fail every file."""
        worker_path = self.backend.worker_path(path)
        if error == NOT_FOUND and worker_path != path and os.path.exists(path):
            raise BackendError(
                f"{worker_path}: not found on the workers, though {path} is here; "
                "check genreclf.dask.path_map"
            )
