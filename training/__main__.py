"""``python -m training --data DIR``: extract, train, evaluate, export, write the card."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from training import card
from training.data import assign_folds, find_clips, read_split_lists
from training.export import export_onnx
from training.extract import extract_all
from training.pipeline import Recipe, train_and_evaluate

HERE = Path(__file__).parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="labelled audio: <label>/<files> (or GTZAN's genres/)",
    )
    parser.add_argument(
        "--extra", type=Path, help="more labelled audio, only ever used for training"
    )
    parser.add_argument(
        "--splits", type=Path, default=HERE / "splits", help="artist-disjoint split lists (*.txt)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("models"), help="where the model and card go"
    )
    parser.add_argument("--cache", type=Path, default=HERE / "cache", help="feature cache")
    parser.add_argument(
        "--runs", type=Path, default=HERE / "runs", help="intermediate cross-validation models"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--augmentations", type=int, default=Recipe.n_augmented, help="augmented versions per clip"
    )
    parser.add_argument("--max-epochs", type=int, default=Recipe().train.max_epochs)
    parser.add_argument("--name", default="gtzan-lstm")
    parser.add_argument("--version", default="1")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started = time.monotonic()
    base = Recipe()
    recipe = replace(
        base,
        seed=args.seed,
        n_augmented=args.augmentations,
        train=replace(base.train, max_epochs=args.max_epochs),
    )
    return run(args, recipe, "python -m training " + shlex.join(argv), started)


def run(args: argparse.Namespace, recipe: Recipe, command: str, started: float) -> dict:
    """Train, evaluate and export; write the card. Returns the metrics written."""
    gtzan = find_clips(args.data, "gtzan")
    extra = find_clips(args.extra, "extra") if args.extra else []
    folds = assign_folds(gtzan, read_split_lists(args.splits), recipe.seed)
    features, failures = extract_all(
        gtzan + extra,
        recipe.features,
        recipe.augment,
        recipe.n_augmented,
        recipe.seed,
        args.cache,
        args.jobs,
    )
    for clip, reason in failures:
        print(f"skipped {clip.path}: {reason}", file=sys.stderr)
    gtzan = [c for c in gtzan if c in features]
    extra = [c for c in extra if c in features]
    extracted = time.monotonic()
    result = train_and_evaluate(gtzan, extra, folds, features, recipe, args.runs, args.jobs)
    training_run = card.TrainingRun(
        name=args.name,
        version=args.version,
        command=command,
        data_folder=args.data.name,
        jobs=args.jobs,
        recipe=recipe,
        folds=folds,
        counts=card.data_counts(gtzan, extra, folds),
        failures=failures,
        extract_s=extracted - started,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    export_onnx(
        result.network,
        result.labels,
        recipe.features,
        args.out / "genreclf.onnx",
        name=args.name,
        version=args.version,
        min_confidence=result.calibration["min_confidence"],
        extra=card.onnx_metadata(training_run, result),
    )
    wall = time.monotonic() - started
    metrics = card.write_outputs(args.out, training_run, result, wall)
    print(f"wrote {args.out / 'genreclf.onnx'} and its card in {wall / 60:.1f} min")
    return metrics


if __name__ == "__main__":
    main()
