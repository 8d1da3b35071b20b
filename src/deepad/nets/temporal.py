"""Temporal backbones for sequence windows ``(batch, window, n_features)``.

Encoders map a window to one vector (for scores, centres, reconstructions); the decoder maps
a vector back to a window. Both encoders read out the per-step features by mean **and** max
pooling over time rather than the last step only: a local anomaly (a spike, a shift, a burst
of high frequency) can sit anywhere in the window, and max pooling over translation-
equivariant features finds it wherever it is. On planted local anomalies this lifted Deep
SVDD from 0.83 to 0.95 AUC-ROC and DevNet from 0.54 to 0.86 (``docs/decisions.md``).

The first entry of ``hidden_dims`` is the recurrent / convolutional width, the remaining
entries are dense layers of the head, so the same ``hidden_dims`` hyperparameter describes a
network for rows and for windows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deepad.nets.mlp import MLP, activation_layer


def pool_steps(steps: torch.Tensor) -> torch.Tensor:
    """Per-step features ``(batch, window, channels)`` → ``(batch, 2 · channels)``: the mean
    and the maximum over time."""
    return torch.cat([steps.mean(dim=1), steps.amax(dim=1)], dim=1)


class GRUEncoder(nn.Module):
    """GRU over the window; its per-step outputs, mean- and max-pooled over time, feed an MLP
    head."""

    def __init__(self, n_features: int, hidden_dims: Sequence[int], out_dim: int | None, *,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        self.gru = nn.GRU(n_features, hidden_dims[0], batch_first=True, bias=bias)
        self.head = MLP(2 * hidden_dims[0], hidden_dims[1:], out_dim, activation=activation,
                        dropout=dropout, batch_norm=batch_norm, bias=bias)
        self.out_dim = self.head.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, _ = self.gru(x)
        return self.head(pool_steps(steps))


class _CausalBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection (Bai et al. 2018)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, dilation: int, activation: str,
                 dropout: float, bias: bool) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation, bias=bias)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel, dilation=dilation, bias=bias)
        self.act = activation_layer(activation)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.skip = nn.Conv1d(in_ch, out_ch, 1, bias=bias) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.conv1(F.pad(x, (self.pad, 0)))))
        h = self.drop(self.act(self.conv2(F.pad(h, (self.pad, 0)))))
        return self.act(h + self.skip(x))


class TCNEncoder(nn.Module):
    """Temporal convolutional network: residual blocks with dilations 1, 2, 4, ... until the
    receptive field covers the window; the per-step features, mean- and max-pooled over time,
    feed an MLP head."""

    def __init__(self, n_features: int, window: int, hidden_dims: Sequence[int],
                 out_dim: int | None, *, kernel_size: int = 3, activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        # each block adds 2 * (k - 1) * dilation to the receptive field
        levels = max(1, math.ceil(math.log2(max(window - 1, 1) / (2 * (kernel_size - 1)) + 1)))
        channels = hidden_dims[0]
        self.blocks = nn.Sequential(*[
            _CausalBlock(n_features if i == 0 else channels, channels, kernel_size, 2**i,
                         activation, dropout, bias) for i in range(levels)])
        self.head = MLP(2 * channels, hidden_dims[1:], out_dim, activation=activation,
                        dropout=dropout, batch_norm=batch_norm, bias=bias)
        self.out_dim = self.head.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(x.transpose(1, 2))  # (batch, channels, window)
        return self.head(pool_steps(features.transpose(1, 2)))


class GRUDecoder(nn.Module):
    """Vector → window: the code is repeated over the window and decoded by a GRU and a
    per-step linear read-out (the sequence decoder of Malhotra et al. 2016, simplified to
    condition every step on the code)."""

    def __init__(self, latent_dim: int, window: int, n_features: int, hidden: int, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.window = window
        self.gru = nn.GRU(latent_dim, hidden, batch_first=True, bias=bias)
        self.readout = nn.Linear(hidden, n_features, bias=bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps, _ = self.gru(z.unsqueeze(1).expand(-1, self.window, -1))
        return self.readout(steps)
