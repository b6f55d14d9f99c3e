"""The model card, metrics file and confusion matrices, from a run's results."""

from __future__ import annotations

import json
import platform
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from string import Template

from training.data import Clip, Folds
from training.evaluate import confusion_text, save_confusion_png
from training.pipeline import Recipe, TaskKey, TrainingResult

TEMPLATE = Path(__file__).with_name("card_template.md")
MODEL_NAMES = {
    "lstm": "LSTM (MFCC sequences)",
    "cnn": "CNN (log-mel)",
    "logreg": "LogReg (MFCC mean/var)",
}


@dataclass(frozen=True)
class TrainingRun:
    """How a model was made, as the card and the metrics tell it."""

    name: str
    version: str
    command: str
    data_folder: str  # the name of the --data folder
    jobs: int
    recipe: Recipe
    folds: Folds
    counts: dict  # see data_counts
    failures: list[tuple[Clip, str]]  # unreadable clips and why
    extract_s: float

    @property
    def test_fold(self) -> str | None:
        """The published protocol's test list, when folds come from GTZAN's lists."""
        return "test" if "test" in self.folds.names else None


def data_counts(gtzan: list[Clip], extra: list[Clip], folds: Folds) -> dict:
    """Clips used per genre: GTZAN per fold, and extra."""
    counts = {
        name: dict(Counter(c.label for c in gtzan if folds.of_clip.get(c.clip_id) == name))
        for name in folds.names
    }
    counts["extra"] = dict(Counter(c.label for c in extra))
    counts["gtzan_unlisted"] = dict(
        Counter(c.label for c in gtzan if c.clip_id not in folds.of_clip)
    )
    return counts


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(x) for x in row) + " |" for row in rows])


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def results_table(evaluation: dict, configs: list[str], test_fold: str | None) -> str:
    header = ["model", "training data", "CV accuracy %", "CV macro-F1 %", "CV segment acc. %"]
    if test_fold:
        header += [f"'{test_fold}' list accuracy %", f"'{test_fold}' macro-F1 %"]
    rows = []
    for kind in MODEL_NAMES:
        for config in (c for c in configs if kind in evaluation[c]):
            pooled = evaluation[config][kind]["pooled"]
            row = [
                MODEL_NAMES[kind],
                config,
                pct(pooled["accuracy"]),
                pct(pooled["macro_f1"]),
                pct(pooled["segment_accuracy"]),
            ]
            if test_fold:
                test = evaluation[config][kind]["folds"][test_fold]
                row += [pct(test["accuracy"]), pct(test["macro_f1"])]
            rows.append(row)
    return markdown_table(header, rows)


def folds_table(evaluation: dict, configs: list[str]) -> str:
    names = list(evaluation[configs[0]]["lstm"]["folds"])
    rows = []
    for kind in MODEL_NAMES:
        for config in (c for c in configs if kind in evaluation[c]):
            folds = evaluation[config][kind]["folds"]
            rows.append(
                [MODEL_NAMES[kind], config]
                + [
                    f"{pct(folds[n]['accuracy'])} / {pct(folds[n]['macro_f1'])} / {folds[n]['tracks']}"
                    for n in names
                ]
            )
    return markdown_table(["model", "training data"] + [f"'{n}' held out" for n in names], rows)


def per_class_table(metrics: dict) -> str:
    rows = [
        [label, pct(m["precision"]), pct(m["recall"]), m["support"]]
        for label, m in metrics["per_class"].items()
    ]
    return markdown_table(["genre", "precision %", "recall %", "tracks"], rows)


def data_table(counts: dict, labels: list[str], fold_names: list[str]) -> str:
    columns = fold_names + ["extra", "gtzan_unlisted"]
    rows = [[label] + [counts[c].get(label, 0) for c in columns] for label in labels]
    rows.append(["**total**"] + [sum(counts[c].values()) for c in columns])
    header = (
        ["genre"]
        + [f"GTZAN '{n}' list" for n in fold_names]
        + ["extra (training only)", "GTZAN in no list (unused)"]
    )
    return markdown_table(header, rows)


def extra_decision(evaluation: dict, configs: list[str], chosen: str) -> str:
    if len(configs) == 1:
        return "No extra tracks were given (`--extra`), so this was not measured in this run."
    without, with_extra = (evaluation[c]["lstm"]["pooled"] for c in ("gtzan", "gtzan+extra"))
    return (
        f"The extra tracks only ever join the training side; every evaluation above is on GTZAN "
        f"clips. LSTM cross-validation macro-F1 {pct(without['macro_f1'])} % without them, "
        f"{pct(with_extra['macro_f1'])} % with them (accuracy {pct(without['accuracy'])} % vs "
        f"{pct(with_extra['accuracy'])} %). The pipeline ships the better by macro-F1 (a tie keeps "
        f"GTZAN only): **{chosen}**."
    )


