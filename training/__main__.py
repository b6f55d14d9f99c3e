"""``python -m training --data DIR``: extract, train, evaluate, export, write the card."""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from training import card
from training.data import assign_folds, find_clips, read_split_lists
from training.export import export_onnx
from training.extract import extract_all
from training.pipeline import Recipe, TaskKey, train_and_evaluate

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
    labels = result.labels
    counts = card.data_counts(gtzan, extra, folds)
    test_fold = "test" if "test" in folds.names else None
    evaluation = result.evaluation
    summary = {
        config: {
            kind: {
                "cv": {k: evaluation[config][kind]["pooled"][k] for k in ("accuracy", "macro_f1")},
                **(
                    {
                        "test": {
                            k: evaluation[config][kind]["folds"][test_fold][k]
                            for k in ("accuracy", "macro_f1")
                        }
                    }
                    if test_fold
                    else {}
                ),
            }
            for kind in evaluation[config]
        }
        for config in result.configs
    }
    args.out.mkdir(parents=True, exist_ok=True)
    export_onnx(
        result.network,
        labels,
        recipe.features,
        args.out / "genreclf.onnx",
        name=args.name,
        version=args.version,
        min_confidence=result.calibration["min_confidence"],
        extra={
            "training_data": {
                "clips_per_genre": counts,
                "trained_on": result.chosen,
                "artist_disjoint_folds": folds.artist_disjoint,
            },
            "metrics": summary,
            "recipe": recipe.to_dict(),
            "command": command,
        },
    )
    wall = time.monotonic() - started
    metrics = {
        "command": command,
        "seed": recipe.seed,
        "labels": labels,
        "clips_per_genre": counts,
        "skipped": [f"{c.path.name}: {reason}" for c, reason in failures],
        "chosen": result.chosen,
        "calibration": result.calibration,
        "epochs": {key.name: epochs for key, epochs in result.epochs.items()},
        "validation_curves": {key.name: curve for key, curve in result.curves.items()},
        "evaluation": evaluation,
        "out_of_gtzan": result.out_of_gtzan,
        "wall_time_s": {"extract": round(extracted - started), "total": round(wall)},
    }
    card.write_outputs(
        args.out,
        result,
        card_values(
            args,
            recipe,
            command,
            result,
            counts,
            failures,
            folds,
            test_fold,
            wall,
            extracted - started,
        ),
        metrics,
    )
    print(f"wrote {args.out / 'genreclf.onnx'} and its card in {wall / 60:.1f} min")
    return metrics


def card_values(
    args, recipe, command, result, counts, failures, folds, test_fold, wall, extract_s
) -> dict:
    labels, evaluation, chosen = result.labels, result.evaluation, result.chosen
    lstm = recipe.lstm
    chosen_metrics = evaluation[chosen]["lstm"]
    gtzan_used = sum(sum(counts[n].values()) for n in folds.names)
    fold_note = (
        "Folds are GTZAN's artist-filtered lists: CV pools the predictions of the three held-out lists; "
        f"the '{test_fold}' columns are the model trained on the other two lists, tested on the '{test_fold}' list "
        "(the published protocol), which is also one of the CV folds."
        if folds.artist_disjoint
        else "No clip matched a split list, so folds are a seeded stratified split by file: NOT artist-disjoint, "
        "figures may be optimistic."
    )
    test_confusion = (
        f"Confusion matrix on the '{test_fold}' list (also `confusion_test.png`):\n\n```\n"
        f"{card.confusion_text(chosen_metrics['folds'][test_fold]['confusion'], labels)}\n```"
        if test_fold
        else ""
    )
    return {
        "name": args.name,
        "version": args.version,
        "test_fold": test_fold,
        "lstm_size": f"{lstm.num_layers}×{lstm.hidden_size}",
        "embedding_size": lstm.embedding_size,
        "labels": ", ".join(labels),
        "min_confidence": result.calibration["min_confidence"],
        "command": command,
        "seed": recipe.seed,
        "jobs": args.jobs,
        "wall_time": f"{wall / 60:.1f} min (feature extraction {extract_s:.0f} s of it; features are cached)",
        "machine": f"a {platform.machine()} CPU with {args.jobs} worker processes, no GPU",
        "data_summary": (
            f"{gtzan_used} GTZAN clips in the split lists ({args.data.name}/), "
            f"{sum(counts['extra'].values())} extra tracks (--extra), "
            f"{sum(counts['gtzan_unlisted'].values())} GTZAN clips in no list left out."
        ),
        "data_table": card.data_table(counts, labels, folds.names),
        "failures": "\n".join(f"Skipped (unreadable): `{c.path.name}`: {r}." for c, r in failures),
        "n_augmented": recipe.n_augmented,
        "max_offset": recipe.augment.max_offset_s,
        "pitch": recipe.augment.pitch_semitones,
        "stretch_pct": round(100 * recipe.augment.stretch),
        "gain": recipe.augment.gain_db,
        "snr": "–".join(f"{x:g}" for x in recipe.augment.snr_db),
        "codec_p": recipe.augment.codec_probability,
        "label_smoothing": recipe.train.label_smoothing,
        "lr": recipe.train.learning_rate,
        "wd": recipe.train.weight_decay,
        "batch": recipe.train.batch_size,
        "steps": recipe.train.steps_per_epoch,
        "lstm_detail": f"{lstm.num_layers} layers × {lstm.hidden_size} units, embedding {lstm.embedding_size}",
        "dropout": lstm.dropout,
        "max_epochs": recipe.train.max_epochs,
        "stopping_epochs": ", ".join(f"{key.name} {n}" for key, n in result.epochs.items()),
        "shipped_extra": " and the extra tracks" if chosen == "gtzan+extra" else "",
        "final_epochs": result.epochs[TaskKey.final(chosen)],
        "fold_note": fold_note,
        "results_table": card.results_table(evaluation, result.configs, test_fold),
        "folds_table": card.folds_table(evaluation, result.configs),
        "extra_decision": card.extra_decision(evaluation, result.configs, chosen),
        "verdict": card.baseline_verdict(
            evaluation,
            chosen,
            sum(p.numel() for p in result.network.parameters()),
            2 * recipe.features.n_mfcc,
        ),
        "chosen_title": chosen,
        "per_class_table": card.per_class_table(chosen_metrics["pooled"]),
        "confusion_cv": card.confusion_text(chosen_metrics["pooled"]["confusion"], labels),
        "test_confusion": test_confusion,
        "out_of_gtzan": card.out_of_gtzan_section(result.out_of_gtzan, labels),
        "calibration": card.calibration_section(
            result.calibration, len(chosen_metrics["out_of_fold"]["truth"])
        ),
    }


if __name__ == "__main__":
    main()
