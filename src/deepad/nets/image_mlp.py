"""MLP backbones for images: each image is one row of ``C·H·W`` pixel values.

PyOD's and ADBench's deep detectors read images this way (PyOD's ``AutoEncoder`` is an MLP on
the flattened pixels, each pixel z-scored on the training rows with ``preprocessing=True``);
these backbones give deepad's detectors the same model family on ``(n, C, H, W)`` input, so
the two can be compared like for like. The convolutional backbones stay the image defaults.

- ``"mlp"``: flatten → :class:`~deepad.nets.mlp.MLP` (encoder); the mirror MLP → unflatten to
  ``(C, H, W)`` (decoder).
- ``"zscore_mlp"``: the same with each pixel standardised on the way in,
  ``z = (x − μ) / σ``, and the decoder's output mapped back, ``x̂ = μ + σ·ẑ``
  (:class:`PixelStandardize`); ``μ`` and ``σ`` are the training images' per-pixel mean and
  standard deviation, set by the training loop before the first epoch (:func:`adapt_inputs`,
  called by :class:`deepad.core.trainer.Trainer`) and saved with the network's state. A pixel
  whose training deviation is not above :data:`~deepad.nets.scaling.STD_TOL` (constant in
  the training images) is only centred (``σ = 1``), as scikit-learn's ``StandardScaler``
  does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepad.nets.mlp import MLP
from deepad.nets.scaling import STD_TOL


class PixelStandardize(nn.Module):
    """``(x − μ) / σ`` per value of a sample of shape ``shape`` (``inverse``: ``μ + σ·x``).

    ``μ``, ``σ`` and ``adapted`` are buffers (saved with the model). They are set by
    :meth:`adapt_` from the training samples; the layer refuses to run before (an identity
    would train the network on other inputs than it is later scored on).
    """

    def __init__(self, shape: Sequence[int], inverse: bool = False) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.inverse = inverse
        self.register_buffer("mean", torch.zeros(self.shape))
        self.register_buffer("std", torch.ones(self.shape))
        self.register_buffer("adapted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def adapt_(self, X: torch.Tensor) -> PixelStandardize:
        """Set ``μ`` and ``σ`` (population deviation) from the samples ``X`` ``(n, *shape)``.

        Raises
        ------
        ValueError
            ``X``'s sample shape is not ``shape``, or ``X`` has no sample.
        """
        if tuple(X.shape[1:]) != self.shape or len(X) == 0:
            msg = (f"PixelStandardize adapts to samples of shape {self.shape}; got a tensor "
                   f"of shape {tuple(X.shape)}.")
            raise ValueError(msg)
        flat = X.reshape(len(X), -1).double()
        std = flat.std(dim=0, correction=0)
        std = torch.where(std > STD_TOL, std, torch.ones_like(std))
        self.mean.copy_(flat.mean(dim=0).reshape(self.shape))
        self.std.copy_(std.reshape(self.shape))
        self.adapted.fill_(True)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.adapted):
            msg = ("PixelStandardize has not been adapted to training data: the 'zscore_mlp' "
                   "backbone learns its per-pixel mean and deviation at the start of the "
                   "training loop, and this network was run before it (a detector that uses "
                   "its network before training, e.g. to place a centre, cannot use it).")
            raise RuntimeError(msg)
        if self.inverse:
            return x * self.std + self.mean
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"shape={self.shape}, inverse={self.inverse}"


def adapt_inputs(model: nn.Module, X: torch.Tensor) -> int:
    """Adapt every :class:`PixelStandardize` of ``model`` not yet adapted to the training
    samples ``X``; the number adapted. A layer already adapted (an earlier training phase of
    the same fit) is left as it is."""
    count = 0
    for module in model.modules():
        if isinstance(module, PixelStandardize) and not bool(module.adapted):
            module.adapt_(X)
            count += 1
    return count


def needs_adapting(model: nn.Module) -> bool:
    """Whether ``model`` holds a :class:`PixelStandardize` that is not adapted yet."""
    return any(isinstance(m, PixelStandardize) and not bool(m.adapted)
               for m in model.modules())


class ImageMLPEncoder(nn.Module):
    """``(n, C, H, W)`` → [per-pixel z-score] → flatten → ``MLP(C·H·W, hidden_dims, out_dim)``."""

    def __init__(self, channels: int, height: int, width: int, hidden_dims: Sequence[int],
                 out_dim: int | None, *, standardize: bool = False, activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        shape = (channels, height, width)
        self.scale = PixelStandardize(shape) if standardize else nn.Identity()
        self.mlp = MLP(channels * height * width, list(hidden_dims), out_dim,
                       activation=activation, dropout=dropout, batch_norm=batch_norm, bias=bias)
        self.out_dim = self.mlp.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.scale(x).flatten(1))


class ImageMLPDecoder(nn.Module):
    """``latent_dim`` → ``MLP(latent_dim, hidden_dims, C·H·W)`` → unflatten to
    ``(C, H, W)`` → [``μ + σ·ẑ`` per pixel]."""

    def __init__(self, latent_dim: int, channels: int, height: int, width: int,
                 hidden_dims: Sequence[int], *, standardize: bool = False,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        self.shape = (channels, height, width)
        self.mlp = MLP(latent_dim, list(hidden_dims), channels * height * width,
                       activation=activation, dropout=dropout, batch_norm=batch_norm, bias=bias)
        self.scale = (PixelStandardize(self.shape, inverse=True) if standardize
                      else nn.Identity())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.scale(self.mlp(z).reshape(len(z), *self.shape))