def baseline_verdict(evaluation: dict, config: str, parameters: int, statistics: int) -> str:
    """Whether the shipped recipe's LSTM beats the MFCC-statistics baseline."""
    lstm, logreg = (evaluation[config][kind]["pooled"] for kind in ("lstm", "logreg"))
    beats = lstm["macro_f1"] > logreg["macro_f1"]
    verdict = (
        f"With {config} training data, the LSTM's cross-validation macro-F1 is {pct(lstm['macro_f1'])} % "
        f"against {pct(logreg['macro_f1'])} % for logistic regression on MFCC mean/variance "
        f"(accuracy {pct(lstm['accuracy'])} % vs {pct(logreg['accuracy'])} %): the LSTM "
        + ("**beats** the baseline." if beats else "**does not beat** the baseline.")
    )
    if beats:
        return verdict
    return verdict + (
        f" Why: each genre here is a handful of clips from a few artists, and the lists split them so "
        f"that some genres are absent from a fold's training side. The LSTM ({parameters:,} weights) "
        f"learns the training artists' sound from 3 s crops and has little to generalise from; a "
        f"linear model on {statistics} clip-level timbre statistics has far less to overfit. The "
        f"LSTM ships because the plugin needs its segment embedding and sequence input; with the "
        f"full GTZAN (100 clips per genre) it has more to learn from."
    )


def out_of_gtzan_section(metrics: dict | None, labels: list[str]) -> str:
    if metrics is None:
        return ""
    present = [label for label in labels if metrics["per_class"][label]["support"]]
    recalls = ", ".join(
        f"{label} {pct(metrics['per_class'][label]['recall'])} %" for label in present
    )
    return (
        "### Out-of-GTZAN check\n\n"
        f"An LSTM refitted like the shipped one but on GTZAN only, tested on the {metrics['tracks']} extra "
        f"tracks (never trained on): accuracy {pct(metrics['accuracy'])} %, macro-F1 "
        f"{pct(metrics['macro_f1'])} %. Recall per genre: {recalls}.\n\n```\n"
        f"{confusion_text(metrics['confusion'], labels)}\n```"
    )


def calibration_section(calibration: dict, tracks: int) -> str:
    outcome = (
        "was reached"
        if calibration["reached"]
        else "was not reached; the threshold of highest precision is used"
    )
    return (
        f"`min_confidence` = **{calibration['min_confidence']}**: the lowest top-1 probability at which the "
        f"shipped recipe's out-of-fold cross-validation predictions ({tracks} GTZAN tracks, each predicted by "
        f"a model that never saw its artist) reach a class-balanced precision of "
        f"{pct(calibration['target_precision'])} % (each genre weighted equally, at least a tenth of the "
        f"tracks kept). The target {outcome}: precision {pct(calibration['precision'])} %, class-balanced "
        f"coverage {pct(calibration['coverage'])} % of tracks. Below it the plugin should not set a genre."
    )


def render_card(values: dict) -> str:
    return Template(TEMPLATE.read_text()).substitute(values)


def evaluation_summary(evaluation: dict, configs: list[str], test_fold: str | None) -> dict:
    """Accuracy and macro-F1 per config and model: cross-validated, and on
    the test list if there is one."""

    def headline(metrics: dict) -> dict:
        return {k: metrics[k] for k in ("accuracy", "macro_f1")}

    return {
        config: {
            kind: {
                "cv": headline(evaluation[config][kind]["pooled"]),
                **(
                    {"test": headline(evaluation[config][kind]["folds"][test_fold])}
                    if test_fold
                    else {}
                ),
            }
            for kind in evaluation[config]
        }
        for config in configs
    }


def onnx_metadata(run: TrainingRun, result: TrainingResult) -> dict:
    """What the exported model carries about its training."""
    return {
        "training_data": {
            "clips_per_genre": run.counts,
            "trained_on": result.chosen,
            "artist_disjoint_folds": run.folds.artist_disjoint,
        },
        "metrics": evaluation_summary(result.evaluation, result.configs, run.test_fold),
        "recipe": run.recipe.to_dict(),
        "command": run.command,
    }


def metrics_record(run: TrainingRun, result: TrainingResult, wall_s: float) -> dict:
    """The contents of ``metrics.json``."""
    return {
        "command": run.command,
        "seed": run.recipe.seed,
        "labels": result.labels,
        "clips_per_genre": run.counts,
        "skipped": [f"{c.path.name}: {reason}" for c, reason in run.failures],
        "chosen": result.chosen,
        "calibration": result.calibration,
        "epochs": {key.name: epochs for key, epochs in result.epochs.items()},
        "validation_curves": {key.name: curve for key, curve in result.curves.items()},
        "evaluation": result.evaluation,
        "out_of_gtzan": result.out_of_gtzan,
        "wall_time_s": {"extract": round(run.extract_s), "total": round(wall_s)},
    }


def fold_note(folds: Folds, test_fold: str | None) -> str:
    if not folds.artist_disjoint:
        return (
            "No clip matched a split list, so folds are a seeded stratified split by file: "
            "NOT artist-disjoint, figures may be optimistic."
        )
    return (
        "Folds are GTZAN's artist-filtered lists: CV pools the predictions of the three held-out "
        f"lists; the '{test_fold}' columns are the model trained on the other two lists, tested on "
        f"the '{test_fold}' list (the published protocol), which is also one of the CV folds."
    )


