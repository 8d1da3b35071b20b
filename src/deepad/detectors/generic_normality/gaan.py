"""GAAN: a generative adversarial network on the edges of an attributed graph."""

from __future__ import annotations

import numbers
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepad.core.deep import make_optimizer
from deepad.core.params import Interval
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.detectors.generic_normality.graph_native import GraphNativeDetector
from deepad.nets.graph import GraphBatch
from deepad.nets.graph_objectives import (
    attribute_error,
    row_bce_structure_error,
    undirected_half,
)
from deepad.nets.mlp import MLP

EXACT_STRUCTURE_NODES = 20_000
"""Graphs of up to this many nodes get GAAN's structure score over the whole adjacency row
(PyGOD's; every BOND graph: enron, the largest, has 13,533 nodes): ``n²`` pairs, at most
4·10⁸."""
STRUCTURE_COLUMNS = 4_096
"""On larger graphs the non-edge part of the row is estimated from this many columns drawn
uniformly (:func:`~deepad.nets.graph_objectives.row_bce_structure_error`): ``n · 4,096``
pairs, as many as the exact score at 20,000 nodes reaches at about 10⁵ nodes."""


class GAANNet(nn.Module):
    """Generator ``x' = G(ε)`` from Gaussian noise and encoder ``z = E(x)`` (Chen et al.
    2020, Sec. 3.2-3.3), both MLPs; the discriminator of an edge ``(u, v)`` is
    ``σ(z_u · z_v)``."""

    def __init__(self, n_features: int, noise_dim: int, hidden_dims: tuple[int, ...], *,
                 activation: str, dropout: float) -> None:
        super().__init__()
        hidden = list(hidden_dims)
        options = {"activation": activation, "dropout": dropout}
        self.generator = MLP(noise_dim, hidden[:-1][::-1] or hidden[:1], n_features, **options)
        self.encoder = MLP(n_features, hidden[:-1], hidden[-1], **options)
        self.noise_dim = noise_dim


