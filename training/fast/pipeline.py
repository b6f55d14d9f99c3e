"""The whole recipe: search, held-out refits, teacher, baseline, calibration.

Every figure comes from one of eight artist-disjoint blocks held out
(``training.common.blocks``): a network trained on the seven others is tested on
it. For a held-out block, each architecture's recipe and epoch count come
from validation curves that never touch it (``training.fast.search``). For
every block, and for the shipped model (nothing held out), each member of
``MEMBERS`` is trained once: an architecture with its chosen recipe,
learning from the true labels alone ("plain") or from a blend of true
labels and cross-fitted soft labels from a musicnn teacher
(``training.fast.teacher``). The "ensemble" variant averages the logits of the
``ENSEMBLE`` members. The MFCC-statistics logistic regression is fitted on
the same training sides.
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from itertools import permutations

import joblib
import numpy as np
from torch import nn

from beetsplug.genreclf.features import FeatureParams
from beetsplug.genreclf.learn import confidence_threshold
from training.common.blocks import Blocks
from training.common.evaluate import threshold_summary
from training.common.seeding import make_deterministic
from training.common.views import WHOLE, all_views
from training.fast.baselines import logistic_regression_probabilities, mfcc_statistics
from training.fast.extract import ClipFeatures
from training.fast.fit import Examples, TrainParams, segment_logits, train
from training.fast.network import GenreEnsemble
from training.fast.search import ARCHITECTURES, GRID, Choice, Config, choose
from training.fast.teacher import SoftLabels, mixed_labels


@dataclass(frozen=True)
class Member:
    """How one network learns: its architecture (``search.ARCHITECTURES``),
    from which teacher (``training.fast.teacher``'s kinds; None: true labels
    only), how much of each target comes from it, and how much more often a
    real recording is drawn than a GTZAN clip of its genre."""

    architecture: str = "lstm"
    teacher: str | None = None
    teacher_weight: float = 0.0
    real_weight: float = 1.0


TEACHINGS = {
    "plain": {},
    "real": {"teacher": "real", "teacher_weight": 0.7, "real_weight": 4.0},
    "mixed": {"teacher": "mixed", "teacher_weight": 0.7},
}
MEMBERS = {
    f"{architecture}-{teaching}": Member(architecture, **options)
    for architecture in ARCHITECTURES
    for teaching, options in TEACHINGS.items()
}
# Chosen in a scratch comparison of taught members' out-of-block figures (the
# card's architecture search): adding the two taught LSTMs lowered both figures.
ENSEMBLE = ("statistics-real", "statistics-mixed", "conv-real", "conv-mixed")
VARIANTS = (*MEMBERS, "ensemble")
BASELINE_N_MFCC = 20  # the classic GTZAN feature table's 20 MFCCs


@dataclass(frozen=True)
class Task:
    """One network: ``config`` trained on ``train`` (track keys) for
    ``epochs``, validated on ``validate`` after every epoch, then tested on
    ``test``. ``name`` seeds it, so results do not depend on task order."""

    name: str
    config: Config
    train: tuple[str, ...]
    epochs: int
    teacher: SoftLabels | None = None
    validate: tuple[str, ...] = ()
    test: tuple[str, ...] = ()
    member: Member = Member()
    real: frozenset[str] = frozenset()  # the real recordings among ``train``


@dataclass
class TaskResult:
    name: str
    network: nn.Module
    curve: list[float]  # balanced validation accuracy per epoch
    outputs: dict[str, dict[str, np.ndarray]]  # test key -> view -> segment logits


def task_seed(seed: int, name: str) -> int:
    """A per-task seed that does not depend on the order tasks run in."""
    return zlib.crc32(f"{seed}/{name}".encode())


def track_probabilities(logits: np.ndarray) -> np.ndarray:
    """The plugin's track prediction: the mean of the segments' softmax."""
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).mean(axis=0)


def balanced_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present in ``labels`` of their track recall."""
    correct = probabilities.argmax(axis=1) == labels
    return float(np.mean([correct[labels == c].mean() for c in np.unique(labels)]))


