"""Track-level metrics and confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    ConfusionMatrixDisplay,
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


def track_metrics(
    truth: np.ndarray,
    probabilities: np.ndarray,
    labels: list[str],
    segment_accuracy: float | None = None,
) -> dict:
    """Accuracy, macro-F1 over the labels present in ``truth``, per-class
    precision/recall and the confusion matrix (rows truth, columns predicted)."""
    predicted = probabilities.argmax(axis=1)
    present = np.unique(truth)
    precision, recall, _, support = precision_recall_fscore_support(
        truth, predicted, labels=np.arange(len(labels)), zero_division=0
    )
    return {
        "tracks": int(len(truth)),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(
            f1_score(truth, predicted, labels=present, average="macro", zero_division=0)
        ),
        "segment_accuracy": segment_accuracy,
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "support": int(s)}
            for label, p, r, s in zip(labels, precision, recall, support)
        },
        "confusion": confusion_matrix(truth, predicted, labels=np.arange(len(labels))).tolist(),
    }


def confusion_text(confusion: list[list[int]], labels: list[str]) -> str:
    """Fixed-width confusion matrix, rows truth, columns predicted."""
    width = max(len(label) for label in labels) + 1
    short = [label[:4] for label in labels]
    lines = [" " * width + "".join(f"{s:>5}" for s in short)]
    lines += [
        f"{label:<{width}}" + "".join(f"{n:>5}" for n in row)
        for label, row in zip(labels, confusion)
    ]
    return "\n".join(lines)


def save_confusion_png(
    confusion: list[list[int]], labels: list[str], title: str, path: Path
) -> None:
    figure, axes = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay(np.array(confusion), display_labels=labels).plot(
        ax=axes, colorbar=False, xticks_rotation=45
    )
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(figure)


def threshold_summary(found, target_precision: float) -> dict:
    """A model's ``min_confidence`` record from a ``confidence_threshold``
    result: rounded down to 3 decimals, so that the track at the threshold
    still passes; with the precision and coverage it gives."""
    return {
        "min_confidence": float(np.floor(found.min_confidence * 1000) / 1000),
        "precision": found.precision,
        "coverage": found.coverage,
        "target_precision": target_precision,
        "reached": found.reached,
    }


def in_order(probabilities: np.ndarray, known: list[str], labels: list[str]) -> np.ndarray:
    """A model's probabilities over ``known`` as columns in ``labels`` order;
    a label the model does not know gets 0 (an older model lacks new genres)."""
    column = {label: i for i, label in enumerate(known)}
    return np.array([probabilities[column[x]] if x in column else 0.0 for x in labels])
