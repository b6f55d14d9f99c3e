"""The recipe search: a small grid, each candidate judged on GTZAN only.

Candidates are of three architectures (``Config.architecture``): the LSTM,
a perceptron on segment statistics and a convolution along time. The best
candidate is chosen per architecture, since the ensemble mixes them.

Each candidate is trained on one GTZAN split list and validated on another
after every epoch (balanced track accuracy on the genres it was trained
on), for every ordered pair of lists: six curves. For a held-out block the
candidate and its epoch count come from the curves that do not touch it:
for a GTZAN list, the two curves between the other two lists; for an extra
fold (never in any curve) and for the shipped model, all six.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from itertools import permutations
from typing import Literal

import numpy as np

from beetsplug.genreclf.features import FeatureParams
from training.fast.fit import TrainParams
from training.fast.network import GenreConv, GenreLSTM, GenreStatistics, MfccNetwork

SMOOTHING = 3  # epochs in the moving average of a validation curve


@dataclass(frozen=True)
class Config:
    """One candidate recipe; each LSTM grid entry changes the defaults
    (``v1``) along one or two axes: features, pooling, mixup, width and
    depth, augmentation. ``hidden_size`` is the width of any architecture:
    LSTM units, perceptron units or channels."""

    name: str
    architecture: Literal["lstm", "statistics", "conv"] = "lstm"
    n_mfcc: int = 20
    deltas: bool = False
    segment_frames: int = 130
    hidden_size: int = 64
    num_layers: int = 2
    bidirectional: bool = False
    pooling: Literal["mean", "attention"] = "mean"
    dropout: float = 0.3
    augmented: bool = True  # train on the augmented versions too
    mixup_alpha: float = 0.0
    label_smoothing: float = 0.1

    def features(self) -> FeatureParams:
        return FeatureParams(
            n_mfcc=self.n_mfcc,
            segment_frames=self.segment_frames,
            segment_hop_frames=self.segment_frames,
        )

    def network(self, n_labels: int) -> MfccNetwork:
        shape = {"hidden_size": self.hidden_size, "dropout": self.dropout, "deltas": self.deltas}
        if self.architecture == "statistics":
            return GenreStatistics(self.n_mfcc, n_labels, **shape)
        if self.architecture == "conv":
            return GenreConv(self.n_mfcc, n_labels, **shape)
        return GenreLSTM(
            self.n_mfcc,
            n_labels,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
            pooling=self.pooling,
            deltas=self.deltas,
        )

    def train_params(
        self, base: TrainParams, teacher_weight: float = 0.0, real_weight: float = 1.0
    ) -> TrainParams:
        return replace(
            base,
            mixup_alpha=self.mixup_alpha,
            label_smoothing=self.label_smoothing,
            teacher_weight=teacher_weight,
            real_weight=real_weight,
        )

    def to_dict(self) -> dict:
        return asdict(self)


GRID = (
    Config("v1"),  # the defaults: 20 MFCCs, two mean-pooled LSTM layers of 64
    Config("deltas-40", n_mfcc=40, deltas=True),
    Config("attention", pooling="attention"),
    Config("mixup", mixup_alpha=0.4),
    Config("wide-1-layer", hidden_size=128, num_layers=1, dropout=0.5),
    Config("clean-only", augmented=False),
    Config("statistics", "statistics", n_mfcc=40, deltas=True, hidden_size=256),
    Config("conv", "conv", n_mfcc=40, deltas=True, hidden_size=128),
)
ARCHITECTURES = tuple(dict.fromkeys(c.architecture for c in GRID))
MAX_N_MFCC = max(c.n_mfcc for c in GRID)


def smoothed(curves: list[list[float]]) -> np.ndarray:
    """Mean of ``curves``, ``SMOOTHING``-epoch moving average (edges repeated)."""
    mean = np.mean(curves, axis=0)
    window = SMOOTHING
    padded = np.pad(mean, window // 2, mode="edge")
    return np.convolve(padded, np.ones(window) / window, mode="valid")


@dataclass(frozen=True)
class Choice:
    config: Config
    epochs: int
    score: float  # best smoothed mean validation balanced accuracy


def choose(
    curves: dict[tuple[str, str, str], list[float]], lists: list[str], architecture: str
) -> Choice:
    """The best candidate of ``architecture`` and its epoch count on the
    curves among ``lists`` (keys: config name, fit-on list, validate-on
    list); the earliest of equal epochs, the first grid entry of equal
    candidates."""
    best: Choice | None = None
    for config in (c for c in GRID if c.architecture == architecture):
        found = [curves[(config.name, a, b)] for a, b in permutations(lists, 2)]
        found = [c for c in found if c]
        if not found:
            continue
        curve = smoothed(found)
        choice = Choice(config, int(np.argmax(curve)) + 1, float(np.max(curve)))
        if best is None or choice.score > best.score:
            best = choice
    if best is None:
        raise ValueError(f"no validation curve among {lists}")
    return best