def run_task(
    task: Task,
    sequences: dict[str, list[np.ndarray]],
    label_of: dict[str, int],
    n_labels: int,
    base: TrainParams,
    seed: int,
) -> TaskResult:
    """Train ``task``'s network; validate and test it in PyTorch on clean
    sequences cut as the plugin cuts them (export parity is checked apart)."""
    config, params = task.config, task.config.features()
    examples = Examples(
        [sequences[k] if config.augmented else sequences[k][:1] for k in task.train],
        np.array([label_of[k] for k in task.train]),
        [task.teacher[k] for k in task.train] if task.teacher else None,
        np.array([k in task.real for k in task.train]),
    )
    validation = None
    if task.validate:
        whole = [all_views(sequences[k][0], params)[WHOLE] for k in task.validate]
        labels = np.array([label_of[k] for k in task.validate])

        def validation(network: nn.Module) -> float:
            tracks = np.stack([track_probabilities(segment_logits(network, s)) for s in whole])
            return balanced_accuracy(tracks, labels)

    make_deterministic(task_seed(seed, task.name))  # before the network: its weights too
    network = config.network(n_labels)
    recipe = config.train_params(base, task.member.teacher_weight, task.member.real_weight)
    curve = train(
        network, examples, params, recipe, task_seed(seed, task.name), task.epochs, validation
    )
    outputs = {
        k: {
            view: segment_logits(network, s)
            for view, s in all_views(sequences[k][0], params).items()
        }
        for k in task.test
    }
    print(f"trained {task.name} ({task.epochs} epochs)", file=sys.stderr, flush=True)
    return TaskResult(task.name, network, curve, outputs)


def run_tasks(
    tasks: list[Task],
    features: dict[str, ClipFeatures],
    label_of: dict[str, int],
    n_labels: int,
    base: TrainParams,
    seed: int,
    jobs: int,
) -> dict[str, TaskResult]:
    """Run ``tasks`` in parallel, each sent only the sequences it uses."""

    def sequences(task: Task) -> dict[str, list[np.ndarray]]:
        keys = {*task.train, *task.validate, *task.test}
        return {k: features[k].sliced(task.config.n_mfcc, task.config.augmented) for k in keys}

    results = joblib.Parallel(n_jobs=jobs, batch_size=1)(
        joblib.delayed(run_task)(task, sequences(task), label_of, n_labels, base, seed)
        for task in tasks
    )
    return {result.name: result for result in results}


def curve_tasks(blocks: Blocks, label_of: dict[str, int], max_epochs: int) -> list[Task]:
    """Every grid candidate, trained on each GTZAN list and validated on
    each other one, on the genres it was trained on."""
    tasks = []
    for config in GRID:
        for fit_on, validate_on in permutations(blocks.gtzan_lists(), 2):
            train_keys = tuple(t.key for t in blocks.inside(fit_on))
            known = {label_of[k] for k in train_keys}
            validate = tuple(t.key for t in blocks.inside(validate_on) if label_of[t.key] in known)
            name = curve_name(config.name, fit_on, validate_on)
            tasks.append(Task(name, config, train_keys, max_epochs, validate=validate))
    return tasks


def curve_name(config: str, fit_on: str, validate_on: str) -> str:
    return f"curve-{config}-{fit_on}-on-{validate_on}".replace(":", "-")


def choices(blocks: Blocks, curves: dict[str, TaskResult]) -> dict[str | None, dict[str, Choice]]:
    """Per held-out block (None: the shipped model), each architecture's
    recipe chosen on the curves that do not touch it."""
    lists = blocks.gtzan_lists()
    found = {
        (c.name, a, b): curves[curve_name(c.name, a, b)].curve
        for c in GRID
        for a, b in permutations(lists, 2)
    }
    return {
        held_out: {
            architecture: choose(found, [n for n in lists if n != held_out], architecture)
            for architecture in ARCHITECTURES
        }
        for held_out in [None, *blocks.names]
    }


def networks_of(variant: str) -> tuple[str, ...]:
    """The members whose networks make up ``variant``."""
    return ENSEMBLE if variant == "ensemble" else (variant,)


def member_recipes(chosen: dict[str, Choice], variant: str) -> dict[str, Choice]:
    """The recipe of each network in ``variant``, given one block's
    per-architecture choices."""
    return {name: chosen[MEMBERS[name].architecture] for name in networks_of(variant)}


def shared_features(recipes: dict[str, Choice]) -> FeatureParams:
    """The front-end every network of one model reads: it must be one."""
    found = {name: choice.config.features() for name, choice in recipes.items()}
    if len(set(found.values())) != 1:
        raise ValueError(f"networks of one model read different features: {found}")
    return next(iter(found.values()))


