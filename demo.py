"""`make demo`: classify music in a throwaway beets library under ./demo.

Without --music it generates a few short tracks (synthetic, so the genres it
prints only show the machinery working). With --music DIR it imports your
files *without copying or writing to them* and prints the predictions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mediafile import MediaFile

from tests.audiogen import write_track

DEMO = Path(__file__).resolve().parent / "demo"
GENERATED = [
    ("Harmonia", "Long Chords", "chords", ".flac"),
    ("Harmonia", "Slow Swell", "chords", ".mp3"),
    ("Kick Club", "Four on the Floor", "beats", ".mp3"),
    ("Kick Club", "Night Drive", "beats", ".ogg"),
    ("Static", "Tape Hiss", "noise", ".m4a"),
    ("Static", "White Room", "noise", ".wav"),
]
LISTING = "$artist - $title: $genreclf_genre ($genreclf_confidence) genres=[$genres] | $genreclf_top"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--music", type=Path, help="a folder of your own music (read only)")
    args = parser.parse_args()

    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    own_music = args.music is not None
    source = args.music.resolve() if own_music else generate_tracks(DEMO / "incoming")
    write_config(copy_and_write=not own_music)

    beet("import", "-A", "-q", str(source))
    print("\nPredictions stored in the library:")
    beet("ls", "-f", LISTING)
    print("\nQuery: beet ls genreclf_confidence:0.5..  (confident predictions)")
    beet("ls", "-f", LISTING, "genreclf_confidence:0.5..")
    if not own_music:
        first = next((DEMO / "library").rglob("*.flac"))
        print(f"\nGenre tag now in {first.relative_to(DEMO)}: {MediaFile(first).genres or []}")


def generate_tracks(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for seed, (artist, title, style, suffix) in enumerate(GENERATED):
        album = folder / artist
        album.mkdir(exist_ok=True)
        path = write_track(album / f"{title}{suffix}", style, seconds=20.0, seed=seed)
        media = MediaFile(path)
        media.update({"artist": artist, "title": title, "album": f"{artist} Demo"})
        media.save()
    return folder


def write_config(copy_and_write: bool) -> None:
    flag = "yes" if copy_and_write else "no"
    (DEMO / "config.yaml").write_text(
        f"directory: {DEMO / 'library'}\n"
        f"library: {DEMO / 'library.db'}\n"
        "plugins: genreclf\n"
        "create_backup_before_migrations: no\n"
        f"import:\n  copy: {flag}\n  write: {flag}\n  duplicate_action: keep\n"
        "genreclf:\n  mode: fill\n"
    )


def beet(*args: str) -> None:
    env = {**os.environ, "BEETSDIR": str(DEMO)}
    command = [str(Path(sys.executable).with_name("beet")), *args]
    subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
