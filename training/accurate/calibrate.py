"""A confidence that means what it says on any library.

The real-music check's out-of-fold predictions, as the plugin hears a track
(its default windows), are recalibrated with every genre counting alike (a
library with as many tracks of each genre, not the check's own mix): by a
temperature alone, or with one offset per genre too, which also moves the
head's choice towards genres it under-calls (``training.common.calibration``).
To judge a calibration on predictions it was not fitted on, each fold of the
check is recalibrated by a fit on the other folds (cross-fitted); the shipped
head gets the fit on every fold, folded into its weights. ``min_confidence:
auto`` is the lowest confidence at which, with genres counted alike,
``TARGET_PRECISION`` of the genres it sets are right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupKFold

from beetsplug.genreclf.learn import confidence_threshold
from training.accurate.data import NONMUSIC
from training.accurate.evaluate import (
    EXTRA_FOLDS,
    GTZAN_GENRES,
    Corpus,
    Judged,
)
from training.common.calibration import (
    LogitCalibration,
    cross_fitted_calibration,
    fit_logit_calibration,
    genres_alike,
    reliability,
)
from training.common.evaluate import threshold_summary

TARGET_PRECISION = 0.8  # min_confidence 'auto': right this often, genres counted alike


@dataclass(frozen=True)
class CheckView:
    """The real-music check's out-of-fold probabilities in one window policy."""

    labels: list[str]
    keys: list[str]
    probabilities: np.ndarray  # (tracks, labels)
    truth: np.ndarray  # label index per track
    blocks: np.ndarray  # the fold that held each track out

    @classmethod
    def of(cls, evaluation: dict, corpus: Corpus, labels: list[str], view: str) -> CheckView:
        found = evaluation["extra_out_of_fold_windows"][view]
        keys = [t.key for t in corpus.extra]
        return cls(
            labels,
            keys,
            np.array([found[key] for key in keys]),
            np.array([labels.index(t.label) for t in corpus.extra]),
            extra_blocks(corpus),
        )

    def judged(self, probabilities: np.ndarray) -> Judged:
        return Judged(self.labels, dict(zip(self.keys, probabilities)))


def extra_blocks(corpus: Corpus) -> np.ndarray:
    """Each extra track's fold, as ``evaluate.extra_folds`` makes them."""
    blocks = np.zeros(len(corpus.extra), int)
    groups = [t.group for t in corpus.extra]
    folds = GroupKFold(n_splits=EXTRA_FOLDS).split(corpus.extra, groups=groups)
    for fold, (_, test) in enumerate(folds):
        blocks[test] = fold
    return blocks


def check_metrics(judged: Judged, corpus: Corpus) -> dict:
    """What the card reports of one set of out-of-fold predictions."""
    ten = [t for t in corpus.extra if t.label in GTZAN_GENRES]
    return {
        **judged.metrics(corpus.extra),
        "ten_genres_accuracy": judged.metrics(ten)["accuracy"],
        "per_source": judged.per_origin(corpus.extra),
        "per_genre_and_source": per_genre_and_source(judged, corpus),
    }


def per_genre_and_source(judged: Judged, corpus: Corpus) -> dict:
    """Recall of each genre per source of its recordings, and how often each
    source's recordings of other genres are called that genre (a model that
    learned a source instead of a genre shows it here)."""
    found: dict[str, dict] = {}
    predicted = dict(zip((t.key for t in corpus.extra), judged.predicted(corpus.extra)))
    for genre in sorted({t.label for t in corpus.extra}):
        column = judged.labels.index(genre)
        sources = sorted({t.origin for t in corpus.extra if t.label == genre})
        found[genre] = {}
        for source in sources:
            ours = [t for t in corpus.extra if t.origin == source and t.label == genre]
            others = [t for t in corpus.extra if t.origin == source and t.label != genre]
            found[genre][source] = {
                "tracks": len(ours),
                "recall": float(np.mean([predicted[t.key] == column for t in ours])),
                "others": len(others),
                "others_called_it": (
                    float(np.mean([predicted[t.key] == column for t in others]))
                    if others else None
                ),
            }
    return found


# How the probabilities are recalibrated: not at all, a temperature alone
# (every top label kept), or a temperature and one offset per genre.
CALIBRATIONS = ("none", "temperature", "temperature+offsets")


