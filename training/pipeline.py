"""The whole recipe: clips -> features -> folds -> models -> metrics -> ONNX.

Evaluation never lets a clip, or an artist (with GTZAN's artist-filtered
lists), sit on both sides. For each held-out list H of the three, the other
two form the training pool. Early stopping: a network is trained on each
of the two for ``max_epochs``, validated on the other after every epoch;
the epoch count with the best mean (smoothed) validation curve is used to
refit on the whole pool, which is then tested on H. Holding out 'test' is
the published train/valid/test protocol. Extra tracks (``--extra``) only
ever join the training side. The shipped model is refitted on every listed
clip for the epoch count that is best over all six validation curves.
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import asdict, dataclass, field
from itertools import permutations
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
from torch import nn

from beetsplug.genreclf.features import FeatureParams
from beetsplug.genreclf.learn import confidence_threshold
from beetsplug.genreclf.model import GenreModel
from training.augment import AugmentParams
from training.baselines import (
    LogMelCNN,
    logistic_regression_probabilities,
    mfcc_statistics,
)
from training.data import Clip, Folds
from training.evaluate import track_metrics
from training.export import export_onnx
from training.extract import LOGMEL_BANDS, ClipFeatures
from training.fit import (
    Examples,
    TrainParams,
    make_deterministic,
    segment_probabilities,
    stopping_epoch,
    track_segments,
    train,
)
from training.network import GenreLSTM

NEURAL = ("lstm", "cnn")


def networks(config: str) -> tuple[str, ...]:
    """The CNN baseline is trained on GTZAN only, to keep the run short."""
    return NEURAL if config == "gtzan" else ("lstm",)


@dataclass(frozen=True)
class LSTMParams:
    hidden_size: int = 64
    num_layers: int = 2
    embedding_size: int = 64
    dropout: float = 0.3


@dataclass(frozen=True)
class Recipe:
    features: FeatureParams = field(default_factory=FeatureParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    n_augmented: int = 4
    lstm: LSTMParams = field(default_factory=LSTMParams)
    train: TrainParams = field(default_factory=TrainParams)
    target_precision: float = 0.5  # class-balanced, see calibrate
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TaskKey:
    """Which network a task trains: ``config``'s (training data) ``kind``
    network, as a validation ``curve`` (fitted on fold ``fit_on``, validated
    on fold ``validate_on``), a ``refit`` on every fold but ``held_out``
    (tested on it), or the ``final`` network on every listed clip."""

    config: str
    kind: str  # "lstm" or "cnn"
    role: Literal["curve", "refit", "final"]
    held_out: str | None = None
    fit_on: str | None = None
    validate_on: str | None = None

    @classmethod
    def curve(cls, config: str, kind: str, fit_on: str, validate_on: str) -> TaskKey:
        return cls(config, kind, "curve", fit_on=fit_on, validate_on=validate_on)

    @classmethod
    def refit(cls, config: str, kind: str, held_out: str) -> TaskKey:
        return cls(config, kind, "refit", held_out=held_out)

    @classmethod
    def final(cls, config: str) -> TaskKey:
        return cls(config, "lstm", "final")

    @property
    def name(self) -> str:
        """For logs, files and metrics; it also seeds the task, so it must not change."""
        if self.role == "curve":
            return f"{self.config}-{self.kind}-curve-{self.fit_on}-on-{self.validate_on}"
        if self.role == "refit":
            return f"{self.config}-{self.kind}-{self.held_out}"
        return f"{self.config}-{self.kind}-final"


@dataclass(frozen=True)
class Task:
    """One network to train on ``train_clips`` for ``epochs``, validated on
    ``validation_clips`` after every epoch, then tested on ``test_clips``."""

    key: TaskKey
    train_clips: tuple[Clip, ...]
    epochs: int
    test_clips: tuple[Clip, ...] = ()
    validation_clips: tuple[Clip, ...] = ()


@dataclass
class TaskResult:
    """A trained network, its validation curve (empty without validation
    clips) and, per test clip, its segment probabilities (segments, labels)."""

    key: TaskKey
    network: nn.Module
    curve: list[float]
    segment_probabilities: list[np.ndarray]


def task_seed(seed: int, name: str) -> int:
    """A per-task seed that does not depend on the order tasks run in."""
    return zlib.crc32(f"{seed}/{name}".encode())


def make_network(kind: str, labels: list[str], recipe: Recipe):
    if kind == "lstm":
        return GenreLSTM(recipe.features.n_mfcc, len(labels), **asdict(recipe.lstm))
    return LogMelCNN(LOGMEL_BANDS, len(labels), dropout=recipe.lstm.dropout)


def sequences(kind: str, features: ClipFeatures) -> list[np.ndarray]:
    return features.mfcc if kind == "lstm" else features.logmel


def run_task(
    task: Task,
    features: dict[Clip, ClipFeatures],
    labels: list[str],
    recipe: Recipe,
    runs_dir: Path,
) -> TaskResult:
    """Train ``task``'s network and test it on its test clips. LSTMs are
    exported and tested through the plugin's ``GenreModel``, as the plugin
    would run them."""
    kind, name = task.key.kind, task.key.name
    index = {label: i for i, label in enumerate(labels)}

    def examples(clips):
        return Examples(
            [sequences(kind, features[c]) for c in clips],
            np.array([index[c.label] for c in clips]),
        )

    def segments(clips):
        return [
            track_segments(sequences(kind, features[c])[0], recipe.features) for c in clips
        ]

    validation = None
    if task.validation_clips:
        validation = (segments(task.validation_clips), examples(task.validation_clips).labels)
    seed = task_seed(recipe.seed, name)
    make_deterministic(seed)  # before the network exists: its initial weights too
    network = make_network(kind, labels, recipe)
    curve = train(
        network,
        examples(task.train_clips),
        recipe.features,
        recipe.train,
        seed,
        task.epochs,
        validation,
    )
    print(f"trained {name} ({task.epochs} epochs)", file=sys.stderr, flush=True)
    tested = []
    if task.test_clips and kind == "lstm":
        path = runs_dir / f"{name}.onnx"
        export_onnx(
            network, labels, recipe.features, path, name=name, version="0", min_confidence=0.0
        )
        predictions = GenreModel(path).predict_tracks(segments(task.test_clips))
        tested = [p.segment_probabilities for p in predictions]
    elif task.test_clips:
        tested = [segment_probabilities(network, s) for s in segments(task.test_clips)]
    return TaskResult(task.key, network, curve, tested)


def run_tasks(
    tasks: list[Task],
    features: dict[Clip, ClipFeatures],
    labels: list[str],
    recipe: Recipe,
    runs_dir: Path,
    jobs: int,
) -> dict[TaskKey, TaskResult]:
    results = joblib.Parallel(n_jobs=jobs)(
        joblib.delayed(run_task)(
            task,
            {c: features[c] for c in {*task.train_clips, *task.validation_clips, *task.test_clips}},
            labels,
            recipe,
            runs_dir,
        )
        for task in tasks
    )
    return {result.key: result for result in results}


def curve_tasks(
    by_fold: dict[str, tuple[Clip, ...]], extra: list[Clip], configs: list[str], max_epochs: int
) -> list[Task]:
    """Validation-curve runs: for every config and network, train on each
    fold and validate on each other fold, on the genres it was trained on
    (a genre the network cannot know would only reward timid epochs)."""
    tasks = []
    for config in configs:
        added = tuple(extra) if config == "gtzan+extra" else ()
        for kind in networks(config):
            for fit_on, validate_on in permutations(by_fold, 2):
                train_clips = by_fold[fit_on] + added
                known = {c.label for c in train_clips}
                validation = tuple(c for c in by_fold[validate_on] if c.label in known)
                key = TaskKey.curve(config, kind, fit_on, validate_on)
                tasks.append(Task(key, train_clips, max_epochs, validation_clips=validation))
    return tasks


def stopping_epochs(
    curves: dict[TaskKey, TaskResult], fold_names: list[str], configs: list[str], max_epochs: int
) -> dict[TaskKey, int]:
    """Epoch count per config, network and held-out fold (from the curves of
    the two other folds) and per config for the final LSTM (all curves).
    Without any validation curve (no shared genre), ``max_epochs``."""

    def best(config: str, kind: str, names: list[str]) -> int:
        found = [curves[TaskKey.curve(config, kind, a, b)].curve for a, b in permutations(names, 2)]
        found = [curve for curve in found if curve]
        return stopping_epoch(found) if found else max_epochs

    chosen = {}
    for config in configs:
        for kind in networks(config):
            for held_out in fold_names:
                pool = [n for n in fold_names if n != held_out]
                chosen[TaskKey.refit(config, kind, held_out)] = best(config, kind, pool)
        chosen[TaskKey.final(config)] = best(config, "lstm", fold_names)
    return chosen


def refit_tasks(
    by_fold: dict[str, tuple[Clip, ...]],
    extra: list[Clip],
    configs: list[str],
    epochs: dict[TaskKey, int],
) -> list[Task]:
    """Refit on each whole pool (tested on its held-out fold), plus one
    final LSTM per config on every listed clip."""
    tasks = []
    for config in configs:
        added = tuple(extra) if config == "gtzan+extra" else ()
        for kind in networks(config):
            for held_out, test in by_fold.items():
                pool = tuple(
                    c for name, clips in by_fold.items() if name != held_out for c in clips
                )
                key = TaskKey.refit(config, kind, held_out)
                tasks.append(Task(key, pool + added, epochs[key], test_clips=test))
        everything = tuple(c for clips in by_fold.values() for c in clips) + added
        tested_on = tuple(extra) if config == "gtzan" else ()  # out-of-GTZAN check
        key = TaskKey.final(config)
        tasks.append(Task(key, everything, epochs[key], test_clips=tested_on))
    return tasks


def fold_metrics(
    truth: dict[str, np.ndarray],
    tracks: dict[str, np.ndarray],
    segments_correct: dict[str, np.ndarray] | None,
    labels: list[str],
) -> dict:
    """Metrics per held-out fold and pooled over all of them; segment
    accuracy from per-segment correctness where the model has segments."""

    def segment_accuracy(names: list[str]) -> float | None:
        if segments_correct is None:
            return None
        return float(np.mean(np.concatenate([segments_correct[n] for n in names])))

    pooled_truth = np.concatenate(list(truth.values()))
    pooled = np.concatenate(list(tracks.values()))
    return {
        "folds": {
            n: track_metrics(truth[n], tracks[n], labels, segment_accuracy([n])) for n in truth
        },
        "pooled": track_metrics(pooled_truth, pooled, labels, segment_accuracy(list(truth))),
        "out_of_fold": {"truth": pooled_truth.tolist(), "probabilities": pooled.tolist()},
    }


def evaluate_neural(
    results: dict[TaskKey, TaskResult],
    config: str,
    kind: str,
    gtzan: list[Clip],
    folds: Folds,
    labels: list[str],
) -> dict:
    index = {label: i for i, label in enumerate(labels)}
    truth, tracks, segments_correct = {}, {}, {}
    for held_out in folds.names:
        test = [c for c in gtzan if folds.of_clip[c.clip_id] == held_out]
        per_clip = results[TaskKey.refit(config, kind, held_out)].segment_probabilities
        truth[held_out] = np.array([index[c.label] for c in test])
        tracks[held_out] = np.stack([p.mean(axis=0) for p in per_clip])
        segments_correct[held_out] = np.concatenate(
            [p.argmax(axis=1) == index[c.label] for c, p in zip(test, per_clip)]
        )
    return fold_metrics(truth, tracks, segments_correct, labels)


def evaluate_statistics(
    gtzan: list[Clip],
    extra: list[Clip],
    folds: Folds,
    features,
    labels: list[str],
    config: str,
    seed: int,
) -> dict:
    """The logistic-regression baseline on the clean clips' MFCC statistics."""
    index = {label: i for i, label in enumerate(labels)}
    added = extra if config == "gtzan+extra" else []

    def stats(clips: list[Clip]) -> np.ndarray:
        return np.stack([mfcc_statistics(features[c].mfcc[0]) for c in clips])

    truth, tracks = {}, {}
    for held_out in folds.names:
        train_clips = [c for c in gtzan if folds.of_clip[c.clip_id] != held_out] + added
        test = [c for c in gtzan if folds.of_clip[c.clip_id] == held_out]
        truth[held_out] = np.array([index[c.label] for c in test])
        tracks[held_out] = logistic_regression_probabilities(
            stats(train_clips),
            np.array([index[c.label] for c in train_clips]),
            stats(test),
            len(labels),
            seed,
        )
    return fold_metrics(truth, tracks, None, labels)


