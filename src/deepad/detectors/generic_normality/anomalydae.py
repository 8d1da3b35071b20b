"""AnomalyDAE: a dual autoencoder of the structure (with attention) and of the attributes."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.core.params import Interval
from deepad.core.registry import register
from deepad.core.saved_state import read_field
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.detectors.generic_normality.graph_native import GraphNativeDetector, all_nodes, gnn
from deepad.nets.graph import GraphBatch, input_linear
from deepad.nets.graph_objectives import attribute_error, sigmoid_structure_error
from deepad.nets.mlp import activation_layer


class AnomalyDAENet(nn.Module):
    """Structure encoder ``Z_v = GAT(act(X W₁), A)`` and attribute encoder
    ``Z_a = act(Xᵀ W₂) W₃`` (Fan et al. 2020, Sec. 2.2-2.3); decoders ``Ŝ = σ(Z_v Z_vᵀ)`` and
    ``X̂ = Z_v Z_aᵀ`` (Sec. 2.4). ``Xᵀ`` has one column per node: the attribute encoder is
    built for the fitted graph's ``n_nodes``."""

    def __init__(self, n_features: int, n_nodes: int, embed_dim: int, hidden_dim: int, *,
                 activation: str, dropout: float) -> None:
        super().__init__()
        self.structure_in = nn.Linear(n_features, embed_dim)
        self.attention = gnn("gat", embed_dim, [], hidden_dim, activation=activation,
                             dropout=0.0)
        self.attribute_in = nn.Linear(n_nodes, embed_dim)
        self.attribute_out = nn.Linear(embed_dim, hidden_dim)
        self.act = activation_layer(activation)
        self.drop = nn.Dropout(dropout)

    def structure_embedding(self, graph: GraphBatch) -> torch.Tensor:
        h = self.drop(self.act(input_linear(graph.x, self.structure_in.weight,
                                            self.structure_in.bias)))
        return self.attention(all_nodes(GraphBatch(h, graph.edge_index, graph.target)))

    def attribute_embedding(self, x_all: torch.Tensor) -> torch.Tensor:
        """``Z_a`` (n_features, hidden) from the attributes of all ``n_nodes`` nodes."""
        h = input_linear(x_all, self.attribute_in.weight, self.attribute_in.bias, transpose=True)
        return self.drop(self.attribute_out(self.drop(self.act(h))))


