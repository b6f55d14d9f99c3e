"""Feature front-ends, shared by tagging and training.

A model's metadata names its front-end (``frontend``) and that front-end's
parameters (``features``); :func:`frontend` turns them into an object whose
``segments_per_window`` makes the model's input from decoded audio. Both the
plugin and ``training/`` call these functions, so a model always sees
features computed exactly as during its training. Two front-ends: ``mfcc``,
MFCC sequences cut into ~3 s segments (:class:`FeatureParams`), and
``logmel``, musicnn's log-mel patches (:class:`LogMelParams`); the
spectrograms themselves come from :mod:`.spectrum`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import ClassVar, Protocol

import numpy as np

from . import spectrum

SILENCE_PEAK = 1e-4  # -80 dBFS: quieter than any real recording's noise floor
MAX_SAMPLE_MAGNITUDE = 1e4  # full scale is 1; far beyond, the spectrum overflows


class FeatureError(ValueError):
    """The audio cannot be turned into features (too short, not finite...)."""


def _too_short(seconds: float, params: FeatureParams | LogMelParams) -> FeatureError:
    """How long the audio is and how long it must be (``min_frames``)."""
    needed = params.min_frames * params.hop_length / params.sample_rate
    return FeatureError(f"too short to analyse ({seconds:.2f} s; needs {needed:.2f} s)")


class _Stored:
    """Parameters that travel in a model's metadata as a JSON object."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        return cls(**values)


