"""Audio augmentation: the ways users' files differ from GTZAN's clips.

Each augmented version draws, from one seeded generator, a random start
offset, either a pitch shift or a time stretch, a gain, additive noise and,
with some probability, a lossy codec round trip (MP3 or Ogg Vorbis).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import librosa
import numpy as np
import soundfile

CODECS = (("MP3", "MPEG_LAYER_III"), ("OGG", "VORBIS"))


@dataclass(frozen=True)
class AugmentParams:
    max_offset_s: float = 2.0  # drop up to this much from the start
    pitch_semitones: float = 2.0  # shift drawn from ±this
    stretch: float = 0.12  # rate drawn from 1 ± this
    gain_db: float = 6.0  # ±this
    snr_db: tuple[float, float] = (15.0, 40.0)  # white-noise SNR range
    codec_probability: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def augment(
    samples: np.ndarray, sample_rate: int, rng: np.random.Generator, params: AugmentParams
) -> np.ndarray:
    """One random variant of mono float32 ``samples``."""
    offset = int(rng.uniform(0, params.max_offset_s) * sample_rate)
    y = samples[offset:] if len(samples) - offset > sample_rate else samples
    if rng.random() < 0.5:
        steps = rng.uniform(-params.pitch_semitones, params.pitch_semitones)
        y = librosa.effects.pitch_shift(y, sr=sample_rate, n_steps=steps)
    else:
        rate = rng.uniform(1 - params.stretch, 1 + params.stretch)
        y = librosa.effects.time_stretch(y, rate=rate)
    y = y * 10 ** (rng.uniform(-params.gain_db, params.gain_db) / 20)
    y = np.clip(add_noise(y, rng.uniform(*params.snr_db), rng), -1.0, 1.0)
    if rng.random() < params.codec_probability:
        y = codec_round_trip(y, sample_rate, *CODECS[rng.integers(len(CODECS))])
    return y.astype(np.float32)


def add_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``samples`` plus white noise ``snr_db`` below their mean power."""
    power = float(np.mean(samples**2)) + 1e-12
    noise = rng.standard_normal(len(samples)) * np.sqrt(power / 10 ** (snr_db / 10))
    return samples + noise.astype(np.float32)


def codec_round_trip(
    samples: np.ndarray, sample_rate: int, container: str, subtype: str
) -> np.ndarray:
    """Encode to a lossy format in memory and decode back."""
    buffer = io.BytesIO()
    with soundfile.SoundFile(
        buffer, "w", sample_rate, 1, format=container, subtype=subtype
    ) as sound:
        # libsndfile can crash encoding long MP3/Ogg in one call: 1 s blocks
        for start in range(0, len(samples), sample_rate):
            sound.write(samples[start : start + sample_rate])
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32")
    return decoded[: len(samples)]
