"""Pairing the two models' real-music checks, track by track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.accurate.data import Track
from training.common.real_check import MismatchedRuns, fast_model_predictions, paired_comparison

LABELS = ["jazz", "pop", "rock"]


def track(key: str, label: str, source: str, group: str) -> Track:
    return Track(key, Path(key), label, source, group, source)


GTZAN = [track(f"g{i}", LABELS[i % 3], "gtzan", f"gtzan:{i % 3}") for i in range(6)]
EXTRA = [track(f"e{i}", LABELS[i % 3], "extra", f"artist:{i}") for i in range(5)]


def one_hot(label: str) -> list[float]:
    return [float(label == name) for name in LABELS]


@pytest.mark.parametrize(
    ("accurate", "fast", "expected"),
    [
        # accurate, fast: the predicted label per extra track (truth: jazz pop rock jazz pop)
        (
            ["jazz", "pop", "rock", "jazz", "rock"],
            ["jazz", "rock", "rock", "pop", "pop"],
            {"both_right": 2, "only_accurate_right": 2, "only_fast_right": 1, "neither_right": 0},
        ),
        (
            ["rock", "rock", "jazz", "pop", "jazz"],
            ["rock", "rock", "jazz", "pop", "jazz"],
            {"both_right": 0, "only_accurate_right": 0, "only_fast_right": 0, "neither_right": 5},
        ),
    ],
)
def test_paired_counts(accurate, fast, expected):
    found = paired_comparison(
        {t.key: one_hot(p) for t, p in zip(EXTRA, accurate)},
        {t.key: np.array(one_hot(p)) for t, p in zip(EXTRA, fast)},
        EXTRA,
        LABELS,
    )
    assert {k: found[k] for k in expected} == expected
    right = expected["both_right"]
    assert found["accurate_accuracy"] == (right + expected["only_accurate_right"]) / 5
    assert found["fast_accuracy"] == (right + expected["only_fast_right"]) / 5
    if not expected["only_accurate_right"] + expected["only_fast_right"]:
        assert found["mcnemar_p"] == 1.0


def fast_metrics(truth: list[str], labels: list[str] = LABELS) -> dict:
    """A fast-model run's out-of-block predictions, rows in Blocks.tracks order."""
    rows = [[0.1 * i, 0.2, 0.3] for i in range(len(truth))]
    return {
        "labels": labels,
        "calibration": {
            "out_of_block": {"truth": [labels.index(x) for x in truth], "probabilities": rows}
        },
    }


def test_fast_predictions_are_keyed_by_the_blocks_order():
    truth = [t.label for t in GTZAN + EXTRA]  # make_blocks keeps GTZAN, then extra, in order
    found = fast_model_predictions(fast_metrics(truth), GTZAN, EXTRA, LABELS)
    assert list(found) == [t.key for t in EXTRA]
    assert found["e0"].tolist() == [0.1 * len(GTZAN), 0.2, 0.3]


@pytest.mark.parametrize(
    "metrics",
    [
        fast_metrics([t.label for t in GTZAN + EXTRA][:-1]),  # a track fewer
        fast_metrics([t.label for t in GTZAN + EXTRA[::-1]]),  # another order
    ],
)
def test_a_fast_run_over_other_tracks_is_refused(metrics):
    with pytest.raises(MismatchedRuns):
        fast_model_predictions(metrics, GTZAN, EXTRA, LABELS)


def test_fast_columns_follow_the_accurate_labels_and_a_missing_label_is_zero():
    truth = [t.label for t in GTZAN + EXTRA]
    metrics = fast_metrics(truth, ["rock", "jazz", "pop"])  # another order, no "nonmusic"
    found = fast_model_predictions(metrics, GTZAN, EXTRA, [*LABELS, "nonmusic"])
    # row e0 is [0.1 * 6, 0.2, 0.3] over rock, jazz, pop
    assert found["e0"].tolist() == [0.2, 0.3, 0.1 * len(GTZAN), 0.0]
