"""Labelled clips on disk and the folds they are evaluated in.

A clip's label is the name of the folder it sits in, so ``<label>/<files>``,
GTZAN's ``genres/<genre>/<genre>.000NN.au`` and ``genres_original/<genre>/...``
all work when given their top folder. Folds come from split lists (one clip
per line, ``blues/blues.00029.wav``) matched by file stem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

AUDIO_SUFFIXES = frozenset(
    {".wav", ".au", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff"}
)


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    clip_id: str  # file stem, e.g. "blues.00029"
    source: str  # "gtzan" (--data) or "extra" (--extra)


@dataclass(frozen=True)
class Folds:
    """Fold name per clip id; ``artist_disjoint`` says whether it came from
    artist-filtered split lists (True) or a stratified fallback (False)."""

    of_clip: dict[str, str]
    artist_disjoint: bool

    @property
    def names(self) -> list[str]:
        return sorted(set(self.of_clip.values()))


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


def assign_folds(clips: list[Clip], split_lists: dict[str, str], seed: int) -> Folds:
    """Folds from the split lists; clips in no list are left out.

    When no clip is in any list (someone's own music), fall back to a seeded
    stratified 3-fold split by clip, which is not artist-disjoint.
    """
    listed = {c.clip_id: split_lists[c.clip_id] for c in clips if c.clip_id in split_lists}
    if listed:
        return Folds(listed, artist_disjoint=True)
    labels = [c.label for c in clips]
    splitter = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    of_clip = {}
    for index, (_, held_out) in enumerate(splitter.split(np.zeros(len(clips)), labels)):
        of_clip.update({clips[i].clip_id: f"fold{index + 1}" for i in held_out})
    return Folds(of_clip, artist_disjoint=False)