def edge_logits(z: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    """``z_u · z_v`` for every edge ``(u, v)``: the discriminator's logit that it is real."""
    return (z[edge_index[0]] * z[edge_index[1]]).sum(dim=1)


@register
class GAAN(GraphNativeDetector):
    """GAAN (Generative Adversarial Attributed Network anomaly detection): a generator of
    fake node attributes against a discriminator of real and fake edges; nodes far from what
    the generator produces and whose edges the discriminator doubts are anomalies.

    A generator maps Gaussian noise to fake attributes ``x'_i = G(ε_i)`` (Chen et al. 2020,
    Sec. 3.2); an encoder embeds real and fake nodes, ``z = E(x)``, and the discriminator
    takes an edge as real with probability ``D(u, v) = σ(z_u · z_v)`` (Sec. 3.3). Over the
    graph's edges (fake edges join the fake nodes drawn for their two ends):

    ``L_D = ½ [BCE(D(z_u, z_v), 1) + BCE(D(z'_u, z'_v), 0)]``,  ``L_G = BCE(D(z'_u, z'_v), 1)``,

    minimised alternately (one step of each per epoch). Score (Sec. 3.4, Eq. 9):

    ``score(i) = α ‖x_i − x'_i‖₂ + (1 − α) sqrt(Σ_j BCE(D(z_i, z_j), a_ij))``,

    the structure term over the node's whole adjacency row (edges ``−log D``, non-edges
    ``−log(1 − D)``, each pair's term at most 100), as PyGOD 1.1.0 scores GAAN
    (:func:`deepad.nets.graph_objectives.row_bce_structure_error`, in blocks of rows without
    the dense ``n x n`` matrix).

    Defaults are PyGOD 1.1.0's: noise of 16 dimensions, MLPs of width 64 (two layers each),
    ReLU, α = 0.5, Adam at lr 4e-3 for both players, 100 full-graph epochs.

    Deviations: the real and fake edge terms run over the graph's edges (PyGOD 1.1.0 indexes
    the dense ``σ(Z Zᵀ)`` with ``edge_index``, which selects whole rows, so it pushes every pair
    of nodes sharing an edge end towards "real"); the noise used to score is drawn from a
    generator seeded by ``random_state``, so scores are reproducible (PyGOD draws new noise
    per call); the sampled structure score above 20,000 nodes (PyGOD holds the dense
    matrix and cannot score such graphs in memory); a saturated pair's term is the exact
    ``softplus`` (PyGOD's float32 ``σ`` rounds to 1 and its term to the clamp, 100). At these
    defaults GAAN ranks BOND's outliers near chance, as PyGOD's does (``docs/decisions.md``:
    the generator's attributes grow without bound, so ``‖x_i − x'_i‖`` is noise). Inductive:
    any graph with the same attributes can be scored.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64, 64)
        Encoder widths (the last is the embedding); the generator mirrors the hidden ones.
    noise_dim : int, default 16
    alpha : float, default 0.5
        Weight of the attribute term of the score.
    activation : str, default "relu"
    dropout : float, default 0.0
    epochs : int, default 100
    lr : float, default 4e-3
    backbone, weight_decay, batch_size, validation_size, patience, grad_clip, contamination,
    device, random_state, verbose
        As :class:`deepad.DOMINANT` (GAAN's networks are MLPs: ``backbone`` is not read).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from deepad import GAAN
    >>> rng = np.random.default_rng(0)
    >>> A = sp.random(60, 60, density=0.1, random_state=0, format="csr")
    >>> GAAN(epochs=2, random_state=0).fit((rng.normal(size=(60, 4)), A)).decision_scores_.shape
    (60,)

    References
    ----------
    Chen, Liu, Wang, Dai, Lv & Bao, "Generative Adversarial Attributed Network Anomaly
    Detection", CIKM 2020, Sec. 3, Eq. 9.

    See Also
    --------
    deepad.DOMINANT : reconstruction of the attributes and the structure.
    """

    name = "GAAN"
    category = "generic_normality"
    subcategory = "gans"
    supervision = ("unsupervised",)
    reference = ("Chen et al., Generative Adversarial Attributed Network Anomaly Detection, "
                 "CIKM 2020")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **GraphNativeDetector._parameter_constraints,
        "alpha": [Interval(numbers.Real, 0.0, 1.0, closed="both")],
        "noise_dim": [Interval(numbers.Integral, 1, None)],
    }

    def __init__(self, hidden_dims=(64, 64), noise_dim=16, alpha=0.5, activation="relu",
                 dropout=0.0, backbone="auto", epochs=100, batch_size=64, lr=4e-3,
                 weight_decay=0.0, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.noise_dim = noise_dim
        self.alpha = alpha
        self.activation = activation
        self.dropout = dropout
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
        return GAANNet(spec.n_features, self.noise_dim, tuple(self.hidden_dims),
                       activation=self.activation, dropout=self.dropout)

    def _noise(self, n: int, device: torch.device, generator: torch.Generator | None):
        return torch.randn(n, self.noise_dim, generator=generator).to(device)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        options = {"lr": self.lr, "weight_decay": self.weight_decay}
        return [make_optimizer("adam", self.model_.generator.parameters(), **options),
                make_optimizer("adam", self.model_.encoder.parameters(), **options)]

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        opt_g, opt_d = optimizers
        graph = self._graph_batch(batch)
        net = self.model_
        fake = net.generator(self._noise(graph.x.shape[0], graph.x.device, self._generator))
        # each undirected edge once: the logits are symmetric, so the mean losses are the same
        edges = undirected_half(graph.edge_index)
        # generator: its fake edges taken for real
        opt_g.zero_grad(set_to_none=True)
        fake_logit = edge_logits(net.encoder(fake), edges)
        loss_g = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        loss_g.backward()
        self.clip_gradients(net.generator.parameters())
        opt_g.step()
        # discriminator (the encoder): real edges real, fake edges fake
        opt_d.zero_grad(set_to_none=True)
        real_logit = edge_logits(net.encoder(graph.x), edges)
        fake_logit = edge_logits(net.encoder(fake.detach()), edges)
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
            + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        loss_d.backward()
        self.clip_gradients(net.encoder.parameters())
        opt_d.step()
        return {"loss": loss_d.detach(), "loss_g": loss_g.detach()}

    def _score(self, graph: GraphBatch, generator: torch.Generator | None) -> torch.Tensor:
        net = self.model_
        fake = net.generator(self._noise(graph.x.shape[0], graph.x.device, generator))
        z = net.encoder(graph.x)
        n = graph.x.shape[0]
        columns = STRUCTURE_COLUMNS if n > EXACT_STRUCTURE_NODES else None
        structure = row_bce_structure_error(z, graph.edge_index, n_columns=columns,
                                            generator=generator)
        score = self.alpha * attribute_error(graph.x, fake) + (1 - self.alpha) * structure
        return score[graph.target]

    def loss(self, batch: Batch) -> torch.Tensor:
        """The score (the validation loss when ``validation_size > 0``)."""
        return self._score(self._graph_batch(batch), getattr(self, "_generator", None))

    def score(self, batch: Batch) -> torch.Tensor:
        generator = torch.Generator().manual_seed(int(self.seed_ or 0))
        return self._score(self._graph_batch(batch), generator)
