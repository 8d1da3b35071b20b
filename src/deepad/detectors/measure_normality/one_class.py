"""One-class measures: learn a representation in which normal data is compact."""

from __future__ import annotations

import numbers
from typing import ClassVar

import torch
from torch import nn

from deepad.core.deep import DeepDetector
from deepad.core.params import BOOLEAN, Interval, Options
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.mlp import ACTIVATIONS


def squared_distance(z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Per-sample ``||z − c||²``: shape (batch,)."""
    return (z - center).pow(2).sum(dim=1)


class CenteredNet(nn.Module):
    """A bias-free encoder φ and the hypersphere centre ``c`` (a buffer, so it is saved)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("center", torch.zeros(encoder.out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return squared_distance(self.encoder(x), self.center)


@register
class DeepSVDD(DeepDetector):
    """Deep Support Vector Data Description (one-class objective).

    A network φ without bias terms maps the data into a space where it is drawn towards a
    fixed centre ``c``; the distance to ``c`` is the anomaly score.

    Loss (Ruff et al. 2018, Eq. 4, the "one-class Deep SVDD" objective; the weight-decay
    term is the optimiser's ``weight_decay``):
    ``min_W 1/n Σ_i ||φ(x_i; W) − c||² + λ/2 Σ_l ||W_l||²``. Score (Eq. 5):
    ``s(x) = ||φ(x; W*) − c||²``. The centre ``c`` is the mean of φ over the training data
    after an initial forward pass, with coordinates closer to 0 than ``eps`` pushed to ±eps
    (as in the authors' release), and stays fixed. No bias terms and no bounded activations
    (Prop. 2-3) rule out the trivial collapsed solution; batch normalisation, when used, is
    non-affine for the same reason.

    Scale the input (e.g. min-max to [0, 1]): a bias-free network maps the origin to the
    origin, so zero-centred data is its degenerate case (``docs/decisions.md``).

    Deviations: no autoencoder pre-training and no soft-boundary variant yet (the authors'
    tabular experiments in later work, DeepOD and ADBench also train from a random
    initialisation); Adam with a constant learning rate instead of the paper's milestones.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64, 32)
        Hidden widths of φ (first = GRU/TCN width for windows).
    rep_dim : int, default 16
        Dimension of the representation φ(x).
    activation : str, default "leaky_relu"
    batch_norm : bool, default False
    eps : float, default 0.1
        Minimum absolute value of each coordinate of the centre.
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, model_ (``model_.center`` is ``c``), history_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import DeepSVDD
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> DeepSVDD(epochs=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Ruff, Vandermeulen, Görnitz, Deecke, Siddiqui, Binder, Müller & Kloft, "Deep One-Class
    Classification", ICML 2018.
    """

    name = "DeepSVDD"
    category = "measure_normality"
    subcategory = "one_class"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence")
    reference = "Ruff et al., Deep One-Class Classification, ICML 2018"
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (16,), "rep_dim": 8,
                                   "batch_size": 32}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "rep_dim": [Interval(numbers.Integral, 1, None)],
        "activation": [Options(tuple(ACTIVATIONS))],
        "batch_norm": [BOOLEAN],
        "eps": [Interval(numbers.Real, 0.0, None)],
    }

    def __init__(self, hidden_dims=(64, 32), rep_dim=16, activation="leaky_relu",
                 batch_norm=False, eps=0.1, backbone="auto", epochs=50, batch_size=64, lr=1e-3,
                 weight_decay=1e-6, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.rep_dim = rep_dim
        self.activation = activation
        self.batch_norm = batch_norm
        self.eps = eps
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_size = validation_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def build(self, spec: InputSpec) -> nn.Module:
        encoder = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=self.rep_dim,
                                 kind=self.backbone, activation=self.activation,
                                 batch_norm=self.batch_norm, bias=False)
        return CenteredNet(encoder)

    @torch.no_grad()
    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        self.model_.eval()
        total = torch.zeros_like(self.model_.center)
        for start in range(0, len(X), 4096):
            total += self.model_.encoder(X[start:start + 4096]).sum(dim=0)
        center = total / len(X)
        small = center.abs() < self.eps
        center[small & (center < 0)] = -self.eps
        center[small & (center >= 0)] = self.eps
        self.model_.center.copy_(center)
        self.model_.train()

    def loss(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)
