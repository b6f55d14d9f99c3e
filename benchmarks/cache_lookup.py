"""What the analysis cache costs per lookup, before and after it learned to
recognise a file's audio (a digest of its payload, tags left out).

    python -m benchmarks.cache_lookup [--items 10000] [--tracks 12] [--old REV]

Measures, in one run:
  path hits   --items lookups of files unchanged since cached (a no-op
              `beet genreclf -f` or `--learn`): the cache of git revision
              --old (path, size and mtime only) against the current one,
              each on its own database of the same entries; best of 3;
  tag edits   --tracks generated 30 s tracks whose tags were rewritten: the
              current cache finds each by its audio digest (reads the file),
              against what a miss costs (the analysis a worker would run:
              decode, features, model), one process.
Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
from mediafile import MediaFile

from beetsplug.genreclf import cache as current_cache
from beetsplug.genreclf.analysis import analyse_file
from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel, reference
from tests.audiogen import STYLES, write_track

OLD_REVISION = "d69575f"  # main before the audio digest
SETUP = "benchmark"
REPEATS = 3
FORMATS = (".mp3", ".flac", ".ogg", ".m4a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000, help="path-hit lookups")
    parser.add_argument("--tracks", type=int, default=12, help="tag-edited tracks")
    parser.add_argument("--old", default=OLD_REVISION, help="git revision of the old cache")
    args = parser.parse_args()
    old_cache = module_at(args.old, "beetsplug/genreclf/cache.py")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        files = tiny_files(work / "items", args.items)
        old = best_of(lambda: lookups(old_cache, work / "old.db", files))
        new = best_of(lambda: lookups(current_cache, work / "new.db", files))
        per = 10_000 / len(files)
        print(f"path hits, {len(files)} items (best of {REPEATS}), seconds per 10,000:")
        print(f"  old cache ({args.old}) {old * per:7.3f}")
        print(f"  current cache      {new * per:7.3f}")
        print(f"  ratio current/old  {new / old:7.2f}")
        tag_edits(work / "tracks", args.tracks)


def module_at(revision: str, path: str) -> ModuleType:
    """The module ``path`` as it was at git ``revision``."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    spec = importlib.util.spec_from_loader(f"cache_at_{revision}", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)
    return module


def tiny_files(folder: Path, count: int) -> list[bytes]:
    folder.mkdir()
    paths = []
    for index in range(count):
        path = folder / f"{index:06d}.mp3"
        path.write_bytes(index.to_bytes(4, "big"))
        paths.append(os.fsencode(path))
    return paths


def lookups(module: ModuleType, database: Path, files: list[bytes]) -> float:
    """Seconds for one lookup of each of ``files``, all cached before."""
    cache = module.AnalysisCache(database, SETUP)
    probabilities, embedding = np.zeros(10, np.float32), np.zeros(200, np.float32)
    if not database.with_suffix(".filled").exists():
        for path in files:
            cache.put(path, probabilities, embedding)
        cache.commit()
        database.with_suffix(".filled").touch()
    started = time.perf_counter()
    found = sum(cache.get(path) is not None for path in files)
    seconds = time.perf_counter() - started
    cache.close()
    assert found == len(files), f"{found} of {len(files)} found"
    return seconds


def best_of(measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(REPEATS))


def tag_edits(folder: Path, count: int) -> None:
    """Finding tag-edited tracks by their audio against analysing them."""
    folder.mkdir()
    tracks = [
        write_track(folder / f"{index:03d}{FORMATS[index % len(FORMATS)]}",
                    STYLES[index % len(STYLES)], seconds=30.0, seed=index)
        for index in range(count)
    ]
    model = GenreModel(DEFAULT_MODEL_PATH)
    windows = WindowPolicy(window_seconds=model.windows[1], max_windows=model.windows[0])
    ref = reference(model)
    analyse_file(os.fsdecode(tracks[0]), ref, windows)  # the model loaded: not timed
    started = time.perf_counter()
    predictions = [analyse_file(os.fsdecode(track), ref, windows).prediction for track in tracks]
    analysing = time.perf_counter() - started
    cache = current_cache.AnalysisCache(folder / "cache.db", SETUP)
    for track, prediction in zip(tracks, predictions):
        cache.put(os.fsencode(track), prediction.probabilities, prediction.embedding)
        media = MediaFile(track)
        media.update({"genres": ["Rock"], "title": "edited " * 200})
        media.save()
    started = time.perf_counter()
    found = sum(cache.get(os.fsencode(track)) is not None for track in tracks)
    by_audio = time.perf_counter() - started
    cache.close()
    print(f"tag-edited tracks, {count} x 30 s ({', '.join(FORMATS)}), seconds per track:")
    print(f"  analysed (decode, features, model) {analysing / count:7.4f}")
    print(f"  found by audio digest ({found}/{count})   {by_audio / count:7.4f}")
    print(f"  ratio analysed/found              {analysing / by_audio:7.1f}")


if __name__ == "__main__":
    sys.exit(main())