@dataclass(frozen=True)
class FeatureParams(_Stored):
    """How audio becomes model input.

    sample_rate: audio is resampled to this rate (Hz) before analysis.
    n_mfcc: MFCC coefficients per frame.
    n_fft, hop_length: STFT window and hop, in samples.
    n_mels: mel bands the MFCCs are computed from.
    pad_mode: STFT edge padding ('constant': zeros, librosa's default; or 'reflect').
    segment_frames: frames per model input sequence (130 ≈ 3 s).
    segment_hop_frames: hop between successive segments when tagging.
    min_frames: shortest sequence worth classifying (shorter audio fails).
    """

    name: ClassVar[str] = "mfcc"

    sample_rate: int = 22050
    n_mfcc: int = 20
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    pad_mode: str = "constant"
    segment_frames: int = 130
    segment_hop_frames: int = 130
    min_frames: int = 32

    def segments_per_window(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        return segments_per_window(windows, self)


class FrontEnd(Protocol):
    """Decoded audio (mono at ``sample_rate``) to model input."""

    name: ClassVar[str]
    sample_rate: int

    def to_dict(self) -> dict: ...

    def segments_per_window(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        """(n_segments, time, features) per window; may raise FeatureError."""
        ...


FRONTENDS: dict[str, type] = {}  # name -> parameters class; filled below


def frontend(name: str, params: dict) -> FrontEnd:
    """The front-end ``name`` with ``params``; ValueError if unknown or wrong."""
    if name not in FRONTENDS:
        raise ValueError(f"unknown feature front-end {name!r} (known: {', '.join(FRONTENDS)})")
    try:
        return FRONTENDS[name].from_dict(params)
    except TypeError as exc:
        raise ValueError(f"bad {name} front-end parameters ({exc})") from exc


def mfcc_sequence(samples: np.ndarray, params: FeatureParams) -> np.ndarray:
    """MFCCs of mono ``samples`` at ``params.sample_rate``.

    Returns a float32 array of shape (frames, n_mfcc).
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise FeatureError(f"expected mono audio, got shape {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise FeatureError("audio contains NaN or infinite samples")
    if np.max(np.abs(samples), initial=0.0) > MAX_SAMPLE_MAGNITUDE:
        raise FeatureError("audio out of range (samples far beyond full scale)")
    samples = samples.astype(np.float32, copy=False)
    if len(samples) < params.n_fft:
        raise _too_short(len(samples) / params.sample_rate, params)
    mfcc = spectrum.mfcc(
        samples,
        params.sample_rate,
        params.n_mfcc,
        params.n_fft,
        params.hop_length,
        params.n_mels,
        params.pad_mode,
    )
    if not np.all(np.isfinite(mfcc)):  # float audio far outside [-1, 1] overflows
        raise FeatureError("audio out of range (its features are not finite)")
    return np.ascontiguousarray(mfcc.T, dtype=np.float32)


def split_segments(
    sequence: np.ndarray, params: FeatureParams, hop_frames: int | None = None
) -> np.ndarray:
    """Cut a (frames, n_mfcc) sequence into fixed-length segments.

    Returns (n_segments, segment_frames, n_mfcc). A sequence shorter than
    one segment but at least ``min_frames`` long becomes a single shorter
    segment (the model accepts any length). The tail that does not fill a
    whole segment is dropped.
    """
    hop = hop_frames or params.segment_hop_frames
    frames = len(sequence)
    if frames < params.min_frames:
        raise _too_short(frames * params.hop_length / params.sample_rate, params)
    if frames < params.segment_frames:
        return sequence[np.newaxis]
    starts = range(0, frames - params.segment_frames + 1, hop)
    return np.stack([sequence[s : s + params.segment_frames] for s in starts])


def segments_from_windows(
    windows: list[np.ndarray], params: FeatureParams
) -> np.ndarray:
    """Segments of every decoded window of a track, stacked.

    Returns (n_segments, frames, n_mfcc); see :func:`segments_per_window`.
    """
    return np.concatenate(segments_per_window(windows, params))


def segments_per_window(
    windows: list[np.ndarray], params: FeatureParams
) -> list[np.ndarray]:
    """The segments of each decoded window of a track, (n, frames, n_mfcc) each.

    A window shorter than ``min_frames`` gets no segments (an empty array) as
    long as another window yields some, and so does a short tail window next
    to full ones. Digital silence has no genre: it raises FeatureError.
    """
    if all(np.max(np.abs(window), initial=0.0) < SILENCE_PEAK for window in windows):
        raise FeatureError("the audio is silent")
    parts: list[np.ndarray | None] = []
    for window in windows:
        try:
            parts.append(split_segments(mfcc_sequence(window, params), params))
        except FeatureError:
            if len(windows) == 1:
                raise
            parts.append(None)
    lengths = {part.shape[1] for part in parts if part is not None}
    if not lengths:
        raise FeatureError("no window long enough to analyse")
    full = max(lengths)
    none = np.empty((0, full, params.n_mfcc), np.float32)
    return [part if part is not None and part.shape[1] == full else none for part in parts]


@dataclass(frozen=True)
class LogMelParams(_Stored):
    """How audio becomes musicnn's input: compressed log-mel patches.

    sample_rate: audio is resampled to this rate (Hz) before analysis.
    n_fft, hop_length: STFT window and hop, in samples.
    n_mels: mel bands (Slaney's mel scale and normalisation, as librosa's).
    pad_mode: STFT edge padding ('constant': zeros, librosa's default; or 'reflect').
    log_gain: bands become log10(log_gain * power + 1).
    patch_frames: frames per model input patch (187 = 3 s), patches do not overlap.
    min_frames: shortest spectrogram worth classifying (shorter audio fails);
        one shorter than a patch is repeated to fill one.
    """

    name: ClassVar[str] = "logmel"

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    pad_mode: str = "constant"
    log_gain: float = 10000.0
    patch_frames: int = 187
    min_frames: int = 94

    def segments_per_window(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        """The patches of each decoded window, (n, patch_frames, n_mels) each;
        as :func:`segments_per_window` for a window too short or silence."""
        return _per_window(
            windows, lambda window: logmel_patches(window, self), (self.patch_frames, self.n_mels)
        )


def logmel_patches(samples: np.ndarray, params: LogMelParams) -> np.ndarray:
    """Non-overlapping log-mel patches of mono ``samples`` at ``params.sample_rate``.

    Returns float32 (n_patches, patch_frames, n_mels); the tail that does not
    fill a whole patch is dropped. musicnn rounds the power spectrogram to
    float16 and compresses it in float16, which overflows to infinity for
    bands above 6.55 (loud music); here the compression is done in float32.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise FeatureError(f"expected mono audio, got shape {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise FeatureError("audio contains NaN or infinite samples")
    if np.max(np.abs(samples), initial=0.0) > MAX_SAMPLE_MAGNITUDE:
        raise FeatureError("audio out of range (samples far beyond full scale)")
    frames = 1 + len(samples) // params.hop_length  # centred STFT
    if len(samples) < params.n_fft or frames < params.min_frames:
        raise _too_short(len(samples) / params.sample_rate, params)
    power = spectrum.mel_spectrogram(
        samples.astype(np.float32, copy=False),
        params.sample_rate,
        params.n_fft,
        params.hop_length,
        params.n_mels,
        params.pad_mode,
    )
    logmel = np.log10(params.log_gain * power.T + 1, dtype=np.float32)
    if not np.all(np.isfinite(logmel)):
        raise FeatureError("audio out of range (its features are not finite)")
    if len(logmel) < params.patch_frames:
        logmel = np.resize(logmel, (params.patch_frames, params.n_mels))  # repeats the frames
    n_patches = len(logmel) // params.patch_frames
    patches = logmel[: n_patches * params.patch_frames]
    return np.ascontiguousarray(
        patches.reshape(n_patches, params.patch_frames, params.n_mels), dtype=np.float32
    )


def _per_window(
    windows: list[np.ndarray], patches: Callable[[np.ndarray], np.ndarray], shape: tuple[int, int]
) -> list[np.ndarray]:
    """``patches`` of each window; a window that gives none gets an empty
    array as long as another gives some. Digital silence raises FeatureError."""
    if all(np.max(np.abs(window), initial=0.0) < SILENCE_PEAK for window in windows):
        raise FeatureError("the audio is silent")
    parts = []
    for window in windows:
        try:
            parts.append(patches(window))
        except FeatureError:
            if len(windows) == 1:
                raise
            parts.append(np.empty((0, *shape), np.float32))
    if not any(len(part) for part in parts):
        raise FeatureError("no window long enough to analyse")
    return parts


FRONTENDS.update({params.name: params for params in (FeatureParams, LogMelParams)})
