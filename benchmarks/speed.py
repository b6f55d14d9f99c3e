"""How fast is `beet genreclf`, against a naive baseline and against the floor?

    python -m benchmarks.speed [--music DIR] [--tracks 100] [--scale-tracks 2000]
                               [--model accurate] [--other-models fast]
                               [--windows N] [--window-seconds S]

Measures on the same files, in one run:
  full path   `beet genreclf -w` on a real beets library (database and tag
              writes included), with 1 worker and with all cores;
  baseline    what a tutorial would write: librosa.load the whole file, MFCCs
              of each 3 s segment one by one, one call of the MFCC networks
              (`mfcc`) per segment, one process;
  models      the full path with all cores for each of --other-models;
  floor       what a worker does (decode the analysed windows, compute
              their MFCCs, run the model), nothing else, worker pool
              already started; with 1 and all cores;
  start-up    the full path on 2 tracks: the fixed cost of a run (beets,
              the model, worker processes starting);
  scale       the full path on --scale-tracks tracks, for peak memory;
  re-run      `beet genreclf` over --skip-items items already analysed.
and prints throughput, peak memory (resident set of the whole process tree)
and the ratios. Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import beets
import numpy as np
import psutil
from beets.library import Item, Library

from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.model import DEFAULT_MODEL, GenreModel, model_path, recommended_windows
from beetsplug.genreclf.run import setup_name

from .corpus import CACHE, make_corpus, music_files, pool

BEET = Path(sys.executable).with_name("beet")
CORES = os.cpu_count() or 1


@dataclass
class Measurement:
    name: str
    tracks: int
    seconds: float
    peak_rss_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.tracks / self.seconds

    def row(self) -> str:
        rss = f"{self.peak_rss_mb:8.0f}" if self.peak_rss_mb is not None else "       -"
        return f"{self.name:<28} {self.tracks:>7} {self.seconds:>9.1f} {self.rate:>9.2f} {rss}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--music", type=Path, help="use your files (copied; never written)")
    parser.add_argument("--tracks", type=int, default=300, help="throughput corpus size")
    parser.add_argument("--baseline-tracks", type=int, default=12)
    parser.add_argument("--scale-tracks", type=int, default=2000, help="0 to skip")
    parser.add_argument("--skip-items", type=int, default=10000, help="0 to skip")
    parser.add_argument("--jobs", type=int, default=CORES, help="'all cores' means this")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="packaged model measured")
    parser.add_argument("--windows", type=int, help="its windows per track (default: its own)")
    parser.add_argument("--window-seconds", type=float, help="their length (default: its own)")
    parser.add_argument("--other-models", default="", help="also their full path, comma-separated")
    parser.add_argument("--formats", default="mp3,flac,ogg", help="generated corpus formats")
    parser.add_argument(
        "--compare-mood", action="store_true", help="also the full path with mood: no"
    )
    parser.add_argument(
        "--backend",
        choices=("loky", "threading", "dask"),
        default="loky",
        help="also run the full path on this backend (dask: a LocalCluster)",
    )
    args = parser.parse_args()

    beets.config["create_backup_before_migrations"] = False
    work = CACHE / "runs"
    formats = {f".{name.strip().lstrip('.')}" for name in args.formats.split(",")}
    if args.music:
        sources = music_files(args.music)[: args.tracks]
    else:
        sources = pool(args.tracks, tuple(sorted(formats)))  # unique: copies hit the cache
    if not sources:
        sys.exit(f"no audio files under {args.music}")
    print(machine_line())
    model = GenreModel(model_path(args.model))
    count, seconds = recommended_windows(args.model, model)
    windows = WindowPolicy(
        window_seconds=args.window_seconds or seconds, max_windows=args.windows or count
    )
    print(f"model: {args.model} ({model.identity}), windows {setup_name('', windows).strip()}")
    results = []

    tracks = make_corpus(work / "tracks", sources, args.tracks)
    print(f"corpus: {len(tracks)} tracks, {corpus_summary(tracks)}\n", flush=True)
    chosen = windows if args.windows or args.window_seconds else None  # else `auto`
    path = partial(full_path, model=args.model, windows=chosen)
    startup = path(work / "startup", tracks[:2], jobs=args.jobs, name="start-up: 2 tracks")
    one = path(work / "full-1", tracks, jobs=1, name="full path, 1 worker")
    full = path(work / "full-n", tracks, jobs=args.jobs, name=f"full path, {args.jobs} workers")
    floor_one = floor(tracks, model, windows, 1)
    floor_run = floor(tracks, model, windows, args.jobs)
    naive = baseline(
        tracks[:: max(1, len(tracks) // args.baseline_tracks)][: args.baseline_tracks],
        GenreModel(model_path("mfcc")),
    )
    results += [startup, one, full, floor_one, floor_run, naive]
    others = [
        full_path(
            work / f"full-{name}", tracks, jobs=args.jobs, model=name,
            name=f"full path, {args.jobs} workers, {name}",
        )
        for name in filter(None, args.other_models.split(","))
    ]
    results += others
    without_mood = None
    if args.compare_mood:
        without_mood = path(
            work / "full-nomood", tracks, jobs=args.jobs, mood=False,
            name=f"full path, {args.jobs} workers, mood: no",
        )
        results.append(without_mood)
    other = None
    if args.backend != "loky":
        other = path(
            work / "full-other",
            tracks,
            jobs=args.jobs,
            backend=args.backend,
            name=f"full path, {args.jobs} workers, {args.backend}",
        )
        results.append(other)
    scale = None
    if args.scale_tracks:
        small = path(work / "small", tracks[:100], jobs=args.jobs, name="memory: 100 tracks")
        results.append(small)
        linked = make_corpus(work / "scale", tracks, args.scale_tracks, link=True)
        scale = path(
            work / "full-scale",
            linked,
            jobs=args.jobs,
            name=f"full path, {args.jobs} workers",
            copy=False,
        )
        results.append(scale)
    rerun = (
        skip_run(
            work / "skip", tracks, args.model, setup_name(model.identity, windows), args.skip_items
        )
        if args.skip_items
        else None
    )
    if rerun:
        results.append(rerun)

    print(f"\n{'run':<28} {'tracks':>7} {'seconds':>9} {'tracks/s':>9} {'peak MB':>8}")
    for result in results:
        print(result.row())
    print()
    print(f"speed-up over the naive baseline: {full.rate / naive.rate:6.1f}x")
    for other_run in others:
        print(f"  {other_run.name}: {other_run.rate / naive.rate:6.1f}x the naive baseline")
    print(f"efficiency against the floor:     {full.rate / floor_run.rate:6.0%}")
    if without_mood:
        print(f"time with mood against without:   {without_mood.rate / full.rate:6.1%}")
    if other:
        print(
            f"{args.backend} against loky:             {other.rate / full.rate:6.0%}"
            " of the throughput"
        )
    print(
        f"scaling 1 -> {args.jobs} workers:           {full.rate / one.rate:6.2f}x"
        f"  (floor: {floor_run.rate / floor_one.rate:.2f}x)"
    )
    if scale:
        print(f"efficiency at {scale.tracks} tracks:       {scale.rate / floor_run.rate:6.0%}")
        growth = scale.peak_rss_mb - small.peak_rss_mb
        print(f"peak RSS {small.tracks} -> {scale.tracks} tracks:   {growth:+6.0f} MB")
    if rerun:
        per_10k = rerun.seconds * 10000 / rerun.tracks
        print(f"re-run, nothing to do:           {per_10k:6.2f} s per 10,000 items")
    shutil.rmtree(work, ignore_errors=True)


# The corpus and the libraries.


def corpus_summary(tracks: list[Path]) -> str:
    import soundfile

    minutes = []
    for track in tracks:
        try:
            minutes.append(soundfile.info(str(track)).duration / 60)
        except soundfile.LibsndfileError:  # M4A and others: length not shown
            pass
    kinds = ", ".join(sorted({t.suffix for t in tracks}))
    return f"{kinds}, mean {np.mean(minutes):.1f} min per track" if minutes else kinds


def make_library(
    folder: Path,
    tracks: list[Path],
    copy: bool = True,
    backend: str = "loky",
    model: str = "",
    mood: bool = True,
    windows: WindowPolicy | None = None,
) -> Path:
    """A fresh beets library in ``folder`` holding (copies of) ``tracks``;
    ``windows`` None: the model's own."""
    shutil.rmtree(folder, ignore_errors=True)
    music = folder / "music"
    music.mkdir(parents=True)
    heard = (
        f"  windows: {windows.max_windows}\n  window_seconds: {windows.window_seconds:g}\n"
        if windows
        else ""
    )
    (folder / "config.yaml").write_text(
        f"directory: {music}\nlibrary: {folder / 'library.db'}\nplugins: genreclf\n"
        f"create_backup_before_migrations: no\ngenreclf:\n  auto: no\n  backend: {backend}\n"
        f"  model: '{model}'\n  mood: {'yes' if mood else 'no'}\n{heard}"
    )
    lib = Library(str(folder / "library.db"), str(music))
    with lib.transaction():
        for index, track in enumerate(tracks):
            target = music / f"{index:05d}{track.suffix}"
            shutil.copyfile(track, target) if copy else os.link(track, target)
            lib.add(Item.from_path(str(target)))
    lib._close()
    return folder


