"""The mood head: the 4Q emotion clips' quadrants from musicnn's embedding.

A standardised logistic regression on a track's mean embedding (the 200-d
layer the plugin already keeps and caches), classes weighted alike. It ships
as plain arrays in the model's metadata (``beetsplug.genreclf.mood``).
Candidates differ in their input: the embedding alone (what ships, because
the plugin has it for free), or with musicnn's 50 tag probabilities appended.
C is chosen by cross-validation grouped by artist inside each training side;
the figures come from 5 outer folds grouped by artist.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from beetsplug.genreclf.mood import AROUSED, MOOD_LABELS, POSITIVE
from training.accurate.data import PatchFeatures, Track

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")  # MOOD_LABELS' order: happy, aggressive, sad, relaxed
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
OUTER_FOLDS = 5
INNER_FOLDS = 3
INPUTS = ("embedding", "embedding+tags")
SHIPPED_INPUT = "embedding"


def mood_inputs(features: dict[str, PatchFeatures], tracks: list[Track], kind: str) -> np.ndarray:
    """Each track's mean embedding (and mean tags, for ``embedding+tags``)."""
    rows = []
    for track in tracks:
        found = features[track.key]
        patches = (
            found.embedding if kind == "embedding" else np.hstack([found.embedding, found.tags])
        )
        rows.append(patches.mean(axis=0))
    return np.stack(rows)


def regression(c: float) -> Pipeline:
    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=0),
    )


def chosen_c(inputs: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> float:
    """The C of the grid with the best log-likelihood over inner folds by artist."""
    folds = list(GroupKFold(n_splits=INNER_FOLDS).split(inputs, truth, groups))
    scores = []
    for c in C_GRID:
        total = 0.0
        for train, test in folds:
            found = regression(c).fit(inputs[train], truth[train]).predict_proba(inputs[test])
            total += np.log(np.maximum(found[np.arange(len(test)), truth[test]], 1e-12)).sum()
        scores.append(total)
    return C_GRID[int(np.argmax(scores))]


def fitted(inputs: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> Pipeline:
    return regression(chosen_c(inputs, truth, groups)).fit(inputs, truth)


def out_of_fold(inputs: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each clip's quadrant probabilities from a head that never heard its artist."""
    probabilities = np.zeros((len(truth), len(QUADRANTS)))
    for train, test in GroupKFold(n_splits=OUTER_FOLDS).split(inputs, truth, groups):
        probabilities[test] = fitted(inputs[train], truth[train], groups[train]).predict_proba(
            inputs[test]
        )
    return probabilities


def share(probabilities: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    return probabilities[:, [MOOD_LABELS.index(label) for label in labels]].sum(axis=1)


def mood_metrics(truth: np.ndarray, probabilities: np.ndarray) -> dict:
    """Quadrant accuracy and recall, arousal and valence accuracy (each half
    of the plane read off the quadrant probabilities at 0.5), confusion."""
    predicted = probabilities.argmax(axis=1)
    aroused = np.isin(truth, [MOOD_LABELS.index(m) for m in AROUSED])
    positive = np.isin(truth, [MOOD_LABELS.index(m) for m in POSITIVE])
    confusion = np.zeros((4, 4), int)
    np.add.at(confusion, (truth, predicted), 1)
    return {
        "clips": int(len(truth)),
        "accuracy": float(np.mean(predicted == truth)),
        "arousal_accuracy": float(np.mean((share(probabilities, AROUSED) > 0.5) == aroused)),
        "valence_accuracy": float(np.mean((share(probabilities, POSITIVE) > 0.5) == positive)),
        "recall": {MOOD_LABELS[k]: float(np.mean(predicted[truth == k] == k)) for k in range(4)},
        "confusion": confusion.tolist(),
    }


def evaluate_and_fit(features: dict[str, PatchFeatures], tracks: list[Track]) -> dict:
    """Every input candidate's out-of-fold metrics, and the shipped head
    (fitted on every clip) as the plugin's metadata entry."""
    truth = np.array([QUADRANTS.index(t.label) for t in tracks])
    groups = np.array([t.group for t in tracks])
    evaluation = {
        kind: mood_metrics(truth, out_of_fold(mood_inputs(features, tracks, kind), truth, groups))
        for kind in INPUTS
    }
    inputs = mood_inputs(features, tracks, SHIPPED_INPUT)
    head = fitted(inputs, truth, groups)
    return {
        "evaluation": evaluation,
        "shipped_input": SHIPPED_INPUT,
        "chosen_c": float(head[-1].C),
        "clips": len(tracks),
        "artists": len(set(groups)),
        "metadata": metadata_entry(head),
    }


def metadata_entry(head: Pipeline) -> dict:
    """The head as the model's ``mood`` metadata: labels and the linear form."""
    scaler, classifier = head
    return {
        "labels": list(MOOD_LABELS),
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "weights": classifier.coef_.T.tolist(),
        "bias": classifier.intercept_.tolist(),
    }
