"""Labelled clips on disk, and the split lists that fold them.

A clip's label is the name of the folder it sits in, so ``<label>/<files>``,
GTZAN's ``genres/<genre>/<genre>.000NN.au`` and ``genres_original/<genre>/...``
all work when given their top folder. Split lists (one clip per line,
``blues/blues.00029.wav``) are matched by file stem.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = frozenset(
    {".wav", ".au", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff"}
)


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    clip_id: str  # file stem, e.g. "blues.00029"
    source: str  # where it was found, e.g. "gtzan"


def find_clips(root: Path, source: str) -> list[Clip]:
    """Every audio file under ``root``, labelled by its parent folder.

    A clip id found twice (a copy holding both ``genres/`` and
    ``genres_original/``) is kept once.
    """
    clips: dict[tuple[str, str], Clip] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            clip = Clip(path, path.parent.name, path.stem, source)
            clips.setdefault((clip.label, clip.clip_id), clip)
    return list(clips.values())


def read_split_lists(directory: Path) -> dict[str, str]:
    """Clip id -> list name (file stem without ``_filtered``) for ``*.txt`` lists."""
    fold_of: dict[str, str] = {}
    for path in sorted(directory.glob("*.txt")):
        name = path.stem.removesuffix("_filtered")
        for line in path.read_text().split():
            fold_of[Path(line).stem] = name
    return fold_of


def data_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """An entry point's parser, with the two data folders (``--gtzan``, ``--extra``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--gtzan", type=Path, default=Path("../shared/gtzan"))
    parser.add_argument("--extra", type=Path, default=Path("../shared/extra"))
    return parser
