"""Decode only the parts of a file that get analysed, as mono float32.

Window policy: a track is analysed in up to ``max_windows`` windows of
``window_seconds`` spread evenly over its length, away from intro and outro
(for a 4-minute track and 3 windows of 30 s: starting at 0:52, 1:45, 2:37,
so 52.5 s before the first and after the last go unheard). Windows never
overlap: where spreading would make them (a track shorter than two windows
more than it has), they lie side by side in the middle of the track, what
they leave split between its start and end. A track no longer than all
windows together is decoded whole, once.

soundfile (libsndfile) reads WAV, AIFF, FLAC, Ogg Vorbis/Opus and MP3 with
sample-exact seeking; anything else (AAC/ALAC in M4A, ...) falls back to
PyAV, which bundles FFmpeg. So does a file whose header length libsndfile
cannot use (unknown, zero, absurd), in which it cannot seek, or whose
window it cannot read to the end (libmpg123 stops at a damaged frame):
PyAV seeks where the container's length is believable, and otherwise
measures the length by decoding and decodes again in order. PyAV skips a
frame that does not decode, as players do; a window still cut short by
more than the tolerance below makes the file "truncated or damaged".

The decoders' C libraries print warnings straight to the process's stderr;
:func:`captured_stderr` keeps them off the terminal.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

# A read may fall short of the length the header announces by this share
# (and at least 1 s) before the file counts as cut: MP3 lengths are estimates.
TRUNCATION_TOLERANCE = 0.02
# A header's length is believed only if the file holds at least this many
# bytes per second of it, below any codec's lowest bitrate. (FLAC's digital
# silence can take fewer: such a file is measured by decoding, not refused.)
MIN_BYTES_PER_SECOND = 100
SAMPLE_RATES = range(1_000, 768_001)  # Hz; anything else is a damaged header
NOT_FOUND = "file not found"
UNKNOWN_LENGTH = "damaged file: unknown length"
NO_FRAME_DECODES = "cannot decode: no frame of it decodes"
UNEXPECTED = "unexpected decoder error: "


class AudioError(Exception):
    """The file cannot be decoded; the message says why."""


@dataclass(frozen=True)
class DecodedWindows:
    """Each window's start (seconds) and samples (mono float32 at the rate
    asked for); ``notes``: what damage was worked around, for the debug log."""

    starts: list[float]
    windows: list[np.ndarray]
    notes: str = ""


@dataclass(frozen=True)
class WindowPolicy:
    window_seconds: float = 30.0
    max_windows: int = 3

    def spans(self, duration: float) -> list[tuple[float, float]]:
        """(start, length) in seconds of each window of a ``duration`` track,
        in order, none overlapping."""
        count, length = self.max_windows, self.window_seconds
        if duration <= length * count:
            return [(0.0, duration)]
        step = max((duration - length) / (count + 1), length)  # start to start
        first = (duration - (count - 1) * step - length) / 2  # the group centred
        return [(first + i * step, length) for i in range(count)]


def decode_windows(
    path: str | bytes | Path, sample_rate: int, policy: WindowPolicy
) -> list[np.ndarray]:
    """The windows of ``path`` chosen by ``policy``, mono at ``sample_rate``.

    Raises AudioError for anything that is not complete, finite audio."""
    return decode_timed_windows(path, sample_rate, policy).windows


def decode_timed_windows(
    path: str | bytes | Path, sample_rate: int, policy: WindowPolicy
) -> DecodedWindows:
    """The windows with their starts, as :func:`decode_windows`."""
    try:
        # Any bytes, via surrogate escapes.
        return _timed_windows(Path(os.fsdecode(path)), sample_rate, policy)
    except AudioError:
        raise
    except Exception as exc:  # whatever a decoder does, callers get an AudioError
        raise AudioError(f"{UNEXPECTED}{type(exc).__name__}: {_plain(exc)}") from exc


def decode_whole(path: str | Path, sample_rate: int) -> np.ndarray:
    """The whole file, mono at ``sample_rate`` (for training clips)."""
    forever = WindowPolicy(window_seconds=float("inf"), max_windows=1)
    return decode_windows(path, sample_rate, forever)[0]


@dataclass(frozen=True)
class _Native:
    """Decoded windows at the file's own sample rate."""

    rate: int
    starts: list[float]
    windows: list[np.ndarray]
    notes: tuple[str, ...] = ()


def _timed_windows(path: Path, sample_rate: int, policy: WindowPolicy) -> DecodedWindows:
    if not path.is_file():
        raise AudioError(NOT_FOUND)
    size = path.stat().st_size
    if size == 0:
        raise AudioError("empty file")
    native = _decode(path, size, policy)
    if not any(len(window) for window in native.windows):
        raise AudioError("no audio samples")
    if not all(np.isfinite(window).all() for window in native.windows):
        raise AudioError("the audio contains NaN or infinite samples")
    resampled = [_resample(window, native.rate, sample_rate) for window in native.windows]
    return DecodedWindows(native.starts, resampled, "; ".join(native.notes))


class _NotForSoundfile(Exception):
    """libsndfile cannot read the file (or a window of it); the message, if
    any, says what went wrong, for the debug log."""


