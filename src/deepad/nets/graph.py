"""Graph backbones: GraphSAGE, GCN, GAT, GIN and SGC node encoders on PyTorch Geometric layers.

A graph network reads a :class:`GraphBatch` (node attributes, an edge list and the *target*
nodes whose outputs are wanted) and returns one vector per target node, shape
``(n_targets, out_dim)``, so that every objective written for rows (a reconstruction error,
a distance to a centre, a deviation loss) applies per node unchanged.

torch_geometric is imported when a graph network is built (``pip install "deepad[graph]"``);
importing this module does not need it.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from deepad.nets.mlp import activation_layer

GNN_KINDS = ("sage", "gcn", "gat", "gin", "sgc")
SGC_HOPS = 2
"""Propagation steps ``K`` of the ``"sgc"`` backbone (GDN's release: ``degree=2``)."""


def import_pyg():
    """``torch_geometric``, or ``ImportError`` naming the extra to install."""
    try:
        import torch_geometric
    except ImportError as error:  # pragma: no cover - the extra is installed in CI
        msg = ("Graph input needs PyTorch Geometric: pip install 'deepad[graph]' "
               "(torch_geometric).")
        raise ImportError(msg) from error
    return torch_geometric


@dataclass(frozen=True, eq=False)
class GraphBatch:
    """A graph on one device and the nodes a forward pass is for.

    Attributes
    ----------
    x : Tensor (n_nodes, n_features)
        Attributes of the nodes of this (sub)graph.
    edge_index : Tensor of int64 (2, n_edges)
        Edges between them, local indices, both directions of each undirected edge.
    target : Tensor of int64 (n_targets,)
        Local indices of the nodes whose outputs (embeddings, scores, losses) are wanted.

    ``len(batch)`` is the number of targets, ``batch.shape`` is ``(n_targets, n_features)``;
    ``batch / scale`` divides the attributes (an input scaling).
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    target: torch.Tensor
    # a pass over all targets is one forward pass (deepad.core.chunks.in_chunks never slices
    # a graph batch into chunks: each chunk would need the whole graph anyway)
    one_pass = True

    def __len__(self) -> int:
        return int(self.target.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), int(self.x.shape[1]))

    @property
    def target_x(self) -> torch.Tensor:
        """Attributes of the target nodes, ``(n_targets, n_features)``."""
        return self.x[self.target]

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __truediv__(self, scale: torch.Tensor) -> GraphBatch:
        # dividing by ones is the identity: keep the same attribute tensor, so what is cached
        # per tensor (its sparse form) is reused across epochs
        x = self.x if bool((scale == 1).all()) else self.x / scale
        return GraphBatch(x, self.edge_index, self.target)

    def to(self, device: torch.device | str) -> GraphBatch:
        return GraphBatch(self.x.to(device), self.edge_index.to(device), self.target.to(device))


def node_inputs(x: torch.Tensor | GraphBatch) -> torch.Tensor:
    """The rows an objective compares against: ``x`` itself, or the target nodes' attributes
    of a :class:`GraphBatch`."""
    return x.target_x if hasattr(x, "target_x") else x


class SGCInput(nn.Module):
    """Simple Graph Convolution's input layer (Wu et al., ICML 2019, Eq. 8):
    ``Ŝ^K X Θ`` with ``Ŝ = D̂^-1/2 (A + I) D̂^-1/2``, the propagation parameter-free.

    ``Ŝ`` is :func:`propagation_matrix`'s ``"gcn"`` matrix; the attributes are propagated
    first when the layer widens (``(Ŝ^K X) Θ``, no gradient through the propagation when
    ``X`` needs none), else projected first (``Ŝ^K (X Θ)``): the same product.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hops: int = SGC_HOPS,
                 bias: bool = True) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim, bias=bias)
        self.hops = hops

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        matrix = propagation_matrix(edge_index, x.shape[0], "gcn")
        if self.lin.in_features <= self.lin.out_features:
            for _ in range(self.hops):
                x = _aggregate(matrix, x)
            return self.lin(x)
        h = input_linear(x, self.lin.weight)
        for _ in range(self.hops):
            h = _aggregate(matrix, h)
        return h + self.lin.bias if self.lin.bias is not None else h


