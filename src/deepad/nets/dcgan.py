"""DCGAN networks for images (Radford, Metz & Chintala, ICLR 2016): the encoder / discriminator
trunk and the generator of the GAN-based detectors (AnoGAN, GANomaly, ALOCC).

Radford et al.'s guidelines (Sec. 3), as the GAN papers on images use them:

- no pooling: the encoder halves the image with strided convolutions (kernel 4, stride 2,
  padding 1), the generator doubles it with transposed ones;
- batch normalisation in every layer except the encoder's input layer and the generator's
  output layer;
- leaky ReLU (slope 0.2) in the encoder / discriminator, ReLU in the generator;
- the image is reduced to (or grown from) a small feature map by one convolution whose kernel
  covers the whole map (the "4 x 4" layer of the DCGAN of AnoGAN and GANomaly), so the code is
  a vector, not a feature map.

One layer per entry of ``hidden_dims`` (its channel width). A layer halves the map only while
both sides are at least 8 pixels (the rule of :mod:`deepad.nets.conv`); below that it is a
3 x 3 convolution that keeps the size, so small images (the 8 x 8 of the tests) keep a layout.
Odd sides are handled exactly: the generator's transposed convolutions take the encoder's
sizes back with an output padding, so 28 → 14 → 7 → 3 is undone as 3 → 7 → 14 → 28.

The generator's output is linear by default (``output="linear"``): deepad uses inputs as
given (uint8 images become [0, 1], float images keep their scale), and a tanh output, the
papers' choice for images scaled to [−1, 1], would cap what the generator can produce.

Initialisation (``init``). ``"torch"`` (the default): PyTorch's, except for the generator's
output layer. PyTorch draws a transposed convolution's weights and bias from U(±1/√fan_in)
with the fan-in computed as if it were a convolution, from its *output* channels
(``out_channels × k²``): 16 for the 4 x 4 output layer of a grey image, a bound of 1/4, where
the values that reach one output pixel number ``in_channels × (k / stride)²`` (256 for 64
channels, a bound of 1/16). Without batch normalisation after it, that layer started with
outputs about four times too large, and GANomaly at the paper's size ranked Fashion-MNIST at
chance (``docs/decisions.md``, "anomalib on Fashion-MNIST"). The output layer (when it is a
transposed convolution) gets PyTorch's rule with the true fan-in.
``"dcgan"``: Radford et al.'s (Sec. 4: "all weights were initialized from a zero-centered
Normal distribution with standard deviation 0.02"), as the releases of AnoGAN, GANomaly and
ALOCC apply it: every convolution's weights from N(0, 0.02²), its bias 0, batch
normalisation scales from N(1, 0.02²) and shifts 0 (on the small networks and budgets of the
tests it learns more slowly). The encoder's ``"torch"`` is PyTorch's unchanged (its
convolutions' fan-in is right).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from deepad.nets.conv import MIN_POOL_SIDE, _check_image
from deepad.nets.mlp import activation_layer

LEAK = 0.2  # Radford et al.'s leaky ReLU slope
OUTPUTS = ("linear", "tanh", "sigmoid")
INITS = ("dcgan", "torch")
INIT_STD = 0.02  # Radford et al.'s standard deviation of the initial weights


def dcgan_plan(height: int, width: int, n_layers: int) -> list[tuple[bool, tuple[int, int]]]:
    """For each of ``n_layers`` encoder layers: whether it halves the map, and the map's size
    after it.

    >>> dcgan_plan(28, 28, 3)
    [(True, (14, 14)), (True, (7, 7)), (False, (7, 7))]
    >>> dcgan_plan(32, 32, 3)
    [(True, (16, 16)), (True, (8, 8)), (True, (4, 4))]
    """
    plan = []
    for _ in range(n_layers):
        stride = min(height, width) >= MIN_POOL_SIDE
        if stride:
            height, width = height // 2, width // 2
        plan.append((stride, (height, width)))
    return plan


def dcgan_init_(module: nn.Module) -> nn.Module:
    """Radford et al.'s initialisation, in place: every (transposed) convolution's weights
    from N(0, 0.02²) and its bias 0, every batch normalisation's scale from N(1, 0.02²) and
    shift 0 (from torch's global generator, as PyTorch's own initialisation); returns
    ``module``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, INIT_STD)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d) and layer.affine:
            nn.init.normal_(layer.weight, 1.0, INIT_STD)
            nn.init.zeros_(layer.bias)
    return module


