"""Genre heads on musicnn patch features: the candidates compared for issue 15.

A head learns from each track's sequence of patch features (n_patches, d)
and predicts genre probabilities per track. Candidates:

- ``logreg-mean``: standardised multinomial logistic regression on the
  track's mean patch embedding; C chosen by cross-validation grouped by
  artist on the training side only. Being linear, it is exactly the per-patch
  head whose track prediction is the softmax of the mean log-probability.
- ``attention``: attention pooling over the patch sequence (a small PyTorch
  network, fixed recipe, not tuned on any held-out data).
- ``+tags``: the same with musicnn's 50 tag probabilities appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from training.fit import make_deterministic

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
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
    """Standardised logistic regression on a track's mean patch features."""

    n_labels: int
    seed: int = 0
    model: object = None
    chosen_c: float = 0.0

    def fit(self, sequences: list[np.ndarray], labels: np.ndarray, groups: np.ndarray):
        inputs = np.stack([s.mean(axis=0) for s in sequences])
        pipeline = make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=3000, class_weight="balanced", random_state=self.seed),
        )
        search = GridSearchCV(
            pipeline,
            {"logisticregression__C": C_GRID},
            cv=inner_folds(groups),
            scoring="balanced_accuracy",
        )
        search.fit(inputs, labels, groups=groups)
        self.model = search.best_estimator_
        self.chosen_c = float(search.best_params_["logisticregression__C"])
        return self

    def predict(self, sequences: list[np.ndarray]) -> np.ndarray:
        means = np.stack([s.mean(axis=0) for s in sequences])
        return full_columns(self.model.predict_proba(means), self.model[-1].classes_, self.n_labels)

    def linear_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(mean, scale, weights (d, n_labels), bias (n_labels,)) of the head:
        logits = ((x - mean) / scale) @ weights + bias, over every label."""
        scaler, regression = self.model
        weights = np.zeros((len(scaler.mean_), self.n_labels))
        bias = np.full(self.n_labels, -1e4)  # a label never trained on is never predicted
        weights[:, regression.classes_] = regression.coef_.T
        bias[regression.classes_] = regression.intercept_
        return scaler.mean_, scaler.scale_, weights, bias


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

    def fit(self, sequences: list[np.ndarray], labels: np.ndarray, groups: np.ndarray):
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


CANDIDATES = {
    "logreg-mean": ("logreg", False),
    "logreg-mean+tags": ("logreg", True),
    "attention": ("attention", False),
    "attention+tags": ("attention", True),
}
SHIPPABLE = ("logreg-mean", "logreg-mean+tags")  # linear on the mean: one per-patch ONNX graph


def make_head(candidate: str, n_labels: int, seed: int):
    kind, _ = CANDIDATES[candidate]
    if kind == "attention":
        return AttentionHead(n_labels, seed=seed)
    return LogRegHead(n_labels, seed=seed)


def head_inputs(embedding: np.ndarray, tags: np.ndarray, candidate: str) -> np.ndarray:
    """A track's (n_patches, d) head input: embedding, tags appended if asked."""
    _, with_tags = CANDIDATES[candidate]
    return np.concatenate([embedding, tags], axis=1) if with_tags else embedding
