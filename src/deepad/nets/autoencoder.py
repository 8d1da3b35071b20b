"""The autoencoder network ``x → encoder → code → decoder → x̂`` and its reconstruction error.

Shared by every method that trains an autoencoder: the autoencoder detectors themselves and
the methods that pre-train an encoder as one (Deep SVDD, Deep SAD, OC-NN, OCAN;
:func:`deepad.core.pretrain.pretrain_autoencoder`).
"""

from __future__ import annotations

import torch
from torch import nn

from deepad.nets.graph import GraphBatch, node_inputs


def reconstruction_error(x: torch.Tensor | GraphBatch, x_hat: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error over every feature (and time step): shape (batch,).

    For a :class:`~deepad.nets.graph.GraphBatch` the samples are its target nodes and ``x``
    their attributes (attribute reconstruction)."""
    return (node_inputs(x) - x_hat).pow(2).flatten(1).mean(dim=1)


class AutoEncoderNet(nn.Module):
    """``x → encoder → code → decoder → x̂``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
