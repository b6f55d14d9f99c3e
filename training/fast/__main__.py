"""``python -m training.fast``: the fast model, from audio to the shipped file and its card.

Extract MFCCs (cached), embed every track with musicnn (cached, for the
teacher), search the recipe, refit per held-out block with and without the
teacher, evaluate against the MFCC-statistics baseline, calibrate, export,
time the window policies and write the card.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

from beetsplug.genreclf.features import FeatureParams, LogMelParams
from beetsplug.genreclf.model import PACKAGED, GenreModel
from training.accurate.convert import BACKBONE_PATH
from training.accurate.data import embed_tracks, extra_tracks, gtzan_tracks
from training.common.blocks import make_blocks
from training.common.data import data_parser, read_split_lists
from training.common.views import POLICIES, WHOLE
from training.common.window_speed import window_speed
from training.fast import card, results
from training.fast.augment import AugmentParams
from training.fast.export import export_onnx
from training.fast.extract import extract_all
from training.fast.fit import TrainParams
from training.fast.pipeline import VARIANTS, member_recipes, shared_features, train_and_evaluate
from training.fast.search import MAX_N_MFCC
from training.fast.teacher import cross_fitted_soft_labels

HERE = Path(__file__).parents[1]  # training/: cache/ and runs/
N_AUGMENTED = 4
BASE = TrainParams(steps_per_epoch=25, max_epochs=24)
WINDOW_TOLERANCE = 0.01  # the cheapest policy within a point of the best


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = data_parser("python -m training.fast", __doc__)
    parser.add_argument("--out", type=Path, default=Path("models"), help="card and metrics")
    parser.add_argument("--model", type=Path, default=PACKAGED["fast"], help="the shipped model")
    parser.add_argument("--cache", type=Path, default=HERE / "cache", help="feature cache")
    parser.add_argument("--runs", type=Path, default=HERE / "runs", help="candidate model")
    parser.add_argument("--backbone", type=Path, default=BACKBONE_PATH, help="musicnn ONNX")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--max-epochs", type=int, default=BASE.max_epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=BASE.steps_per_epoch)
    parser.add_argument("--augmentations", type=int, default=N_AUGMENTED)
    parser.add_argument("--name", default="gtzan-mfcc")
    parser.add_argument("--version", default="5")
    parser.add_argument(
        "--previous-extra-rows",
        type=int,
        help="leading rows of labels.csv the model at --model was trained on (default: every row)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    return run(args, "python -m training.fast " + shlex.join(argv), time.monotonic())


def load_tracks(args: argparse.Namespace):
    """Tracks with MFCC sequences and musicnn patches; unreadable ones reported."""
    gtzan, extra = gtzan_tracks(args.gtzan), extra_tracks(args.extra)
    params = FeatureParams(n_mfcc=MAX_N_MFCC)
    found = extract_all(
        [(t.path, f"{t.label}/{t.key}") for t in gtzan + extra],
        params,
        AugmentParams(),
        args.augmentations,
        args.seed,
        args.cache,
        args.jobs,
    )
    patches = embed_tracks(
        gtzan + extra, args.backbone, LogMelParams(), args.backbone.parent, args.jobs
    )
    skipped = [f"{k}: {v}" for k, v in found.items() if isinstance(v, str)]
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    features = {t.key: found[f"{t.label}/{t.key}"] for t in gtzan + extra}
    usable = {k for k, v in features.items() if not isinstance(v, str) and k in patches}
    return (
        [t for t in gtzan if t.key in usable],
        [t for t in extra if t.key in usable],
        {k: features[k] for k in usable},
        patches,
        skipped,
    )


def recommended_windows(views: dict, speeds: dict) -> str:
    """The fastest policy whose real-music accuracy is within a point of the best."""
    top = max(v["accuracy"] for v in views.values())
    good = [n for n, v in views.items() if v["accuracy"] >= top - WINDOW_TOLERANCE]
    return min(good, key=lambda n: speeds[n]["seconds"])


def previous_model(path: Path, version: str) -> GenreModel | None:
    """The model a new version must beat on the real-music check (none when
    ``path`` holds no model or one of the version being made: a rerun)."""
    if not path.is_file():
        return None
    model = GenreModel(path)
    return None if model.version == version else model


def export(
    network, recipes, labels: list[str], args, path: Path, calibration: dict, extra: dict
) -> None:
    export_onnx(
        network,
        labels,
        shared_features(recipes),
        path,
        name=args.name,
        version=args.version,
        min_confidence=calibration["threshold"]["min_confidence"],
        extra=extra,
    )


def beats(previous: dict, recorded: dict | None, ours: dict) -> bool:
    """Better than the previous model on the extra tracks it never heard;
    when it heard them all, better on its own run's out-of-block figures
    (``recorded``: the same blocks), by ``results.merit``; with neither,
    there is nothing to compare: ship."""
    if previous["unseen"] is not None:
        return previous["new_on_unseen"]["accuracy"] > previous["unseen"]["accuracy"]
    return recorded is None or results.merit(ours) > results.merit(recorded)


def recorded_figures(folder: Path, model: GenreModel) -> dict | None:
    """The out-of-block figures the run that made ``model`` recorded for it
    (``metrics.json`` beside it), if that run's metrics are there."""
    path = folder / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    if metrics.get("version") != model.version:
        return None
    found = metrics["evaluation"][metrics["shipped_variant"]]
    return {p: {m: found[p][m] for m in ("accuracy", "macro_f1")} for p in ("gtzan_cv", "extra_cv")}