def refit_name(held_out: str | None, variant: str) -> str:
    return f"refit-{held_out or 'final'}-{variant}".replace(":", "-")


def refit_tasks(
    blocks: Blocks,
    chosen: dict[str | None, dict[str, Choice]],
    soft: dict[str, dict[str | None, SoftLabels]],
) -> list[Task]:
    soft = {**soft, "mixed": mixed_labels(soft, blocks)}
    real = frozenset(t.key for t in blocks.tracks if t.source == "extra")
    tasks = []
    for held_out, per_architecture in chosen.items():
        train_keys = tuple(t.key for t in blocks.outside(held_out))
        test = tuple(t.key for t in blocks.inside(held_out)) if held_out else ()
        for variant, member in MEMBERS.items():
            teacher = soft[member.teacher][held_out] if member.teacher else None
            choice = per_architecture[member.architecture]
            name = refit_name(held_out, variant)
            tasks.append(
                Task(
                    name,
                    choice.config,
                    train_keys,
                    choice.epochs,
                    teacher,
                    test=test,
                    member=member,
                    real=real,
                )
            )
    return tasks


def baseline_probabilities(
    blocks: Blocks,
    features: dict[str, ClipFeatures],
    label_of: dict[str, int],
    n_labels: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Out-of-block logistic-regression probabilities on MFCC statistics."""
    stats = {
        t.key: mfcc_statistics(features[t.key].sliced(BASELINE_N_MFCC, False)[0])
        for t in blocks.tracks
    }
    found = {}
    for held_out in blocks.names:
        train_keys = [t.key for t in blocks.outside(held_out)]
        test_keys = [t.key for t in blocks.inside(held_out)]
        probabilities = logistic_regression_probabilities(
            np.stack([stats[k] for k in train_keys]),
            np.array([label_of[k] for k in train_keys]),
            np.stack([stats[k] for k in test_keys]),
            n_labels,
            seed,
        )
        found.update(zip(test_keys, probabilities))
    return found


@dataclass
class TrainingResult:
    """Everything the card reports, and the networks that may ship."""

    curves: dict[str, list[float]]
    chosen: dict[str | None, dict[str, Choice]]  # held-out block -> architecture -> choice
    # variant -> track key -> view -> out-of-block segment logits
    logits: dict[str, dict[str, dict[str, np.ndarray]]]
    baseline: dict[str, np.ndarray]  # track key -> out-of-block probabilities
    final: dict[str, nn.Module]  # variant -> network trained on every block


def train_and_evaluate(
    blocks: Blocks,
    features: dict[str, ClipFeatures],
    soft: dict[str, dict[str | None, SoftLabels]],
    labels: list[str],
    base: TrainParams,
    seed: int,
    jobs: int,
) -> TrainingResult:
    index = {label: i for i, label in enumerate(labels)}
    label_of = {t.key: index[t.label] for t in blocks.tracks}
    args = (features, label_of, len(labels), base, seed, jobs)
    curves = run_tasks(curve_tasks(blocks, label_of, base.max_epochs), *args)
    chosen = choices(blocks, curves)
    refits = run_tasks(refit_tasks(blocks, chosen, soft), *args)
    logits = {
        variant: {
            key: views
            for held_out in blocks.names
            for key, views in refits[refit_name(held_out, variant)].outputs.items()
        }
        for variant in MEMBERS
    }
    logits["ensemble"] = {
        key: {view: np.mean([logits[m][key][view] for m in ENSEMBLE], axis=0) for view in views}
        for key, views in logits[ENSEMBLE[0]].items()
    }
    final = {v: refits[refit_name(None, v)].network for v in MEMBERS}
    final["ensemble"] = GenreEnsemble([final[m] for m in ENSEMBLE])
    return TrainingResult(
        curves={name: result.curve for name, result in curves.items()},
        chosen=chosen,
        logits=logits,
        baseline=baseline_probabilities(blocks, features, label_of, len(labels), seed),
        final=final,
    )


def calibrate(truth: np.ndarray, probabilities: np.ndarray, target_precision: float) -> dict:
    """A model's ``min_confidence`` from out-of-fold predictions, each genre
    weighted equally, at least a tenth of the tracks (and 5) kept; with the
    precision and coverage it gives (see ``threshold_summary``)."""
    found = confidence_threshold(
        probabilities,
        truth,
        target_precision,
        balanced=True,
        min_tracks=max(5, len(truth) // 10),
    )
    return threshold_summary(found, target_precision)