def calibrated_check(evaluation: dict, corpus: Corpus, labels: list[str], view: str) -> dict:
    """The check in ``view`` under each of CALIBRATIONS (cross-fitted), with
    reliability and the threshold for each, genres counted alike and as the
    check's mix has them; and each calibration fitted on every fold."""
    check = CheckView.of(evaluation, corpus, labels, view)
    found: dict = {"view": view, "fits": {}, "reports": {}}
    for kind in CALIBRATIONS:
        if kind == "none":
            probabilities = check.probabilities
            fitted = LogitCalibration(1.0, np.zeros(len(labels)))
        else:
            offsets = kind == "temperature+offsets"
            probabilities = cross_fitted_calibration(
                check.probabilities, check.truth, check.blocks, offsets
            )
            fitted = fit_logit_calibration(
                check.probabilities, check.truth, genres_alike(check.truth), offsets
            )
        found["fits"][kind] = {
            "temperature": fitted.temperature,
            "offsets": dict(zip(labels, fitted.offsets.tolist())),
        }
        found["reports"][kind] = confidence_report(check, probabilities, corpus)
    return found


def calibration_of(fit: dict) -> LogitCalibration:
    return LogitCalibration(fit["temperature"], np.array(list(fit["offsets"].values())))


def confidence_report(check: CheckView, probabilities: np.ndarray, corpus: Corpus) -> dict:
    alike = genres_alike(check.truth)
    threshold = confidence_threshold(
        probabilities, check.truth, TARGET_PRECISION, balanced=True
    )
    return {
        "metrics": check_metrics(check.judged(probabilities), corpus),
        "reliability_alike": reliability(probabilities, check.truth, alike),
        "reliability_mix": reliability(probabilities, check.truth),
        "threshold": threshold_summary(threshold, TARGET_PRECISION),
        "precision_bands_alike": precision_bands(probabilities, check.truth, alike),
    }


BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def precision_bands(probabilities: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> list:
    """Share right per confidence band (what a user sees of a stored
    confidence), genres counted alike."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    rows = []
    for low, high in zip(BANDS, BANDS[1:]):
        inside = (confidence >= low) & (confidence < high)
        if inside.any():
            rows.append({
                "low": low, "high": min(high, 1.0), "tracks": int(inside.sum()),
                "right": float(np.average(correct[inside], weights=weights[inside])),
            })
    return rows


def nonmusic_after(evaluation: dict, corpus: Corpus, labels: list[str],
                   calibration: LogitCalibration) -> dict:
    """Not music recognised, and music called not music, with the
    calibration applied to the out-of-fold predictions (it was fitted on
    music only)."""
    found = evaluation["out_of_fold"]
    probabilities = calibration(np.array(found["probabilities"]))
    keys = [t.key for t in corpus.everything]
    judged = Judged(labels, dict(zip(keys, probabilities)))
    music = corpus.gtzan + corpus.extra
    return {
        "recognised": judged.share_called(corpus.nonmusic, NONMUSIC),
        "recognised_per_kind": judged.per_origin(corpus.nonmusic),
        "music_called_nonmusic": judged.share_called(music, NONMUSIC),
        "mixtures_called_nonmusic": judged.share_called(corpus.mixtures, NONMUSIC),
        "mixtures_right_genre": judged.share_right(corpus.mixtures),
    }


def at_threshold(
    evaluation: dict, corpus: Corpus, labels: list[str], view: str, calibration: str,
    min_confidence: float,
) -> dict:
    """The check heard in another ``view`` (``model: fast``'s) with the
    shipped kind of calibration (cross-fitted in that view) and threshold:
    accuracy, and precision and coverage with genres counted alike."""
    check = CheckView.of(evaluation, corpus, labels, view)
    probabilities = (
        check.probabilities
        if calibration == "none"
        else cross_fitted_calibration(
            check.probabilities, check.truth, check.blocks, calibration == "temperature+offsets"
        )
    )
    alike = genres_alike(check.truth)
    kept = probabilities.max(axis=1) >= min_confidence
    correct = probabilities.argmax(axis=1) == check.truth
    metrics = check.judged(probabilities).metrics(corpus.extra)
    return {
        "view": view,
        "accuracy": metrics["accuracy"],
        "balanced_accuracy": metrics["balanced_accuracy"],
        "min_confidence": min_confidence,
        "precision": float(np.sum(alike * correct * kept) / np.sum(alike * kept)),
        "coverage": float(np.sum(alike * kept) / np.sum(alike)),
    }