# The runs.


def full_path(
    folder: Path,
    tracks: list[Path],
    jobs: int,
    name: str,
    copy: bool = True,
    backend: str = "loky",
    model: str = "",
    mood: bool = True,
    windows: WindowPolicy | None = None,
) -> Measurement:
    """`beet genreclf -w -j JOBS` on a fresh library of ``tracks``."""
    make_library(
        folder, tracks, copy=copy, backend=backend, model=model, mood=mood, windows=windows
    )
    print(f"{name}: {len(tracks)} tracks ...", flush=True)
    seconds, peak = run_measured([str(BEET), "genreclf", "-w", "-j", str(jobs)], folder)
    return Measurement(name, len(tracks), seconds, peak)


def skip_run(folder: Path, tracks: list[Path], model: str, setup: str, items: int) -> Measurement:
    """`beet genreclf` over ``items`` items that the current model already
    analysed (their stored fields say so): it must skip without decoding."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(
        f"directory: {folder}\nlibrary: {folder / 'library.db'}\nplugins: genreclf\n"
        f"create_backup_before_migrations: no\ngenreclf:\n  model: '{model}'\n"
    )
    lib = Library(str(folder / "library.db"), str(folder))
    with lib.transaction():
        for index in range(items):
            item = Item(path=str(tracks[index % len(tracks)]), title=f"track {index}")
            item.update(
                {
                    "genreclf_model": setup,
                    "genreclf_genre": "rock",
                    "genreclf_confidence": 0.9,
                }
            )
            lib.add(item)
    lib._close()
    print(f"re-run over {items} analysed items ...", flush=True)
    seconds, peak = run_measured([str(BEET), "genreclf", "-W"], folder)
    return Measurement("re-run, all analysed", items, seconds, peak)


def run_measured(command: list[str], beetsdir: Path) -> tuple[float, float]:
    """Run ``command``; return wall seconds and the peak RSS (MB) of its
    process tree, sampled every 50 ms."""
    env = {**os.environ, "BEETSDIR": str(beetsdir)}
    start = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    output = process.stdout.read().decode(errors="replace")
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    print("  " + "\n  ".join(output.strip().splitlines()[-3:]), flush=True)
    return seconds, peak / 2**20


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def floor(tracks: list[Path], model: GenreModel, windows, jobs: int) -> Measurement:
    """Decode the analysed windows, compute MFCCs and predict in ``jobs``
    warm worker processes (one job: in this process), one BLAS thread each."""
    from joblib import Parallel, delayed, parallel_config
    from threadpoolctl import threadpool_limits

    from beetsplug.genreclf.analysis import analyse_file
    from beetsplug.genreclf.model import reference

    ref = reference(model)
    print(f"floor, {jobs} workers: {len(tracks)} tracks ...", flush=True)
    with (
        threadpool_limits(1),
        parallel_config(backend="loky", inner_max_num_threads=1),
        Parallel(n_jobs=jobs) as parallel,
    ):
        parallel(delayed(analyse_file)(str(t), ref, windows) for t in tracks[:jobs])
        start = time.perf_counter()
        results = parallel(delayed(analyse_file)(str(t), ref, windows) for t in tracks)
        seconds = time.perf_counter() - start
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    return Measurement(f"floor, {jobs} workers", len(tracks), seconds)


def baseline(tracks: list[Path], model: GenreModel) -> Measurement:
    """The tutorial way, one process, librosa warmed up first."""
    import librosa

    librosa.feature.mfcc(y=np.zeros(22050, np.float32), sr=22050)  # numba warm-up
    print(f"naive baseline, 1 process: {len(tracks)} tracks ...", flush=True)
    start = time.perf_counter()
    for track in tracks:
        naive_predict(track, model)
    return Measurement("naive baseline, 1 process", len(tracks), time.perf_counter() - start)


def naive_predict(path: Path, model: GenreModel) -> np.ndarray:
    import librosa

    audio, rate = librosa.load(path)  # the whole file, 22050 Hz mono
    segment = 3 * rate
    probabilities = []
    for start in range(0, len(audio) - segment + 1, segment):
        mfcc = librosa.feature.mfcc(
            y=audio[start : start + segment], sr=rate, n_mfcc=model.params.n_mfcc, n_fft=2048,
            hop_length=512,
        )
        segment_probabilities, _ = model.run(mfcc.T[np.newaxis])
        probabilities.append(segment_probabilities[0])
    return np.mean(probabilities, axis=0)


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{datetime.date.today()}  {cpu}, {CORES} cores, {memory:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
