"""Genre heads on musicnn patch features: the candidates compared.

A head learns from each track's sequence of patch features (n_patches, d)
and predicts genre probabilities per track. Candidates:

- ``logreg-mean``: standardised multinomial logistic regression on the
  track's mean patch embedding; C chosen by cross-validation grouped by
  artist on the training side only. Being linear, it is exactly the per-patch
  head whose track prediction is the softmax of the mean log-probability.
- ``attention``: attention pooling over the patch sequence (a small PyTorch
  network, fixed recipe, not tuned on any held-out data).
- ``+tags``: the same with musicnn's 50 tag probabilities appended.
- ``/real``: the real recordings of the training side weighted up, the
  weight and C chosen by log-loss on them (``/real-acc``: by accuracy;
  see ``LogRegHead``). ``/real-prior``: the same choice also decides
  whether genres are weighted equally or as often as they occur in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from training.common.seeding import make_deterministic

if TYPE_CHECKING:
    from training.common.calibration import LogitCalibration

C_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)  # the last run chose 0.001: centred there
INNER_FOLDS = 3


def inner_folds(groups: np.ndarray) -> GroupKFold:
    return GroupKFold(n_splits=min(INNER_FOLDS, len(set(groups))))


def full_columns(probabilities: np.ndarray, classes: np.ndarray, n_labels: int) -> np.ndarray:
    """Probabilities over every label, zero for labels absent in training."""
    full = np.zeros((len(probabilities), n_labels))
    full[:, classes] = probabilities
    return full


@dataclass
class LogRegHead:
    """Standardised logistic regression on a track's mean patch features.

    With ``real_weights``, the real recordings of the training side (the
    extra tracks) count that many times a GTZAN clip, and C and the weight
    are chosen by how well (``real_score``) the head predicts the training
    side's real recordings (inner folds grouped by artist, GTZAN always trained on):
    the head is for real music, and GTZAN's CDs-and-radio clips of around
    2000 outnumber the real recordings eight to one. ``class_weights`` lists
    the genre weightings that choice may also pick from: "balanced" (every
    genre counts alike) or None (as often as it occurs, which lets the head
    learn that real music is mostly pop and rock). Without real recordings
    to learn from, C is chosen by class-balanced accuracy over inner folds
    of every training track, grouped by artist, genres weighted alike.
    """

    n_labels: int
    seed: int = 0
    real_weights: tuple[float, ...] | None = None
    real_score: str = "log_loss"  # or "accuracy": how the real recordings judge (C, weight)
    class_weights: tuple[str | None, ...] = ("balanced",)
    model: Pipeline | None = None
    chosen_c: float = 0.0
    chosen_real_weight: float = 1.0
    chosen_class_weight: str | None = "balanced"

    def fit(
        self,
        sequences: list[np.ndarray],
        labels: np.ndarray,
        groups: np.ndarray,
        real: np.ndarray | None = None,
    ):
        inputs = np.stack([s.mean(axis=0) for s in sequences])
        real = np.zeros(len(labels), bool) if real is None else real
        if self.real_weights and real.any():
            options = [(w, genres) for genres in self.class_weights for w in self.real_weights]
            grid = [(c, w, genres) for w, genres in options for c in C_GRID]
            scores = [
                score
                for w, genres in options
                for score in self._real_score(inputs, labels, groups, real, w, genres)
            ]
        else:
            grid = [(c, 1.0, "balanced") for c in C_GRID]
            scores = self._balanced_accuracy(inputs, labels, groups)
        self.chosen_c, self.chosen_real_weight, self.chosen_class_weight = grid[
            int(np.argmax(scores))
        ]
        return self.fit_chosen(inputs, labels, real)

    def fit_chosen(self, inputs: np.ndarray, labels: np.ndarray, real: np.ndarray):
        """Fit on mean features ``inputs`` with the chosen C, real weight and
        genre weighting (set by ``fit``'s selection, or given)."""
        regression = self._regression(self.chosen_c, self.chosen_class_weight)
        self.model = make_pipeline(StandardScaler(), regression).fit(
            inputs,
            labels,
            logisticregression__sample_weight=np.where(real, self.chosen_real_weight, 1.0),
        )
        return self

    def _regression(
        self, c: float, class_weight: str | None, warm_start: bool = False
    ) -> LogisticRegression:
        return LogisticRegression(
            C=c,
            max_iter=3000,
            class_weight=class_weight,
            random_state=self.seed,
            warm_start=warm_start,
        )

    def _probabilities_along_c(
        self, inputs, labels, weights, train, test, class_weight: str | None = "balanced"
    ) -> list[np.ndarray]:
        """Probabilities over every label for ``test`` by a head fitted on
        ``train``, one array per C of the grid (each fit starts from the last)."""
        scaler = StandardScaler().fit(inputs[train])
        train_x, test_x = scaler.transform(inputs[train]), scaler.transform(inputs[test])
        regression = self._regression(C_GRID[0], class_weight, warm_start=True)
        found = []
        for c in C_GRID:
            regression.set_params(C=c).fit(train_x, labels[train], sample_weight=weights[train])
            found.append(
                full_columns(regression.predict_proba(test_x), regression.classes_, self.n_labels)
            )
        return found

    def _balanced_accuracy(self, inputs, labels, groups) -> list[float]:
        """Per C: class-balanced accuracy, mean over inner folds of every
        track (as sklearn's GridSearchCV scores); real recordings unweighted."""
        weights = np.ones(len(labels))
        per_fold = [
            [
                balanced_accuracy_score(labels[test], probabilities.argmax(axis=1))
                for probabilities in self._probabilities_along_c(
                    inputs, labels, weights, train, test
                )
            ]
            for train, test in inner_folds(groups).split(inputs, labels, groups)
        ]
        return list(np.mean(per_fold, axis=0))

    def _real_score(self, inputs, labels, groups, real, real_weight, class_weight) -> list[float]:
        """Per C: how well the real recordings are predicted, each by a head
        trained without its artist (pooled over inner folds of the real
        ones): accuracy, or minus the log-loss, which on a few dozen tracks
        varies far less from fold to fold than the count of right answers."""
        weights = np.where(real, real_weight, 1.0)
        real_rows = np.flatnonzero(real)
        score = np.zeros(len(C_GRID))
        for _, held in inner_folds(groups[real_rows]).split(real_rows, groups=groups[real_rows]):
            test = real_rows[held]
            train = np.setdiff1d(np.arange(len(labels)), test)
            found = self._probabilities_along_c(inputs, labels, weights, train, test, class_weight)
            score += [self._real_points(probabilities, labels[test]) for probabilities in found]
        return list(score / len(real_rows))

    def _real_points(self, probabilities: np.ndarray, truth: np.ndarray) -> float:
        if self.real_score == "accuracy":
            return float(np.sum(probabilities.argmax(axis=1) == truth))
        return float(np.sum(np.log(np.maximum(probabilities[np.arange(len(truth)), truth], 1e-12))))

    def predict(self, sequences: list[np.ndarray]) -> np.ndarray:
        return self.predict_patches(np.stack([s.mean(axis=0) for s in sequences]))

    def predict_patches(self, inputs: np.ndarray) -> np.ndarray:
        """Probabilities over every label for each row of features (a patch,
        or a track's mean)."""
        return full_columns(self.model.predict_proba(inputs), self.model[-1].classes_, self.n_labels)

    def linear_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(mean, scale, weights (d, n_labels), bias (n_labels,)) of the head:
        logits = ((x - mean) / scale) @ weights + bias, over every label."""
        scaler, regression = self.model
        weights = np.zeros((len(scaler.mean_), self.n_labels))
        bias = np.full(self.n_labels, -1e4)  # a label never trained on is never predicted
        weights[:, regression.classes_] = regression.coef_.T
        bias[regression.classes_] = regression.intercept_
        return scaler.mean_, scaler.scale_, weights, bias


class LinearHead(Protocol):
    """What the exporter needs of a head: its linear form, and its
    predictions per patch and per track (to check the exported graph)."""

    def linear_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...

    def predict_patches(self, inputs: np.ndarray) -> np.ndarray: ...

    def predict(self, sequences: list[np.ndarray]) -> np.ndarray: ...


@dataclass
class CalibratedHead:
    """A linear head whose probabilities are recalibrated (temperature and
    per-label offsets, ``training.common.calibration``): the same linear
    form, weights divided by the temperature and offsets added to the bias."""

    head: LogRegHead
    calibration: LogitCalibration

    def predict(self, sequences: list[np.ndarray]) -> np.ndarray:
        return self.calibration(self.head.predict(sequences))

    def predict_patches(self, inputs: np.ndarray) -> np.ndarray:
        return self.calibration(self.head.predict_patches(inputs))

    def linear_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        mean, scale, weights, bias = self.head.linear_form()
        temperature, offsets = self.calibration.temperature, self.calibration.offsets
        return mean, scale, weights / temperature, bias / temperature + offsets


class AttentionPooling(nn.Module):
    """Patch features -> hidden units -> attention-weighted mean -> logits."""

    def __init__(self, n_inputs: int, n_labels: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Dropout(dropout), nn.Linear(n_inputs, hidden), nn.ReLU())
        self.score = nn.Linear(hidden, 1)
        self.classify = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_labels))

    def forward(self, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.project(patches)  # (batch, patches, hidden)
        scores = self.score(hidden).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=1).unsqueeze(-1)
        return self.classify((weights * hidden).sum(dim=1))


@dataclass
class AttentionHead:
    """Trains AttentionPooling on random runs of 1..max_crop consecutive
    patches per track (tracks are analysed in 1..30 patches), classes
    weighted equally. The recipe is fixed, not tuned on held-out data."""

    n_labels: int
    seed: int = 0
    hidden: int = 64
    dropout: float = 0.3
    epochs: int = 60
    batch_size: int = 32
    max_crop: int = 10
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    network: AttentionPooling | None = None
    scaler: StandardScaler = field(default_factory=StandardScaler)

    def fit(
        self,
        sequences: list[np.ndarray],
        labels: np.ndarray,
        groups: np.ndarray,
        real: np.ndarray | None = None,  # not weighted by this recipe
    ):
        make_deterministic(self.seed)
        self.scaler.fit(np.concatenate(sequences))
        sequences = [self.scaler.transform(s).astype(np.float32) for s in sequences]
        self.network = AttentionPooling(
            sequences[0].shape[1], self.n_labels, self.hidden, self.dropout
        )
        counts = np.bincount(labels, minlength=self.n_labels)
        class_weight = torch.tensor(
            np.where(counts > 0, len(labels) / (self.n_labels * np.maximum(counts, 1)), 0.0),
            dtype=torch.float32,
        )
        loss = nn.CrossEntropyLoss(weight=class_weight)
        optimiser = torch.optim.AdamW(
            self.network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        rng = np.random.default_rng(self.seed)
        self.network.train()
        for _ in range(self.epochs):
            order = rng.permutation(len(sequences))
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                crops = [random_crop(sequences[i], self.max_crop, rng) for i in batch]
                patches, mask = padded(crops)
                optimiser.zero_grad()
                loss(self.network(patches, mask), torch.from_numpy(labels[batch])).backward()
                optimiser.step()
        return self

    def predict(self, sequences: list[np.ndarray]) -> np.ndarray:
        self.network.eval()
        scaled = [self.scaler.transform(s).astype(np.float32) for s in sequences]
        with torch.no_grad():
            return np.concatenate(
                [
                    self.network(*padded(scaled[i : i + 256])).softmax(dim=1).numpy()
                    for i in range(0, len(scaled), 256)
                ]
            )


def random_crop(sequence: np.ndarray, max_crop: int, rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(1, min(max_crop, len(sequence)) + 1))
    start = int(rng.integers(0, len(sequence) - length + 1))
    return sequence[start : start + length]


def padded(sequences: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, longest, d) zero-padded tensor and its (batch, longest) mask."""
    longest = max(len(s) for s in sequences)
    patches = np.zeros((len(sequences), longest, sequences[0].shape[1]), np.float32)
    mask = np.zeros((len(sequences), longest), bool)
    for row, sequence in enumerate(sequences):
        patches[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = True
    return torch.from_numpy(patches), torch.from_numpy(mask)


REAL_WEIGHTS = (1.0, 3.0, 10.0)  # how much a real recording counts beside a GTZAN clip


@dataclass(frozen=True)
class Candidate:
    kind: str  # "logreg" or "attention"
    with_tags: bool  # musicnn's 50 tag probabilities appended to the embedding
    real_score: str | None = None  # real recordings weighted, chosen by this score on them
    learn_prior: bool = False  # that choice may also stop weighting genres alike


CANDIDATES = {
    "logreg-mean": Candidate("logreg", False),
    "logreg-mean+tags": Candidate("logreg", True),
    "logreg-mean+tags/real-acc": Candidate("logreg", True, real_score="accuracy"),
    "logreg-mean+tags/real": Candidate("logreg", True, real_score="log_loss"),
    "logreg-mean+tags/real-prior": Candidate(
        "logreg", True, real_score="log_loss", learn_prior=True
    ),
    "attention": Candidate("attention", False),
    "attention+tags": Candidate("attention", True),
}


def make_head(candidate: str, n_labels: int, seed: int):
    chosen = CANDIDATES[candidate]
    if chosen.kind == "attention":
        return AttentionHead(n_labels, seed=seed)
    if chosen.real_score is None:
        return LogRegHead(n_labels, seed=seed)
    return LogRegHead(
        n_labels,
        seed=seed,
        real_weights=REAL_WEIGHTS,
        real_score=chosen.real_score,
        class_weights=("balanced", None) if chosen.learn_prior else ("balanced",),
    )


def head_inputs(embedding: np.ndarray, tags: np.ndarray, candidate: str) -> np.ndarray:
    """A track's (n_patches, d) head input: embedding, tags appended if asked."""
    with_tags = CANDIDATES[candidate].with_tags
    return np.concatenate([embedding, tags], axis=1) if with_tags else embedding
