"""Attributed graphs for node anomaly detection: the validated :class:`Graph` and its checks.

numpy / scipy only (no torch, no torch_geometric): loaders and outlier injection
(:mod:`deepad.data.graphs`) build a :class:`Graph`, and detectors validate their input into
one with :func:`check_graph` (through :func:`deepad.core.validation.check_input`).

Accepted input (``check_graph``):

- a ``torch_geometric.data.Data`` with ``x`` (node attributes, ``(n_nodes, n_features)``)
  and ``edge_index`` (``(2, n_edges)``), read by attribute, so torch_geometric is never
  imported here;
- a pair ``(X, adjacency)``: ``X`` an ``(n_nodes, n_features)`` array and ``adjacency`` a
  SciPy sparse matrix ``(n_nodes, n_nodes)`` (any non-zero entry is an edge; weights are not
  read) or an int ``(2, n_edges)`` edge-index array;
- a :class:`Graph` (returned as it is).

Normalisation, always applied and documented (``docs/modalities/graphs.md``):

- **undirected**: every edge ``(u, v)`` also gets ``(v, u)`` (symmetrised); the detectors
  here treat graphs as undirected, as DOMINANT, CoLA, OCGNN and the BOND benchmark do;
- **coalesced**: duplicate edges are merged, and the edge list is sorted by (source, target);
- **no self-loops**: ``(v, v)`` entries are dropped (the GNN layers add their own, e.g. GCN's
  ``Â = A + I``), so a graph listing self-loops (reddit does) and the same graph without them
  are the same input;
- **isolated nodes** are kept and scored: a node without edges has only its own attributes
  (a GCN layer still sees its self-loop).

Refused with a clear error: no ``x`` (or ``x`` None), ``x`` not 2-D, NaN / inf in ``x``, an
``edge_index`` not of shape ``(2, E)`` or not integer, negative or out-of-range node indices,
an adjacency that is not square or whose size differs from ``X``'s rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["Graph", "check_graph", "is_graph_input"]


@dataclass(frozen=True, eq=False)
class Graph:
    """A validated, normalised attributed graph (undirected, coalesced, no self-loops).

    Attributes
    ----------
    x : ndarray of float32, shape (n_nodes, n_features)
        Node attributes.
    edge_index : ndarray of int64, shape (2, n_edges)
        Both directions of every undirected edge, sorted by (source, target), no duplicates,
        no self-loops.
    sampling : dict or None
        How detectors train on this graph (:mod:`deepad.core.graph_input`): ``None`` →
        automatic (the whole graph per step up to ``FULL_GRAPH_MAX_EDGES`` edges, sampled
        mini-batches above); set by :meth:`mini_batched` / :meth:`full_graph`.
    """

    x: np.ndarray
    edge_index: np.ndarray
    sampling: dict | None = field(default=None)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def n_nodes(self) -> int:
        return self.x.shape[0]

    @property
    def n_features(self) -> int:
        return self.x.shape[1]

    @property
    def n_edges(self) -> int:
        """Undirected edges (half the stored directed pairs)."""
        return self.edge_index.shape[1] // 2

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_nodes, n_features)``, the shape of ``x``."""
        return self.x.shape

    def degree(self) -> np.ndarray:
        """Number of neighbours of each node, int64 of shape (n_nodes,)."""
        return np.bincount(self.edge_index[0], minlength=self.n_nodes).astype(np.int64)

    def fingerprint(self) -> str:
        """SHA-256 of the node attributes and the edges: the same graph gives the same string
        (used to recognise the fitted graph for transductive detectors)."""
        digest = hashlib.sha256()
        digest.update(np.asarray(self.x.shape, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(self.x).tobytes())
        digest.update(np.ascontiguousarray(self.edge_index).tobytes())
        return digest.hexdigest()

    def mini_batched(self, batch_nodes: int = 1024,
                     fanouts: tuple[int, ...] = (10, 10)) -> Graph:
        """This graph, to be trained on in mini-batches of ``batch_nodes`` target nodes, each
        with its neighbourhood sampled ``fanouts[h]`` neighbours per node at hop ``h``
        (:class:`deepad.core.graph_input.GraphSource`). Scoring always uses the whole graph."""
        if int(batch_nodes) < 1 or not fanouts or any(int(f) < 1 for f in fanouts):
            msg = (f"mini_batched needs batch_nodes >= 1 and at least one fanout, each >= 1; "
                   f"got batch_nodes={batch_nodes}, fanouts={fanouts}.")
            raise ValueError(msg)
        return Graph(self.x, self.edge_index, {"batch_nodes": int(batch_nodes),
                                               "fanouts": tuple(int(f) for f in fanouts)})

    def full_graph(self) -> Graph:
        """This graph, to be trained on whole (one forward pass over all nodes per step)."""
        return Graph(self.x, self.edge_index, {"batch_nodes": 0, "fanouts": ()})

    def to_adjacency(self) -> sp.csr_matrix:
        """The symmetric 0/1 adjacency matrix (CSR, float32)."""
        n = self.n_nodes
        data = np.ones(self.edge_index.shape[1], dtype=np.float32)
        return sp.csr_matrix((data, (self.edge_index[0], self.edge_index[1])), shape=(n, n))


def is_graph_input(X: Any) -> bool:
    """Whether ``X`` is meant as a graph: a :class:`Graph`, an object with ``edge_index`` (a
    torch_geometric ``Data``), or a pair ``(X, adjacency)`` whose second item is a SciPy
    sparse matrix or a ``(2, E)`` integer array."""
    if isinstance(X, Graph) or hasattr(X, "edge_index"):
        return True
    if isinstance(X, tuple) and len(X) == 2:
        second = X[1]
        if sp.issparse(second):
            return True
        if isinstance(second, np.ndarray) and second.ndim == 2 and second.shape[0] == 2 \
                and second.dtype.kind in "iu":
            return True
    return False


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, read without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def check_graph(G: Any, *, name: str = "X", min_nodes: int = 1) -> Graph:
    """Validate and normalise a graph (see the module docstring for what is accepted and
    what is done); return a :class:`Graph`.

    Raises
    ------
    TypeError
        Not a graph, non-numeric attributes, non-integer edge indices.
    ValueError
        No ``x``, wrong shapes, NaN / inf attributes, out-of-range or negative node indices,
        an adjacency of the wrong size, fewer than ``min_nodes`` nodes.
    """
    if isinstance(G, Graph):
        return G
    if isinstance(G, tuple) and len(G) == 2:
        x, structure = G
        if sp.issparse(structure):
            adjacency = structure.tocoo()
            if adjacency.shape[0] != adjacency.shape[1]:
                msg = f"{name}: the adjacency matrix must be square; got shape {adjacency.shape}."
                raise ValueError(msg)
            edge_index = np.vstack([adjacency.row, adjacency.col]).astype(np.int64)
            size = adjacency.shape[0]
        else:
            edge_index, size = _to_numpy(structure), None
    elif hasattr(G, "edge_index"):
        x = getattr(G, "x", None)
        if x is None:
            msg = (f"{name} is a graph without node attributes (x is None); deepad's graph "
                   "detectors need x of shape (n_nodes, n_features). For a plain graph, use "
                   "e.g. one-hot degrees or a constant feature: x = torch.ones(num_nodes, 1).")
            raise ValueError(msg)
        edge_index, size = _to_numpy(G.edge_index), None
    else:
        msg = (f"{name} of type {type(G).__name__} is not a graph; expected a "
               "torch_geometric.data.Data with x and edge_index, or a pair (X, adjacency) with "
               "a SciPy sparse adjacency matrix or a (2, n_edges) edge_index array.")
        raise TypeError(msg)
    x = _check_attributes(_to_numpy(x), name)
    n = x.shape[0]
    if n < min_nodes:
        msg = f"{name} has {n} node(s); at least {min_nodes} are needed."
        raise ValueError(msg)
    if size is not None and size != n:
        msg = (f"{name}: the adjacency matrix is {size} x {size} but x has {n} rows; they must "
               "describe the same nodes.")
        raise ValueError(msg)
    return Graph(x, _normalise_edges(edge_index, n, name))


def _check_attributes(x: np.ndarray, name: str) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        msg = f"{name}: node attributes x have dtype {x.dtype}; expected numeric values."
        raise TypeError(msg)
    if x.ndim != 2:
        msg = (f"{name}: node attributes x have shape {x.shape}; expected 2-D (n_nodes, "
               "n_features) (reshape a single attribute with x.reshape(-1, 1)).")
        raise ValueError(msg)
    if x.size == 0:
        msg = f"{name}: node attributes x are empty (shape {x.shape})."
        raise ValueError(msg)
    finite = np.isfinite(x)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        msg = (f"{name}: node attributes x contain {int((~finite).sum())} NaN or infinite "
               f"value(s), the first at index {first}; impute or drop them first.")
        raise ValueError(msg)
    if x.dtype.kind == "f" and np.abs(x).max() >= np.finfo(np.float32).max:
        msg = f"{name}: node attributes x have values too large for float32; scale them first."
        raise ValueError(msg)
    return np.ascontiguousarray(x, dtype=np.float32)


def _normalise_edges(edge_index: np.ndarray, n: int, name: str) -> np.ndarray:
    if edge_index.dtype.kind not in "iu":
        msg = (f"{name}: edge_index has dtype {edge_index.dtype}; expected integer node "
               "indices.")
        raise TypeError(msg)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        msg = (f"{name}: edge_index has shape {edge_index.shape}; expected (2, n_edges) "
               "(row 0 sources, row 1 targets), as torch_geometric stores it.")
        raise ValueError(msg)
    edge_index = edge_index.astype(np.int64)
    if edge_index.size:
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= n:
            bad = int(((edge_index < 0) | (edge_index >= n)).any(axis=0).sum())
            msg = (f"{name}: edge_index refers to node {low if low < 0 else high}, outside "
                   f"0 .. {n - 1} (x has {n} rows); {bad} edge(s) are out of range.")
            raise ValueError(msg)
    source = np.concatenate([edge_index[0], edge_index[1]])
    target = np.concatenate([edge_index[1], edge_index[0]])
    keep = source != target
    key = np.unique(source[keep] * n + target[keep])
    return np.vstack([key // n, key % n]).astype(np.int64)