def true_fan_in_(layer: nn.ConvTranspose2d) -> nn.ConvTranspose2d:
    """PyTorch's default initialisation of a layer, weights and bias from U(±1/√fan_in), with
    a transposed convolution's true fan-in ``in_channels × ⌈k_h / s_h⌉ × ⌈k_w / s_w⌉`` (the
    values that reach one output pixel) instead of the ``out_channels × k_h × k_w`` PyTorch
    computes for it; in place, from torch's global generator; returns ``layer``."""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    fan_in = layer.in_channels * -(-kh // sh) * -(-kw // sw)
    bound = 1.0 / math.sqrt(fan_in)
    nn.init.uniform_(layer.weight, -bound, bound)
    if layer.bias is not None:
        nn.init.uniform_(layer.bias, -bound, bound)
    return layer


def _check_init(init: str) -> None:
    if init not in INITS:
        msg = f"init must be one of {list(INITS)}; got {init!r}."
        raise ValueError(msg)


def _activation(name: str) -> nn.Module:
    layer = activation_layer(name)
    if isinstance(layer, nn.LeakyReLU):
        layer.negative_slope = LEAK
    return layer


class DCGANEncoder(nn.Module):
    """Images ``(n, in_channels, height, width)`` → vectors ``(n, out_dim)``: DCGAN's
    discriminator trunk.

    ``Conv2d(4 x 4, stride 2)`` (``3 x 3``, stride 1, once the map is below 8 pixels a side)
    → [BatchNorm2d, not on the first layer] → leaky ReLU (0.2) → [Dropout2d], one layer per
    entry of ``hidden_dims``; then ``Conv2d`` with a kernel the size of the last map to
    ``out_dim`` channels, flattened (the DCGAN's last layer). ``out_dim=None``: no last layer,
    the flattened last feature map (``hidden_dims[-1] x h x w`` values), which a
    :class:`~deepad.nets.adversarial.Discriminator` reads as its features ``f(x)``.

    Parameters
    ----------
    in_channels, height, width : int
    hidden_dims : sequence of int
        Channel width of each layer.
    out_dim : int or None
    activation : str, default "leaky_relu"
        Leaky ReLU gets Radford et al.'s slope 0.2.
    batch_norm : bool, default True
    bias : bool, default True
        Bias of the convolutions not followed by batch normalisation; False removes every
        bias (batch normalisation then non-affine).
    dropout : float, default 0
    init : {"torch", "dcgan"}, default "torch"
        PyTorch's initialisation, or Radford et al.'s (:func:`dcgan_init_`).

    Attributes
    ----------
    out_dim : int
    sizes : list of tuple of int
        The map size after each layer.
    """

    def __init__(self, in_channels: int, height: int, width: int, hidden_dims: Sequence[int],
                 out_dim: int | None, *, activation: str = "leaky_relu",
                 batch_norm: bool = True, bias: bool = True, dropout: float = 0.0,
                 init: str = "torch") -> None:
        super().__init__()
        _check_image(in_channels, height, width, hidden_dims)
        _check_init(init)
        plan = dcgan_plan(height, width, len(hidden_dims))
        self.sizes = [size for _, size in plan]
        layers: list[nn.Module] = []
        previous = in_channels
        for i, (channels, (stride, _)) in enumerate(zip(hidden_dims, plan, strict=True)):
            norm = batch_norm and i > 0
            kernel, step = (4, 2) if stride else (3, 1)
            layers.append(nn.Conv2d(previous, channels, kernel, step, 1, bias=bias and not norm))
            if norm:
                layers.append(nn.BatchNorm2d(channels, affine=bias))
            layers.append(_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            previous = channels
        h, w = self.sizes[-1]
        if out_dim is not None:
            layers.append(nn.Conv2d(previous, out_dim, (h, w), bias=bias))
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim if out_dim is not None else previous * h * w
        if init == "dcgan":
            dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DCGANDecoder(nn.Module):
    """Vectors ``(n, latent_dim)`` → images ``(n, out_channels, height, width)``: DCGAN's
    generator, the mirror of :class:`DCGANEncoder` over the same ``hidden_dims``.

    ``ConvTranspose2d`` from the 1 x 1 code to the encoder's last map (a kernel of its size)
    → BatchNorm2d → ReLU, then one layer per width in reverse, each undoing an encoder layer:
    ``ConvTranspose2d(4 x 4, stride 2)`` (with an output padding where the encoder's halving
    dropped an odd row or column) or ``Conv2d(3 x 3)``; batch normalisation and ReLU after
    every layer but the last, which maps to ``out_channels`` and applies ``output``.

    Parameters
    ----------
    latent_dim, out_channels, height, width : int
    hidden_dims : sequence of int
        The encoder's widths (first layer first).
    activation : str, default "relu"
    batch_norm : bool, default True
    bias : bool, default True
    output : {"linear", "tanh", "sigmoid"}, default "linear"
        The output layer's activation.
    init : {"torch", "dcgan"}, default "torch"
        PyTorch's initialisation with the output layer's true fan-in (:func:`true_fan_in_`;
        the module docstring says why), or Radford et al.'s (:func:`dcgan_init_`).
    """

    def __init__(self, latent_dim: int, out_channels: int, height: int, width: int,
                 hidden_dims: Sequence[int], *, activation: str = "relu",
                 batch_norm: bool = True, bias: bool = True, output: str = "linear",
                 init: str = "torch") -> None:
        super().__init__()
        _check_image(out_channels, height, width, hidden_dims)
        _check_init(init)
        if output not in OUTPUTS:
            msg = f"output must be one of {list(OUTPUTS)}; got {output!r}."
            raise ValueError(msg)
        plan = dcgan_plan(height, width, len(hidden_dims))
        widths = list(hidden_dims)
        inputs = [(height, width)] + [size for _, size in plan[:-1]]  # each layer's input size

        def block(layer: nn.Module, channels: int) -> list[nn.Module]:
            norm = [nn.BatchNorm2d(channels, affine=bias)] if batch_norm else []
            return [layer, *norm, _activation(activation)]

        layers = block(nn.ConvTranspose2d(latent_dim, widths[-1], plan[-1][1],
                                          bias=bias and not batch_norm), widths[-1])
        for i in reversed(range(len(widths))):
            last = i == 0
            target = out_channels if last else widths[i - 1]
            stride, (h, w) = plan[i]
            if stride:
                padding = (inputs[i][0] - 2 * h, inputs[i][1] - 2 * w)
                layer = nn.ConvTranspose2d(widths[i], target, 4, 2, 1, output_padding=padding,
                                           bias=bias and (last or not batch_norm))
            else:
                layer = nn.Conv2d(widths[i], target, 3, 1, 1,
                                  bias=bias and (last or not batch_norm))
            layers += [layer] if last else block(layer, target)
        head = layer  # the output layer (the loop ends with it)
        if output == "tanh":
            layers.append(nn.Tanh())
        elif output == "sigmoid":
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)
        if init == "dcgan":
            dcgan_init_(self)
        elif isinstance(head, nn.ConvTranspose2d):
            true_fan_in_(head)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])
