"""Pieces of adversarially trained networks: discriminators that return their features,
spectral normalisation and the standard GAN losses.

GAN-based detectors use a discriminator twice: its logit drives the adversarial game, and its
last hidden layer ``f(x)`` is a learned feature space in which real and generated samples are
compared (feature matching, Salimans et al., NeurIPS 2016). :class:`Discriminator` therefore
returns both. Its feature network is any backbone with an ``out_dim`` attribute (the
modality's backbone from :func:`deepad.nets.build_backbone` with ``out_dim=None``, or an MLP),
so one discriminator serves rows and sequence windows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from deepad.nets.mlp import MLP

SPECTRAL_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
"""Layers whose weight :func:`spectral_normalise` reparametrises."""


def spectral_normalise(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al., ICLR 2018) of every ``Linear``, ``Conv1d`` and
    ``Conv2d`` weight in ``module``, in place; returns ``module``.

    Each weight ``W`` is used as ``W / σ(W)``, ``σ`` its largest singular value estimated by
    one power iteration per training forward pass (``torch.nn.utils.parametrizations``), which
    bounds the Lipschitz constant of every layer by 1. Recurrent layers are left as they are.
    """
    for layer in [m for m in module.modules() if isinstance(m, SPECTRAL_LAYERS)]:
        if not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer)
    return module


def spectrally_normalised(module: nn.Module) -> list[nn.Module]:
    """The ``Linear`` / ``Conv1d`` / ``Conv2d`` layers of ``module`` whose weight is spectrally
    normalised."""
    return [m for m in module.modules()
            if isinstance(m, SPECTRAL_LAYERS) and parametrize.is_parametrized(m, "weight")]


def set_leak(module: nn.Module, slope: float) -> nn.Module:
    """Set the negative slope of every ``LeakyReLU`` in ``module`` (GAN discriminators use 0.2,
    Radford et al. 2016; the shared backbones use PyTorch's default 0.01); returns ``module``."""
    for layer in module.modules():
        if isinstance(layer, nn.LeakyReLU):
            layer.negative_slope = slope
    return module


def requires_grad(module: nn.Module, flag: bool) -> None:
    """Switch gradients of ``module``'s parameters on or off (a player's weights are frozen
    while the other player steps, so no gradient is computed for them)."""
    for parameter in module.parameters():
        parameter.requires_grad_(flag)


def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` holds a batch normalisation layer."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def real_and_fake(discriminator: nn.Module, real: torch.Tensor,
                  fake: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """``discriminator(real)`` and ``discriminator(fake)``, each a tuple of its outputs.

    Without batch normalisation both go through one call on the concatenated batch (the same
    values at half the calls); a batch-normalised discriminator (DCGAN's, on images) sees
    them as separate batches, as Radford et al. (2016) train it, so that the statistics of
    a batch are never a mixture of real and generated samples.
    """
    if has_batch_norm(discriminator):
        return tuple(discriminator(real)), tuple(discriminator(fake))
    out = discriminator(torch.cat([real, fake]))
    halves = [t.chunk(2) for t in out]
    return tuple(h[0] for h in halves), tuple(h[1] for h in halves)


class Discriminator(nn.Module):
    """``x → features f(x) → [dropout] → linear logit``; ``forward`` returns
    ``(logit of shape (batch,), f(x) of shape (batch, k))``.

    Parameters
    ----------
    features : nn.Module
        The feature network; its ``out_dim`` attribute is ``k``.
    dropout : float
        Dropout before the logit.
    spectral : bool
        Spectrally normalise every linear and convolutional layer (:func:`spectral_normalise`).
    """

    def __init__(self, features: nn.Module, *, dropout: float = 0.0,
                 spectral: bool = False) -> None:
        super().__init__()
        self.features = features
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(features.out_dim, 1)
        self.out_dim = features.out_dim
        if spectral:
            spectral_normalise(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.head(self.dropout(h)).squeeze(-1), h


class JointDiscriminator(nn.Module):
    """``D(a, b)`` on a pair: each element through its own feature network, the two feature
    vectors concatenated, through a joint hidden layer to a logit. ``forward(a, b)`` returns
    ``(logit (batch,), joint features (batch, width))``.

    The joint discriminator of a bidirectional GAN (Donahue et al. 2017; Dumoulin et al.
    2017) takes ``(x, z)``: a sample and a code, which need different feature networks.

    Parameters
    ----------
    a_features, b_features : nn.Module
        Feature networks of the two elements (each with ``out_dim``).
    width : int
        Units of the joint hidden layer.
    activation : str
    dropout : float
        Dropout before the logit.
    spectral : bool
        Spectrally normalise every linear and convolutional layer.
    """

    def __init__(self, a_features: nn.Module, b_features: nn.Module, width: int, *,
                 activation: str = "leaky_relu", dropout: float = 0.0,
                 spectral: bool = False) -> None:
        super().__init__()
        self.a_features = a_features
        self.b_features = b_features
        self.joint = MLP(a_features.out_dim + b_features.out_dim, (width,), None,
                         activation=activation)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(width, 1)
        self.out_dim = width
        if spectral:
            spectral_normalise(self)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.joint(torch.cat([self.a_features(a), self.b_features(b)], dim=1))
        return self.head(self.dropout(h)).squeeze(-1), h


# ---------------------------------------------------------------------------- losses
def _bce(logit: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logit, torch.full_like(logit, target),
                                              reduction="none")


def gan_discriminator_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """Per-sample discriminator loss ``−log D(x) − log(1 − D(x̃))`` (Goodfellow et al. 2014,
    Eq. 1, the discriminator's side), from logits."""
    return _bce(real_logit, 1.0) + _bce(fake_logit, 0.0)


def gan_generator_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    """Per-sample non-saturating generator loss ``−log D(G(z))`` (Goodfellow et al. 2014,
    Sec. 3), from logits."""
    return _bce(fake_logit, 1.0)
