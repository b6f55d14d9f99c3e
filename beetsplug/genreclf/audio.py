"""Decode only the parts of a file that get analysed, as mono float32.

Window policy: a track is analysed in up to ``max_windows`` windows of
``window_seconds`` spread evenly over its length, away from intro and outro
(for a 4-minute track and 3 windows of 30 s: starting at 0:52, 1:45, 2:37).
A track shorter than all windows together is decoded whole.

soundfile (libsndfile) reads WAV, AIFF, FLAC, Ogg Vorbis/Opus and MP3 with
sample-exact seeking; anything else (AAC/ALAC in M4A, ...) falls back to
PyAV, which bundles FFmpeg.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# A read may fall short of the length the header announces by this share
# (and at least 1 s) before the file counts as cut: MP3 lengths are estimates.
TRUNCATION_TOLERANCE = 0.02
NOT_FOUND = "file not found"


class AudioError(Exception):
    """The file cannot be decoded; the message says why."""


@dataclass(frozen=True)
class WindowPolicy:
    window_seconds: float = 30.0
    max_windows: int = 3

    def spans(self, duration: float) -> list[tuple[float, float]]:
        """(start, length) in seconds of each window of a ``duration`` track."""
        if duration <= self.window_seconds * self.max_windows:
            return [(0.0, duration)]
        spare = duration - self.window_seconds
        return [
            (spare * (i + 1) / (self.max_windows + 1), self.window_seconds)
            for i in range(self.max_windows)
        ]


def decode_windows(
    path: str | bytes | Path, sample_rate: int, policy: WindowPolicy
) -> list[np.ndarray]:
    """The windows of ``path`` chosen by ``policy``, mono at ``sample_rate``.

    Raises AudioError for anything that is not complete, finite audio."""
    return [samples for _, samples in decode_timed_windows(path, sample_rate, policy)]


def decode_timed_windows(
    path: str | bytes | Path, sample_rate: int, policy: WindowPolicy
) -> list[tuple[float, np.ndarray]]:
    """(start in seconds, samples) of each window, as :func:`decode_windows`."""
    path = Path(os.fsdecode(path))  # any bytes, via surrogate escapes
    if not path.is_file():
        raise AudioError(NOT_FOUND)
    if path.stat().st_size == 0:
        raise AudioError("empty file")
    try:
        windows = _decode_with_soundfile(path, policy)
    except _NotForSoundfile:
        windows = _decode_with_pyav(path, policy)
    native_rate, starts, raw = windows
    if not all(np.isfinite(window).all() for window in raw):
        raise AudioError("the audio contains NaN or infinite samples")
    return [
        (start, _resample(window, native_rate, sample_rate))
        for start, window in zip(starts, raw)
    ]


def decode_whole(path: str | Path, sample_rate: int) -> np.ndarray:
    """The whole file, mono at ``sample_rate`` (for training clips)."""
    forever = WindowPolicy(window_seconds=float("inf"), max_windows=1)
    return decode_windows(path, sample_rate, forever)[0]


class _NotForSoundfile(Exception):
    pass


def _decode_with_soundfile(
    path: Path, policy: WindowPolicy
) -> tuple[int, list[float], list[np.ndarray]]:
    import soundfile

    try:  # bytes: soundfile would encode a str path strictly as UTF-8
        sound = soundfile.SoundFile(os.fsencode(path))
    except soundfile.LibsndfileError as exc:  # PyAV may know it, or say why not
        raise _NotForSoundfile() from exc
    with sound:
        rate = sound.samplerate
        if sound.frames <= 0:
            raise AudioError("no audio samples")
        spans = policy.spans(sound.frames / rate)
        windows = []
        for start, length in spans:
            wanted = int(length * rate)
            try:
                sound.seek(int(start * rate))
                data = sound.read(wanted, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError) as exc:
                raise AudioError(f"cannot decode: {_plain(exc)}") from exc
            _check_complete(len(data), wanted, rate)
            windows.append(_downmix(data))
    return rate, [start for start, _ in spans], windows


def _downmix(frames: np.ndarray) -> np.ndarray:
    """Mean of the channels of (n, channels) frames. A matrix-vector product:
    numpy's mean(axis=1) over so few columns is ~50x slower, and cost more
    than decoding a FLAC window."""
    channels = frames.shape[1]
    return frames @ np.full(channels, 1 / channels, dtype=np.float32)


def _check_complete(got: int, wanted: int, rate: int) -> None:
    """libsndfile returns what it could of a cut file without complaint."""
    missing = wanted - got
    if missing > max(TRUNCATION_TOLERANCE * wanted, rate):
        raise AudioError(
            f"truncated or damaged: decoded {got / rate:.1f} s of {wanted / rate:.1f} s"
        )


def _decode_with_pyav(
    path: Path, policy: WindowPolicy
) -> tuple[int, list[float], list[np.ndarray]]:
    # A file object: PyAV takes no bytes path, and names need not be UTF-8.
    try:
        source = open(path, "rb")
    except OSError as exc:
        raise AudioError(f"cannot open: {_plain(exc)}") from exc
    with source:
        return _decode_container(source, policy)


def _decode_container(
    source, policy: WindowPolicy
) -> tuple[int, list[float], list[np.ndarray]]:
    import av

    try:
        container = av.open(source)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise AudioError(f"not a readable audio file: {_plain(exc)}") from exc
    with container:
        if not container.streams.audio:
            raise AudioError("no audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise AudioError("unsupported audio codec")
        rate = stream.rate or stream.codec_context.sample_rate
        if not rate:
            raise AudioError("audio stream has no sample rate")
        spans = policy.spans(_pyav_duration(container, stream))
        try:
            windows = [
                _pyav_window(container, stream, rate, start, length)
                for start, length in spans
            ]
        except av.FFmpegError as exc:
            raise AudioError(f"cannot decode: {_plain(exc)}") from exc
    if not any(len(window) for window in windows):
        raise AudioError("no audio samples")
    return rate, [start for start, _ in spans], windows


def _pyav_duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base: microseconds
    return float("inf")  # unknown: decode from the start


def _pyav_window(container, stream, rate: int, start: float, length: float) -> np.ndarray:
    """Decode ``length`` s from ``start`` s, mono float32 at the native rate."""
    import av

    # Planar float at the native rate and layout: downmix like soundfile does.
    resampler = av.AudioResampler(format="fltp", rate=rate)
    if start > 0:
        container.seek(int(start / stream.time_base), stream=stream)
    wanted = int(length * rate) if np.isfinite(length) else None
    chunks: list[np.ndarray] = []
    collected = 0
    for frame in container.decode(stream):
        frame_start = float(frame.pts * stream.time_base) if frame.pts is not None else start
        for planar in resampler.resample(frame):
            samples = _downmix(planar.to_ndarray().T)
            skip = int(round((start - frame_start) * rate))
            if skip > 0:  # seeking lands on the packet before `start`
                samples = samples[skip:]
            frame_start += planar.samples / rate
            chunks.append(samples)
            collected += len(samples)
        if wanted is not None and collected >= wanted:
            break
    window = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return window[:wanted] if wanted is not None else window


def _resample(samples: np.ndarray, native_rate: int, target_rate: int) -> np.ndarray:
    if native_rate == target_rate:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import soxr

    return soxr.resample(samples, native_rate, target_rate, quality="HQ").astype(
        np.float32, copy=False
    )


def _plain(exc: Exception) -> str:
    """An exception's message on one line, without errno or path clutter."""
    message = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(message).split()) or type(exc).__name__
