"""CONAD: DOMINANT's autoencoder trained with contrastive learning on augmented graphs."""

from __future__ import annotations

import numbers
from typing import ClassVar

import torch
from torch import nn

from deepad.core.params import Interval
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.detectors.generic_normality.dominant import DominantNet, reconstruction_score
from deepad.detectors.generic_normality.graph_native import GraphNativeDetector, all_nodes
from deepad.nets.graph import GraphBatch
from deepad.nets.graph_objectives import attribute_error, gram_structure_error


def augment(graph: GraphBatch, *, rate: float, n_edges: int, n_candidates: int, scale: float,
            generator: torch.Generator | None) -> tuple[GraphBatch, torch.Tensor]:
    """CONAD's four pseudo-anomaly augmentations (Xu et al. 2022, Sec. 3.2) on ``graph``;
    returns the augmented graph and the 0/1 pseudo-label of every node.

    Each node is augmented with probability ``rate``, a quarter of them by each of:

    - **high-degree**: ``n_edges`` new edges to uniformly drawn nodes (both directions);
    - **outlying**: every edge of the node removed;
    - **deviated**: attributes replaced by those of the farthest (Euclidean) of
      ``n_candidates`` uniformly drawn nodes;
    - **disproportionate**: attributes multiplied (half of them) or divided (the other half)
      by ``scale``.
    """
    x, edge_index = graph.x, graph.edge_index
    n = x.shape[0]
    device = x.device
    draw = torch.rand(n, generator=generator).to(device)
    label = (draw < rate).to(x.dtype)
    high = draw < rate / 4
    outlying = (draw >= rate / 4) & (draw < rate / 2)
    deviated = (draw >= rate / 2) & (draw < rate * 3 / 4)
    multiply = (draw >= rate * 3 / 4) & (draw < rate * 7 / 8)
    divide = (draw >= rate * 7 / 8) & (draw < rate)
    # structure: drop the edges touching outlying nodes, add edges of high-degree nodes
    src, dst = edge_index
    keep = ~(outlying[src] | outlying[dst])
    edges = [edge_index[:, keep]]
    sources = torch.nonzero(high).flatten()
    if len(sources) and n > 1:
        new_src = sources.repeat_interleave(n_edges)
        new_dst = torch.randint(n, (len(new_src),), generator=generator).to(device)
        fine = new_src != new_dst
        new = torch.stack([new_src[fine], new_dst[fine]])
        edges += [new, new.flip(0)]
    edge_aug = torch.cat(edges, dim=1)
    if len(edges) > 1:  # coalesce: a drawn edge may already exist
        key = torch.unique(edge_aug[0] * n + edge_aug[1])
        edge_aug = torch.stack([key // n, key % n])
    # attributes
    x_aug = x.clone()
    targets = torch.nonzero(deviated).flatten()
    if len(targets):
        pool = torch.randint(n, (n_candidates,), generator=generator).to(device)
        distances = torch.cdist(x[targets], x[pool])
        x_aug[targets] = x[pool[distances.argmax(dim=1)]]
    x_aug[multiply] = x[multiply] * scale
    x_aug[divide] = x[divide] / scale
    return GraphBatch(x_aug, edge_aug, graph.target), label


@register
class CONAD(GraphNativeDetector):
    """CONAD (Contrastive Attributed Network Anomaly Detection with Data Augmentation):
    DOMINANT's graph autoencoder whose encoder also learns, by contrast with augmented graphs,
    to move pseudo-anomalies away from their original embedding.

    Each training step draws an augmented graph (Xu et al. 2022, Sec. 3.2: a fraction ``rate``
    of the nodes become high-degree, outlying, deviated or disproportionate pseudo-anomalies,
    label ``y_i = 1``) and embeds both graphs with the shared encoder (a Siamese GCN). With
    ``d_i = mean_k (z_ik − z̃_ik)²`` between a node's original and augmented embeddings,
    the contrastive loss (Sec. 3.3, Eq. 3) is

    ``L_con = mean_i [(1 − y_i) d_i + y_i max(0, m − d_i)]``,

    the reconstruction loss and the score are DOMINANT's (Sec. 3.4, Eq. 4-5)
    ``score(i) = α ‖x_i − x̂_i‖₂ + (1 − α) ‖s_i − ŝ_i‖₂`` with ``Ŝ = H Hᵀ``, and the loss is
    ``L = η L_con + (1 − η) mean_i score(i)``.

    Defaults are PyGOD 1.1.0's: DOMINANT's network (4 GCN layers of width 64), α = 0.5,
    η = 0.5, margin m = 0.5, rate 0.2, 50 added edges, 50 candidates, scale 10, Adam at
    lr 4e-3, 100 epochs, a new augmentation every step.

    Deviations: the contrastive term is the paper's hinge ``max(0, m − d)`` on a mean squared
    distance (PyGOD 1.1.0 passes the same embedding twice to ``MarginRankingLoss``, which makes
    its contrastive term a constant, and its disproportionate branch scales every node drawn
    above ``7 r / 8``, about 82 % of the graph; the authors' code uses ``m − d`` without the
    hinge and reconstructs the original graph from the augmented one); the structure error is
    computed without the dense adjacency, exactly (see :class:`deepad.DOMINANT`). High-degree
    nodes get edges in both directions (the graph stays undirected). Inductive.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64, 64)
    alpha : float, default 0.5
        Weight of the attribute error in the score (PyGOD's ``weight``).
    eta : float, default 0.5
        Weight of the contrastive loss; ``1 − η`` weighs the reconstruction.
    margin : float, default 0.5
    rate : float, default 0.2
        Fraction of nodes augmented per step (PyGOD's ``r``).
    n_added_edges : int, default 50
        Edges given to a high-degree pseudo-anomaly (PyGOD's ``m``).
    n_candidates : int, default 50
        Candidates of the deviated augmentation (PyGOD's ``k``).
    scale : float, default 10.0
        Factor of the disproportionate augmentation (PyGOD's ``f``).
    activation, dropout, backbone, epochs, batch_size, lr, weight_decay, validation_size,
    patience, grad_clip, contamination, device, random_state, verbose
        As :class:`deepad.DOMINANT`.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from deepad import CONAD
    >>> rng = np.random.default_rng(0)
    >>> A = sp.random(60, 60, density=0.1, random_state=0, format="csr")
    >>> CONAD(epochs=2, random_state=0).fit((rng.normal(size=(60, 4)), A)).decision_scores_.shape
    (60,)

    References
    ----------
    Xu, Huang, Zhao, Dong & Li, "Contrastive Attributed Network Anomaly Detection with Data
    Augmentation", PAKDD 2022, Sec. 3.2-3.4, Eq. 3-5.

    See Also
    --------
    deepad.DOMINANT : the same autoencoder without the contrastive term.
    """

    name = "CONAD"
    category = "generic_normality"
    subcategory = "self_supervised"
    supervision = ("unsupervised",)
    reference = ("Xu et al., Contrastive Attributed Network Anomaly Detection with Data "
                 "Augmentation, PAKDD 2022")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **GraphNativeDetector._parameter_constraints,
        "alpha": [Interval(numbers.Real, 0.0, 1.0, closed="both")],
        "eta": [Interval(numbers.Real, 0.0, 1.0, closed="both")],
        "margin": [Interval(numbers.Real, 0.0, None)],
        "rate": [Interval(numbers.Real, 0.0, 1.0, closed="both")],
        "n_added_edges": [Interval(numbers.Integral, 0, None)],
        "n_candidates": [Interval(numbers.Integral, 1, None)],
        "scale": [Interval(numbers.Real, 0.0, None, closed="neither")],
    }

    def __init__(self, hidden_dims=(64, 64), alpha=0.5, eta=0.5, margin=0.5, rate=0.2,
                 n_added_edges=50, n_candidates=50, scale=10.0, activation="relu", dropout=0.0,
                 backbone="auto", epochs=100, batch_size=64, lr=4e-3, weight_decay=0.0,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.alpha = alpha
        self.eta = eta
        self.margin = margin
        self.rate = rate
        self.n_added_edges = n_added_edges
        self.n_candidates = n_candidates
        self.scale = scale
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
        return DominantNet(self.gnn_kind(spec), spec.n_features, tuple(self.hidden_dims),
                           activation=self.activation, dropout=self.dropout)

    def loss(self, batch: Batch) -> torch.Tensor:
        graph = self._graph_batch(batch)
        z, x_hat, h = self.model_(graph)
        reconstruction = (self.alpha * attribute_error(graph.x, x_hat) + (1 - self.alpha)
                          * gram_structure_error(h, graph.edge_index))[graph.target]
        if not self.model_.training:  # validation loss: the reconstruction alone
            return reconstruction
        generator = getattr(self, "_generator", None)
        augmented, label = augment(graph, rate=self.rate, n_edges=self.n_added_edges,
                                   n_candidates=self.n_candidates, scale=self.scale,
                                   generator=generator)
        z_aug = self.model_.encoder(all_nodes(augmented))
        distance = (z - z_aug).pow(2).mean(dim=1)
        contrast = (1 - label) * distance + label * torch.relu(self.margin - distance)
        return self.eta * contrast[graph.target] + (1 - self.eta) * reconstruction

    def score(self, batch: Batch) -> torch.Tensor:
        graph = self._graph_batch(batch)
        return reconstruction_score(self.model_, graph, self.alpha)[graph.target]
