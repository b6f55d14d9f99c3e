"""What does learning the user's genres buy? Cross-validated, by artist.

    python -m benchmarks.learn_eval --music DIR [--model PATH]

DIR is laid out as <label>/<files>. Every file is decoded once; then, with
the same artist-grouped folds, this prints the accuracy and macro-F1 of
  (a) the base model alone, its labels matched to DIR's by name (a track whose
      prediction matches no label counts as wrong);
  (b) the head `beet genreclf --learn` fits on the base model's embedding;
  (c) the same classifier on MFCC statistics (per-coefficient mean and std).
Artists come from the files' artist tags (the file name where there is none).
Use a base model that never saw these files (e.g. --model
training/runs/gtzan-lstm-final.onnx, trained on GTZAN alone), or (a) and (b)
are optimistic.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_config
from mediafile import FileTypeError, MediaFile, UnreadableFileError

from beetsplug.genreclf.audio import AudioError, WindowPolicy, decode_windows
from beetsplug.genreclf.features import FeatureError, FeatureParams
from beetsplug.genreclf.learn import cross_validate
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel

from .corpus import music_files

TARGET_PRECISION = 0.8  # as genreclf.learn.target_precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--music", type=Path, required=True, help="<label>/<files>")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args()

    model = GenreModel(args.model)
    files = music_files(args.music)
    print(f"{len(files)} files under {args.music}; base model {model.identity}")
    results = analyse(files, model.params)
    for path, result in zip(files, results):
        if isinstance(result, str):
            print(f"skipped {path}: {result}")
    files = [path for path, result in zip(files, results) if not isinstance(result, str)]
    segments = [result for result in results if not isinstance(result, str)]

    names = sorted({f.relative_to(args.music).parts[0] for f in files})
    labels = np.array([names.index(f.relative_to(args.music).parts[0]) for f in files])
    groups = np.array([artist(f) for f in files])
    predictions = [model.predict_track(s) for s in segments]
    embeddings = np.stack([p.embedding for p in predictions])
    statistics = np.stack([mfcc_statistics(s) for s in segments])

    learned = cross_validate(embeddings, labels, groups, names, TARGET_PRECISION)
    mfcc = cross_validate(statistics, labels, groups, names, TARGET_PRECISION)
    rows = [
        ("(a) base model, labels matched", *base_scores(predictions, model.labels, names, labels)),
        ("(b) learned head on the embedding", learned.accuracy, learned.macro_f1),
        ("(c) same classifier, MFCC statistics", mfcc.accuracy, mfcc.macro_f1),
    ]
    print(
        f"\n{len(files)} tracks, {len(set(groups))} artists, {len(names)} labels, "
        f"{learned.folds} artist-grouped folds"
    )
    print(f"{'':<38} {'accuracy':>8} {'macro-F1':>8}")
    for name, accuracy, macro_f1 in rows:
        print(f"{name:<38} {accuracy:>8.1%} {macro_f1:>8.1%}")
    unmatched = sorted(set(names) - set(model.labels))
    if unmatched:
        print(f"(a) cannot predict: {', '.join(unmatched)}")


def analyse(files: list[Path], params: FeatureParams) -> list[np.ndarray | str]:
    """Each file's MFCC segments, or why there are none (all cores)."""
    with parallel_config(backend="loky", inner_max_num_threads=1):
        return Parallel(n_jobs=-1)(delayed(segments_of)(str(f), params) for f in files)


def segments_of(path: str, params: FeatureParams) -> np.ndarray | str:
    """(n_segments, frames, n_mfcc) of the windows tagging analyses, or why not."""
    try:
        windows = decode_windows(path, params.sample_rate, WindowPolicy())
        return np.concatenate(params.segments_per_window(windows))
    except (AudioError, FeatureError) as exc:
        return str(exc)


def artist(path: Path) -> str:
    try:
        name = MediaFile(path).artist
    except (FileTypeError, UnreadableFileError):
        name = None
    return (name or path.stem).casefold()


def mfcc_statistics(segments: np.ndarray) -> np.ndarray:
    frames = segments.reshape(-1, segments.shape[-1])
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)])


def base_scores(
    predictions, model_labels: list[str], names: list[str], labels: np.ndarray
) -> tuple[float, float]:
    """Accuracy and macro-F1 of the base model's top label, matched to DIR's
    labels by name (no match: wrong)."""
    from sklearn.metrics import f1_score

    index = {name.casefold(): i for i, name in enumerate(names)}
    predicted = np.array(
        [
            index.get(model_labels[int(np.argmax(p.probabilities))].casefold(), -1)
            for p in predictions
        ]
    )
    macro_f1 = f1_score(
        labels, predicted, labels=list(range(len(names))), average="macro", zero_division=0
    )
    return float((predicted == labels).mean()), float(macro_f1)


if __name__ == "__main__":
    main()
