"""The whole recipe: clips -> features -> folds -> models -> metrics -> ONNX.

Evaluation never lets a clip, or an artist (with GTZAN's artist-filtered
lists), sit on both sides. For each held-out list H of the three, the other
two form the training pool; early stopping picks the epoch count by
training on the larger of them and validating on the smaller, then the
model is refitted on the whole pool for that many epochs and tested on H.
Holding out 'test' is the published train/valid/test protocol. Extra
tracks (``--extra``) only ever join the training side. The shipped model is
refitted on every listed clip for the median of the early-stopping epochs.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import joblib
import numpy as np
from beetsplug.genreclf.features import FeatureParams
from beetsplug.genreclf.model import GenreModel

from training.augment import AugmentParams
from training.baselines import LogMelCNN, logistic_regression_probabilities, mfcc_statistics
from training.data import Clip, Folds, inner_split
from training.evaluate import confidence_threshold, track_metrics
from training.export import export_onnx
from training.extract import LOGMEL_BANDS, ClipFeatures
from training.fit import Examples, TrainParams, segment_probabilities, track_segments, train
from training.network import GenreLSTM

NEURAL = ("lstm", "cnn")


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
    target_precision: float = 0.8
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Task:
    """One network to train: on ``train_clips``, early-stopped on
    ``validation_clips`` or run for ``epochs``, then tested on ``test_clips``."""

    name: str
    kind: str  # "lstm" or "cnn"
    train_clips: tuple[Clip, ...]
    test_clips: tuple[Clip, ...] = ()
    validation_clips: tuple[Clip, ...] = ()
    epochs: int | None = None


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
) -> dict:
    """Train ``task``'s network; return its kept epoch count, validation
    curve and, for test clips, per-clip segment probabilities. LSTMs are
    exported and tested through the plugin's ``GenreModel``."""
    index = {label: i for i, label in enumerate(labels)}

    def examples(clips):
        return Examples(
            [sequences(task.kind, features[c]) for c in clips],
            np.array([index[c.label] for c in clips]),
        )

    def segments(clips):
        return [track_segments(sequences(task.kind, features[c])[0], recipe.features) for c in clips]

    validation = None
    if task.validation_clips:
        validation = (segments(task.validation_clips), examples(task.validation_clips).labels)
    network = make_network(task.kind, labels, recipe)
    seed = task_seed(recipe.seed, task.name)
    epochs, history = train(
        network, examples(task.train_clips), recipe.features, recipe.train, seed, task.epochs, validation
    )
    result = {"name": task.name, "epochs": epochs, "history": history, "network": network}
    if task.test_clips and task.kind == "lstm":
        path = runs_dir / f"{task.name}.onnx"
        export_onnx(network, labels, recipe.features, path, name=task.name, version="0", min_confidence=0.0)
        predictions = GenreModel(path).predict_tracks(segments(task.test_clips))
        result["segment_probabilities"] = [p.segment_probabilities for p in predictions]
    elif task.test_clips:
        result["segment_probabilities"] = [
            segment_probabilities(network, s) for s in segments(task.test_clips)
        ]
    return result


def run_tasks(tasks: list[Task], features, labels, recipe, runs_dir, jobs) -> dict[str, dict]:
    results = joblib.Parallel(n_jobs=jobs)(
        joblib.delayed(run_task)(
            task, {c: features[c] for c in {*task.train_clips, *task.validation_clips, *task.test_clips}},
            labels, recipe, runs_dir,
        )
        for task in tasks
    )
    return {result["name"]: result for result in results}


def cross_validation_tasks(
    gtzan: list[Clip], extra: list[Clip], folds: Folds, configs: list[str]
) -> tuple[list[Task], dict[str, tuple[str, str]]]:
    """Early-stopping tasks for every config x network x held-out fold, and
    the (train, validation) folds used inside each pool."""
    by_fold = {name: tuple(c for c in gtzan if folds.of_clip[c.clip_id] == name) for name in folds.names}
    sizes = {name: len(clips) for name, clips in by_fold.items()}
    inner = {
        held_out: inner_split([n for n in folds.names if n != held_out], sizes)
        for held_out in folds.names
    }
    tasks = []
    for config in configs:
        added = tuple(extra) if config == "gtzan+extra" else ()
        for kind in NEURAL:
            for held_out, (fit_on, validate_on) in inner.items():
                tasks.append(
                    Task(
                        f"{config}-{kind}-{held_out}-stop",
                        kind,
                        by_fold[fit_on] + added,
                        validation_clips=by_fold[validate_on],
                    )
                )
    return tasks, inner


def refit_tasks(
    gtzan: list[Clip],
    extra: list[Clip],
    folds: Folds,
    configs: list[str],
    stopped: dict[str, dict],
) -> list[Task]:
    """Refit on each whole pool (tested on its held-out fold), plus one
    final LSTM per config on every listed clip."""
    tasks = []
    for config in configs:
        added = tuple(extra) if config == "gtzan+extra" else ()
        for kind in NEURAL:
            for held_out in folds.names:
                epochs = stopped[f"{config}-{kind}-{held_out}-stop"]["epochs"]
                pool = tuple(c for c in gtzan if folds.of_clip[c.clip_id] != held_out)
                test = tuple(c for c in gtzan if folds.of_clip[c.clip_id] == held_out)
                tasks.append(Task(f"{config}-{kind}-{held_out}", kind, pool + added, test, epochs=epochs))
        final_epochs = int(np.median([stopped[f"{config}-lstm-{h}-stop"]["epochs"] for h in folds.names]))
        tested_on = tuple(extra) if config == "gtzan" else ()  # out-of-GTZAN check
        tasks.append(
            Task(f"{config}-lstm-final", "lstm", tuple(gtzan) + added, tested_on, epochs=final_epochs)
        )
    return tasks


