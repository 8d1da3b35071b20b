"""Convolutional backbones for images ``(n, channels, height, width)``: a small LeNet / DCGAN-style
encoder to a vector and its transposed-convolution decoder back to the image.

The encoder is a stack of blocks, one per entry of ``hidden_dims`` (the channel widths):
``Conv2d(3 x 3, padding 1) → [BatchNorm2d] → activation → [Dropout2d] → [MaxPool2d(2)]``. A
block halves the height and width only while both are at least 8 pixels, so no feature map
falls below 4 x 4 and any image of at least 8 x 8 (smaller ones too) keeps its spatial layout
to the end. An adaptive average pooling then maps the last feature map to a fixed grid of at
most 4 x 4 cells, flattened into a linear head to ``out_dim``: the head's size depends on the
widths only, and the position of a pattern in the image is kept (a global pooling would
discard it; a pretext task that asks *where* a pattern went, such as GEOM's translations,
needs it).

This is the CPU-sized family of the networks of Deep SVDD (Ruff et al., ICML 2018: LeNet-type
CNNs on MNIST / CIFAR-10) and of the DCGAN encoders used as baselines by Golan & El-Yaniv
(NeurIPS 2018); GEOM itself trains a Wide-ResNet (WRN-10-4), about a hundred times the
arithmetic of the default widths here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepad.nets.mlp import activation_layer

MIN_POOL_SIDE = 8  # a block pools (halves the sides) only while both sides are at least this
GRID = 4  # the adaptive pooling's output cells per side (at most)


def conv_plan(height: int, width: int, n_blocks: int) -> tuple[list[bool], tuple[int, int]]:
    """Which of ``n_blocks`` blocks halve the feature map, and the map's size after the last.

    >>> conv_plan(28, 28, 3)
    ([True, True, False], (7, 7))
    """
    pooled = []
    for _ in range(n_blocks):
        pool = min(height, width) >= MIN_POOL_SIDE
        if pool:
            height, width = height // 2, width // 2
        pooled.append(pool)
    return pooled, (height, width)


def _check_image(in_channels: int, height: int, width: int, hidden_dims: Sequence[int]) -> None:
    if min(in_channels, height, width) < 1:
        msg = (f"Images need at least one channel and one pixel per side; got channels="
               f"{in_channels}, height={height}, width={width}.")
        raise ValueError(msg)
    if len(hidden_dims) == 0:
        msg = "A convolutional backbone needs at least one block: hidden_dims is empty."
        raise ValueError(msg)


class ConvEncoder(nn.Module):
    """Images ``(n, in_channels, height, width)`` → vectors ``(n, out_dim)``.

    Parameters
    ----------
    in_channels, height, width : int
        The image shape.
    hidden_dims : sequence of int
        Channel width of each convolutional block.
    out_dim : int or None
        Size of the linear head; None → no head, the flattened pooled features
        (``hidden_dims[-1] x grid cells``).
    activation : str, default "relu"
    dropout : float, default 0
        Channel dropout (``Dropout2d``) after each block's activation.
    batch_norm : bool, default False
        ``BatchNorm2d`` after each convolution.
    bias : bool, default True
        False removes every bias and makes batch normalisation non-affine (Deep SVDD's
        requirement, Ruff et al. 2018, Prop. 2).

    Attributes
    ----------
    out_dim : int
    pooled : list of bool
        Which blocks halved the feature map.
    grid : tuple of int
        The pooled grid (cells per side) the head reads.
    """

    def __init__(self, in_channels: int, height: int, width: int, hidden_dims: Sequence[int],
                 out_dim: int | None, *, activation: str = "relu", dropout: float = 0.0,
                 batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        _check_image(in_channels, height, width, hidden_dims)
        self.pooled, (h, w) = conv_plan(height, width, len(hidden_dims))
        layers: list[nn.Module] = []
        previous = in_channels
        for channels, pool in zip(hidden_dims, self.pooled, strict=True):
            layers.append(nn.Conv2d(previous, channels, 3, padding=1, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm2d(channels, eps=1e-4, affine=bias))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            if pool:
                layers.append(nn.MaxPool2d(2))
            previous = channels
        self.grid = (min(h, GRID), min(w, GRID))
        layers += [nn.AdaptiveAvgPool2d(self.grid), nn.Flatten()]
        features = previous * self.grid[0] * self.grid[1]
        if out_dim is not None:
            layers.append(nn.Linear(features, out_dim, bias=bias))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim if out_dim is not None else features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Vectors ``(n, latent_dim)`` → images ``(n, out_channels, height, width)``: the mirror of
    :class:`ConvEncoder` with the same ``hidden_dims``.

    ``Linear(latent_dim → hidden_dims[-1] x h x w)`` onto the encoder's last feature map size,
    then one block per width in reverse: ``ConvTranspose2d(4 x 4, stride 2)`` where the
    encoder pooled (``Conv2d(3 x 3)`` where it did not) → [BatchNorm2d] → activation; a
    bilinear resize where halving lost a row or column (odd sides), and a last
    ``Conv2d(3 x 3)`` to ``out_channels``, linear (no output activation).
    """

    def __init__(self, latent_dim: int, out_channels: int, height: int, width: int,
                 hidden_dims: Sequence[int], *, activation: str = "relu",
                 batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        _check_image(out_channels, height, width, hidden_dims)
        pooled, (h, w) = conv_plan(height, width, len(hidden_dims))
        widths = list(hidden_dims)
        self.start = (widths[-1], h, w)
        self.project = nn.Sequential(nn.Linear(latent_dim, widths[-1] * h * w, bias=bias),
                                     activation_layer(activation))
        layers: list[nn.Module] = []
        for i in reversed(range(len(widths))):
            target = widths[max(i - 1, 0)]
            if pooled[i]:
                layers.append(nn.ConvTranspose2d(widths[i], target, 4, stride=2, padding=1,
                                                 bias=bias))
                h, w = 2 * h, 2 * w
            else:
                layers.append(nn.Conv2d(widths[i], target, 3, padding=1, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm2d(target, eps=1e-4, affine=bias))
            layers.append(activation_layer(activation))
        if (h, w) != (height, width):
            layers.append(nn.Upsample(size=(height, width), mode="bilinear", align_corners=False))
        layers.append(nn.Conv2d(widths[0], out_channels, 3, padding=1, bias=bias))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(len(z), *self.start))
