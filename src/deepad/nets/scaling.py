"""Input standardisation kept on the network, so a saved detector scales its inputs itself."""

from __future__ import annotations

import torch
from torch import nn

STD_TOL = 1e-8
"""A feature whose training standard deviation is not above this is only centred."""


class Standardize(nn.Module):
    """``(x − μ) / σ`` over the last axis (features of a row, channels of a window's steps).

    ``μ`` and ``σ`` are buffers (saved with the model), the identity until :meth:`fit_` sets
    them from training data; a constant feature keeps ``σ = 1``.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    @torch.no_grad()
    def fit_(self, X: torch.Tensor) -> Standardize:
        """Set ``μ``, ``σ`` from ``X`` (rows, or windows pooled over windows and steps)."""
        flat = X.reshape(-1, X.shape[-1]).double()
        std = flat.std(dim=0, correction=0)
        self.mean.copy_(flat.mean(dim=0))
        self.std.copy_(torch.where(std > STD_TOL, std, torch.ones_like(std)))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