def _decode(path: Path, size: int, policy: WindowPolicy) -> _Native:
    try:
        return _decode_with_soundfile(path, size, policy)
    except _NotForSoundfile as refusal:
        native = _decode_with_pyav(path, size, policy)
        if not str(refusal):
            return native
        return replace(native, notes=(f"{refusal}: decoded with PyAV", *native.notes))


def _believable_seconds(seconds: float, size: int) -> float | None:
    """A header's length in seconds, or None where it cannot be true: not
    finite and positive, or longer than ``size`` bytes can hold."""
    if math.isfinite(seconds) and 0 < seconds <= size / MIN_BYTES_PER_SECOND:
        return seconds
    return None


def _decode_with_soundfile(path: Path, size: int, policy: WindowPolicy) -> _Native:
    """Raises _NotForSoundfile where libsndfile cannot read the file, reports
    a length it cannot have, or cannot seek to or read a whole window."""
    import soundfile

    try:  # bytes: soundfile would encode a str path strictly as UTF-8
        sound = soundfile.SoundFile(os.fsencode(path))
    except soundfile.LibsndfileError as exc:  # PyAV may know it, or say why not
        raise _NotForSoundfile() from exc
    with sound:
        rate = sound.samplerate
        if rate not in SAMPLE_RATES:
            raise _NotForSoundfile()
        duration = _believable_seconds(sound.frames / rate, size)
        if duration is None:
            raise _NotForSoundfile()
        spans = policy.spans(duration)
        windows = []
        for start, length in spans:
            wanted = int(length * rate)
            try:
                sound.seek(int(start * rate))
                data = sound.read(wanted, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError) as exc:
                raise _NotForSoundfile(
                    f"libsndfile failed on the window at {start:.1f} s ({_plain(exc)})"
                ) from exc
            if not _is_complete(len(data), wanted, rate):
                got = len(data) / rate
                raise _NotForSoundfile(
                    f"libsndfile stopped {got:.1f} s into the window at {start:.1f} s"
                )
            windows.append(_downmix(data))
    return _Native(rate, _starts(spans), windows)


def _starts(spans: list[tuple[float, float]]) -> list[float]:
    return [start for start, _ in spans]


def _downmix(frames: np.ndarray) -> np.ndarray:
    """Mean of the channels of (n, channels) frames. A matrix-vector product:
    numpy's mean(axis=1) over so few columns is ~50x slower, and cost more
    than decoding a FLAC window."""
    channels = frames.shape[1]
    return frames @ np.full(channels, 1 / channels, dtype=np.float32)


def _is_complete(got: int, wanted: int, rate: int) -> bool:
    """Whether ``got`` of ``wanted`` samples is all of them, but for the
    tolerance: decoders return what they could of a cut file without complaint."""
    return wanted - got <= max(TRUNCATION_TOLERANCE * wanted, rate)


def _check_complete(got: int, wanted: int, rate: int) -> None:
    if not _is_complete(got, wanted, rate):
        raise AudioError(
            f"truncated or damaged: decoded {got / rate:.1f} s of {wanted / rate:.1f} s"
        )


def _decode_with_pyav(path: Path, size: int, policy: WindowPolicy) -> _Native:
    # A file object: PyAV takes no bytes path, and names need not be UTF-8.
    try:
        source = open(path, "rb")
    except OSError as exc:
        raise AudioError(f"cannot open: {_plain(exc)}") from exc
    import av

    with source:
        try:
            return _decode_container(source, size, policy)
        except av.FFmpegError as exc:
            raise AudioError(f"cannot decode: {_plain(exc)}") from exc


def _decode_container(source: BinaryIO, size: int, policy: WindowPolicy) -> _Native:
    """Seek to each window where the container's length is believable;
    otherwise measure the length by decoding, then decode again in order."""
    with _audio_stream(source) as reader:
        reported = _believable_seconds(reader.reported_seconds(), size)
        if reported is not None:
            spans = policy.spans(reported)
            windows = [_pyav_window(reader, *span) for span in spans]
            return _Native(reader.rate, _starts(spans), windows, reader.notes())
        decoded = sum(len(samples) for _, samples in reader.mono_frames())
        if not decoded:
            raise AudioError(NO_FRAME_DECODES if reader.skipped else UNKNOWN_LENGTH)
    spans = policy.spans(decoded / reader.rate)
    source.seek(0)
    with _audio_stream(source) as reader:
        windows = _windows_in_order(reader, spans)
        return _Native(reader.rate, _starts(spans), windows, reader.notes())


