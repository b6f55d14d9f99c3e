"""Temperature scaling of the segment logits, and how well it calibrates.

The plugin's track confidence is the mean of its segments' softmax, so the
temperature T (logits / T, baked into the graph) is fitted on that track
prediction: the T of a log-spaced grid with the lowest negative
log-likelihood of out-of-block predictions. To judge it on data it was not
fitted on, each block's predictions are also scaled by a T fitted on the
other blocks' predictions (cross-fitted); the reliability diagram and
expected calibration error are computed from those.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np

from training.fast.pipeline import track_probabilities

TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 241))
BINS = np.linspace(0.0, 1.0, 11)


def scaled(tracks: list[np.ndarray], temperature: float) -> np.ndarray:
    """(n_tracks, n_labels) track predictions from segment logits / T."""
    return np.stack([track_probabilities(logits / temperature) for logits in tracks])


def fit_temperature(tracks: list[np.ndarray], truth: np.ndarray) -> float:
    def nll(temperature: float) -> float:
        chosen = scaled(tracks, temperature)[np.arange(len(truth)), truth]
        return float(-np.mean(np.log(np.clip(chosen, 1e-12, None))))

    return float(min(TEMPERATURES, key=nll))


def cross_fitted(
    tracks: list[np.ndarray], truth: np.ndarray, blocks: list[str]
) -> tuple[np.ndarray, dict[str, float]]:
    """Each block's track predictions under a T fitted without it."""
    blocks_array = np.array(blocks)
    probabilities = np.zeros((len(tracks), len(tracks[0][0])))
    temperatures = {}
    for block in sorted(set(blocks)):
        inside = np.flatnonzero(blocks_array == block)
        outside = np.flatnonzero(blocks_array != block)
        temperature = fit_temperature([tracks[i] for i in outside], truth[outside])
        probabilities[inside] = scaled([tracks[i] for i in inside], temperature)
        temperatures[block] = temperature
    return probabilities, temperatures


def reliability(probabilities: np.ndarray, truth: np.ndarray) -> dict:
    """Per confidence bin: tracks, mean confidence, accuracy; and the
    expected calibration error (bin-weighted |accuracy - confidence|)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    which = np.clip(np.digitize(confidence, BINS) - 1, 0, len(BINS) - 2)
    bins = []
    for b in range(len(BINS) - 1):
        members = which == b
        if members.any():
            bins.append(
                {
                    "low": float(BINS[b]),
                    "high": float(BINS[b + 1]),
                    "tracks": int(members.sum()),
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float(correct[members].mean()),
                }
            )
    ece = sum(b["tracks"] * abs(b["accuracy"] - b["confidence"]) for b in bins) / len(truth)
    return {"bins": bins, "ece": float(ece), "tracks": len(truth)}


def save_reliability_png(curves: dict[str, dict], path: Path) -> None:
    """One line per named reliability (accuracy against confidence per bin)."""
    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for name, found in curves.items():
        bins = found["bins"]
        axes.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            label=f"{name} (ECE {100 * found['ece']:.1f} %)",
        )
    axes.set_xlabel("stored confidence (mean of the bin)")
    axes.set_ylabel("share right")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(figure)
