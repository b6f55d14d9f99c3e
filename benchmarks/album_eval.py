"""Album genres against track genres, on pseudo-albums of labelled clips.

    python -m benchmarks.album_eval [--model PATH] [--gtzan DIR] [--extra DIR]

Each clip is analysed as tagging does (the model's front-end and its
recommended windows) and read through a standardised logistic regression on the model's
embedding, with out-of-fold predictions: folds group whole pseudo-albums, so
no album (~artist) is on both sides. Pseudo-albums: in ../shared/extra the
clips of one named artist; in GTZAN, runs of ALBUM_SIZE consecutive clip
numbers within a genre (GTZAN keeps an artist's clips mostly together; its
artists are not listed here). Prints track accuracy, and album accuracy for
each way of combining the tracks' probabilities, plus how many tracks end up
with the right genre when they follow their album.
"""

from __future__ import annotations

import argparse
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_config

from beetsplug.genreclf.analysis import analyse_file
from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel, reference

ALBUM_SIZE = 5
FOLDS = 5
ARTIST = re.compile(r"\(artist: ([^)]*)\)")


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    album: str
    source: str  # "gtzan" or "extra"


def gtzan_clips(root: Path) -> list[Clip]:
    clips = []
    for row in csv.DictReader(open(root / "manifest.csv")):
        number = int(row["clip"].split(".")[1])
        album = f"{row['genre']}-{number // ALBUM_SIZE}"
        clips.append(Clip(root / row["file"], row["genre"], album, "gtzan"))
    return clips


def extra_clips(root: Path) -> list[Clip]:
    clips = []
    for row in csv.DictReader(open(root / "labels.csv")):
        artist = ARTIST.search(row["raw_label"])
        album = artist.group(1).casefold() if artist else row["file"]
        clips.append(Clip(root / row["file"], row["genre"], f"extra-{album}", "extra"))
    return clips


def embeddings(clips: list[Clip], model: GenreModel) -> tuple[list[Clip], np.ndarray]:
    count, seconds = model.windows  # what tagging hears by default
    ref, windows = reference(model), WindowPolicy(window_seconds=seconds, max_windows=count)
    with parallel_config(backend="loky", inner_max_num_threads=1):
        tasks = (delayed(analyse_file)(str(clip.path), ref, windows) for clip in clips)
        results = Parallel(n_jobs=-1)(tasks)
    kept = [(c, r.prediction.embedding) for c, r in zip(clips, results) if r.prediction is not None]
    return [c for c, _ in kept], np.stack([e for _, e in kept])


def out_of_fold(features: np.ndarray, clips: list[Clip], labels: list[str]) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    targets = np.array([labels.index(c.label) for c in clips])
    groups = np.array([c.album for c in clips])
    probabilities = np.zeros((len(clips), len(labels)))
    for train, test in GroupKFold(n_splits=FOLDS).split(features, targets, groups):
        classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        classifier.fit(features[train], targets[train])
        probabilities[np.ix_(test, classifier.classes_)] = classifier.predict_proba(features[test])
    return probabilities


COMBINATIONS = {
    "mean of probabilities": lambda p: p.mean(axis=0),
    "geometric mean (shipped)": lambda p: np.log(np.clip(p, 1e-12, None)).mean(axis=0),
    "majority vote": lambda p: np.bincount(p.argmax(axis=1), minlength=p.shape[1]),
}


def report(name: str, clips: list[Clip], probabilities: np.ndarray, labels: list[str]) -> None:
    truth = np.array([labels.index(c.label) for c in clips])
    albums: dict[str, list[int]] = {}
    for index, clip in enumerate(clips):
        albums.setdefault(clip.album, []).append(index)
    multi = {a: idx for a, idx in albums.items() if len(idx) > 1}
    in_multi = [i for idx in multi.values() for i in idx]
    track_right = probabilities.argmax(axis=1) == truth
    print(f"\n{name}: {len(clips)} tracks, track accuracy {track_right.mean():.1%}")
    print(f"  {len(multi)} pseudo-albums of 2+ tracks ({len(in_multi)} tracks)")
    print(f"  track accuracy (those tracks)              {track_right[in_multi].mean():6.1%}")
    for combination, combine in COMBINATIONS.items():
        album_right, followers_right = [], []
        for idx in multi.values():
            album_label = int(np.argmax(combine(probabilities[idx])))
            majority = np.bincount(truth[idx]).argmax()
            album_right.append(album_label == majority)
            followers_right += list(truth[idx] == album_label)
        print(
            f"  {combination:<26} album {np.mean(album_right):6.1%}, "
            f"tracks following it {np.mean(followers_right):6.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--gtzan", type=Path, default=Path("../shared/gtzan"))
    parser.add_argument("--extra", type=Path, default=Path("../shared/extra"))
    args = parser.parse_args()
    model = GenreModel(args.model)
    print(f"model {model.identity}; LR on its embedding, {FOLDS} folds grouped by pseudo-album")
    clips, features = embeddings(gtzan_clips(args.gtzan) + extra_clips(args.extra), model)
    labels = sorted({c.label for c in clips})
    probabilities = out_of_fold(features, clips, labels)
    for source in ("gtzan", "extra"):
        chosen = [i for i, c in enumerate(clips) if c.source == source]
        report(source, [clips[i] for i in chosen], probabilities[chosen], labels)


if __name__ == "__main__":
    main()
