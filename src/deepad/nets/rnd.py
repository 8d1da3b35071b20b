"""Burda et al.'s convolutional network for images: the trunk of the target and of the
predictor of random network distillation (Burda, Edwards, Storkey & Klimov, "Exploration by
Random Network Distillation", ICLR 2019; the release's ``policies/cnn_gru_policy_dynamics.py``,
``define_self_prediction_rew``, at its default ``policy_size="normal"``).

The release, on 84 x 84 Atari frames (one channel, the newest frame):

- three convolutions without padding, 8 x 8 stride 4 (32 channels) → 4 x 4 stride 2 (64) →
  3 x 3 stride 1 (64), each followed by a leaky ReLU (TensorFlow's slope 0.2): 84 → 20 → 9 →
  7, a 7 x 7 x 64 map;
- flattened (3,136 values) and one dense layer to the 512-dimensional output, linear (the
  target); the predictor has the same convolutional stack followed by dense 512 → ReLU →
  dense 512 → ReLU → dense 512 (its extra layers are the detector's, not this module's);
- every layer initialised orthogonally with gain √2, biases zero (the detector does it).

Adaptation to small images (the 28 x 28 of Fashion-MNIST, the 16 x 16 of the tests). On an
image whose sides are both at least 84 pixels the release's layers are used unchanged (on
84 x 84 this is exactly its network). On smaller ones an 8 x 8 stride-4 layer would leave a
map of one or two pixels after the third layer, so the same three-layer structure is kept with
kernels that halve instead of quartering: 4 x 4 stride 2 padding 1 (32) → 4 x 4 stride 2
padding 1 (64) → 3 x 3 stride 1 padding 1 (64). On 28 x 28 this gives 28 → 14 → 7 → 7: the
same 7 x 7 x 64 map (3,136 values) as the release's on Atari frames, so the dense layers are
the release's size. A halving layer halves only while both sides are at least 4 pixels
(otherwise it is a 3 x 3 stride-1 layer that keeps the size), and a last map larger than
7 x 7 (large images) is average-pooled to 7 x 7 before the dense layer, so the dense layer
never outgrows the release's.
"""

from __future__ import annotations

import torch
from torch import nn

from deepad.nets.conv import _check_image

WIDTHS = (32, 64, 64)  # the release's convfeat 16 x enlargement 2: 32, 64, 64
LEAK = 0.2  # tf.nn.leaky_relu's default slope, which the release uses
ATARI_SIDE = 84  # images at least this large get the release's layers unchanged
MAP_SIDE = 7  # the release's last map on 84 x 84 frames; larger maps are pooled to it
MIN_HALVING_SIDE = 4  # a small-image layer halves the map only while both sides are >= this


def rnd_plan(height: int, width: int) -> tuple[list[tuple[int, int, int]], tuple[int, int]]:
    """The three convolutions ``(kernel, stride, padding)`` for an image of ``height`` x
    ``width``, and the size of the last map (before any pooling).

    >>> rnd_plan(84, 84)
    ([(8, 4, 0), (4, 2, 0), (3, 1, 0)], (7, 7))
    >>> rnd_plan(28, 28)
    ([(4, 2, 1), (4, 2, 1), (3, 1, 1)], (7, 7))
    >>> rnd_plan(6, 6)
    ([(4, 2, 1), (3, 1, 1), (3, 1, 1)], (3, 3))
    """
    if min(height, width) >= ATARI_SIDE:
        layers = [(8, 4, 0), (4, 2, 0), (3, 1, 0)]
    else:
        layers = []
        h, w = height, width
        for _ in range(2):
            if min(h, w) >= MIN_HALVING_SIDE:
                layers.append((4, 2, 1))
                h, w = h // 2, w // 2
            else:
                layers.append((3, 1, 1))
        layers.append((3, 1, 1))
    h, w = height, width
    for kernel, stride, padding in layers:
        h = (h + 2 * padding - kernel) // stride + 1
        w = (w + 2 * padding - kernel) // stride + 1
    return layers, (h, w)


class RNDConvEncoder(nn.Module):
    """Images ``(n, in_channels, height, width)`` → vectors ``(n, out_dim)``: Burda et al.'s
    target network (see the module docstring for the layers and their adaptation to small
    images).

    The channel widths (32, 64, 64) and the leaky ReLU (slope 0.2) are the release's, not
    parameters; the output layer is linear. The weights are PyTorch's default initialisation
    here: RND re-initialises its target and predictor orthogonally (gain √2), as the release.

    Parameters
    ----------
    in_channels, height, width : int
    out_dim : int
        Output dimension (the release's 512).
    bias : bool, default True

    Attributes
    ----------
    out_dim : int
    layers : list of tuple of int
        ``(kernel, stride, padding)`` of each convolution (:func:`rnd_plan`).
    map_size : tuple of int
        The feature map's size entering the dense layer (after the pooling, if any).
    """

    def __init__(self, in_channels: int, height: int, width: int, out_dim: int, *,
                 bias: bool = True) -> None:
        super().__init__()
        _check_image(in_channels, height, width, WIDTHS)
        self.layers, (h, w) = rnd_plan(height, width)
        modules: list[nn.Module] = []
        previous = in_channels
        for channels, (kernel, stride, padding) in zip(WIDTHS, self.layers, strict=True):
            modules += [nn.Conv2d(previous, channels, kernel, stride, padding, bias=bias),
                        nn.LeakyReLU(LEAK)]
            previous = channels
        if h > MAP_SIDE or w > MAP_SIDE:
            h, w = min(h, MAP_SIDE), min(w, MAP_SIDE)
            modules.append(nn.AdaptiveAvgPool2d((h, w)))
        self.map_size = (h, w)
        modules += [nn.Flatten(), nn.Linear(previous * h * w, out_dim, bias=bias)]
        self.net = nn.Sequential(*modules)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
