"""A singleton import (`beet import -s -A -q -c`) of generated tracks into a
fresh library with the plugin on: the code of git revision --old (each
singleton analysed alone in the import stage) against the current code
(singletons analysed together as their files are placed).

    python -m benchmarks.singleton_import [--files 100] [--seconds 10] [--rounds 1] [--old REV]

Each round imports the same files with the old code, then with the current
code, each into its own fresh library (so its own empty analysis cache).
The files are all distinct (one seed each), so no analysis is a cache hit.
Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.audiogen import STYLES, write_track

from .speed import BEET, machine_line

OLD_REVISION = "86de103"  # main before singletons were batched
CURRENT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100, help="tracks imported")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each track")
    parser.add_argument("--rounds", type=int, default=1, help="old/current pairs run")
    parser.add_argument("--old", default=OLD_REVISION, help="git revision of the old code")
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        incoming = generated(work / "incoming", args.files, args.seconds)
        old_code = checkout(args.old, work / "old")
        try:
            timings = {"old": [], "current": []}
            for round_ in range(args.rounds):
                for name, code in (("old", old_code), ("current", CURRENT)):
                    timings[name].append(imported(code, incoming, work / f"{name}{round_}"))
                    print(f"  {name:8} {timings[name][-1]:7.1f} s", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_code)], check=True)
    old, current = min(timings["old"]), min(timings["current"])
    print(f"singleton import of {args.files} x {args.seconds:g} s tracks (best of {args.rounds}):")
    print(f"  {f'old ({args.old})':16} {old:7.1f} s")
    print(f"  {'current':16} {current:7.1f} s")
    print(f"  {'speed-up':16} {old / current:7.2f}x")


def generated(folder: Path, count: int, seconds: float) -> Path:
    """``count`` distinct FLAC tracks, each with its own title (no duplicates)."""
    from mediafile import MediaFile

    folder.mkdir()
    print(f"generating {count} tracks of {seconds:g} s ...", flush=True)
    for index in range(count):
        path = write_track(folder / f"{index:03d}.flac", STYLES[index % len(STYLES)],
                           seconds=seconds, seed=index)
        media = MediaFile(path)
        media.update({"artist": "Benchmark", "title": f"Track {index}"})
        media.save()
    return folder


def checkout(revision: str, folder: Path) -> Path:
    """The whole repository at ``revision``, in a scratch git worktree."""
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), revision],
        check=True, capture_output=True,
    )
    return folder


def imported(code: Path, incoming: Path, folder: Path) -> float:
    """Wall seconds of a singleton import of ``incoming`` (copied) into a
    fresh library in ``folder``, the plugin imported from ``code``."""
    music = folder / "music"
    music.mkdir(parents=True)
    (folder / "config.yaml").write_text(
        f"directory: {music}\nlibrary: {folder / 'library.db'}\nplugins: genreclf\n"
        "create_backup_before_migrations: no\ngenreclf:\n  auto: yes\n"
    )
    env = {**os.environ, "BEETSDIR": str(folder), "PYTHONPATH": str(code)}
    command = [str(BEET), "import", "-s", "-A", "-q", "-c", str(incoming)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{output}")
    summary = [line for line in output.splitlines() if line.startswith("genreclf: analysed")]
    print(f"  {summary[-1] if summary else 'no genreclf summary'}")
    shutil.rmtree(folder)
    return seconds


if __name__ == "__main__":
    main()
