"""Labelled tracks for the musicnn genre head, and their patch embeddings.

Two sources: GTZAN clips in the artist-filtered split lists (their list is
their fold and their artist group) and the extra real recordings of
``labels.csv``, grouped by the artist named in ``raw_label`` (``(artist:
NAME)``) or, where none is named, by file. Each track is decoded once, cut
into log-mel patches and run through the musicnn ONNX backbone; the per-patch
embeddings and tag probabilities are cached under ``training/cache``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import joblib
import numpy as np

from beetsplug.genreclf.audio import AudioError, decode_whole
from beetsplug.genreclf.features import FeatureError, LogMelParams, logmel_patches
from training.common.data import find_clips, read_split_lists

ARTIST = re.compile(r"\(artist:\s*([^)]+)\)")
BATCH_PATCHES = 64
NONMUSIC = "nonmusic"  # the label of everything that is not music
T = TypeVar("T")


@dataclass(frozen=True)
class Track:
    key: str  # GTZAN clip id, or the extra file's path under extra/
    path: Path
    label: str
    source: str  # "gtzan", "extra" or "nonmusic"
    group: str  # held out together: a GTZAN split list, an artist, a file, a not-music group
    origin: (
        str  # where it came from: "gtzan", "mixture", an extra row's source_repo, "nonmusic:<kind>"
    )


@dataclass(frozen=True)
class PatchFeatures:
    embedding: np.ndarray  # (n_patches, 200) float32, musicnn's penultimate layer
    tags: np.ndarray  # (n_patches, 50) float32, musicnn's MSD tag probabilities


def gtzan_tracks(root: Path) -> list[Track]:
    """GTZAN clips under ``root/audio`` that are in a list of ``root/splits``."""
    lists = read_split_lists(root / "splits")
    return [
        Track(c.clip_id, c.path, c.label, "gtzan", f"gtzan:{lists[c.clip_id]}", "gtzan")
        for c in find_clips(root / "audio", "gtzan")
        if c.clip_id in lists
    ]


def extra_tracks(root: Path) -> list[Track]:
    """The rows of ``root/labels.csv``, grouped by named artist or by file."""
    tracks = []
    for row in read_rows(root / "labels.csv"):
        artist = ARTIST.search(row["raw_label"])
        group = f"artist:{artist.group(1).strip().lower()}" if artist else f"file:{row['file']}"
        tracks.append(
            Track(row["file"], root / row["file"], row["genre"], "extra", group, row["source_repo"])
        )
    return tracks


def nonmusic_tracks(root: Path) -> list[Track]:
    """The generated not-music clips (``training.common.nonmusic``), grouped
    by the voice, package or generator they came from."""
    return [
        Track(
            f"nonmusic/{row['file']}",
            root / row["file"],
            NONMUSIC,
            "nonmusic",
            row["group"],
            f"nonmusic:{row['kind']}",
        )
        for row in read_rows(root / "manifest.csv")
    ]


def mixture_tracks(root: Path, gtzan: list[Track]) -> list[Track]:
    """GTZAN clips with speech over them: music, in their clip's genre and
    split list, so they are held out with it."""
    by_clip = {t.key: t for t in gtzan}
    found = []
    for row in read_rows(root / "mixtures.csv"):
        music = by_clip.get(Path(row["music"]).stem)
        if music is not None:
            key = f"nonmusic/{row['file']}"
            found.append(
                Track(key, root / row["file"], music.label, "gtzan", music.group, "mixture")
            )
    return found


def mood_tracks(root: Path) -> list[Track]:
    """The 4Q clips of ``root/moods.csv``, labelled by quadrant (Q1..Q4),
    grouped by artist as the genre rows are."""
    return [
        Track(
            row["file"],
            root / row["file"],
            row["quadrant"],
            "extra",
            f"artist:{row['artist'].strip().lower()}",
            row["source_repo"],
        )
        for row in read_rows(root / "moods.csv")
    ]


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as table:
        return list(csv.DictReader(table))


def backbone_outputs(
    path: Path, backbone: Path, params: LogMelParams, names: list[str]
) -> list[np.ndarray] | str:
    """The backbone's ``names`` outputs for every patch of the track, or why not."""
    import onnxruntime

    try:
        patches = logmel_patches(decode_whole(path, params.sample_rate), params)
    except (AudioError, FeatureError) as exc:
        return str(exc)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(backbone), options, providers=["CPUExecutionProvider"]
    )
    batches = [
        session.run(names, {"logmel": patches[i : i + BATCH_PATCHES]})
        for i in range(0, len(patches), BATCH_PATCHES)
    ]
    return [np.concatenate(per_output) for per_output in zip(*batches)]


def track_features(path: Path, backbone: Path, params: LogMelParams) -> PatchFeatures | str:
    """musicnn's embedding and tags for every patch of the track, or why not."""
    found = backbone_outputs(path, backbone, params, ["embedding", "tags"])
    return found if isinstance(found, str) else PatchFeatures(*found)


def cache_path(cache: Path, backbone: Path, params: LogMelParams) -> Path:
    """One cache file per backbone file and front-end parameters."""
    key = hashlib.sha256(backbone.read_bytes() + json.dumps(params.to_dict()).encode())
    return cache / f"patch-features-{key.hexdigest()[:12]}.joblib"


def embed_tracks(
    tracks: list[Track], backbone: Path, params: LogMelParams, cache: Path, jobs: int
) -> dict[str, PatchFeatures]:
    """Patch features per track key; unreadable tracks are reported and left out."""
    compute = partial(track_features, backbone=backbone, params=params)
    return cached_per_track(cache_path(cache, backbone, params), tracks, compute, "embedding", jobs)


def cached_per_track(
    path: Path, tracks: list[Track], compute: Callable[[Path], T | str], doing: str, jobs: int
) -> dict[str, T]:
    """``compute(track.path)`` per track key, kept in ``path`` (a joblib dict)
    and computed in parallel for the tracks it lacks; a track ``compute``
    could not read (a reason string) is reported and left out."""
    known: dict[str, T | str] = joblib.load(path) if path.is_file() else {}
    missing = [t for t in tracks if t.key not in known]
    if missing:
        print(f"{doing} {len(missing)} tracks", file=sys.stderr, flush=True)
        found = joblib.Parallel(n_jobs=jobs)(joblib.delayed(compute)(t.path) for t in missing)
        known.update({t.key: f for t, f in zip(missing, found)})
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(known, path)
    for track in tracks:
        if isinstance(known[track.key], str):
            print(f"skipped {track.key}: {known[track.key]}", file=sys.stderr)
    return {t.key: known[t.key] for t in tracks if not isinstance(known[t.key], str)}
