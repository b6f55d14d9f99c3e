"""The LSTM genre classifier (PyTorch; training only)."""

from __future__ import annotations

import torch
from torch import nn


class GenreLSTM(nn.Module):
    """MFCC sequence -> genre probabilities and a segment embedding.

    Input: (batch, time, n_mfcc) raw MFCCs. Per-coefficient normalisation
    (``feature_mean``/``feature_std`` buffers, set from the training data)
    is part of the module, so it is baked into the exported graph. The LSTM
    runs time-major (onnxruntime's CPU LSTM rejects batch-first). Its outputs
    are mean-pooled over time, so any sequence length works.
    """

    def __init__(
        self,
        n_mfcc: int,
        n_labels: int,
        hidden_size: int = 96,
        num_layers: int = 2,
        embedding_size: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_mfcc))
        self.register_buffer("feature_std", torch.ones(n_mfcc))
        self.lstm = nn.LSTM(
            n_mfcc,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.embed = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(hidden_size, embedding_size), nn.ReLU()
        )
        self.classify = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(embedding_size, n_labels)
        )

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std.clamp_min(1e-6))

    def embedding(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(batch, time, n_mfcc) -> (batch, embedding_size)."""
        normalised = (mfcc - self.feature_mean) / self.feature_std
        outputs, _ = self.lstm(normalised.transpose(0, 1))  # time-major
        return self.embed(outputs.mean(dim=0))

    def forward(self, mfcc: torch.Tensor) -> torch.Tensor:
        """Logits, (batch, n_labels)."""
        return self.classify(self.embedding(mfcc))


class ExportedGenreLSTM(nn.Module):
    """The graph that ships: probabilities and embedding from raw MFCCs."""

    def __init__(self, network: GenreLSTM) -> None:
        super().__init__()
        self.network = network

    def forward(self, mfcc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.network.embedding(mfcc)
        probabilities = torch.softmax(self.network.classify(embedding), dim=-1)
        return probabilities, embedding