class _FrameReader:
    """The frames of a container's audio stream, as mono float32 at its
    sample rate. A packet that does not decode (a damaged frame) is skipped,
    as players do, and so is a frame in another format than the first (a
    damaged header's sample rate or channels); ``skipped`` counts both."""

    def __init__(self, container, stream, rate: int) -> None:
        self.container = container
        self.stream = stream
        self.rate = rate
        self.skipped = 0

    def reported_seconds(self) -> float:
        """The length the container reports (NaN: it reports none)."""
        if self.stream.duration is not None and self.stream.time_base:
            return float(self.stream.duration * self.stream.time_base)
        if self.container.duration is not None:
            return self.container.duration / 1_000_000  # av.time_base: microseconds
        return math.nan

    def mono_frames(self) -> Iterator[tuple[float | None, np.ndarray]]:
        """(start in seconds if known, samples) of each frame, from the
        container's current position."""
        import av

        # Planar float at the native rate and layout: downmix like soundfile does.
        resampler = av.AudioResampler(format="fltp", rate=self.rate)
        first_format = None
        for frame in self._decoded_frames():
            frame_format = (frame.format.name, frame.layout.name, frame.sample_rate)
            first_format = first_format or frame_format
            if frame_format != first_format:  # the resampler would refuse it
                self.skipped += 1
                continue
            start = frame.time
            if start is not None and not math.isfinite(start):
                start = None
            for planar in resampler.resample(frame):
                samples = _downmix(planar.to_ndarray().T)
                yield start, samples
                start = None if start is None else start + len(samples) / self.rate

    def _decoded_frames(self) -> Iterator[Any]:
        import av

        for packet in self.container.demux(self.stream):
            try:
                frames = packet.decode()
            except av.InvalidDataError:
                self.skipped += 1
                continue
            yield from frames

    def notes(self) -> tuple[str, ...]:
        return (f"damaged frames PyAV skipped: {self.skipped}",) if self.skipped else ()


@contextmanager
def _audio_stream(source: BinaryIO) -> Iterator[_FrameReader]:
    """A reader of the container's first audio stream."""
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
        if rate not in SAMPLE_RATES:
            raise AudioError(f"no plausible sample rate ({rate} Hz)")
        yield _FrameReader(container, stream, rate)


def _pyav_window(reader: _FrameReader, start: float, length: float) -> np.ndarray:
    """Decode ``length`` s from ``start`` s, mono float32 at the native rate.
    Raises AudioError where the file ends well before the window does."""
    rate = reader.rate
    if start > 0:  # microseconds (av.time_base): any stream, whatever its time base
        reader.container.seek(int(start * 1_000_000))
    wanted = int(length * rate)
    chunks: list[np.ndarray] = []
    collected = 0
    for frame_start, samples in reader.mono_frames():
        skip = round((start - frame_start) * rate) if frame_start is not None else 0
        if skip > 0:  # seeking lands on the packet before `start`
            samples = samples[skip:]
        chunks.append(samples)
        collected += len(samples)
        if collected >= wanted:
            break
    window = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    _check_complete(len(window), wanted, rate)
    return window[:wanted]


def _windows_in_order(
    reader: _FrameReader, spans: list[tuple[float, float]]
) -> list[np.ndarray]:
    """The samples of each (start, length) span, decoding from the start without seeking."""
    rate = reader.rate
    bounds = [(int(start * rate), int((start + length) * rate)) for start, length in spans]
    pieces: list[list[np.ndarray]] = [[] for _ in spans]
    position = 0  # samples decoded so far
    for _, samples in reader.mono_frames():
        for (first, last), piece in zip(bounds, pieces):
            part = samples[max(first - position, 0) : max(last - position, 0)]
            if len(part):
                piece.append(part)
        position += len(samples)
        if position >= bounds[-1][1]:
            break
    return [np.concatenate(piece) if piece else np.zeros(0, np.float32) for piece in pieces]


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


@dataclass
class CapturedText:
    text: str = ""

    def gist(self, limit: int = 60) -> str:
        """The first line, cut to ``limit`` characters: short enough for a reason."""
        line = self.text.split("\n", 1)[0]
        return line if len(line) <= limit else line[: limit - 1] + "…"


@contextmanager
def captured_stderr() -> Iterator[CapturedText]:
    """Send what is written to file descriptor 2 (by C libraries too) to a
    temporary file instead of the terminal; its text is in the yielded
    object once the block ends."""
    captured = CapturedText()
    offset = _stderr_sink.enter()
    try:
        yield captured
    finally:
        captured.text = _stderr_sink.leave(offset)


class _StderrSink:
    """fd 2 belongs to the process: threads that capture at the same time
    share one redirection, which ends when the last of them leaves. Each
    gets what was written while it was in (the others' text included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._terminal = -1  # the real fd 2, while redirected
        self._file: BinaryIO | None = None

    def enter(self) -> int:
        """Redirect (if not yet); the offset at which this caller's text starts."""
        with self._lock:
            sys.stderr.flush()
            if self._users == 0:
                self._file = tempfile.TemporaryFile()
                self._terminal = os.dup(2)
                os.dup2(self._file.fileno(), 2)
            self._users += 1
            return os.fstat(2).st_size

    def leave(self, offset: int) -> str:
        """What was written since ``offset``; restore fd 2 if last to leave."""
        with self._lock:
            sys.stderr.flush()
            written = os.fstat(2).st_size - offset
            text = os.pread(self._file.fileno(), written, offset) if written > 0 else b""
            self._users -= 1
            if self._users == 0:
                os.dup2(self._terminal, 2)
                os.close(self._terminal)
                self._file.close()
        return text.decode("utf-8", "replace").strip()


_stderr_sink = _StderrSink()