class NodeLinear(nn.Linear):
    """A linear layer in a graph encoder's stack (SGC's layers after the first): the edges
    are not read."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


def _conv(kind: str, in_dim: int, out_dim: int, bias: bool, activation: str,
          first: bool = True) -> nn.Module:
    if kind == "sgc":
        if first:
            return SGCInput(in_dim, out_dim, bias=bias)
        return NodeLinear(in_dim, out_dim, bias=bias)
    pyg = import_pyg()
    layers = pyg.nn
    if kind == "gcn":
        return _sparse_conv("gcn")(in_dim, out_dim, bias=bias)
    if kind == "gat":
        return layers.GATConv(in_dim, out_dim, heads=1, bias=bias)
    if kind == "sage":
        return _sparse_conv("sage")(in_dim, out_dim, aggr="mean", bias=bias)
    mlp = nn.Sequential(nn.Linear(in_dim, out_dim, bias=bias), activation_layer(activation),
                        nn.Linear(out_dim, out_dim, bias=bias))
    return layers.GINConv(mlp, train_eps=False)


_ADJACENCY: dict[int, tuple[weakref.ref, dict]] = {}
_CONVS: dict[str, type] = {}


def propagation_matrix(edge_index: torch.Tensor, n: int, kind: str) -> torch.Tensor:
    """The sparse CSR matrix ``P`` (rows: targets, columns: sources) with which a layer
    aggregates, ``out_i = Σ_j P_ij m_j``: ``"gcn"`` ``D̂^-1/2 (A + I) D̂^-1/2`` (PyG's
    ``gcn_norm`` with self-loops), ``"mean"`` ``1 / deg_in(i)`` on the edges into ``i``.

    Cached per ``edge_index`` tensor (weakly: the entry goes with the tensor), so a full-graph
    fit builds it once. Aggregating by ``torch.sparse.mm`` instead of PyG's gather / scatter
    (its path without torch-sparse) took a 64-wide GCN layer's forward and backward pass on
    reddit from 0.154 to 0.021 CPU seconds; the result is the same sum.
    """
    entry = _ADJACENCY.get(id(edge_index))
    if entry is None or entry[0]() is not edge_index:
        entry = (weakref.ref(edge_index), {})
        _ADJACENCY[id(edge_index)] = entry
        weakref.finalize(edge_index, _ADJACENCY.pop, id(edge_index), None)
    per_tensor = entry[1]
    key = (kind, n)
    if key not in per_tensor:
        if kind == "gcn":
            from torch_geometric.nn.conv.gcn_conv import gcn_norm

            index, weight = gcn_norm(edge_index, None, n, add_self_loops=True)
        else:
            index = edge_index
            deg = torch.zeros(n, device=edge_index.device).index_add_(
                0, edge_index[1], torch.ones(edge_index.shape[1], device=edge_index.device))
            weight = deg.clamp_min(1).reciprocal()[edge_index[1]]
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            matrix = torch.sparse_coo_tensor(torch.stack([index[1], index[0]]), weight, (n, n),
                                             check_invariants=False)
            per_tensor[key] = matrix.coalesce().to_sparse_csr()
    return per_tensor[key]


def _transposed(matrix: torch.Tensor) -> torch.Tensor:
    """``Pᵀ`` of a cached propagation matrix, made once (cached with ``P``'s entry)."""
    cached = getattr(matrix, "_deepad_transposed", None)
    if cached is None:
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            cached = matrix.to_sparse_coo().t().coalesce().to_sparse_csr()
        matrix._deepad_transposed = cached
    return cached


SPARSE_ATTRIBUTE_DENSITY = 0.1
"""Attribute matrices with at most this share of non-zero entries are multiplied as sparse
matrices by :func:`input_linear` (Cora's bag of words: 1.3 %)."""

_SPARSE_X: dict[int, tuple[weakref.ref, tuple[torch.Tensor, torch.Tensor] | None]] = {}


def sparse_attributes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(X, Xᵀ)`` as sparse CSR matrices when ``x`` is a 2-D float tensor without gradient
    whose share of non-zero entries is at most :data:`SPARSE_ATTRIBUTE_DENSITY`, else None.

    Cached per tensor (weakly, as :func:`propagation_matrix`), so a full-graph fit converts
    its attributes once."""
    if (x.dim() != 2 or not x.is_floating_point() or x.requires_grad or x.layout != torch.strided
            or x.numel() == 0):
        return None
    entry = _SPARSE_X.get(id(x))
    if entry is not None and entry[0]() is x:
        return entry[1]
    pair = None
    if int(torch.count_nonzero(x)) <= SPARSE_ATTRIBUTE_DENSITY * x.numel():
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            pair = (x.to_sparse_csr(), x.T.contiguous().to_sparse_csr())
    _SPARSE_X[id(x)] = (weakref.ref(x), pair)
    weakref.finalize(x, _SPARSE_X.pop, id(x), None)
    return pair


class _SparseInputLinear(torch.autograd.Function):
    """``A Wᵀ`` for a constant sparse ``A`` (with its transpose ``Aᵀ`` for the gradient
    ``∂L/∂W = (Aᵀ G)ᵀ``): no gradient flows to ``A``."""

    @staticmethod
    def forward(ctx, weight, matrix, transposed):  # noqa: D102 - see the class
        ctx.transposed = transposed
        return torch.sparse.mm(matrix, weight.T.contiguous())

    @staticmethod
    def backward(ctx, grad):  # noqa: D102 - see the class
        return torch.sparse.mm(ctx.transposed, grad.contiguous()).T, None, None


def input_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
                 transpose: bool = False) -> torch.Tensor:
    """``x Wᵀ + b`` (``xᵀ Wᵀ + b`` with ``transpose``) for a layer reading the attributes.

    Sparse attributes (:func:`sparse_attributes`) are multiplied as a sparse matrix: the same
    sums in another order, in time proportional to the non-zero entries (on inj_cora a
    1,433 → 64 layer's forward and backward pass went from 16.9 to 1.4 CPU ms). Anything else,
    and ``x`` that needs a gradient (attributions), goes through ``torch.nn.functional.linear``.
    """
    pair = sparse_attributes(x) if weight.dtype == x.dtype else None
    if pair is None:
        return nn.functional.linear(x.T if transpose else x, weight, bias)
    matrix, transposed = pair[::-1] if transpose else pair
    out = _SparseInputLinear.apply(weight, matrix, transposed)
    return out + bias if bias is not None else out


class _Propagate(torch.autograd.Function):
    """``P H`` with the gradient ``Pᵀ G`` from a transpose made once per matrix: autograd's
    own backward of ``torch.sparse.mm`` transposes the CSR matrix at every step (on reddit a
    64-wide aggregation's forward and backward pass took 17.4 CPU ms that way)."""

    @staticmethod
    def forward(ctx, h, matrix):  # noqa: D102 - see the class
        ctx.matrix = matrix
        return torch.sparse.mm(matrix, h)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # noqa: D102 - see the class
        return torch.sparse.mm(_transposed(ctx.matrix), grad.contiguous()), None


def _aggregate(matrix: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    if h.dtype != matrix.dtype:
        return torch.sparse.mm(matrix.to(h.dtype), h.contiguous())
    if not h.requires_grad:
        return torch.sparse.mm(matrix, h.contiguous())
    return _Propagate.apply(h.contiguous(), matrix)


def _sparse_conv(kind: str) -> type:
    """PyG's ``GCNConv`` / ``SAGEConv`` (mean) with the same parameters and ``state_dict``,
    aggregating with :func:`propagation_matrix` when given an ``edge_index`` tensor.

    GraphSAGE multiplies by ``W₂`` before averaging when the layer narrows the features:
    ``W₂ mean_{u ∈ N(v)} h_u + b = mean_{u ∈ N(v)} (W₂ h_u) + b`` exactly (a node without
    neighbours gets ``b`` either way), so Cora's 1,433 attributes are averaged as 64 numbers
    (PyG averages first).
    """
    if kind not in _CONVS:
        layers = import_pyg().nn

        class SparseGCNConv(layers.GCNConv):
            def forward(self, x, edge_index, edge_weight=None):  # noqa: D102 - GCNConv's
                if (not isinstance(x, torch.Tensor) or edge_weight is not None
                        or not isinstance(edge_index, torch.Tensor) or edge_index.is_sparse):
                    return super().forward(x, edge_index, edge_weight)
                matrix = propagation_matrix(edge_index, x.shape[0], "gcn")
                if self.lin.in_channels < self.lin.out_channels:
                    # a widening layer (a decoder's last) averages first: P (X W) = (P X) W
                    out = self.lin(_aggregate(matrix, x))
                else:
                    out = _aggregate(matrix, input_linear(x, self.lin.weight, self.lin.bias))
                return out + self.bias if self.bias is not None else out

        class SparseSAGEConv(layers.SAGEConv):
            def forward(self, x, edge_index, size=None):  # noqa: D102 - SAGEConv's
                if (not isinstance(x, torch.Tensor) or self.project or size is not None
                        or not isinstance(edge_index, torch.Tensor) or edge_index.is_sparse):
                    return super().forward(x, edge_index, size)
                matrix = propagation_matrix(edge_index, x.shape[0], "mean")
                weight = self.lin_l.weight
                if self.lin_l.in_channels > self.lin_l.out_channels:
                    out = _aggregate(matrix, input_linear(x, weight))
                else:
                    out = nn.functional.linear(_aggregate(matrix, x), weight)
                if self.lin_l.bias is not None:
                    out = out + self.lin_l.bias
                if self.root_weight:
                    out = out + input_linear(x, self.lin_r.weight, self.lin_r.bias)
                if self.normalize:
                    out = nn.functional.normalize(out, p=2.0, dim=-1)
                return out

        _CONVS.update(gcn=SparseGCNConv, sage=SparseSAGEConv)
    return _CONVS[kind]


class GNNEncoder(nn.Module):
    """``kind`` message-passing layers: one per width of ``hidden_dims``, then one to
    ``out_dim`` (when not None), each followed (except the last) by [BatchNorm] →
    activation → [Dropout]; the output is read at the batch's target nodes.

    - ``"gcn"``: Kipf & Welling, ICLR 2017, ``H' = D̂^-1/2 Â D̂^-1/2 H W`` with ``Â = A + I``
      (``torch_geometric.nn.GCNConv``);
    - ``"gat"``: Veličković et al., ICLR 2018, one attention head (``GATConv``);
    - ``"gin"``: Xu et al., ICLR 2019, ``H' = MLP((1 + ε) H + Σ_neighbours H)`` with ε = 0
      and a two-layer MLP (``GINConv``);
    - ``"sage"`` (the default of ``backbone="auto"``): GraphSAGE-mean, Hamilton et al.,
      NeurIPS 2017, ``h'_v = W₁ h_v + W₂ mean_{u ∈ N(v)} h_u`` (``SAGEConv``): the node's own
      attributes keep their own weights instead of being averaged with the neighbours', so
      attribute outliers are not smoothed away (OCGNN's release uses it by default);
    - ``"sgc"``: Simple Graph Convolution, Wu et al., ICML 2019, ``Ŝ^K X Θ`` with ``K = 2``
      (:class:`SGCInput`), the further widths plain linear layers on each node: GDN's
      encoder (Ding et al., WWW 2021).

    ``bias=False`` removes every bias (and makes batch normalisation non-affine), as Deep SVDD
    / OCGNN require. ``out_dim`` None: the last hidden width is the output (a backbone for a
    score head).
    """

    def __init__(self, kind: str, in_dim: int, hidden_dims: Sequence[int], out_dim: int | None,
                 *, activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        if kind not in GNN_KINDS:
            msg = f"kind must be one of {list(GNN_KINDS)}; got {kind!r}."
            raise ValueError(msg)
        widths = [*hidden_dims] + ([out_dim] if out_dim is not None else [])
        self.convs = nn.ModuleList()
        self.post = nn.ModuleList()
        previous = in_dim
        for i, width in enumerate(widths):
            self.convs.append(_conv(kind, previous, width, bias, activation, first=i == 0))
            last = i == len(widths) - 1 and out_dim is not None
            post: list[nn.Module] = []
            if not last:
                if batch_norm:
                    post.append(nn.BatchNorm1d(width, eps=1e-4, affine=bias))
                post.append(activation_layer(activation))
                if dropout > 0:
                    post.append(nn.Dropout(dropout))
            self.post.append(nn.Sequential(*post))
            previous = width
        self.kind = kind
        self.out_dim = previous

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        h = batch.x
        for conv, post in zip(self.convs, self.post, strict=True):
            h = post(conv(h, batch.edge_index))
        return h[batch.target]


class SelfWeightedSAGEConv(nn.Module):
    """One GraphSAGE layer with DGL's ``gcn`` aggregator, as the OCGNN release runs it:
    ``h'_v = W (2 h_v + Σ_{u ∈ N(v)} h_u) / (deg(v) + 2) + b``.

    DGL's ``SAGEConv(aggregator_type="gcn")`` averages a node with its in-neighbours,
    ``(h_v + Σ_{u ∈ N(v)} h_u) / (deg(v) + 1)``, and applies one weight matrix (no separate
    root weight); the release adds a self-loop to every node first, so the node's own vector
    enters the sum twice and the degree counts the loop. Dropout (DGL's ``feat_drop``) acts on
    the layer's input. Weights: Xavier-uniform with the ReLU gain, biases zero (DGL's
    initialisation). The neighbour sum is a sparse product with the row-normalised adjacency
    (:func:`propagation_matrix`, ``"mean"``), times the degree.
    """

    def __init__(self, in_dim: int, out_dim: int, *, bias: bool, dropout: float) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        nn.init.xavier_uniform_(self.lin.weight, gain=nn.init.calculate_gain("relu"))

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = h.shape[0]
        h = self.dropout(h)
        matrix = propagation_matrix(edge_index, n, "mean")  # D^-1 A, rows: targets
        degree = matrix.crow_indices().diff().to(h.dtype).unsqueeze(1)
        if self.lin.in_features > self.lin.out_features:  # narrow first: W is linear
            h = input_linear(h, self.lin.weight)
            out = (degree * _aggregate(matrix, h) + 2 * h) / (degree + 2)
        else:
            out = self.lin((degree * _aggregate(matrix, h) + 2 * h) / (degree + 2))
        return out + self.bias if self.bias is not None else out


class ReleaseGraphSAGE(nn.Module):
    """The release's network: ``len(hidden_dims) + 1`` :class:`SelfWeightedSAGEConv` layers
    ``in_dim → hidden_dims… → out_dim``, the activation after each but the last; read at the
    batch's target nodes."""

    def __init__(self, in_dim: int, hidden_dims: tuple[int, ...], out_dim: int, *,
                 activation: str, bias: bool, dropout: float) -> None:
        super().__init__()
        widths = [in_dim, *hidden_dims, out_dim]
        self.convs = nn.ModuleList(
            SelfWeightedSAGEConv(a, b, bias=bias, dropout=dropout)
            for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.activation = activation_layer(activation)
        self.out_dim = out_dim

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        h = batch.x
        for i, conv in enumerate(self.convs):
            h = conv(h, batch.edge_index)
            if i < len(self.convs) - 1:
                h = self.activation(h)
        return h[batch.target]
