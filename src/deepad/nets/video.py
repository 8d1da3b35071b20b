"""Backbones for video clips ``(n, T, C, H, W)``: 2-D convolutions over stacked frames, 3-D
convolutions, and the U-Net generator of future frame prediction.

- :class:`FrameStackEncoder` / :class:`FrameStackDecoder`: the ``T`` frames of a clip are
  stacked as ``T · C`` input channels of 2-D convolutions, the design of Hasan et al.'s
  convolutional autoencoder (CVPR 2016, "Learning Temporal Regularity in Video Sequences":
  a cuboid of 10 frames is the input of a fully convolutional autoencoder). The code is a
  *spatial* map (``out_dim`` channels over the last feature map, flattened), not a vector:
  the autoencoder stays fully convolutional as in the paper, and the position of an object
  is kept.
- :class:`HasanEncoder` / :class:`HasanDecoder`: the same stacked frames through the layer
  layout of Hasan et al.'s Table 1 (11 x 11 stride-4, 5 x 5 and 3 x 3 convolutions with two
  poolings, and the mirror), backbone ``"hasan"``.
- :class:`Conv3DEncoder`: 3 x 3 x 3 convolutions over (time, height, width), as C3D (Tran et
  al., ICCV 2015), whose features Sultani et al.'s MIL ranking (CVPR 2018) scores.
- :class:`UNet`: the generator of Liu et al.'s future frame prediction (CVPR 2018), a U-Net
  (Ronneberger et al., MICCAI 2015) from the ``T`` stacked past frames to the next frame.

Widths are CPU-sized (``hidden_dims``); the papers' networks are about a hundred times larger.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deepad.nets.conv import GRID, conv_plan
from deepad.nets.mlp import activation_layer


def _check_clip(channels: int, frames: int, height: int, width: int,
                hidden_dims: Sequence[int]) -> None:
    if min(channels, frames, height, width) < 1:
        msg = (f"Video clips need at least one frame, one channel and one pixel per side; got "
               f"frames={frames}, channels={channels}, height={height}, width={width}.")
        raise ValueError(msg)
    if len(hidden_dims) == 0:
        msg = "A convolutional video backbone needs at least one block: hidden_dims is empty."
        raise ValueError(msg)


class FrameStackEncoder(nn.Module):
    """Clips ``(n, T, C, H, W)`` → flattened spatial codes ``(n, out_dim_channels · h · w)``.

    The frames are stacked as ``T · C`` channels; one block per entry of ``hidden_dims``:
    ``Conv2d(3 x 3) → [BatchNorm2d] → activation → [Dropout2d] → [MaxPool2d(2)]`` (halving
    while both sides are at least 8, :func:`deepad.nets.conv.conv_plan`); then, when
    ``out_dim`` is given, a ``Conv2d(1 x 1)`` to ``out_dim`` channels (linear: the code). The
    code is flattened; ``self.out_dim`` is its length and ``self.code_shape`` its
    ``(channels, h, w)``. ``pool_grid``: average-pool the last map to at most 4 x 4 cells
    first (a fixed-size feature for score heads, as :class:`~deepad.nets.conv.ConvEncoder`).
    """

    def __init__(self, frames: int, channels: int, height: int, width: int,
                 hidden_dims: Sequence[int], out_dim: int | None, *, activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, bias: bool = True,
                 pool_grid: bool = False) -> None:
        super().__init__()
        _check_clip(channels, frames, height, width, hidden_dims)
        self.pooled, (h, w) = conv_plan(height, width, len(hidden_dims))
        layers: list[nn.Module] = []
        previous = frames * channels
        for width_, pool in zip(hidden_dims, self.pooled, strict=True):
            layers.append(nn.Conv2d(previous, width_, 3, padding=1, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width_, eps=1e-4, affine=bias))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            if pool:
                layers.append(nn.MaxPool2d(2))
            previous = width_
        if pool_grid:
            h, w = min(h, GRID), min(w, GRID)
            layers.append(nn.AdaptiveAvgPool2d((h, w)))
        if out_dim is not None:
            layers.append(nn.Conv2d(previous, out_dim, 1, bias=bias))
            previous = out_dim
        self.net = nn.Sequential(*layers)
        self.code_shape = (previous, h, w)
        self.out_dim = previous * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1, 2)).flatten(1)


class FrameStackDecoder(nn.Module):
    """Flattened spatial codes of :class:`FrameStackEncoder` (``latent_channels`` channels) →
    clips ``(n, T, C, H, W)``: the mirror, ``ConvTranspose2d(4 x 4, stride 2)`` where the
    encoder pooled, ``Conv2d(3 x 3)`` where it did not, a bilinear resize where halving lost
    a row or column, and a last linear ``Conv2d(3 x 3)`` to ``T · C`` channels."""

    def __init__(self, latent_channels: int, frames: int, channels: int, height: int,
                 width: int, hidden_dims: Sequence[int], *, activation: str = "relu",
                 batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        _check_clip(channels, frames, height, width, hidden_dims)
        pooled, (h, w) = conv_plan(height, width, len(hidden_dims))
        widths = list(hidden_dims)
        self.start = (latent_channels, h, w)
        self.clip = (frames, channels, height, width)
        layers: list[nn.Module] = [nn.Conv2d(latent_channels, widths[-1], 3, padding=1,
                                             bias=bias), activation_layer(activation)]
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
        layers.append(nn.Conv2d(widths[0], frames * channels, 3, padding=1, bias=bias))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), *self.start)).view(len(z), *self.clip)


def hasan_kernels(n_blocks: int) -> list[int]:
    """Kernel sizes of Hasan et al.'s Conv-AE layers: 11, 5, then 3 for every further one."""
    return [(11, 5)[i] if i < 2 else 3 for i in range(n_blocks)]


