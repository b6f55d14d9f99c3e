"""Not-music audio, and music with speech over it, for the ``nonmusic`` label.

    python -m training.common.nonmusic --out training/cache/nonmusic [--music ../shared/gtzan]

Everything is generated here, deterministically from a seed, from numpy and
these Debian packages (``apt-get install`` them first; ``make nonmusic`` says
which are missing):

- speech: ``espeak-ng`` (many languages and voice variants), ``flite`` (its
  five built-in voices) and ``festival`` (``text2wave``), reading English
  prose from ``/usr/share/common-licenses``; each clip plain, or with room
  noise, reverberation, a telephone band or a changed speed (``sox``);
- sound effects and ambience: the sound files (never the music) of the game
  data packages in ``EFFECT_PACKAGES`` and of ``sound-theme-freedesktop``,
  several strung together with pauses, some over a bed of noise;
- noise (white, pink, brown, rain-like crackle, wind), test tones (sines,
  sweeps, DTMF, beeps, clicks) and near-silence with hiss.

The ``wesnoth``, ``flare`` and ``warzone2100`` data packages are kept for
evaluation and never read. Each clip is 20-40 s of 22 050 Hz mono written as
Ogg Vorbis, the codec of every music recording we train on, so that the codec
cannot tell music from the rest. ``manifest.csv`` lists each clip's file, its
``kind``, and its ``group`` (the voice, package or generator it came from):
the checks hold whole groups out, so a voice or a game is never on both sides.

Mixtures (``--music``): music clips with speech over them, 0 to 10 dB below
the music. A radio show or a song with a spoken intro is music, so a mixture
keeps its music's genre; ``mixtures.csv`` names the music clip it was made from.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from beetsplug.genreclf.audio import decode_whole

NONMUSIC_DIR = Path("training/cache/nonmusic")  # where `make nonmusic` writes
SAMPLE_RATE = 22_050
CLIP_SECONDS = (20.0, 40.0)
TEXTS = Path("/usr/share/common-licenses")
TEXT_FILES = ("GPL-3", "Apache-2.0", "LGPL-3", "MPL-2.0", "Artistic", "GFDL-1.3")
SPEECH_PACKAGES = ("espeak-ng", "flite", "festival", "sox")
EFFECT_PACKAGES = (
    "sound-theme-freedesktop",
    "minetest-data",
    "teeworlds-data",
    "chromium-bsu-data",
    "alienblaster-data",
    "pingus-data",
    "frozen-bubble-data",
    "lincity-ng-data",
    "extremetuxracer-data",
)
SOUND_SUFFIXES = (".ogg", ".oga", ".wav", ".flac", ".wv")
MUSIC_WORDS = ("music", "/mus/", "song", "track", "theme", "jingle", "soundtrack")
ESPEAK_LANGUAGES = (
    "en-us", "en-gb-x-rp", "de", "fr", "es", "it", "pt", "nl", "sv", "pl",
    "ru", "cs", "fi", "hu", "tr", "el", "ro", "da", "nb", "id",
)  # fmt: skip
ESPEAK_VARIANTS = ("m1", "m3", "m5", "m7", "f1", "f2", "f4", "croak", "klatt", "whisper")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
SPEECH_CLIPS = {"espeak-ng": 140, "flite": 50, "festival": 20}
EFFECT_CLIPS_PER_PACKAGE = 12
GENERATED_CLIPS = {"noise": 36, "tones": 36, "silence": 8}
MIXTURES = 150


@dataclass(frozen=True)
class Clip:
    file: str
    kind: str  # speech, effects, noise, tones, silence
    group: str  # held out together: a voice, a package, a generator


def missing_packages() -> list[str]:
    """Which of the packages this needs are not installed (dpkg's view)."""
    wanted = [*SPEECH_PACKAGES, *EFFECT_PACKAGES]
    found = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\n", *wanted],
        capture_output=True,
        text=True,
    ).stdout
    installed = {line.split()[0] for line in found.splitlines() if "ok installed" in line}
    return [p for p in wanted if p not in installed]


