"""Soft labels from the accurate model (musicnn + logistic-regression head).

The teacher is the accurate model's head: standardised, class-balanced
logistic regression on each track's mean musicnn embedding + tags, C chosen
by cross-validation grouped by artist on its training side (a shorter grid
around the accurate model's choice, to keep 36 fits cheap). Applied to each
3 s patch on its own it gives the probabilities along the track that the
student learns from.

No soft label may carry knowledge of a block the student is tested on, and
soft labels of a training track are more useful when the teacher did not
see that track. So they are cross-fitted over blocks: when block ``H`` is
held out, a training track of block ``B`` is labelled by a teacher fitted on
every block but ``H`` and ``B`` (``H`` None: the shipped model's teacher,
fitted on every block but ``B``).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import joblib
import numpy as np
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training.blocks import Blocks
from training.musicnn_data import PatchFeatures
from training.musicnn_heads import LogRegHead, head_inputs

CANDIDATE = "logreg-mean+tags"  # the accurate model's head
C_GRID = (0.001, 0.003, 0.01)
INNER_FOLDS = 2


@dataclass(frozen=True)
class Teacher:
    """logits = ((x - mean) / scale) @ weights + bias, per patch x."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (d, n_labels)
    bias: np.ndarray  # (n_labels,)


SoftLabels = dict[str, np.ndarray]  # track key -> (n_patches, n_labels)


def fit_teacher(
    features: dict[str, PatchFeatures], blocks: Blocks, excluded: frozenset, labels, seed: int
) -> Teacher:
    """The head fitted on every block but ``excluded``."""
    train = blocks.outside(*excluded)
    index = {label: i for i, label in enumerate(labels)}
    search = GridSearchCV(
        make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=3000, class_weight="balanced", random_state=seed),
        ),
        {"logisticregression__C": C_GRID},
        cv=GroupKFold(n_splits=INNER_FOLDS),
        scoring="balanced_accuracy",
    )
    with warnings.catch_warnings():  # inner folds may lack a genre: scoring warns
        warnings.simplefilter("ignore", UserWarning)
        search.fit(
            np.stack([patch_inputs(features, t.key).mean(axis=0) for t in train]),
            np.array([index[t.label] for t in train]),
            groups=np.array([t.group for t in train]),
        )
    # a label never trained on is never taught (see linear_form)
    return Teacher(*LogRegHead(len(labels), seed, model=search.best_estimator_).linear_form())


def patch_inputs(features: dict[str, PatchFeatures], key: str) -> np.ndarray:
    return head_inputs(features[key].embedding, features[key].tags, CANDIDATE)


def patch_probabilities(teacher: Teacher, patches: np.ndarray) -> np.ndarray:
    """The head applied to each patch alone: (n_patches, n_labels)."""
    logits = ((patches - teacher.mean) / teacher.scale) @ teacher.weights + teacher.bias
    return softmax(logits, axis=1).astype(np.float32)


def cross_fitted_soft_labels(
    features: dict[str, PatchFeatures], blocks: Blocks, labels: list[str], seed: int, jobs: int
) -> dict[str | None, SoftLabels]:
    """Per held-out block (and None for the shipped model), soft labels for
    every track outside it, from teachers that never saw either block."""
    held_outs: list[str | None] = [None, *blocks.names]
    excluded = sorted(
        {frozenset({h, b} - {None}) for h in held_outs for b in blocks.names if b != h},
        key=sorted,
    )
    print(f"fitting {len(excluded)} teachers", file=sys.stderr, flush=True)
    heads = joblib.Parallel(n_jobs=jobs)(
        joblib.delayed(fit_teacher)(features, blocks, e, labels, seed) for e in excluded
    )
    teacher_of = dict(zip(excluded, heads))
    return {
        held_out: {
            t.key: patch_probabilities(
                teacher_of[frozenset({held_out, blocks.of_track[t.key]} - {None})],
                patch_inputs(features, t.key),
            )
            for t in blocks.outside(held_out)
        }
        for held_out in held_outs
    }
