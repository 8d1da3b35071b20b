"""The LeNet-type CNN of Deep SVDD and its mirror decoder, for images ``(n, C, H, W)``.

Ruff et al. ("Deep One-Class Classification", ICML 2018, Sec. 4 and the release's
``mnist_LeNet.py`` / ``cifar10_LeNet.py``) use, for 28 x 28 grey images,

``conv 5x5 (8) → BN → leaky ReLU → max-pool 2 → conv 5x5 (4) → BN → leaky ReLU → max-pool 2
→ dense (rep_dim = 32)``

and for 32 x 32 colour images three such blocks of 32, 64 and 128 channels and a dense layer
of 128, with batch normalisation ``eps=1e-4, affine=False`` and no bias anywhere (Prop. 2 of
the paper: a bias lets the network map everything onto the centre). :data:`LENET_WIDTHS`
holds those widths; ``bias=True`` adds the biases and makes the batch normalisation affine,
for methods without Deep SVDD's constraint.

Generalisation to other sizes: a block halves the feature map only while both its sides are
at least :data:`MIN_POOL_SIDE` (28 → 14 → 7 and 32 → 16 → 8 → 4 as in the paper; a 16 x 16
image ends at 4 x 4), and a map still larger than :data:`MAX_GRID` per side is average-pooled
to it before the dense layer, so a large image does not make a huge dense layer.

The decoder mirrors the encoder as the release's autoencoders do (dense → reshape → per block
in reverse: upsample x2 (nearest) → conv 5x5 → BN → leaky ReLU), with a last linear 5 x 5
convolution to the image's channels (the release ends in a sigmoid for its [0, 1] pixels; a
linear output also reconstructs inputs that were scaled otherwise).

Both keep their convolution kernels and activations channels-last in memory
(``torch.channels_last``): the same arithmetic, and on the CPU a training step of the 28 x 28
network took about a third less time than in the default layout (oneDNN's convolutions and
pooling prefer it); the saved weights are ordinary contiguous tensors either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepad.nets.mlp import activation_layer

LENET_WIDTHS = {"grey": (8, 4), "colour": (32, 64, 128)}
"""Channel widths of the convolutional blocks: Ruff et al.'s MNIST network for one-channel
images, their CIFAR-10 network for any other number of channels."""
MIN_POOL_SIDE = 4
MAX_GRID = 8
KERNEL = 5


def lenet_widths(channels: int) -> tuple[int, ...]:
    """The paper's widths for images of ``channels`` channels.

    >>> lenet_widths(1), lenet_widths(3)
    ((8, 4), (32, 64, 128))
    """
    return LENET_WIDTHS["grey" if channels == 1 else "colour"]


def lenet_sizes(height: int, width: int, n_blocks: int) -> list[tuple[int, int]]:
    """The feature-map size entering each block and after the last (``n_blocks + 1`` sizes).

    >>> lenet_sizes(28, 28, 2), lenet_sizes(32, 32, 3)[-1], lenet_sizes(6, 9, 2)
    ([(28, 28), (14, 14), (7, 7)], (4, 4), [(6, 9), (3, 4), (3, 4)])
    """
    sizes = [(height, width)]
    for _ in range(n_blocks):
        h, w = sizes[-1]
        sizes.append((h // 2, w // 2) if min(h, w) >= MIN_POOL_SIDE else (h, w))
    return sizes


def _check(channels: int, height: int, width: int, widths: Sequence[int]) -> None:
    if min(channels, height, width) < 1:
        msg = (f"Images need at least one channel and one pixel per side; got channels="
               f"{channels}, height={height}, width={width}.")
        raise ValueError(msg)
    if len(widths) == 0:
        msg = "A LeNet backbone needs at least one convolutional block: widths is empty."
        raise ValueError(msg)


def _batch_norm(channels: int, bias: bool) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-4, affine=bias)


class LeNetEncoder(nn.Module):
    """Images ``(n, in_channels, height, width)`` → vectors ``(n, out_dim)``.

    Parameters
    ----------
    in_channels, height, width : int
    widths : sequence of int
        Channels of each ``conv 5x5 → BN → activation → [dropout] → [max-pool 2]`` block.
    out_dim : int or None
        Size of the dense layer; None → the flattened features.
    activation : str, default "leaky_relu"
    dropout : float, default 0
        Channel dropout after each block's activation.
    bias : bool, default False
        False: no bias terms and non-affine batch normalisation (Deep SVDD's network).

    Attributes
    ----------
    out_dim : int
    sizes : list of tuple
        Feature-map sizes entering each block and after the last.
    grid : tuple of int
        The size the dense layer reads (the last map, average-pooled to at most
        ``MAX_GRID`` per side).
    """

    def __init__(self, in_channels: int, height: int, width: int, widths: Sequence[int],
                 out_dim: int | None, *, activation: str = "leaky_relu", dropout: float = 0.0,
                 bias: bool = False) -> None:
        super().__init__()
        _check(in_channels, height, width, widths)
        self.sizes = lenet_sizes(height, width, len(widths))
        layers: list[nn.Module] = []
        previous = in_channels
        for i, channels in enumerate(widths):
            layers += [nn.Conv2d(previous, channels, KERNEL, padding=KERNEL // 2, bias=bias),
                       _batch_norm(channels, bias), activation_layer(activation)]
            if dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            if self.sizes[i + 1] != self.sizes[i]:
                layers.append(nn.MaxPool2d(2))
            previous = channels
        h, w = self.sizes[-1]
        self.grid = (min(h, MAX_GRID), min(w, MAX_GRID))
        if self.grid != (h, w):
            layers.append(nn.AdaptiveAvgPool2d(self.grid))
        layers.append(nn.Flatten())
        features = previous * self.grid[0] * self.grid[1]
        if out_dim is not None:
            layers.append(nn.Linear(features, out_dim, bias=bias))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim if out_dim is not None else features
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))


class LeNetDecoder(nn.Module):
    """Vectors ``(n, latent_dim)`` → images ``(n, out_channels, height, width)``: the mirror of
    :class:`LeNetEncoder` with the same ``widths``.

    ``dense(latent_dim → widths[-1] x grid) → activation``, an upsampling back to the last
    block's map where the encoder average-pooled, then per block in reverse: upsample
    (nearest) to the size that block received → ``conv 5x5`` to the previous block's width →
    BN → activation; the first block's mirror is a linear ``conv 5x5`` to ``out_channels``.
    """

    def __init__(self, latent_dim: int, out_channels: int, height: int, width: int,
                 widths: Sequence[int], *, activation: str = "leaky_relu",
                 bias: bool = False) -> None:
        super().__init__()
        _check(out_channels, height, width, widths)
        sizes = lenet_sizes(height, width, len(widths))
        h, w = sizes[-1]
        grid = (min(h, MAX_GRID), min(w, MAX_GRID))
        self.start = (widths[-1], *grid)
        self.project = nn.Sequential(
            nn.Linear(latent_dim, widths[-1] * grid[0] * grid[1], bias=bias),
            activation_layer(activation))
        layers: list[nn.Module] = []
        if grid != (h, w):
            layers.append(nn.Upsample(size=(h, w), mode="nearest"))
        for i in reversed(range(len(widths))):
            if sizes[i] != sizes[i + 1]:
                layers.append(nn.Upsample(size=sizes[i], mode="nearest"))
            target = widths[i - 1] if i > 0 else out_channels
            layers.append(nn.Conv2d(widths[i], target, KERNEL, padding=KERNEL // 2, bias=bias))
            if i > 0:
                layers += [_batch_norm(target, bias), activation_layer(activation)]
        self.net = nn.Sequential(*layers)
        self.to(memory_format=torch.channels_last)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        start = self.project(z).view(len(z), *self.start)
        return self.net(start.contiguous(memory_format=torch.channels_last)).contiguous()