@register
class AnomalyDAE(GraphNativeDetector):
    """AnomalyDAE (Anomaly Dual AutoEncoder): a structure autoencoder with graph attention and
    an attribute autoencoder whose embeddings jointly reconstruct the attributes; nodes that
    reconstruct badly are anomalies.

    The structure encoder embeds each node from its attributes and its neighbours' through a
    graph attention layer, ``Z_v = GAT(ReLU(X W₁), A)`` (Fan et al. 2020, Eq. 1-3); the
    attribute encoder embeds each *attribute* from its values over all nodes,
    ``Z_a = ReLU(Xᵀ W₂) W₃`` (Eq. 4). Decoders: ``Ŝ = σ(Z_v Z_vᵀ)`` (Eq. 5) and
    ``X̂ = Z_v Z_aᵀ`` (Eq. 6). Loss (Eq. 7) and score (Eq. 8), per node:

    ``score(i) = α ‖(s_i − ŝ_i) ⊙ θ_i‖₂ + (1 − α) ‖(x_i − x̂_i) ⊙ η_i‖₂``,

    where ``θ_ij`` weighs the non-zero entries of the adjacency by ``θ`` and ``η_ij`` the
    non-zero attributes by ``η`` (zero entries by 1); as in PyGOD they enter as the
    normalised pair ``(θ/(1+θ), 1/(1+θ))``, so θ = η = 1 weigh every entry equally.

    Defaults are PyGOD 1.1.0's: embedding and hidden widths 64, ReLU, no dropout, α = 0.5,
    θ = η = 1, Adam at lr 4e-3 for 5 full-graph epochs. The paper tunes α, θ, η per data set.

    Deviations: ``‖s_i − ŝ_i‖`` is computed over all pairs in blocks of rows, recomputed in the
    backward pass (:func:`deepad.nets.graph_objectives.sigmoid_structure_error`), so the
    dense ``n x n`` matrices are never held at once (the same values). Transductive: the
    attribute encoder has one input per node of the fitted graph, so only that graph can be
    scored (another raises ``ValueError``). On graphs trained in sampled subgraphs the
    structure error of a target node runs over the subgraph's nodes; the attribute encoder
    always reads every node.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64, 64)
        ``(embedding width, hidden width)``: the widths of ``X W₁`` / ``Xᵀ W₂`` and of the
        node and attribute embeddings ``Z_v``, ``Z_a``.
    alpha : float, default 0.5
        Weight of the structure error; ``1 − α`` weighs the attribute error.
    theta, eta : float, default 1.0
        Penalties of the non-zero adjacency entries and attributes.
    activation : str, default "relu"
    dropout : float, default 0.0
    backbone : {"auto", "gat"}, default "auto"
        AnomalyDAE's structure encoder is a graph attention layer.
    epochs : int, default 5
    lr : float, default 4e-3
    weight_decay, batch_size, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose
        As :class:`deepad.DOMINANT`.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from deepad import AnomalyDAE
    >>> rng = np.random.default_rng(0)
    >>> A = sp.random(60, 60, density=0.1, random_state=0, format="csr")
    >>> AnomalyDAE(random_state=0).fit((rng.normal(size=(60, 4)), A)).decision_scores_.shape
    (60,)

    References
    ----------
    Fan, Zhang & Li, "AnomalyDAE: Dual Autoencoder for Anomaly Detection on Attributed
    Networks", ICASSP 2020, Eq. 1-8.

    See Also
    --------
    deepad.DOMINANT : a shared GCN encoder with two decoders.
    """

    name = "AnomalyDAE"
    category = "generic_normality"
    subcategory = "autoencoders"
    supervision = ("unsupervised",)
    reference = ("Fan et al., AnomalyDAE: Dual Autoencoder for Anomaly Detection on Attributed "
                 "Networks, ICASSP 2020")
    inductive = False
    preferred_backbones: ClassVar[dict[str, str]] = {"graph": "gat"}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **GraphNativeDetector._parameter_constraints,
        "alpha": [Interval(numbers.Real, 0.0, 1.0, closed="both")],
        "theta": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "eta": [Interval(numbers.Real, 0.0, None, closed="neither")],
    }

    def __init__(self, hidden_dims=(64, 64), alpha=0.5, theta=1.0, eta=1.0, activation="relu",
                 dropout=0.0, backbone="auto", epochs=5, batch_size=64, lr=4e-3,
                 weight_decay=0.0, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.alpha = alpha
        self.theta = theta
        self.eta = eta
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
        kind = self.gnn_kind(spec)
        if kind != "gat":
            msg = (f"AnomalyDAE's structure encoder is a graph attention layer; backbone must "
                   f"be 'auto' or 'gat', got {self.backbone!r}.")
            raise ValueError(msg)
        widths = tuple(self.hidden_dims)
        if len(widths) != 2:
            msg = ("AnomalyDAE's hidden_dims is (embedding width, hidden width); got "
                   f"{self.hidden_dims!r}.")
            raise ValueError(msg)
        return AnomalyDAENet(spec.n_features, self.n_nodes_, widths[0], widths[1],
                             activation=self.activation, dropout=self.dropout)

    def _fit(self, X: Any, y: np.ndarray | None) -> None:
        self.n_nodes_ = len(X)
        self._all_x = torch.from_numpy(X.x)
        try:
            super()._fit(X, y)
        finally:
            del self._all_x

    def _score(self, graph: GraphBatch) -> torch.Tensor:
        net = self.model_
        # the attribute encoder reads every node: the batch's graph when it is the whole
        # graph, else (a sampled subgraph during fit) the fit graph's attributes
        x_all = graph.x if len(graph.x) == self.n_nodes_ else self._all_x.to(graph.x.device)
        z_v = net.structure_embedding(graph)
        z_a = net.attribute_embedding(x_all)
        target = graph.target
        x_hat = z_v[target] @ z_a.T
        structure = sigmoid_structure_error(z_v, graph.edge_index, self.theta / (1 + self.theta),
                                            rows=target)
        attributes = attribute_error(graph.x[target], x_hat, self.eta / (1 + self.eta))
        return self.alpha * structure + (1 - self.alpha) * attributes

    def loss(self, batch: Batch) -> torch.Tensor:
        return self._score(self._graph_batch(batch))

    def score(self, batch: Batch) -> torch.Tensor:
        return self._score(self._graph_batch(batch))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["n_nodes"] = self.n_nodes_
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        self.n_nodes_ = read_field(state, "n_nodes", "int", low=1)
        super()._set_state(state, tensors, device)
