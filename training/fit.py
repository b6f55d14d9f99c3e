"""Seeded training of a segment classifier with class-balanced sampling.

An epoch is a fixed number of batches. Each batch example picks a genre
uniformly (so classical's 91 clips do not drown the 10-clip genres), then a
clip of that genre, one of its versions (clean or augmented) and a random
``segment_frames`` crop (looped if the clip is shorter). Early stopping is
done by choosing the epoch count from validation curves of separate runs
(``stopping_epoch``), then training for that many epochs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from beetsplug.genreclf.features import FeatureParams, split_segments


@dataclass(frozen=True)
class TrainParams:
    batch_size: int = 64
    steps_per_epoch: int = 40
    max_epochs: int = 30
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Examples:
    """Training clips: per clip, its versions' (frames, dims) sequences."""

    versions: list[list[np.ndarray]]
    labels: np.ndarray  # (n_clips,) label indices


def make_deterministic(seed: int) -> None:
    """Same seed, same weights: one thread, deterministic kernels."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def sample_batch(
    examples: Examples, frames: int, size: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A class-balanced batch of random crops: (size, frames, dims), (size,)."""
    classes = rng.choice(np.unique(examples.labels), size)
    crops = []
    for label in classes:
        clip = rng.choice(np.flatnonzero(examples.labels == label))
        versions = examples.versions[clip]
        sequence = versions[rng.integers(len(versions))]
        if len(sequence) < frames:  # a very short clip: loop it
            sequence = np.pad(sequence, ((0, frames - len(sequence)), (0, 0)), mode="wrap")
        start = rng.integers(len(sequence) - frames + 1)
        crops.append(sequence[start : start + frames])
    # torch.tensor copies into torch's 64-byte-aligned memory: MKL's sums can
    # depend on alignment, and numpy's buffers are not aligned alike run to run
    return torch.tensor(np.stack(crops), dtype=torch.float32), torch.from_numpy(classes)


def normalisation(examples: Examples) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std over all frames of the clean versions."""
    frames = np.concatenate([versions[0] for versions in examples.versions]).astype(np.float64)
    return torch.tensor(frames.mean(axis=0)), torch.tensor(frames.std(axis=0))


def track_segments(sequence: np.ndarray, params: FeatureParams) -> np.ndarray:
    """A clean clip's sequence cut like the plugin cuts it."""
    return split_segments(sequence, params).astype(np.float32)


def segment_probabilities(network: nn.Module, segments: np.ndarray) -> np.ndarray:
    """(n_segments, n_labels) softmax outputs in eval mode."""
    network.eval()
    with torch.no_grad():
        inputs = torch.tensor(segments, dtype=torch.float32)  # aligned copy, as above
        return torch.softmax(network(inputs), dim=-1).numpy()


def balanced_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present in ``labels`` of their track recall."""
    correct = probabilities.argmax(axis=1) == labels
    return float(np.mean([correct[labels == c].mean() for c in np.unique(labels)]))


def stopping_epoch(curves: list[list[float]], window: int = 3) -> int:
    """The epoch (1-based) of the best validation score averaged over
    ``curves`` and smoothed by a ``window``-epoch moving average; the
    earliest of equals. Averaging and smoothing tame tiny validation sets."""
    mean = np.mean(curves, axis=0)
    smoothed = np.convolve(
        np.pad(mean, window // 2, mode="edge"), np.ones(window) / window, mode="valid"
    )
    return int(np.argmax(smoothed)) + 1


def train(
    network: nn.Module,
    examples: Examples,
    params: FeatureParams,
    recipe: TrainParams,
    seed: int,
    epochs: int,
    validation: tuple[list[np.ndarray], np.ndarray] | None = None,
) -> list[float]:
    """Train ``network`` in place for ``epochs``; with ``validation``
    (per-clip segment arrays, labels) return its balanced track accuracy
    after each epoch. Seed torch (make_deterministic) before building
    ``network``; ``seed`` drives the batches."""
    rng = np.random.default_rng(seed)
    network.set_normalisation(*normalisation(examples))
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay
    )
    loss_function = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    curve = []
    for _ in range(epochs):
        network.train()
        for _ in range(recipe.steps_per_epoch):
            batch, targets = sample_batch(examples, params.segment_frames, recipe.batch_size, rng)
            optimiser.zero_grad()
            loss_function(network(batch), targets).backward()
            optimiser.step()
        if validation is not None:
            segments, labels = validation
            tracks = np.stack([segment_probabilities(network, s).mean(axis=0) for s in segments])
            curve.append(balanced_accuracy(tracks, labels))
    return curve
