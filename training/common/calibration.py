"""Calibrating a model's probabilities, and how well they are calibrated.

The MFCC networks: their track confidence is the mean of their segments'
softmax, so the temperature T (logits / T, baked into the graph) is fitted on
that track prediction: the T of a log-spaced grid with the lowest negative
log-likelihood of out-of-block predictions. To judge it on data it was not
fitted on, each block's predictions are also scaled by a T fitted on the
other blocks' predictions (cross-fitted); the reliability diagram and
expected calibration error are computed from those.

The accurate model (a linear head): track probabilities recalibrated by a
temperature and, optionally, one offset per label (``LogitCalibration``),
fitted with every genre counting alike (``genres_alike``), which the head's
weights absorb. Reliability can be weighted the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

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


def reliability(
    probabilities: np.ndarray, truth: np.ndarray, weights: np.ndarray | None = None
) -> dict:
    """Per confidence bin: tracks, mean confidence, accuracy; and the
    expected calibration error (bin-weighted |accuracy - confidence|).
    ``weights`` (see :func:`genres_alike`) make the means and the error
    those of a collection with other proportions; ``share`` is each bin's
    part of the weight."""
    weights = np.ones(len(truth)) if weights is None else weights
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    which = np.clip(np.digitize(confidence, BINS) - 1, 0, len(BINS) - 2)
    bins = []
    for b in range(len(BINS) - 1):
        members = which == b
        if members.any():
            weight = weights[members]
            bins.append(
                {
                    "low": float(BINS[b]),
                    "high": float(BINS[b + 1]),
                    "tracks": int(members.sum()),
                    "share": float(weight.sum() / weights.sum()),
                    "confidence": float(np.average(confidence[members], weights=weight)),
                    "accuracy": float(np.average(correct[members], weights=weight)),
                }
            )
    ece = sum(b["share"] * abs(b["accuracy"] - b["confidence"]) for b in bins)
    return {"bins": bins, "ece": float(ece), "tracks": len(truth)}


def genres_alike(truth: np.ndarray) -> np.ndarray:
    """Per track, a weight that makes every genre present count alike (a
    library with as many tracks of each), averaging 1."""
    counts = np.bincount(truth)
    weights = 1.0 / counts[truth]
    return weights * len(truth) / weights.sum()


@dataclass(frozen=True)
class LogitCalibration:
    """Track probabilities p recalibrated as softmax(log p / temperature +
    offsets): one temperature for confidence, one offset per label for how
    often it is chosen (bias-corrected temperature scaling). For a linear
    head both fold into its weights and bias."""

    temperature: float
    offsets: np.ndarray

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        logits = np.log(np.clip(probabilities, 1e-12, None)) / self.temperature + self.offsets
        return softmax(logits, axis=1)


OFFSET_PENALTY = 0.01  # ridge on the offsets: a label with few tracks moves little


def fit_logit_calibration(
    probabilities: np.ndarray, truth: np.ndarray, weights: np.ndarray, offsets: bool = True
) -> LogitCalibration:
    """The temperature and offsets of least ``weights``-weighted negative
    log-likelihood (offsets of labels absent from ``truth`` stay 0; all of
    them without ``offsets``: a temperature alone, which keeps every
    prediction's top label)."""
    n_labels = probabilities.shape[1]
    present = np.isin(np.arange(n_labels), truth) & offsets
    logs = np.log(np.clip(probabilities, 1e-12, None))

    def loss(parameters: np.ndarray) -> float:
        offsets = np.where(present, parameters[1:], 0.0)
        logits = logs * np.exp(-parameters[0]) + offsets
        picked = logits[np.arange(len(truth)), truth] - logsumexp(logits, axis=1)
        return float(-np.average(picked, weights=weights) + OFFSET_PENALTY * offsets @ offsets)

    found = minimize(loss, np.zeros(n_labels + 1), method="L-BFGS-B")
    offsets = np.where(present, found.x[1:], 0.0)
    if present.any():
        offsets = offsets - offsets[present].mean() * present
    return LogitCalibration(float(np.exp(found.x[0])), offsets)


def cross_fitted_calibration(
    probabilities: np.ndarray, truth: np.ndarray, blocks: np.ndarray, offsets: bool = True
) -> np.ndarray:
    """Each block's probabilities recalibrated by a calibration fitted on
    the other blocks, genres weighted alike."""
    calibrated = np.zeros_like(probabilities)
    for block in np.unique(blocks):
        inside, outside = blocks == block, blocks != block
        fitted = fit_logit_calibration(
            probabilities[outside], truth[outside], genres_alike(truth[outside]), offsets
        )
        calibrated[inside] = fitted(probabilities[inside])
    return calibrated


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
