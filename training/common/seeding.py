"""Reproducible torch training, for both models."""

from __future__ import annotations

import torch


def make_deterministic(seed: int) -> None:
    """Same seed, same weights: one thread, deterministic kernels."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