def sentences() -> list[str]:
    """Prose to read aloud: the sentences of common licence texts."""
    text = " ".join((TEXTS / name).read_text(errors="replace") for name in TEXT_FILES)
    words = " ".join(text.split())
    return [s.strip() + "." for s in words.split(".") if 40 < len(s.strip()) < 400]


def passage(rng: np.random.Generator, pool: list[str], words: int = 120) -> str:
    """Consecutive sentences from a random place, about ``words`` long."""
    start = int(rng.integers(len(pool)))
    chosen: list[str] = []
    while sum(len(s.split()) for s in chosen) < words:
        chosen.append(pool[(start + len(chosen)) % len(pool)])
    return " ".join(chosen)


def read_wav(path: Path) -> np.ndarray:
    return decode_whole(str(path), SAMPLE_RATE)


def speak(engine: str, voice: str, text: str, rng: np.random.Generator, work: Path) -> np.ndarray:
    """``text`` spoken by one engine and voice, at 22 050 Hz."""
    wav = work / "speech.wav"
    if engine == "espeak-ng":
        speed, pitch = int(rng.integers(120, 200)), int(rng.integers(20, 80))
        command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav)]
        subprocess.run([*command, text], check=True, capture_output=True)
    elif engine == "flite":
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True)
    else:
        (work / "text.txt").write_text(text)
        subprocess.run(["text2wave", "-o", str(wav), str(work / "text.txt")], check=True)
    return read_wav(wav)


def room(audio: np.ndarray, rng: np.random.Generator, work: Path) -> np.ndarray:
    """Speech as it is recorded: plain, reverberant, telephone-band, faster or
    slower (``sox``), or over room noise."""
    effect = rng.choice(["plain", "reverb", "telephone", "tempo", "noise"])
    if effect == "plain":
        return audio
    if effect == "noise":
        return audio + brown_noise(len(audio), rng) * 10 ** (-rng.uniform(1.5, 3.0)) * 10
    source, target = work / "in.wav", work / "out.wav"
    soundfile.write(source, audio, SAMPLE_RATE)
    arguments = {
        "reverb": ["reverb", str(int(rng.integers(30, 90)))],
        "telephone": ["sinc", "300-3400"],
        "tempo": ["tempo", f"{rng.uniform(0.8, 1.25):.2f}"],
    }[str(effect)]
    subprocess.run(["sox", str(source), str(target), *arguments], check=True)
    return read_wav(target)


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def coloured_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (1: pink, 2: brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n)
    return noise / (np.abs(noise).max() + 1e-9)


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return coloured_noise(n, rng, 2.0)


