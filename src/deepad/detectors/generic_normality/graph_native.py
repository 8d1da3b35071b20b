"""What the graph-native detectors of this branch share (DOMINANT, AnomalyDAE, CONAD, GAAN,
CoLA): the common hyperparameters and the way a hook reads the whole (sub)graph.

These methods score a node by how well the graph around it is reconstructed or contrasted,
so their networks run over every node of the batch's graph (``batch.x.x``,
``batch.x.edge_index``, :mod:`deepad.core.graph_input`) and their per-node errors are read at
the batch's target nodes (``batch.x.target``). Full-graph training (the default up to
:data:`deepad.core.graph_input.FULL_GRAPH_MAX_EDGES` edges) makes one optimisation step per
epoch over the whole graph, as PyGOD's and the authors' code do; on a larger graph each step
is a sampled subgraph around ``batch_nodes`` targets and the structure errors are those of
that subgraph. Scoring is one pass over the whole graph.

The all-pairs structure terms never build the dense ``n x n`` adjacency
(:mod:`deepad.nets.graph_objectives`).
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import torch
from torch import nn

from deepad.core.deep import DeepDetector
from deepad.core.params import Interval, Options
from deepad.data.spec import InputSpec
from deepad.nets import resolve_backbone
from deepad.nets.graph import GNNEncoder, GraphBatch
from deepad.nets.mlp import ACTIVATIONS


def all_nodes(batch: GraphBatch) -> GraphBatch:
    """The batch's graph with every node a target (a network's output for all nodes)."""
    n = batch.x.shape[0]
    return GraphBatch(batch.x, batch.edge_index, torch.arange(n, device=batch.x.device))


def gnn(kind: str, in_dim: int, widths: list[int] | tuple[int, ...], out_dim: int, *,
        activation: str, dropout: float) -> nn.Module:
    """``len(widths) + 1`` message-passing layers ``in_dim → widths… → out_dim`` of ``kind``
    (activation and dropout between layers, none after the last), as PyG's ``GCN`` /
    ``GAT`` / ``GIN`` models that PyGOD builds its networks from."""
    return GNNEncoder(kind, in_dim, list(widths), out_dim, activation=activation, dropout=dropout)


class GraphNativeDetector(DeepDetector):
    """Base of the graph-native detectors: graph input only, the shared hyperparameters, the
    network kind resolved from ``backbone``: ``"auto"`` is the GCN these methods are published
    with (not the library's GraphSAGE default for graph input)."""

    modalities = ("graph",)
    preferred_backbones: ClassVar[dict[str, str]] = {"graph": "gcn"}
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (8, 8)}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "activation": [Options(tuple(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
    }

    def gnn_kind(self, spec: InputSpec) -> str:
        return resolve_backbone(spec, self.backbone, self.preferred_backbones)

    def _graph_batch(self, batch: Any) -> GraphBatch:
        graph = batch.x
        if not hasattr(graph, "edge_index"):  # pragma: no cover - the base refuses non-graphs
            msg = f"{type(self).__name__} scores graph nodes; got {type(graph).__name__}."
            raise TypeError(msg)
        return graph