class HasanEncoder(nn.Module):
    """Clips ``(n, T, C, H, W)`` → flattened spatial codes, the encoder of Hasan et al.'s
    convolutional autoencoder (CVPR 2016, Sec. 3.2, Table 1: conv 11 x 11 stride 4 → pool →
    conv 5 x 5 → pool → conv 3 x 3; 512 / 256 / 128 filters on 227 x 227 cuboids of T = 10).

    The ``T · C`` stacked frames go through one block per entry of ``hidden_dims``: block 0
    ``Conv2d(11 x 11, stride 4)``, block 1 ``Conv2d(5 x 5)``, later blocks ``Conv2d(3 x 3)``,
    each followed by ``[BatchNorm2d] → activation → [Dropout2d]``, and a 2 x 2 max pooling
    after blocks 0 and 1 (while both sides are at least 2); then the code, a linear
    ``Conv2d(3 x 3)`` to ``out_dim`` channels (the paper's third layer, which is the code of
    its autoencoder). ``self.code_shape`` is ``(out_dim, h, w)``, ``self.out_dim`` its size.
    """

    def __init__(self, frames: int, channels: int, height: int, width: int,
                 hidden_dims: Sequence[int], out_dim: int | None, *, activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        _check_clip(channels, frames, height, width, hidden_dims)
        kernels = hasan_kernels(len(hidden_dims))
        layers: list[nn.Module] = []
        previous, h, w = frames * channels, height, width
        self.pooled = []
        for i, (width_, k) in enumerate(zip(hidden_dims, kernels, strict=True)):
            stride = 4 if i == 0 else 1
            layers.append(nn.Conv2d(previous, width_, k, stride=stride, padding=k // 2,
                                    bias=bias))
            h, w = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
            if batch_norm:
                layers.append(nn.BatchNorm2d(width_, eps=1e-4, affine=bias))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            pool = i < 2 and min(h, w) >= 2
            if pool:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            self.pooled.append(pool)
            previous = width_
        if out_dim is not None:
            layers.append(nn.Conv2d(previous, out_dim, 3, padding=1, bias=bias))
            previous = out_dim
        self.net = nn.Sequential(*layers)
        self.code_shape = (previous, h, w)
        self.out_dim = previous * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1, 2)).flatten(1)