def rain(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink hiss with a random crackle of drops."""
    drops = np.zeros(n)
    where = rng.integers(0, n, size=int(n / SAMPLE_RATE * rng.uniform(50, 400)))
    drops[where] = rng.uniform(-1, 1, size=len(where))
    decay = np.exp(-np.arange(200) / rng.uniform(10, 60))
    return 0.5 * coloured_noise(n, rng, 1.0) + np.convolve(drops, decay, mode="same")


def wind(n: int, rng: np.random.Generator) -> np.ndarray:
    """Brown noise under a slow random gust envelope."""
    gusts = np.interp(np.arange(n), np.linspace(0, n, 12), rng.uniform(0.1, 1.0, 12))
    return brown_noise(n, rng) * gusts


NOISES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "white": white_noise,
    "pink": lambda n, rng: coloured_noise(n, rng, 1.0),
    "brown": brown_noise,
    "rain": rain,
    "wind": wind,
}


def tone(n: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """One kind of test signal, and its name."""
    t = np.arange(n) / SAMPLE_RATE
    kind = str(rng.choice(["sine", "sweep", "dtmf", "beeps", "clicks", "square"]))
    if kind == "sine":
        signal = np.sin(2 * np.pi * rng.choice([50, 100, 440, 1000, 3000, 10000]) * t)
    elif kind == "square":
        signal = np.sign(np.sin(2 * np.pi * rng.uniform(100, 2000) * t))
    elif kind == "sweep":
        low, high = rng.uniform(20, 200), rng.uniform(2000, 10000)
        duration = t[-1] + 1 / SAMPLE_RATE
        signal = np.sin(
            2 * np.pi * low * duration / np.log(high / low) * ((high / low) ** (t / duration) - 1)
        )
    elif kind == "dtmf":
        rows, columns = rng.choice([697, 770, 852, 941], n), rng.choice([1209, 1336, 1477], n)
        on = (t % 0.25) < 0.12
        signal = on * (
            np.sin(2 * np.pi * rows[(t / 0.25).astype(int)] * t)
            + np.sin(2 * np.pi * columns[(t / 0.25).astype(int)] * t)
        )
    elif kind == "beeps":
        period = rng.uniform(0.5, 2.0)
        signal = ((t % period) < 0.2) * np.sin(2 * np.pi * rng.choice([800, 1000, 1500]) * t)
    else:
        signal = np.zeros(n)
        signal[:: int(SAMPLE_RATE * rng.uniform(0.2, 1.2))] = 1.0
    return kind, signal


def sound_files(package: str) -> list[Path]:
    """The package's sound files that are not music, sorted."""
    listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout
    return sorted(
        Path(line)
        for line in listed.splitlines()
        if line.lower().endswith(SOUND_SUFFIXES)
        and not any(word in line.lower() for word in MUSIC_WORDS)
        and Path(line).is_file()
    )


def strung(files: list[Path], seconds: float, rng: np.random.Generator) -> np.ndarray | None:
    """Random sound files one after another with pauses, ``seconds`` long."""
    total = int(seconds * SAMPLE_RATE)
    out, at = np.zeros(total), 0
    for _ in range(200):
        if at >= total:
            break
        try:
            sound = read_wav(files[int(rng.integers(len(files)))])[: 8 * SAMPLE_RATE]
        except Exception:  # one unreadable game file costs only itself
            continue
        sound = sound[: total - at]
        out[at : at + len(sound)] = sound / (np.abs(sound).max() + 1e-9) * rng.uniform(0.2, 1.0)
        at += len(sound) + int(rng.uniform(0.1, 2.0) * SAMPLE_RATE)
    return out if np.abs(out).max() > 0 else None


def normalised(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Peak at -1 to -20 dBFS: quiet recordings exist too."""
    peak = 10 ** (-rng.uniform(1, 20) / 20)
    return (audio / (np.abs(audio).max() + 1e-9) * peak).astype(np.float32)


def write(path: Path, audio: np.ndarray) -> None:
    soundfile.write(path, audio, SAMPLE_RATE, format="OGG", subtype="VORBIS")


def seconds(rng: np.random.Generator) -> float:
    return float(rng.uniform(*CLIP_SECONDS))


def speech_voices() -> list[tuple[str, str]]:
    """(engine, voice) pairs, each a group of its own."""
    espeak = [(lang, variant) for lang in ESPEAK_LANGUAGES for variant in ESPEAK_VARIANTS]
    voices = [("espeak-ng", f"{lang}+{variant}") for lang, variant in espeak]
    return voices + [("flite", v) for v in FLITE_VOICES] + [("festival", "kal_diphone")]


def speech_clip(engine: str, voice: str, pool, rng, work: Path) -> np.ndarray:
    """About ``seconds`` of one voice reading, pauses between passages."""
    wanted = int(seconds(rng) * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    while sum(len(p) for p in parts) < wanted:
        parts.append(room(speak(engine, voice, passage(rng, pool), rng, work), rng, work))
        parts.append(np.zeros(int(rng.uniform(0.2, 1.5) * SAMPLE_RATE)))
    return np.concatenate(parts)[:wanted]


def make_speech(out: Path, rng, work: Path) -> list[Clip]:
    pool, voices, clips = sentences(), speech_voices(), []
    for engine, count in SPEECH_CLIPS.items():
        options = [v for e, v in voices if e == engine]
        for index in range(count):
            voice = options[int(rng.integers(len(options)))]
            name = f"speech/{engine}-{index:03d}.ogg"
            write(out / name, normalised(speech_clip(engine, voice, pool, rng, work), rng))
            language = voice.split("+")[0]
            clips.append(Clip(name, "speech", f"{engine}:{language}"))
    return clips


def make_effects(out: Path, rng) -> list[Clip]:
    clips = []
    for package in EFFECT_PACKAGES:
        files = sound_files(package)
        for index in range(EFFECT_CLIPS_PER_PACKAGE if files else 0):
            audio = strung(files, seconds(rng), rng)
            if audio is None:
                continue
            if rng.random() < 0.3:  # ambience: a bed of wind or rain under it
                bed = NOISES[str(rng.choice(["wind", "rain", "pink"]))](len(audio), rng)
                audio = audio + 0.1 * bed
            name = f"effects/{package}-{index:02d}.ogg"
            write(out / name, normalised(audio, rng))
            clips.append(Clip(name, "effects", f"package:{package}"))
    return clips


def make_generated(out: Path, rng) -> list[Clip]:
    clips = []
    for index in range(GENERATED_CLIPS["noise"]):
        kind = list(NOISES)[index % len(NOISES)]
        n = int(seconds(rng) * SAMPLE_RATE)
        name = f"noise/{kind}-{index:02d}.ogg"
        write(out / name, normalised(NOISES[kind](n, rng), rng))
        clips.append(Clip(name, "noise", f"noise:{kind}"))
    for index in range(GENERATED_CLIPS["tones"]):
        kind, signal = tone(int(seconds(rng) * SAMPLE_RATE), rng)
        name = f"tones/{kind}-{index:02d}.ogg"
        write(out / name, normalised(signal + 1e-3 * white_noise(len(signal), rng), rng))
        clips.append(Clip(name, "tones", f"tones:{kind}"))
    for index in range(GENERATED_CLIPS["silence"]):
        n = int(seconds(rng) * SAMPLE_RATE)
        name = f"silence/hiss-{index:02d}.ogg"
        write(out / name, (white_noise(n, rng) * 10 ** -rng.uniform(3, 4)).astype(np.float32))
        clips.append(Clip(name, "silence", "silence"))
    return clips


def make_mixtures(out: Path, music: list[Path], speech: list[Path], rng) -> list[dict]:
    """Music with speech over it, the speech 0 to 10 dB below the music."""
    rows = []
    chosen = rng.choice(len(music), size=min(MIXTURES, len(music)), replace=False)
    for index, which in enumerate(sorted(chosen)):
        song = read_wav(music[which])
        voice = read_wav(speech[int(rng.integers(len(speech)))])
        n = min(len(song), len(voice))
        below = rng.uniform(0, 10)
        level = np.sqrt(np.mean(song[:n] ** 2) / (np.mean(voice[:n] ** 2) + 1e-12))
        mixed = song[:n] + voice[:n] * level * 10 ** (-below / 20)
        name = f"mixtures/{music[which].stem}.ogg"
        write(out / name, normalised(mixed, rng))
        rows.append({"file": name, "music": str(music[which]), "speech_below_db": round(below, 1)})
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def generate(out: Path, music: list[Path], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for folder in ("speech", "effects", "noise", "tones", "silence", "mixtures"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        clips = make_speech(out, rng, Path(scratch))
    clips += make_effects(out, rng) + make_generated(out, rng)
    write_csv(out / "manifest.csv", [c.__dict__ for c in clips])
    if music:
        speech = [out / c.file for c in clips if c.kind == "speech"]
        write_csv(out / "mixtures.csv", make_mixtures(out, music, speech, rng))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m training.common.nonmusic", description=__doc__)
    parser.add_argument("--out", type=Path, default=NONMUSIC_DIR)
    parser.add_argument("--music", type=Path, help="GTZAN's audio/: clips to put speech over")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if missing := missing_packages():
        sys.exit(f"missing Debian packages: apt-get install {' '.join(missing)}")
    music = sorted(args.music.glob("*/*.*")) if args.music else []
    generate(args.out, music, args.seed)


if __name__ == "__main__":
    main()
