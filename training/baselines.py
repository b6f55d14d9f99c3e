"""The two baselines the LSTM is compared with, on the same folds.

- Logistic regression on per-clip MFCC mean and variance (the classic
  GTZAN feature table, computed from the same MFCCs as the LSTM's input).
- A small CNN on log-mel spectrogram segments, trained and aggregated
  exactly like the LSTM (same sampler, augmentation, early stopping).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn


def mfcc_statistics(mfcc: np.ndarray) -> np.ndarray:
    """(frames, n_mfcc) -> (2 * n_mfcc,): per-coefficient mean and variance."""
    return np.concatenate([mfcc.mean(axis=0), mfcc.var(axis=0)])


def logistic_regression_probabilities(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, n_labels: int, seed: int
) -> np.ndarray:
    """Class-balanced logistic regression; (n_test, n_labels) probabilities
    (zero for labels absent from training)."""
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed),
    )
    model.fit(train_x, train_y)
    probabilities = np.zeros((len(test_x), n_labels))
    probabilities[:, model.classes_] = model.predict_proba(test_x)
    return probabilities


class LogMelCNN(nn.Module):
    """(batch, time, n_mels) log-mel -> logits; normalisation baked in like
    ``GenreLSTM``, global average pooling so any length works."""

    def __init__(
        self,
        n_mels: int,
        n_labels: int,
        channels: tuple[int, ...] = (8, 16, 32),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_mels))
        self.register_buffer("feature_std", torch.ones(n_mels))
        blocks: list[nn.Module] = []
        previous = 1
        for width in channels:
            blocks += [
                nn.Conv2d(previous, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            previous = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classify = nn.Sequential(nn.Dropout(dropout), nn.Linear(previous, n_labels))

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std.clamp_min(1e-6))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        normalised = (logmel - self.feature_mean) / self.feature_std
        return self.classify(self.features(normalised.transpose(1, 2).unsqueeze(1)))