def out_of_gtzan(result: TaskResult, extra: list[Clip], labels: list[str]) -> dict | None:
    """The final GTZAN-only model on the extra tracks (never trained on)."""
    if not extra:
        return None
    index = {label: i for i, label in enumerate(labels)}
    per_clip = result.segment_probabilities
    truth = np.array([index[c.label] for c in extra])
    return track_metrics(truth, np.stack([p.mean(axis=0) for p in per_clip]), labels)


@dataclass
class TrainingResult:
    """Every model of the recipe evaluated (JSON-ready metrics per config and
    model), and the network that ships with its confidence threshold."""

    labels: list[str]
    configs: list[str]
    chosen: str  # the config whose final LSTM ships
    epochs: dict[TaskKey, int]  # per refit and final task
    curves: dict[TaskKey, list[float]]
    evaluation: dict
    out_of_gtzan: dict | None
    calibration: dict
    network: nn.Module


def calibrate(truth: np.ndarray, probabilities: np.ndarray, target_precision: float) -> dict:
    """The shipped model's ``min_confidence`` from out-of-fold predictions,
    each genre weighted equally, at least a tenth of the tracks (and 5)
    kept; with the precision and coverage it gives. Rounded down to 3
    decimals, so that the track at the threshold still passes."""
    found = confidence_threshold(
        probabilities,
        truth,
        target_precision,
        balanced=True,
        min_tracks=max(5, len(truth) // 10),
    )
    return {
        "min_confidence": float(np.floor(found.min_confidence * 1000) / 1000),
        "precision": found.precision,
        "coverage": found.coverage,
        "target_precision": target_precision,
        "reached": found.reached,
    }


def train_and_evaluate(
    gtzan: list[Clip],
    extra: list[Clip],
    folds: Folds,
    features: dict[Clip, ClipFeatures],
    recipe: Recipe,
    runs_dir: Path,
    jobs: int,
) -> TrainingResult:
    """Train and evaluate every model of the recipe; choose the one that
    ships. Only clips in a fold are used from ``gtzan``."""
    gtzan = [c for c in gtzan if c.clip_id in folds.of_clip]
    labels = sorted({c.label for c in gtzan})
    extra = [c for c in extra if c.label in labels]
    configs = ["gtzan", "gtzan+extra"] if extra else ["gtzan"]
    runs_dir.mkdir(parents=True, exist_ok=True)
    by_fold = {n: tuple(c for c in gtzan if folds.of_clip[c.clip_id] == n) for n in folds.names}
    tasks = curve_tasks(by_fold, extra, configs, recipe.train.max_epochs)
    curves = run_tasks(tasks, features, labels, recipe, runs_dir, jobs)
    epochs = stopping_epochs(curves, folds.names, configs, recipe.train.max_epochs)
    tasks = refit_tasks(by_fold, extra, configs, epochs)
    refitted = run_tasks(tasks, features, labels, recipe, runs_dir, jobs)
    evaluation = {
        config: {
            **{
                kind: evaluate_neural(refitted, config, kind, gtzan, folds, labels)
                for kind in networks(config)
            },
            "logreg": evaluate_statistics(
                gtzan, extra, folds, features, labels, config, recipe.seed
            ),
        }
        for config in configs
    }
    chosen = max(configs, key=lambda c: (evaluation[c]["lstm"]["pooled"]["macro_f1"], c == "gtzan"))
    held_out = evaluation[chosen]["lstm"]["out_of_fold"]
    calibration = calibrate(
        np.array(held_out["truth"]), np.array(held_out["probabilities"]), recipe.target_precision
    )
    return TrainingResult(
        labels=labels,
        configs=configs,
        chosen=chosen,
        epochs=epochs,
        curves={key: result.curve for key, result in curves.items()},
        evaluation=evaluation,
        out_of_gtzan=out_of_gtzan(refitted[TaskKey.final("gtzan")], extra, labels),
        calibration=calibration,
        network=refitted[TaskKey.final(chosen)].network,
    )
