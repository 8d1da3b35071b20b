"""Graph input for detectors: validation, the training source, mini-batches of nodes.

How a graph reaches a detector (what a graph method needs to know):

1. ``fit(G)`` / ``decision_function(G)`` validate ``G`` (a ``torch_geometric.data.Data``, a
   pair ``(X, adjacency)`` or a :class:`~deepad.data.graph.Graph`) with
   :func:`deepad.data.graph.check_graph` (through
   :func:`deepad.core.validation.check_input`, for detectors whose ``modalities`` include
   ``"graph"``) into a :class:`Graph`: float32 ``x`` ``(n_nodes, n_features)``, int64
   ``edge_index`` ``(2, n_edges)`` undirected (both directions), coalesced, without
   self-loops. The spec is ``InputSpec("graph", n_features)``; one sample = one node.
2. In :meth:`deepad.core.deep.DeepDetector._fit` the graph becomes a :class:`GraphSource` on
   the fit device. The one :class:`~deepad.core.trainer.Trainer` indexes it like a tensor
   of nodes: ``source[idx]`` is a :class:`~deepad.nets.graph.GraphBatch` whose ``target`` are
   the nodes ``idx`` (global ids) — the whole graph (full-graph training) or a sampled
   neighbourhood of them (mini-batches). So in every hook, ``batch.x`` is a ``GraphBatch``:
   ``batch.x.x`` the attributes of its nodes, ``batch.x.edge_index`` its edges (local ids),
   ``batch.x.target`` the local positions of the batch's nodes, ``batch.x.target_x`` their
   attributes, and ``batch.index`` / ``batch.y`` the global ids / labels of the targets.
   A backbone from :func:`deepad.nets.build_backbone` maps a ``GraphBatch`` to one vector per
   target node. A method that needs the whole graph at once (a structure decoder
   ``σ(ZZᵀ)``) reads ``batch.x.x`` / ``batch.x.edge_index`` directly.
3. Scoring (``_score_samples``) runs one no-grad pass over the whole graph:
   :func:`full_batch` gives the ``GraphBatch`` with every node as target.

Training schedule (``docs/decisions.md``, graphs: mini-batches):

- **full graph** (default up to :data:`FULL_GRAPH_MAX_EDGES` undirected edges): each step is
  one forward pass over the whole graph; the loss is taken over all training nodes (for
  shuffled sampling one step per epoch, whatever ``batch_size``; weakly-supervised balanced
  batches keep their ``batch_size`` targets per step, each step still a full-graph pass);
- **mini-batches** (above it, or :meth:`Graph.mini_batched`): ``batch_nodes`` target nodes
  per step, each with a neighbourhood sampled hop by hop, ``fanouts[h]`` neighbours per node
  at hop ``h``, drawn with replacement from the CSR adjacency in plain torch (GraphSAGE's
  sampler, Hamilton et al., NeurIPS 2017, without pyg-lib / torch-sparse); the sampled edges,
  symmetrised, form the step's subgraph. Scoring still uses the whole graph.

Transductive methods: a detector class with ``inductive = False`` scores only the graph it was
fitted on (checked by :meth:`Graph.fingerprint`); another graph raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import torch

from deepad.data.graph import Graph, check_graph, is_graph_input
from deepad.nets.graph import GraphBatch, node_inputs

__all__ = ["FULL_GRAPH_MAX_EDGES", "Graph", "GraphBatch", "GraphSource", "check_graph",
           "describe_graph", "full_batch", "is_graph_input", "node_inputs", "resolve_sampling",
           "trainer_batch_size"]

FULL_GRAPH_MAX_EDGES = 250_000
"""Undirected edges up to which training is full-graph by default (reddit: 78,000; enron:
about 175,000 after symmetrisation); larger graphs train in sampled mini-batches."""
# a step's subgraph holds at most 2,048 · (1 + 5 + 25) nodes: with (10, 10) and 1,024
# targets a 100,000-node graph's step covered most of the graph, every step of the epoch
DEFAULT_BATCH_NODES = 2048
DEFAULT_FANOUTS = (5, 5)


def resolve_sampling(graph: Graph) -> tuple[int, tuple[int, ...]]:
    """``(batch_nodes, fanouts)`` for ``graph``: its own setting, else full-graph
    (``batch_nodes`` 0) up to :data:`FULL_GRAPH_MAX_EDGES` edges, else
    (``DEFAULT_BATCH_NODES``, ``DEFAULT_FANOUTS``)."""
    if graph.sampling is not None:
        return graph.sampling["batch_nodes"], tuple(graph.sampling["fanouts"])
    if graph.n_edges <= FULL_GRAPH_MAX_EDGES:
        return 0, ()
    return DEFAULT_BATCH_NODES, DEFAULT_FANOUTS


def full_batch(graph: Graph, device: torch.device | str) -> GraphBatch:
    """The whole ``graph`` on ``device``, every node a target."""
    x = torch.from_numpy(graph.x).to(device)
    edge_index = torch.from_numpy(graph.edge_index).to(device)
    return GraphBatch(x, edge_index, torch.arange(graph.n_nodes, device=device))


class GraphSource:
    """The fit graph as the trainer sees it: ``len`` = nodes, ``source[idx]`` = the
    :class:`GraphBatch` for target nodes ``idx`` (an int or bool tensor, or a slice).

    ``generator`` (the fit's local generator) draws the sampled neighbourhoods, so the same
    ``random_state`` gives the same batches.
    """

    def __init__(self, graph: Graph, device: torch.device | str,
                 generator: torch.Generator | None = None) -> None:
        self.graph = graph
        self.device = torch.device(device)
        self.generator = generator
        self.batch_nodes, self.fanouts = resolve_sampling(graph)
        self.x = torch.from_numpy(graph.x).to(self.device)
        self.edge_index = torch.from_numpy(graph.edge_index).to(self.device)
        if self.batch_nodes:
            source = torch.from_numpy(graph.edge_index[0])
            self._col = torch.from_numpy(graph.edge_index[1])
            counts = torch.bincount(source, minlength=graph.n_nodes)
            self._rowptr = torch.zeros(graph.n_nodes + 1, dtype=torch.int64)
            self._rowptr[1:] = torch.cumsum(counts, 0)

    one_pass = True
    """Chunked passes over all nodes (:func:`deepad.core.chunks.in_chunks`) take the whole
    source at once: a chunk of nodes would need a forward pass over the whole graph anyway."""

    def __len__(self) -> int:
        return self.graph.n_nodes

    @property
    def shape(self) -> tuple[int, int]:
        return self.graph.shape

    @property
    def mini_batched(self) -> bool:
        return self.batch_nodes > 0

    # the whole source also reads as one GraphBatch of every node (a chunked pass over all
    # nodes that fits in one chunk, deepad.core.chunks.in_chunks, hands it over whole)
    @property
    def target(self) -> torch.Tensor:
        return torch.arange(len(self), device=self.device)

    @property
    def target_x(self) -> torch.Tensor:
        return self.x

    def __truediv__(self, scale: torch.Tensor) -> GraphBatch:
        # dividing by ones is the identity: keep the same attribute tensor, so what is cached
        # per tensor (its sparse form) is reused across epochs
        x = self.x if bool((scale == 1).all()) else self.x / scale
        return GraphBatch(x, self.edge_index, self.target)

    def nodes_per_step(self, n_train: int) -> int:
        """Target nodes per training step under shuffled sampling: all training nodes
        (full graph) or ``batch_nodes``."""
        return self.batch_nodes if self.batch_nodes else max(n_train, 1)

    def __getitem__(self, idx: Any) -> GraphBatch:
        if isinstance(idx, slice):
            idx = torch.arange(len(self))[idx]
        idx = torch.as_tensor(idx)
        if idx.dtype == torch.bool:
            idx = torch.nonzero(idx, as_tuple=False).flatten()
        idx = idx.to(torch.int64)
        if not self.batch_nodes:
            return GraphBatch(self.x, self.edge_index, idx.to(self.device))
        return self._sample(idx.cpu())

    def _sample(self, targets: torch.Tensor) -> GraphBatch:
        """The sampled neighbourhood of ``targets`` (global ids, duplicates allowed)."""
        frontier = torch.unique(targets)
        sources, destinations, seen = [], [], [frontier]
        for fanout in self.fanouts:
            degree = self._rowptr[frontier + 1] - self._rowptr[frontier]
            nodes = frontier[degree > 0]
            if len(nodes) == 0:
                break
            nodes = nodes.repeat_interleave(fanout)
            degree = self._rowptr[nodes + 1] - self._rowptr[nodes]
            draw = torch.rand(len(nodes), generator=self.generator)
            offset = (draw * degree).long().clamp_max(degree - 1)
            neighbours = self._col[self._rowptr[nodes] + offset]
            sources.append(nodes)
            destinations.append(neighbours)
            frontier = torch.unique(neighbours)
            seen.append(frontier)
        kept = torch.unique(torch.cat(seen))
        local = torch.full((len(self),), -1, dtype=torch.int64)
        local[kept] = torch.arange(len(kept))
        if sources:
            u = local[torch.cat(sources)]
            v = local[torch.cat(destinations)]
            key = torch.unique(torch.cat([u * len(kept) + v, v * len(kept) + u]))
            edge_index = torch.stack([key // len(kept), key % len(kept)])
        else:
            edge_index = torch.zeros((2, 0), dtype=torch.int64)
        return GraphBatch(self.x[kept.to(self.device)], edge_index.to(self.device),
                          local[targets].to(self.device))


def describe_graph(graph: Graph) -> str:
    """``"a graph of N nodes and E edges"``."""
    return f"a graph of {graph.n_nodes} nodes and {graph.n_edges} edges"


def trainer_batch_size(batch_size: int, X: Any, sampling: str) -> int:
    """The trainer's batch size for the fit input ``X``: ``batch_size``, except for a graph
    under shuffled sampling, where a step covers all training nodes (full-graph training) or
    the source's ``batch_nodes`` (mini-batches). Balanced batches (DevNet) keep
    ``batch_size`` target nodes."""
    if isinstance(X, GraphSource) and sampling != "balanced":
        return X.nodes_per_step(len(X))
    return batch_size
