"""A benchmark corpus that looks like a user's library: 3–5 minute tracks of
music-like audio (chords over a beat, with some noise), 44.1 kHz stereo, in
MP3, FLAC and Ogg Vorbis.

Encoding minutes of MP3/Vorbis is slow, so a pool of unique tracks is
generated once (cached under ``benchmarks/corpus/``) and a corpus is made of
copies of the pool, round-robin over the formats. The analysis cache knows a
copy by its audio, so a throughput corpus needs as many unique tracks as it
has tracks; copies only serve runs that measure something else (memory).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from tests.audiogen import synthesize, write_audio

CACHE = Path(__file__).resolve().parent / "corpus"
FORMATS = (".mp3", ".flac", ".ogg")
ENCODER = {  # bit rates of typical downloads and rips
    ".mp3": {"compression_level": 0.4, "bitrate_mode": "CONSTANT"},  # 192 kbit/s CBR
    ".ogg": {"compression_level": 0.2},  # about 140 kbit/s VBR
    ".flac": {},
}
SAMPLE_RATE = 44100


def music_like(seconds: float, seed: int) -> np.ndarray:
    """Chords over a beat with a little noise: broadband, tonal, rhythmic."""
    chords = synthesize("chords", seconds, SAMPLE_RATE, seed=seed)
    beats = synthesize("beats", seconds, SAMPLE_RATE, seed=seed + 1)
    noise = synthesize("noise", seconds, SAMPLE_RATE, seed=seed + 2)
    return (0.5 * chords + 0.4 * beats + 0.1 * noise).astype(np.float32)


def pool(unique: int = 12, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """``unique`` generated tracks (cached), ``formats`` round-robin."""
    folder = CACHE / "pool"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    durations = rng.uniform(180, 300, unique)
    paths = [folder / f"track{i:03d}{formats[i % len(formats)]}" for i in range(unique)]
    missing = [(p, d, i) for i, (p, d) in enumerate(zip(paths, durations)) if not p.exists()]
    if missing:
        print(f"generating {len(missing)} pool tracks (once; cached in {folder})", flush=True)
        Parallel(n_jobs=-1)(delayed(_generate)(p, d, i) for p, d, i in missing)
    return paths


def _generate(path: Path, seconds: float, seed: int) -> None:
    partial = path.with_suffix(".part" + path.suffix)
    audio = music_like(seconds, seed * 10)
    write_audio(partial, audio, SAMPLE_RATE, channels=2, **ENCODER[path.suffix])
    partial.rename(path)


def make_corpus(folder: Path, sources: list[Path], count: int, link: bool = False) -> list[Path]:
    """``count`` tracks in ``folder``: copies (or hard links) of ``sources``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tracks = []
    for index in range(count):
        source = sources[index % len(sources)]
        target = folder / f"{index:05d}{source.suffix}"
        if link:
            os.link(source, target)
        else:
            shutil.copyfile(source, target)
        tracks.append(target)
    return tracks


def music_files(folder: Path) -> list[Path]:
    """Audio files under a user's ``--music`` folder, sorted."""
    suffixes = {".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wav", ".aif", ".aiff"}
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes)
