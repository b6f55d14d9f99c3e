"""The model card, metrics file and confusion matrices, from a run's results."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from string import Template

from training.data import Clip, Folds
from training.evaluate import confusion_text, save_confusion_png
from training.pipeline import TrainingResult

TEMPLATE = Path(__file__).with_name("card_template.md")
MODEL_NAMES = {
    "lstm": "LSTM (MFCC sequences)",
    "cnn": "CNN (log-mel)",
    "logreg": "LogReg (MFCC mean/var)",
}


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


def write_outputs(
    out_dir: Path, result: TrainingResult, card_values: dict, metrics: dict
) -> None:
    """``metrics.json``, confusion matrix PNGs and ``README.md`` in ``out_dir``."""
    labels = result.labels
    chosen = result.evaluation[result.chosen]["lstm"]
    save_confusion_png(
        chosen["pooled"]["confusion"],
        labels,
        "LSTM, 3-fold artist-disjoint CV",
        out_dir / "confusion_cv.png",
    )
    test_fold = card_values.get("test_fold")
    if test_fold:
        save_confusion_png(
            chosen["folds"][test_fold]["confusion"],
            labels,
            f"LSTM, '{test_fold}' list",
            out_dir / "confusion_test.png",
        )
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    (out_dir / "README.md").write_text(render_card(card_values))