def run(args: argparse.Namespace, command: str, started: float) -> dict:
    """Train, evaluate and export; write the card. Returns the metrics written."""
    gtzan, extra, features, patches, skipped = load_tracks(args)
    # GTZAN's ten genres and those only the real recordings have (electronic, rnb)
    labels = sorted({t.label for t in gtzan + extra})
    blocks = make_blocks(gtzan, extra)
    extracted = time.monotonic()
    soft = cross_fitted_soft_labels(patches, blocks, labels, args.seed, args.jobs)
    base = replace(BASE, max_epochs=args.max_epochs, steps_per_epoch=args.steps_per_epoch)
    result = train_and_evaluate(blocks, features, soft, labels, base, args.seed, args.jobs)
    args.runs.mkdir(parents=True, exist_ok=True)
    return finish(
        args, command, blocks, features, labels, result, base, skipped, started, extracted
    )


def finish(
    args, command, blocks, features, labels, result, base, skipped, started, extracted
) -> dict:
    """Evaluate, calibrate, export, time and write the card from a trained result."""
    evaluation = {
        v: results.evaluate(blocks, results.view_probabilities(result, v, WHOLE), labels)
        for v in VARIANTS
    }
    evaluation["baseline"] = results.evaluate(blocks, result.baseline, labels)
    shipped = results.shipped_variant(evaluation)
    calibration = results.calibration(result, shipped, blocks, labels)
    views = results.views_table(result, shipped, blocks, labels)
    recipes = member_recipes(result.chosen[None], shipped)
    network = result.final[shipped]
    network.temperature.fill_(calibration["temperature"])
    candidate = args.runs / "genreclf.onnx"
    export(network, recipes, labels, args, candidate, calibration, {})  # timed, then re-exported
    load = os.getloadavg()
    speeds = window_speed(candidate, POLICIES)
    windows = recommended_windows(views, speeds)
    policy = POLICIES[windows]
    previous = previous_model(args.model, args.version)
    previous_figures = recorded = None
    if previous is not None:
        recorded = recorded_figures(args.out, previous)
        trained_on = {t.key for t in extra_tracks(args.extra)[: args.previous_extra_rows]}
        unseen = {t.key for t in blocks.tracks if t.source == "extra" and t.key not in trained_on}
        new = results.view_probabilities(result, shipped, WHOLE)
        previous_figures = results.previous_model_on_extra(
            previous, blocks, features, labels, unseen, new
        )
    metrics = {
        "name": args.name,
        "version": args.version,
        "command": command,
        "seed": args.seed,
        "labels": labels,
        "data": results.data_counts(
            blocks, len(read_split_lists(args.gtzan / "splits")), len(gtzan_tracks(args.gtzan))
        ),
        "skipped": skipped,
        "augmentations": args.augmentations,
        "augment": AugmentParams().to_dict(),
        "train": base.to_dict(),
        "search": results.search_table(result, blocks),
        "chosen": {
            h or "final": {
                a: {"config": c.config.name, "epochs": c.epochs, "score": c.score}
                for a, c in per_architecture.items()
            }
            for h, per_architecture in result.chosen.items()
        },
        "evaluation": evaluation,
        "shipped_variant": shipped,
        "calibration": calibration,
        "windows": views,
        "window_speed": speeds,
        "load_average_before_speed": load[0],
        "recommended_windows": windows,
        "previous_model": previous and previous.identity,
        "previous_model_on_extra": previous_figures,
        "previous_model_recorded": recorded,
        "previous_extra_rows": args.previous_extra_rows,
        "machine": f"{platform.machine()} CPU ({os.cpu_count()} cores), {platform.system()}, no GPU",
        "jobs": args.jobs,
    }
    metadata = {
        "windows": {"count": policy.max_windows, "seconds": policy.window_seconds},
        "recipe": {
            "variant": shipped,
            "networks": {
                name: {"config": c.config.to_dict(), "epochs": c.epochs}
                for name, c in recipes.items()
            },
        },
        "temperature": calibration["temperature"],
    }
    export(network, recipes, labels, args, candidate, calibration, metadata)
    metrics["ships"] = previous_figures is None or beats(
        previous_figures, recorded, evaluation[shipped]
    )
    metrics["wall_time_s"] = {"extract": extracted - started, "total": time.monotonic() - started}
    metrics["load_average_end"] = os.getloadavg()
    out = args.out if metrics["ships"] else args.runs  # a worse model leaves the shipped one alone
    out.mkdir(parents=True, exist_ok=True)
    if metrics["ships"]:
        args.model.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(candidate, args.model)
    card.write_outputs(out, metrics)
    print(
        f"wrote {out} in {metrics['wall_time_s']['total'] / 60:.1f} min; ships: {metrics['ships']}"
    )
    return metrics


if __name__ == "__main__":
    main()
