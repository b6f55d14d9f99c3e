"""Calibration with every genre counting alike, and the learning-curve
estimate: pure rules, checked directly."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from training.accurate.curves import recordings_needed  # noqa: E402
from training.common.calibration import (  # noqa: E402
    LogitCalibration,
    cross_fitted_calibration,
    fit_logit_calibration,
    genres_alike,
    reliability,
)


@pytest.mark.parametrize(
    ("truth", "weights"),
    [
        ([0, 0, 0, 1], [2 / 3, 2 / 3, 2 / 3, 2]),  # each genre weighs 2 of 4
        ([0, 1, 2], [1, 1, 1]),
        ([2, 2, 0], [0.75, 0.75, 1.5]),  # a label index absent in between is fine
    ],
)
def test_genres_alike_gives_each_genre_the_same_weight(truth, weights):
    np.testing.assert_allclose(genres_alike(np.array(truth)), weights)


def sampled(calibration: LogitCalibration, rng, tracks: int = 6000):
    """Tracks whose true label follows ``calibration`` of uncalibrated
    probabilities: the fit should find ``calibration`` again."""
    logits = rng.normal(0, 2, (tracks, 3))
    raw = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(3, p=p) for p in calibration(raw)])
    return raw, truth


def test_fit_finds_the_temperature_and_offsets_that_made_the_labels():
    made = LogitCalibration(2.0, np.array([0.6, -0.1, -0.5]))
    raw, truth = sampled(made, np.random.default_rng(0))
    found = fit_logit_calibration(raw, truth, np.ones(len(truth)))
    assert found.temperature == pytest.approx(2.0, rel=0.1)
    np.testing.assert_allclose(found.offsets, made.offsets, atol=0.1)


def test_weighting_genres_alike_undoes_a_skewed_mix():
    """Label 0 three times as common in the sample: fitted as the sample
    comes, its offset grows; with genres alike it does not."""
    raw, truth = sampled(LogitCalibration(1.0, np.zeros(3)), np.random.default_rng(1))
    skewed = np.concatenate([np.flatnonzero(truth == 0)] * 3 + [np.flatnonzero(truth != 0)])
    as_it_comes = fit_logit_calibration(raw[skewed], truth[skewed], np.ones(len(skewed)))
    alike = fit_logit_calibration(raw[skewed], truth[skewed], genres_alike(truth[skewed]))
    assert as_it_comes.offsets[0] > 0.5
    assert abs(alike.offsets[0]) < 0.15


def test_cross_fitting_never_uses_a_block_to_calibrate_itself():
    raw, truth = sampled(LogitCalibration(2.0, np.zeros(3)), np.random.default_rng(2), 900)
    blocks = np.arange(len(truth)) % 3
    calibrated = cross_fitted_calibration(raw, truth, blocks)
    for block in range(3):
        outside = blocks != block
        alone = fit_logit_calibration(raw[outside], truth[outside], genres_alike(truth[outside]))
        np.testing.assert_allclose(calibrated[blocks == block], alone(raw[blocks == block]))


def test_weighted_reliability_reads_as_a_library_of_other_proportions():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.3, 0.7]])
    truth = np.array([0, 0, 0, 0])  # three right at 0.9, one wrong at 0.7
    plain = reliability(probabilities, truth)
    weighted = reliability(probabilities, truth, np.array([1, 1, 1, 3.0]))
    assert plain["ece"] == pytest.approx((3 * 0.1 + 0.7) / 4)
    assert weighted["ece"] == pytest.approx((3 * 0.1 + 3 * 0.7) / 6)
    assert [b["share"] for b in weighted["bins"]] == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize(
    ("curve", "needed"),
    [
        ({2: 0.1, 4: 0.7, 8: 0.8}, 4),  # reached at a measured size
        ({2: 0.1, 4: 0.2, 8: 0.3}, 64),  # +0.1 per doubling: 0.6 at 64
        ({2: 0.0, 4: 0.0}, None),  # no rise: no estimate
        ({2: 0.3}, None),  # one size: no trend
    ],
)
def test_recordings_needed(curve, needed):
    assert recordings_needed(curve) == needed
