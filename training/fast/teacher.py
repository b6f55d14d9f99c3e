"""Soft labels from the accurate model (musicnn + logistic-regression head).

A teacher is a standardised logistic regression on each track's mean
musicnn embedding + tags; applied to each 3 s patch on its own it gives the
probabilities along the track that the student learns from. Two kinds are
fitted, and a third combines them:

- ``balanced``: genres weighted alike, C chosen by cross-validation grouped
  by artist on its training side (a short grid, to keep 36 fits cheap).
- ``real``: the accurate model's shipped head recipe (``REAL_RECIPE``, its
  card's choice): real recordings weighted up (version 3: three times a
  GTZAN clip, every genre alike; version 2's, which taught the shipped
  ``gtzan-mfcc`` v5: ten times, genres as often as they occur).
- ``mixed`` (``mixed_labels``): the balanced teacher's labels on GTZAN
  clips, the real one's on real recordings.

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
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from training.accurate.data import PatchFeatures
from training.accurate.heads import LogRegHead, head_inputs
from training.common.blocks import Blocks

CANDIDATE = "logreg-mean+tags"  # the accurate model's head inputs
C_GRID = (0.001, 0.003, 0.01)
INNER_FOLDS = 2
KINDS = ("balanced", "real")


@dataclass(frozen=True)
class RealRecipe:
    c: float
    real_weight: float  # a real recording counts this many GTZAN clips
    class_weight: str | None


# The accurate model's chosen head (models/musicnn-genre-metrics.json: its
# chosen_c, chosen_real_weight, chosen_class_weight; a test keeps them equal).
# Chosen by its inner folds on every track: a fixed recipe here, not re-chosen
# per held-out block.
REAL_RECIPE = RealRecipe(c=0.01, real_weight=3.0, class_weight="balanced")


@dataclass(frozen=True)
class Teacher:
    """logits = ((x - mean) / scale) @ weights + bias, per patch x."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (d, n_labels)
    bias: np.ndarray  # (n_labels,)


SoftLabels = dict[str, np.ndarray]  # track key -> (n_patches, n_labels)


def fit_teacher(
    features: dict[str, PatchFeatures],
    blocks: Blocks,
    excluded: frozenset,
    labels: list[str],
    seed: int,
    kind: str,
) -> Teacher:
    """The ``kind`` head fitted on every block but ``excluded``."""
    train = blocks.outside(*excluded)
    index = {label: i for i, label in enumerate(labels)}
    inputs = np.stack([patch_inputs(features, t.key).mean(axis=0) for t in train])
    targets = np.array([index[t.label] for t in train])
    if kind == "real":
        head = LogRegHead(
            len(labels),
            seed,
            chosen_c=REAL_RECIPE.c,
            chosen_real_weight=REAL_RECIPE.real_weight,
            chosen_class_weight=REAL_RECIPE.class_weight,
        ).fit_chosen(inputs, targets, np.array([t.source == "extra" for t in train]))
    else:
        groups = np.array([t.group for t in train])
        head = LogRegHead(len(labels), seed, model=balanced_head(inputs, targets, groups, seed))
    # a label never trained on is never taught (see linear_form)
    return Teacher(*head.linear_form())


def balanced_head(
    inputs: np.ndarray, targets: np.ndarray, groups: np.ndarray, seed: int
) -> Pipeline:
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
        search.fit(inputs, targets, groups=groups)
    return search.best_estimator_


def patch_inputs(features: dict[str, PatchFeatures], key: str) -> np.ndarray:
    return head_inputs(features[key].embedding, features[key].tags, CANDIDATE)


def patch_probabilities(teacher: Teacher, patches: np.ndarray) -> np.ndarray:
    """The head applied to each patch alone: (n_patches, n_labels)."""
    logits = ((patches - teacher.mean) / teacher.scale) @ teacher.weights + teacher.bias
    return softmax(logits, axis=1).astype(np.float32)


def cross_fitted_soft_labels(
    features: dict[str, PatchFeatures], blocks: Blocks, labels: list[str], seed: int, jobs: int
) -> dict[str, dict[str | None, SoftLabels]]:
    """Per teacher kind and held-out block (None: the shipped model), soft
    labels for every track outside it, from teachers that never saw either block."""
    held_outs: list[str | None] = [None, *blocks.names]
    excluded = sorted(
        {frozenset({h, b} - {None}) for h in held_outs for b in blocks.names if b != h},
        key=sorted,
    )
    print(f"fitting {len(KINDS)}×{len(excluded)} teachers", file=sys.stderr, flush=True)
    heads = joblib.Parallel(n_jobs=jobs)(
        joblib.delayed(fit_teacher)(features, blocks, e, labels, seed, kind)
        for kind in KINDS
        for e in excluded
    )
    teacher_of = dict(zip([(kind, e) for kind in KINDS for e in excluded], heads))
    return {
        kind: {
            held_out: {
                t.key: patch_probabilities(
                    teacher_of[kind, frozenset({held_out, blocks.of_track[t.key]} - {None})],
                    patch_inputs(features, t.key),
                )
                for t in blocks.outside(held_out)
            }
            for held_out in held_outs
        }
        for kind in KINDS
    }


def mixed_labels(
    soft: dict[str, dict[str | None, SoftLabels]], blocks: Blocks
) -> dict[str | None, SoftLabels]:
    """Per held-out block, the balanced teacher's soft labels for GTZAN clips
    and the real teacher's for real recordings."""
    real = {t.key for t in blocks.tracks if t.source == "extra"}
    return {
        held_out: {key: soft["real" if key in real else "balanced"][held_out][key] for key in keys}
        for held_out, keys in soft["real"].items()
    }
