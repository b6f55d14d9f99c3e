"""Music-like test audio, written in any format the plugin reads.

Each style has its own timbre and rhythm, so a classifier can tell them
apart: 'chords' (sustained harmonic tones), 'beats' (kick + noise hats at a
tempo), 'noise' (filtered noise swells).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

STYLES = ("chords", "beats", "noise")
SOUNDFILE_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".aiff": ("AIFF", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}


def synthesize(style: str, seconds: float, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """Mono float32 audio in [-1, 1] of the given style."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    if style == "chords":
        root = rng.uniform(110, 220)
        audio = sum(
            np.sin(2 * np.pi * root * ratio * t + rng.uniform(0, 6)) / (k + 1)
            for k, ratio in enumerate((1, 1.25, 1.5, 2, 3))
        )
        audio *= 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t)
    elif style == "beats":
        beat = 60 / rng.uniform(90, 140)
        phase = (t % beat) / beat
        kick = np.sin(2 * np.pi * 55 * t) * np.exp(-phase * 25)
        hats = rng.normal(0, 1, len(t)) * np.exp(-((t + beat / 2) % beat) / beat * 40)
        # A square-wave bass riff, a note a beat: drums alone are barely music.
        notes = rng.uniform(55, 82) * np.array([1, 1, 1.5, 1.33])[(t // beat).astype(int) % 4]
        bass = np.sign(np.sin(2 * np.pi * np.cumsum(notes) / sample_rate)) * np.exp(-phase * 4)
        audio = kick + 0.3 * hats + 0.35 * bass
    elif style == "noise":
        noise = rng.normal(0, 1, len(t))
        kernel = np.hanning(int(rng.integers(8, 64)))
        audio = np.convolve(noise, kernel / kernel.sum(), mode="same")
        audio *= 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
    else:
        raise ValueError(f"unknown style {style!r}")
    audio = audio / (np.max(np.abs(audio)) + 1e-9) * 0.8
    return audio.astype(np.float32)


def write_audio(
    path: Path, audio: np.ndarray, sample_rate: int = 44100, channels: int = 2, **encoder
) -> Path:
    """Write mono ``audio`` to ``path`` (format from the extension).

    ``encoder`` options (``compression_level``, ``bitrate_mode``) go to
    soundfile; they are ignored for M4A.
    """
    path = Path(path)
    frames = np.repeat(audio[:, np.newaxis], channels, axis=1)
    suffix = path.suffix.lower()
    if suffix == ".m4a":
        _write_aac(path, frames, sample_rate)
        return path
    container, subtype = SOUNDFILE_FORMATS[suffix]
    # libsndfile can crash encoding long Ogg/MP3 buffers in one call: 1 s blocks.
    with soundfile.SoundFile(
        path, "w", sample_rate, channels, subtype, format=container, **encoder
    ) as f:
        for start in range(0, len(frames), sample_rate):
            f.write(frames[start : start + sample_rate])
    return path


def write_track(path: Path, style: str, seconds: float = 8.0, seed: int = 0, **kwargs) -> Path:
    return write_audio(path, synthesize(style, seconds, seed=seed), **kwargs)


def _write_aac(path: Path, frames: np.ndarray, sample_rate: int) -> None:
    import av

    layout = "mono" if frames.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=sample_rate, layout=layout)
        for start in range(0, len(frames), 1024):
            chunk = np.ascontiguousarray(frames[start : start + 1024].T)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
