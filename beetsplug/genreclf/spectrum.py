"""Power, mel and MFCC spectrograms in NumPy alone, as librosa 0.11 computes them.

The two front-ends need only these few lines of librosa, but importing
librosa (scipy.signal, numba) cost every worker process about 1.2 s at the
start of each run, before its first track. The results equal librosa's
``melspectrogram`` and ``mfcc`` (Slaney mel scale and normalisation, periodic
Hann window, centred frames, ``power_to_db`` with ``top_db`` 80, orthonormal
DCT-II) to float32 rounding; ``tests/test_spectrum.py`` compares them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Slaney's mel scale: linear below 1 kHz, logarithmic above.
MEL_LINEAR_HZ_PER_MEL = 200.0 / 3
MEL_LOG_START_HZ = 1000.0
MEL_LOG_START = MEL_LOG_START_HZ / MEL_LINEAR_HZ_PER_MEL
MEL_LOG_STEP = np.log(6.4) / 27.0
DB_FLOOR_POWER = 1e-10  # librosa's amin
DB_RANGE = 80.0  # librosa's top_db


def power_spectrogram(
    samples: np.ndarray, n_fft: int, hop_length: int, pad_mode: str
) -> np.ndarray:
    """|STFT|² of float32 ``samples``, (1 + n_fft // 2, frames); frames are
    centred (the signal padded by n_fft // 2 on each side) and Hann-windowed."""
    padded = np.pad(samples, n_fft // 2, mode=pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = np.fft.rfft(frames * _hann(n_fft), axis=-1)
    power = np.abs(spectrum) ** 2  # float32 with NumPy 2's FFT, float64 before it
    return np.ascontiguousarray(power.T, dtype=np.float32)


def mel_spectrogram(
    samples: np.ndarray, sample_rate: int, n_fft: int, hop_length: int, n_mels: int, pad_mode: str
) -> np.ndarray:
    """The power spectrogram in ``n_mels`` bands, (n_mels, frames)."""
    power = power_spectrogram(samples, n_fft, hop_length, pad_mode)
    return mel_filters(sample_rate, n_fft, n_mels) @ power


def mfcc(
    samples: np.ndarray,
    sample_rate: int,
    n_mfcc: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    pad_mode: str,
) -> np.ndarray:
    """Mel-frequency cepstral coefficients, (n_mfcc, frames)."""
    mel = mel_spectrogram(samples, sample_rate, n_fft, hop_length, n_mels, pad_mode)
    decibels = 10.0 * np.log10(np.maximum(DB_FLOOR_POWER, mel))
    decibels = np.maximum(decibels, decibels.max() - DB_RANGE)
    return _dct_matrix(n_mels, n_mfcc) @ decibels


@lru_cache(maxsize=8)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular mel filters from 0 Hz to Nyquist, each scaled to unit
    area (Slaney), float32 (n_mels, 1 + n_fft // 2)."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges_hz = _mel_to_hz(np.linspace(0.0, _hz_to_mel(sample_rate / 2.0), n_mels + 2))
    widths = np.diff(edges_hz)
    ramps = np.subtract.outer(edges_hz, fft_hz)
    rising = -ramps[:-2] / widths[:-1, np.newaxis]
    falling = ramps[2:] / widths[1:, np.newaxis]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, np.newaxis]
    return filters.astype(np.float32)


def _hz_to_mel(hz: float) -> float:
    if hz < MEL_LOG_START_HZ:
        return hz / MEL_LINEAR_HZ_PER_MEL
    return MEL_LOG_START + np.log(hz / MEL_LOG_START_HZ) / MEL_LOG_STEP


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    linear = mels * MEL_LINEAR_HZ_PER_MEL
    logarithmic = MEL_LOG_START_HZ * np.exp(MEL_LOG_STEP * (mels - MEL_LOG_START))
    return np.where(mels >= MEL_LOG_START, logarithmic, linear)


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    """The periodic Hann window (the spectral-analysis one), float32."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


@lru_cache(maxsize=8)
def _dct_matrix(n_inputs: int, n_outputs: int) -> np.ndarray:
    """The first ``n_outputs`` rows of the orthonormal DCT-II, float32."""
    k = np.arange(n_outputs)[:, np.newaxis]
    n = np.arange(n_inputs)[np.newaxis, :]
    matrix = np.sqrt(2.0 / n_inputs) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_inputs))
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)