def fold_metrics(
    truth: dict[str, np.ndarray], tracks: dict[str, np.ndarray], segments: dict[str, float | None],
    labels: list[str],
) -> dict:
    """Metrics per held-out fold and pooled over all of them."""
    pooled_truth = np.concatenate(list(truth.values()))
    pooled = np.concatenate(list(tracks.values()))
    segment_values = [s for s in segments.values() if s is not None]
    return {
        "folds": {name: track_metrics(truth[name], tracks[name], labels, segments[name]) for name in truth},
        "pooled": track_metrics(
            pooled_truth, pooled, labels, float(np.mean(segment_values)) if segment_values else None
        ),
        "out_of_fold": {"truth": pooled_truth.tolist(), "probabilities": pooled.tolist()},
    }


def evaluate_neural(
    results: dict[str, dict], config: str, kind: str, gtzan: list[Clip], folds: Folds, labels: list[str]
) -> dict:
    index = {label: i for i, label in enumerate(labels)}
    truth, tracks, segments = {}, {}, {}
    for held_out in folds.names:
        test = [c for c in gtzan if folds.of_clip[c.clip_id] == held_out]
        per_clip = results[f"{config}-{kind}-{held_out}"]["segment_probabilities"]
        truth[held_out] = np.array([index[c.label] for c in test])
        tracks[held_out] = np.stack([p.mean(axis=0) for p in per_clip])
        segment_truth = np.concatenate([np.full(len(p), index[c.label]) for c, p in zip(test, per_clip)])
        segment_predicted = np.concatenate([p.argmax(axis=1) for p in per_clip])
        segments[held_out] = float(np.mean(segment_truth == segment_predicted))
    return fold_metrics(truth, tracks, segments, labels)


def evaluate_statistics(
    gtzan: list[Clip], extra: list[Clip], folds: Folds, features, labels: list[str], config: str, seed: int
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
            stats(train_clips), np.array([index[c.label] for c in train_clips]), stats(test), len(labels), seed
        )
    return fold_metrics(truth, tracks, dict.fromkeys(folds.names), labels)


def out_of_gtzan(result: dict, extra: list[Clip], labels: list[str]) -> dict | None:
    """The final GTZAN-only model on the extra tracks (never trained on)."""
    if not extra:
        return None
    index = {label: i for i, label in enumerate(labels)}
    per_clip = result["segment_probabilities"]
    truth = np.array([index[c.label] for c in extra])
    return track_metrics(truth, np.stack([p.mean(axis=0) for p in per_clip]), labels)


def train_and_evaluate(
    gtzan: list[Clip],
    extra: list[Clip],
    folds: Folds,
    features: dict[Clip, ClipFeatures],
    recipe: Recipe,
    runs_dir: Path,
    jobs: int,
) -> dict:
    """Every model of the recipe, evaluated; the chosen final network and
    its threshold. Only clips in a fold are used from ``gtzan``."""
    gtzan = [c for c in gtzan if c.clip_id in folds.of_clip]
    labels = sorted({c.label for c in gtzan})
    extra = [c for c in extra if c.label in labels]
    configs = ["gtzan", "gtzan+extra"] if extra else ["gtzan"]
    runs_dir.mkdir(parents=True, exist_ok=True)
    stop_tasks, inner = cross_validation_tasks(gtzan, extra, folds, configs)
    stopped = run_tasks(stop_tasks, features, labels, recipe, runs_dir, jobs)
    refitted = run_tasks(refit_tasks(gtzan, extra, folds, configs, stopped), features, labels, recipe, runs_dir, jobs)
    evaluation = {
        config: {
            "lstm": evaluate_neural(refitted, config, "lstm", gtzan, folds, labels),
            "cnn": evaluate_neural(refitted, config, "cnn", gtzan, folds, labels),
            "logreg": evaluate_statistics(gtzan, extra, folds, features, labels, config, recipe.seed),
        }
        for config in configs
    }
    chosen = max(configs, key=lambda c: (evaluation[c]["lstm"]["pooled"]["macro_f1"], c == "gtzan"))
    held_out = evaluation[chosen]["lstm"]["out_of_fold"]
    calibration = confidence_threshold(
        np.array(held_out["truth"]), np.array(held_out["probabilities"]), recipe.target_precision,
        min_tracks=max(5, len(held_out["truth"]) // 10),
    )
    return {
        "labels": labels,
        "configs": configs,
        "chosen": chosen,
        "inner_splits": inner,
        "stopping_epochs": {name[: -len("-stop")]: r["epochs"] for name, r in stopped.items()},
        "final_epochs": {c: refitted[f"{c}-lstm-final"]["epochs"] for c in configs},
        "evaluation": evaluation,
        "out_of_gtzan": out_of_gtzan(refitted["gtzan-lstm-final"], extra, labels),
        "calibration": calibration,
        "network": refitted[f"{chosen}-lstm-final"]["network"],
    }
