"""A small Wide Residual Network (Zagoruyko & Komodakis, BMVC 2016) for images: the classifier
of the self-supervised detectors (GEOM trains a WRN-10-4, GOAD the same on images).

WRN-d-k: a 3 x 3 stem convolution of 16 channels, then groups of pre-activation residual
blocks ``BN → ReLU → Conv3x3(stride) → BN → ReLU → [Dropout] → Conv3x3`` (a 1 x 1 convolution
on the shortcut where the width or size changes), the groups of widths ``16k, 32k, 64k``, the
second and third halving the map; ``(d − 4) / 6`` blocks per group; then BN → ReLU → global
average pooling → linear. Here the group widths are ``hidden_dims`` (WRN-10-4 is
``hidden_dims=(64, 128, 256)`` with one block per group, the default ``blocks=1``), so the
width can be chosen per budget; a group halves the map only while both sides are at least 8
pixels (the rule of :mod:`deepad.nets.conv`), so tiny test images keep a layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepad.nets.conv import MIN_POOL_SIDE, _check_image
from deepad.nets.mlp import activation_layer

STEM = 16  # the stem's channels (Zagoruyko & Komodakis, Table 1)


class WideBlock(nn.Module):
    """One pre-activation residual block (Zagoruyko & Komodakis 2016, Fig. 1c / 1d)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, *,
                 activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.act1 = activation_layer(activation)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act2 = activation_layer(activation)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        h = self.conv2(self.dropout(self.act2(self.bn2(self.conv1(h)))))
        return h + skip


class WideResNet(nn.Module):
    """Images ``(n, in_channels, height, width)`` → vectors ``(n, out_dim)``.

    Parameters
    ----------
    in_channels, height, width : int
    hidden_dims : sequence of int
        Width of each group (WRN-d-k: ``(16k, 32k, 64k)``).
    out_dim : int or None
        The linear head; None → the pooled features (``hidden_dims[-1]`` values).
    blocks : int, default 1
        Residual blocks per group (depth ``6 · blocks + 4`` for three groups).
    activation : str, default "relu"
    dropout : float, default 0
        Dropout between a block's two convolutions.

    Attributes
    ----------
    out_dim : int
    """

    def __init__(self, in_channels: int, height: int, width: int, hidden_dims: Sequence[int],
                 out_dim: int | None, *, blocks: int = 1, activation: str = "relu",
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_image(in_channels, height, width, hidden_dims)
        if blocks < 1:
            msg = f"A Wide-ResNet needs at least one block per group; got blocks={blocks}."
            raise ValueError(msg)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, STEM, 3, 1, 1, bias=False)]
        previous, side = STEM, min(height, width)
        for g, channels in enumerate(hidden_dims):
            stride = 2 if g > 0 and side >= MIN_POOL_SIDE else 1
            side = side // stride
            for b in range(blocks):
                layers.append(WideBlock(previous, channels, stride if b == 0 else 1,
                                        activation=activation, dropout=dropout))
                previous = channels
        layers += [nn.BatchNorm2d(previous), activation_layer(activation),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if out_dim is not None:
            layers.append(nn.Linear(previous, out_dim))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim if out_dim is not None else previous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
