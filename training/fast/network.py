"""The fast model's networks on MFCC segments (PyTorch; training only)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

# librosa.feature.delta's default (width 9) on the interior: a Savitzky-Golay
# first derivative, sum(k * x[t+k]) / sum(k²) for k in -4..4.
DELTA_KERNEL = torch.arange(-4.0, 5.0) / 60.0
EMBEDDING_SIZE = 64


class Deltas(nn.Module):
    """(time, batch, n) -> (time, batch, 2n): features and their deltas.

    Part of the graph, so the plugin's front-end stays plain MFCCs; edges
    repeat the first and last frames."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = len(DELTA_KERNEL) // 2
        padded = torch.cat([x[:1].expand(width, -1, -1), x, x[-1:].expand(width, -1, -1)])
        # slices end relative to the end, so the exported graph keeps time dynamic
        shifted = [padded[i : i - 2 * width or None] for i in range(2 * width + 1)]
        delta = sum(float(w) * s for w, s in zip(DELTA_KERNEL, shifted))
        return torch.cat([x, delta], dim=-1)


class AttentionPool(nn.Module):
    """(time, batch, d) -> (batch, d): a learnt softmax weighting over time."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.score = nn.Linear(size, 1)

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(outputs), dim=0)
        return (weights * outputs).sum(dim=0)


class MeanPool(nn.Module):
    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.mean(dim=0)


class MfccNetwork(nn.Module):
    """MFCC sequence -> genre logits and a segment embedding; what every
    architecture shares.

    Input: (batch, time, n_mfcc) raw MFCCs. Per-coefficient normalisation
    (``feature_mean``/``feature_std`` buffers, set from the training data)
    and optional deltas are part of the module, so they are baked into the
    exported graph, as is the calibration ``temperature`` (1 until fitted).
    A subclass's ``encode`` turns the time-major sequence into one vector
    of ``encoded_size`` per segment, whatever its length.
    """

    def __init__(
        self,
        n_mfcc: int,
        n_labels: int,
        encoded_size: int,
        embedding_size: int,
        dropout: float,
        deltas: bool,
    ) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_mfcc))
        self.register_buffer("feature_std", torch.ones(n_mfcc))
        self.register_buffer("temperature", torch.ones(()))
        self.deltas = Deltas() if deltas else nn.Identity()
        self.embed = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(encoded_size, embedding_size), nn.ReLU()
        )
        self.classify = nn.Sequential(nn.Dropout(dropout), nn.Linear(embedding_size, n_labels))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(time, batch, dims) -> (batch, encoded_size)."""
        raise NotImplementedError

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std.clamp_min(1e-6))

    def embedding(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(batch, time, n_mfcc) -> (batch, embedding_size)."""
        normalised = (mfcc - self.feature_mean) / self.feature_std
        return self.embed(self.encode(self.deltas(normalised.transpose(0, 1))))  # time-major

    def forward(self, mfcc: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits, (batch, n_labels)."""
        return self.classify(self.embedding(mfcc))

    def outputs(self, mfcc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Uncalibrated logits and the embedding they come from."""
        embedding = self.embedding(mfcc)
        return self.classify(embedding), embedding


class GenreLSTM(MfccNetwork):
    """An LSTM over the frames, its outputs pooled over time. It runs
    time-major (onnxruntime's CPU LSTM rejects batch-first)."""

    def __init__(
        self,
        n_mfcc: int,
        n_labels: int,
        hidden_size: int = 64,
        num_layers: int = 2,
        embedding_size: int = EMBEDDING_SIZE,
        dropout: float = 0.3,
        bidirectional: bool = False,
        pooling: Literal["mean", "attention"] = "mean",
        deltas: bool = False,
    ) -> None:
        outputs = 2 * hidden_size if bidirectional else hidden_size
        super().__init__(n_mfcc, n_labels, outputs, embedding_size, dropout, deltas)
        self.lstm = nn.LSTM(
            2 * n_mfcc if deltas else n_mfcc,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.pool = AttentionPool(outputs) if pooling == "attention" else MeanPool()

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(frames)
        return self.pool(outputs)


class GenreStatistics(MfccNetwork):
    """A perceptron on each coefficient's mean and standard deviation over
    the segment: the classic GTZAN feature table, learnt end to end."""

    def __init__(
        self,
        n_mfcc: int,
        n_labels: int,
        hidden_size: int = 256,
        embedding_size: int = EMBEDDING_SIZE,
        dropout: float = 0.3,
        deltas: bool = True,
    ) -> None:
        super().__init__(n_mfcc, n_labels, hidden_size, embedding_size, dropout, deltas)
        dims = 2 * n_mfcc if deltas else n_mfcc
        self.hidden = nn.Sequential(nn.Linear(2 * dims, hidden_size), nn.ReLU())

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        return self.hidden(torch.cat([frames.mean(dim=0), frames.std(dim=0)], dim=-1))


class GenreConv(MfccNetwork):
    """Three convolutions along time (two halve it), then each channel's
    mean and maximum over the segment."""

    def __init__(
        self,
        n_mfcc: int,
        n_labels: int,
        hidden_size: int = 128,
        embedding_size: int = EMBEDDING_SIZE,
        dropout: float = 0.3,
        deltas: bool = True,
    ) -> None:
        super().__init__(n_mfcc, n_labels, 2 * hidden_size, embedding_size, dropout, deltas)
        channels = [2 * n_mfcc if deltas else n_mfcc] + [hidden_size] * 3
        layers: list[nn.Module] = []
        for i, (width, pooled) in enumerate(zip((5, 5, 3), (True, True, False))):
            layers += [
                nn.Conv1d(channels[i], channels[i + 1], width, padding=width // 2),
                nn.BatchNorm1d(channels[i + 1]),
                nn.ReLU(),
            ]
            if pooled:
                layers.append(nn.MaxPool1d(2))
        self.convolutions = nn.Sequential(*layers)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        found = self.convolutions(frames.permute(1, 2, 0))  # (batch, channels, time)
        return torch.cat([found.mean(dim=-1), found.amax(dim=-1)], dim=-1)


class GenreEnsemble(nn.Module):
    """Several networks on the same MFCCs: the mean of their logits, their
    embeddings side by side, one calibration ``temperature`` for the whole."""

    def __init__(self, members: list[MfccNetwork]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.register_buffer("temperature", torch.ones(()))

    @property
    def feature_mean(self) -> torch.Tensor:  # members share the training data's statistics
        return self.members[0].feature_mean

    @property
    def feature_std(self) -> torch.Tensor:
        return self.members[0].feature_std

    def forward(self, mfcc: torch.Tensor) -> torch.Tensor:
        return self.outputs(mfcc)[0]

    def outputs(self, mfcc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        found = [member.outputs(mfcc) for member in self.members]
        logits = torch.stack([f[0] for f in found]).mean(dim=0)
        return logits, torch.cat([f[1] for f in found], dim=-1)


class ExportedNetwork(nn.Module):
    """The graph that ships: calibrated probabilities and embedding from raw MFCCs."""

    def __init__(self, network: MfccNetwork | GenreEnsemble) -> None:
        super().__init__()
        self.network = network

    def forward(self, mfcc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self.network.outputs(mfcc)
        return torch.softmax(logits / self.network.temperature, dim=-1), embedding
