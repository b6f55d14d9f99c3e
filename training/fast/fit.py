"""Seeded training of a segment classifier with class-balanced sampling.

An epoch is a fixed number of batches. Each batch example picks a genre
uniformly (so classical's 91 clips do not drown the 10-clip genres), then a
clip of that genre, one of its versions (clean or augmented) and a random
``segment_frames`` crop (looped if the clip is shorter). Targets are soft:
the label smoothed, optionally blended with a teacher's probabilities for
the crop (distillation), optionally mixed up with another example. The
epoch count comes from validation curves of separate runs
(``training.fast.search``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from beetsplug.genreclf.features import FeatureParams


@dataclass(frozen=True)
class TrainParams:
    batch_size: int = 64
    steps_per_epoch: int = 40
    max_epochs: int = 30
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.0  # Beta(alpha, alpha) mixing weight; 0: no mixup
    teacher_weight: float = 0.0  # share of the target taken from the teacher
    real_weight: float = 1.0  # a real recording picked this many times as often as a GTZAN clip

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Examples:
    """Training clips: per clip, its versions' (frames, dims) sequences."""

    versions: list[list[np.ndarray]]
    labels: np.ndarray  # (n_clips,) label indices
    # per clip, the teacher's probabilities along the clip (n_patches, n_labels)
    teacher: list[np.ndarray] | None = None
    real: np.ndarray | None = None  # (n_clips,) True for a real recording (not GTZAN)


def sample_batch(
    examples: Examples,
    frames: int,
    size: int,
    n_labels: int,
    recipe: TrainParams,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A class-balanced batch of random crops and their target distributions:
    (size, frames, dims), (size, n_labels)."""
    classes = rng.choice(np.unique(examples.labels), size)
    crops, targets = [], []
    for label in classes:
        clip = pick_clip(examples, label, recipe.real_weight, rng)
        versions = examples.versions[clip]
        sequence = versions[rng.integers(len(versions))]
        if len(sequence) < frames:  # a very short clip: loop it
            sequence = np.pad(sequence, ((0, frames - len(sequence)), (0, 0)), mode="wrap")
        start = rng.integers(len(sequence) - frames + 1)
        crops.append(sequence[start : start + frames])
        target = np.full(n_labels, recipe.label_smoothing / n_labels)
        target[label] += 1 - recipe.label_smoothing
        if examples.teacher is not None and recipe.teacher_weight > 0:
            centre = (start + frames / 2) / len(sequence)  # the same place in any version
            taught = teacher_at(examples.teacher[clip], centre)
            target = (1 - recipe.teacher_weight) * target + recipe.teacher_weight * taught
        targets.append(target)
    inputs, targets = np.stack(crops), np.stack(targets)
    if recipe.mixup_alpha > 0:
        weight = rng.beta(recipe.mixup_alpha, recipe.mixup_alpha)
        partner = rng.permutation(size)
        inputs = weight * inputs + (1 - weight) * inputs[partner]
        targets = weight * targets + (1 - weight) * targets[partner]
    # torch.tensor copies into torch's 64-byte-aligned memory: MKL's sums can
    # depend on alignment, and numpy's buffers are not aligned alike run to run
    return torch.tensor(inputs, dtype=torch.float32), torch.tensor(targets, dtype=torch.float32)


def pick_clip(examples: Examples, label: int, real_weight: float, rng: np.random.Generator) -> int:
    """A clip of genre ``label``, real recordings ``real_weight`` times as likely."""
    clips = np.flatnonzero(examples.labels == label)
    if real_weight == 1.0 or examples.real is None:
        return int(rng.choice(clips))  # the draw every model before real weighting used
    weights = np.where(examples.real[clips], real_weight, 1.0)
    return int(rng.choice(clips, p=weights / weights.sum()))


def teacher_at(patches: np.ndarray, position: float) -> np.ndarray:
    """The teacher's probabilities for the patch at relative ``position`` (0..1)."""
    return patches[min(int(position * len(patches)), len(patches) - 1)]


def normalisation(examples: Examples) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std over all frames of the clean versions."""
    frames = np.concatenate([versions[0] for versions in examples.versions]).astype(np.float64)
    return torch.tensor(frames.mean(axis=0)), torch.tensor(frames.std(axis=0))


def segment_logits(network: nn.Module, segments: np.ndarray) -> np.ndarray:
    """(n_segments, n_labels) uncalibrated logits in eval mode."""
    network.eval()
    with torch.no_grad():
        inputs = torch.tensor(segments, dtype=torch.float32)  # aligned copy, as above
        return network(inputs).numpy()


def train(
    network: nn.Module,
    examples: Examples,
    params: FeatureParams,
    recipe: TrainParams,
    seed: int,
    epochs: int,
    validation: Callable[[nn.Module], float] | None = None,
) -> list[float]:
    """Train ``network`` in place for ``epochs``; with ``validation`` (a
    score of the network) return its score after each epoch. Seed torch
    (make_deterministic) before building ``network``; ``seed`` drives the
    batches."""
    rng = np.random.default_rng(seed)
    network.set_normalisation(*normalisation(examples))
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay
    )
    curve = []
    n_labels = network.classify[-1].out_features
    for _ in range(epochs):
        network.train()
        for _ in range(recipe.steps_per_epoch):
            batch, targets = sample_batch(
                examples, params.segment_frames, recipe.batch_size, n_labels, recipe, rng
            )
            optimiser.zero_grad()
            loss = -(targets * torch.log_softmax(network(batch), dim=-1)).sum(dim=-1).mean()
            loss.backward()
            optimiser.step()
        if validation is not None:
            curve.append(validation(network))
    return curve