def test_list_confusion(lstm_metrics: dict, labels: list[str], test_fold: str | None) -> str:
    if not test_fold:
        return ""
    return (
        f"Confusion matrix on the '{test_fold}' list (also `confusion_test.png`):\n\n```\n"
        f"{confusion_text(lstm_metrics['folds'][test_fold]['confusion'], labels)}\n```"
    )


def card_values(run: TrainingRun, result: TrainingResult, wall_s: float) -> dict:
    """The values ``card_template.md`` is filled with."""
    recipe, lstm, augment, train = run.recipe, run.recipe.lstm, run.recipe.augment, run.recipe.train
    labels, evaluation, chosen = result.labels, result.evaluation, result.chosen
    chosen_metrics = evaluation[chosen]["lstm"]
    counts = run.counts
    gtzan_used = sum(sum(counts[n].values()) for n in run.folds.names)
    return {
        "name": run.name,
        "version": run.version,
        "lstm_size": f"{lstm.num_layers}×{lstm.hidden_size}",
        "embedding_size": lstm.embedding_size,
        "labels": ", ".join(labels),
        "min_confidence": result.calibration["min_confidence"],
        "command": run.command,
        "seed": recipe.seed,
        "jobs": run.jobs,
        "wall_time": f"{wall_s / 60:.1f} min (feature extraction {run.extract_s:.0f} s of it; "
        "features are cached)",
        "machine": f"a {platform.machine()} CPU with {run.jobs} worker processes, no GPU",
        "data_summary": (
            f"{gtzan_used} GTZAN clips in the split lists ({run.data_folder}/), "
            f"{sum(counts['extra'].values())} extra tracks (--extra), "
            f"{sum(counts['gtzan_unlisted'].values())} GTZAN clips in no list left out."
        ),
        "data_table": data_table(counts, labels, run.folds.names),
        "failures": "\n".join(
            f"Skipped (unreadable): `{c.path.name}`: {r}." for c, r in run.failures
        ),
        "n_augmented": recipe.n_augmented,
        "max_offset": augment.max_offset_s,
        "pitch": augment.pitch_semitones,
        "stretch_pct": round(100 * augment.stretch),
        "gain": augment.gain_db,
        "snr": "–".join(f"{x:g}" for x in augment.snr_db),
        "codec_p": augment.codec_probability,
        "label_smoothing": train.label_smoothing,
        "lr": train.learning_rate,
        "wd": train.weight_decay,
        "batch": train.batch_size,
        "steps": train.steps_per_epoch,
        "lstm_detail": f"{lstm.num_layers} layers × {lstm.hidden_size} units, "
        f"embedding {lstm.embedding_size}",
        "dropout": lstm.dropout,
        "max_epochs": train.max_epochs,
        "stopping_epochs": ", ".join(f"{key.name} {n}" for key, n in result.epochs.items()),
        "shipped_extra": " and the extra tracks" if chosen == "gtzan+extra" else "",
        "final_epochs": result.epochs[TaskKey.final(chosen)],
        "fold_note": fold_note(run.folds, run.test_fold),
        "results_table": results_table(evaluation, result.configs, run.test_fold),
        "folds_table": folds_table(evaluation, result.configs),
        "extra_decision": extra_decision(evaluation, result.configs, chosen),
        "verdict": baseline_verdict(
            evaluation,
            chosen,
            sum(p.numel() for p in result.network.parameters()),
            2 * recipe.features.n_mfcc,
        ),
        "chosen_title": chosen,
        "per_class_table": per_class_table(chosen_metrics["pooled"]),
        "confusion_cv": confusion_text(chosen_metrics["pooled"]["confusion"], labels),
        "test_confusion": test_list_confusion(chosen_metrics, labels, run.test_fold),
        "out_of_gtzan": out_of_gtzan_section(result.out_of_gtzan, labels),
        "calibration": calibration_section(
            result.calibration, len(chosen_metrics["out_of_fold"]["truth"])
        ),
    }


def write_outputs(out_dir: Path, run: TrainingRun, result: TrainingResult, wall_s: float) -> dict:
    """``metrics.json``, confusion matrix PNGs and ``README.md`` in
    ``out_dir``. Returns the metrics."""
    labels = result.labels
    chosen = result.evaluation[result.chosen]["lstm"]
    save_confusion_png(
        chosen["pooled"]["confusion"],
        labels,
        "LSTM, 3-fold artist-disjoint CV",
        out_dir / "confusion_cv.png",
    )
    if run.test_fold:
        save_confusion_png(
            chosen["folds"][run.test_fold]["confusion"],
            labels,
            f"LSTM, '{run.test_fold}' list",
            out_dir / "confusion_test.png",
        )
    metrics = metrics_record(run, result, wall_s)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    (out_dir / "README.md").write_text(render_card(card_values(run, result, wall_s)))
    return metrics