class HasanDecoder(nn.Module):
    """The mirror of :class:`HasanEncoder`: from the code, ``Conv2d(3 x 3)`` to the last
    block's width, then per block in reverse a 2 x 2 transposed convolution where the encoder
    pooled (the paper's unpooling) and the block's kernel (3 x 3, 5 x 5) to the previous
    block's width; the first block's mirror is a linear ``ConvTranspose2d(11 x 11, stride 4)``
    to ``T · C`` channels, and a bilinear resize to ``(H, W)`` where the strides lost pixels."""

    def __init__(self, latent_channels: int, frames: int, channels: int, height: int,
                 width: int, hidden_dims: Sequence[int], *, activation: str = "relu",
                 batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        encoder = HasanEncoder(frames, channels, height, width, hidden_dims, latent_channels,
                               bias=False)
        self.start = encoder.code_shape
        self.clip = (frames, channels, height, width)
        widths = list(hidden_dims)
        kernels = hasan_kernels(len(widths))
        layers: list[nn.Module] = [nn.Conv2d(latent_channels, widths[-1], 3, padding=1,
                                             bias=bias), activation_layer(activation)]
        for i in reversed(range(len(widths))):
            if encoder.pooled[i]:
                layers.append(nn.ConvTranspose2d(widths[i], widths[i], 2, stride=2, bias=bias))
            if i == 0:
                layers.append(nn.ConvTranspose2d(widths[0], frames * channels, 11, stride=4,
                                                 padding=4, output_padding=1, bias=bias))
                break
            layers.append(nn.Conv2d(widths[i], widths[i - 1], kernels[i],
                                    padding=kernels[i] // 2, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm2d(widths[i - 1], eps=1e-4, affine=bias))
            layers.append(activation_layer(activation))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z.view(len(z), *self.start))
        if tuple(out.shape[-2:]) != self.clip[2:]:
            out = F.interpolate(out, size=self.clip[2:], mode="bilinear", align_corners=False)
        return out.view(len(z), *self.clip)


class Conv3DEncoder(nn.Module):
    """Clips ``(n, T, C, H, W)`` → vectors ``(n, out_dim)`` by 3-D convolutions (C3D-style).

    One block per entry of ``hidden_dims``: ``Conv3d(3 x 3 x 3) → [BatchNorm3d] → activation
    → [Dropout3d] → MaxPool3d``, the pooling halving height and width while both are at
    least 8 and time while it is at least 4 (C3D keeps time in its first pooling; here time
    is halved from the first block on, for speed). An adaptive average pooling to one step
    and at most 4 x 4 cells, flattened, then a linear head to ``out_dim`` (None: no head).
    """

    def __init__(self, frames: int, channels: int, height: int, width: int,
                 hidden_dims: Sequence[int], out_dim: int | None, *, activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        _check_clip(channels, frames, height, width, hidden_dims)
        layers: list[nn.Module] = []
        previous, t, (h, w) = channels, frames, (height, width)
        for width_ in hidden_dims:
            layers.append(nn.Conv3d(previous, width_, 3, padding=1, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm3d(width_, eps=1e-4, affine=bias))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout3d(dropout))
            kt = 2 if t >= 4 else 1
            ks = 2 if min(h, w) >= 8 else 1
            if kt > 1 or ks > 1:
                layers.append(nn.MaxPool3d((kt, ks, ks)))
                t, h, w = t // kt, h // ks, w // ks
            previous = width_
        grid = (1, min(h, GRID), min(w, GRID))
        layers += [nn.AdaptiveAvgPool3d(grid), nn.Flatten()]
        features = previous * grid[1] * grid[2]
        if out_dim is not None:
            layers.append(nn.Linear(features, out_dim, bias=bias))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim if out_dim is not None else features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2))  # (n, C, T, H, W)


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, batch_norm: bool) -> None:
        layers: list[nn.Module] = []
        for a, b in ((cin, cout), (cout, cout)):
            layers.append(nn.Conv2d(a, b, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net generator: ``(n, in_channels, H, W)`` → ``(n, out_channels, H, W)`` in [−1, 1].

    Liu et al.'s generator (CVPR 2018, Sec. 3.1, after Ronneberger et al. 2015): per level two
    3 x 3 convolutions with ReLU, 2 x 2 max pooling down, and on the way up a 2 x 2
    transposed convolution, the skip connection of the same level concatenated, two 3 x 3
    convolutions; a last 3 x 3 convolution and tanh. ``widths`` are the channels per level
    (the paper's 64, 128, 256, 512; smaller here for the CPU). Any height and width works: an
    up-sampled map is resized to its skip's size where halving lost a row or column.

    ``batch_norm``: batch normalisation after every 3 x 3 convolution (their biases dropped).
    ``up_activation``: a ReLU after every transposed convolution. The authors' release
    (``Codes/unet.py`` of StevenLiuWen/ano_pred_cvpr2018, TensorFlow ``contrib.layers``
    defaults) has no normalisation and a ReLU after the transposed convolutions:
    ``batch_norm=False, up_activation=True``.
    """

    def __init__(self, in_channels: int, out_channels: int, widths: Sequence[int] = (16, 32, 64),
                 *, batch_norm: bool = True, up_activation: bool = False) -> None:
        super().__init__()
        self.up_activation = up_activation
        widths = list(widths)
        if len(widths) < 2:
            msg = f"A U-Net needs at least two levels of widths; got {widths}."
            raise ValueError(msg)
        self.down = nn.ModuleList()
        previous = in_channels
        for width_ in widths:
            self.down.append(_DoubleConv(previous, width_, batch_norm))
            previous = width_
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for width_ in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(previous, width_, 2, stride=2))
            self.merge.append(_DoubleConv(2 * width_, width_, batch_norm))
            previous = width_
        self.out = nn.Conv2d(previous, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool2d(x, 2, ceil_mode=True)
            x = block(x)
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
            x = up(x)
            if self.up_activation:
                x = F.relu(x)
            if x.shape[-2:] != skip.shape[-2:]:
                x = x[..., :skip.shape[-2], :skip.shape[-1]]
            x = merge(torch.cat([x, skip], dim=1))
        return torch.tanh(self.out(x))
