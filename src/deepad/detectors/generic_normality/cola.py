"""CoLA: contrastive self-supervised learning between a node and its local subgraph."""

from __future__ import annotations

import numbers
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepad.core.params import Interval
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.detectors.generic_normality.graph_native import GraphNativeDetector
from deepad.nets.graph import GraphBatch, input_linear, sparse_attributes
from deepad.nets.graph_objectives import csr, sample_neighbours

SCORE_INSTANCES = 65536
"""Local subgraphs sampled at once when scoring (several rounds of a small graph together)."""
SCORE_CHUNK = 2048
"""Local subgraphs embedded at once when scoring."""
EXACT_ROUNDS_NODES = 20_000
"""Graphs of up to this many nodes are scored with all ``n_rounds`` rounds (every BOND graph:
enron, the largest, has 13,533 nodes). A larger graph gets ``max(1, n_rounds · 20,000 // n)``
rounds (:func:`scoring_rounds`), so a scoring pass embeds at most ``n_rounds · 20,000``
subgraphs (5,120,000 at the default 256; 51 rounds at 100,000 nodes)."""


def scoring_rounds(n_rounds: int, n_nodes: int) -> int:
    """The rounds a scoring pass over a graph of ``n_nodes`` nodes runs: ``n_rounds`` up to
    :data:`EXACT_ROUNDS_NODES` nodes, ``max(1, n_rounds · EXACT_ROUNDS_NODES // n_nodes)``
    above."""
    if n_nodes <= EXACT_ROUNDS_NODES:
        return n_rounds
    return max(1, n_rounds * EXACT_ROUNDS_NODES // n_nodes)


class ColaNet(nn.Module):
    """One GCN layer ``H = PReLU(Â_sub X_sub W + b)`` over each instance's small subgraph,
    average readout of its context, bilinear discriminator ``f(h_target, readout)`` (Liu et
    al. 2021, Sec. IV-B/C; the authors' code)."""

    def __init__(self, n_features: int, width: int) -> None:
        super().__init__()
        self.weight = nn.Linear(n_features, width, bias=False)
        self.bias = nn.Parameter(torch.zeros(width))
        self.act = nn.PReLU()
        self.discriminator = nn.Bilinear(width, width, 1)


class GraphContext:
    """What sampling instances needs of a graph: CSR adjacency and the symmetric-normalised
    weights ``1/sqrt(d_u d_v)`` of its edges, looked up by ``u * n + v``."""

    def __init__(self, graph: GraphBatch) -> None:
        edge_index = graph.edge_index.cpu()
        self.n = n = graph.x.shape[0]
        self.rowptr, self.col = csr(edge_index, n)
        degree = (self.rowptr[1:] - self.rowptr[:-1]).to(torch.float32)
        src = torch.repeat_interleave(torch.arange(n), self.rowptr[1:] - self.rowptr[:-1])
        self.keys = src * n + self.col  # sorted: CSR rows in order, columns sorted
        self.values = (degree[src] * degree[self.col]).rsqrt()

    def adjacency(self, nodes: torch.Tensor) -> torch.Tensor:
        """``(B, k, k)``: ``D^-1/2 A D^-1/2 + I`` restricted to each row of ``nodes``.

        Only the pairs above the diagonal are looked up (the graph is undirected and has no
        self-loops, so the diagonal is the identity's and the lower triangle the mirror)."""
        k = nodes.shape[1]
        first, second = torch.triu_indices(k, k, offset=1)
        key = (nodes[:, first] * self.n + nodes[:, second]).reshape(-1)
        if len(self.keys):
            pos = torch.searchsorted(self.keys, key).clamp_max(len(self.keys) - 1)
            found = self.keys[pos] == key
            values = torch.where(found, self.values[pos], torch.zeros(()))
        else:
            values = torch.zeros(len(key))
        out = torch.eye(k).repeat(len(nodes), 1, 1)
        values = values.view(len(nodes), -1)
        out[:, first, second] = values
        out[:, second, first] = values
        return out


@register
class CoLA(GraphNativeDetector):
    """CoLA (Contrastive self-supervised Learning for Anomaly detection on attributed
    networks): a discriminator learns whether a node matches the local subgraph around it;
    nodes that do not match their own neighbourhood are anomalies.

    Instance pairs (Liu et al. 2021, Sec. IV-A): for a target node ``v``, a local subgraph of
    ``subgraph_size`` nodes (``v`` and ``subgraph_size − 1`` sampled neighbours) whose copy
    of ``v`` is anonymised (attributes set to 0), plus ``v`` itself as a separate node with
    only a self-loop; a positive pair joins ``v`` with its own subgraph, a negative pair with
    the subgraph of another target of the batch. A one-layer GCN over the subgraph
    (``H = PReLU(Â X W + b)``, ``Â = D^-1/2 A D^-1/2 + I`` of the whole graph, restricted to the
    subgraph), an average readout ``e = mean(H_context)`` and a bilinear discriminator
    ``s = σ(h_vᵀ W_d e + b_d)`` (Sec. IV-B/C) are trained with the binary cross-entropy of
    positive (label 1) and negative (label 0) pairs (Eq. 8). Score (Eq. 9-10): over ``R``
    rounds of new subgraphs and negatives, ``score(v) = mean_r (s⁻_r(v) − s⁺_r(v))`` (logits,
    as the authors' code).

    Defaults are the authors' (CoLA's code for Cora / CiteSeer): subgraphs of 4 nodes,
    embedding width 64, Adam at lr 1e-3, batches of 300 targets, 100 epochs (each epoch one
    pass over every node in batches, new subgraphs each epoch), 256 scoring rounds.

    Deviations: context nodes are distinct neighbours drawn uniformly (the authors draw them
    by random walks with restart from ``v``, which with their restart probability 1 are
    first-order neighbours, retried with probability 0.9 when too few were found); a node of
    degree below ``subgraph_size − 1`` is completed with second-order nodes and an isolated
    node with itself; attributes are not row-normalised (BOND's graphs have real-valued,
    signed attributes). Inductive: any graph with the same attributes can be scored. Above
    :data:`EXACT_ROUNDS_NODES` (20,000) nodes a scoring pass runs fewer rounds,
    ``max(1, n_rounds · 20,000 // n)`` (51 at 100,000 nodes): the 256 rounds embed 25.6
    million subgraphs there, which did not finish within the scale benchmark's time limit on
    its generated graph of 1,000,000 edges (``docs/results/graph_scale.md``, ``docs/decisions.md``);
    each node's score is then a mean over
    fewer rounds (a noisier estimate of the same expectation). Every BOND graph is below the
    threshold and keeps the 256 rounds.
    PyGOD 1.1.0's CoLA is a simplification (the target's GCN embedding over the whole graph
    against its own attributes, one scoring pass); this class follows the paper.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64,)
        Width of the GCN layer (one entry).
    subgraph_size : int, default 4
        Nodes of a local subgraph, the target included.
    n_rounds : int, default 256
        Scoring rounds ``R`` (on graphs of more than 20,000 nodes, fewer: see above).
    epochs : int, default 100
    batch_size : int, default 300
        Target nodes per optimisation step.
    lr : float, default 1e-3
    weight_decay : float, default 0.0
    activation, dropout, backbone
        Not read (CoLA's network is fixed: one GCN layer with PReLU); kept for the common
        interface.
    validation_size, patience, grad_clip, contamination, device, random_state, verbose
        As :class:`deepad.DOMINANT`.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from deepad import CoLA
    >>> rng = np.random.default_rng(0)
    >>> A = sp.random(60, 60, density=0.1, random_state=0, format="csr")
    >>> det = CoLA(epochs=2, n_rounds=4, random_state=0).fit((rng.normal(size=(60, 4)), A))
    >>> det.decision_scores_.shape
    (60,)

    References
    ----------
    Liu, Li, Pan, Gong, Zhou & Karypis, "Anomaly Detection on Attributed Networks via
    Contrastive Self-Supervised Learning", IEEE TNNLS 33(6), 2021, Sec. IV, Eq. 8-10.

    See Also
    --------
    deepad.CONAD : contrast between a graph and its augmented copy.
    """

    name = "CoLA"
    category = "generic_normality"
    subcategory = "self_supervised"
    supervision = ("unsupervised",)
    reference = ("Liu et al., Anomaly Detection on Attributed Networks via Contrastive "
                 "Self-Supervised Learning, TNNLS 2021")
    test_params: ClassVar[dict] = {"epochs": 2, "hidden_dims": (8,), "n_rounds": 4}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **GraphNativeDetector._parameter_constraints,
        "subgraph_size": [Interval(numbers.Integral, 2, None)],
        "n_rounds": [Interval(numbers.Integral, 1, None)],
    }

    def __init__(self, hidden_dims=(64,), subgraph_size=4, n_rounds=256, activation="relu",
                 dropout=0.0, backbone="auto", epochs=100, batch_size=300, lr=1e-3,
                 weight_decay=0.0, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.subgraph_size = subgraph_size
        self.n_rounds = n_rounds
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
        return ColaNet(spec.n_features, int(tuple(self.hidden_dims)[-1]))

    def on_train_start(self, X, y) -> None:
        # instances are drawn from the whole fit graph, also when the trainer hands over
        # sampled subgraphs: CoLA's own batches are its subgraphs
        self._context = GraphContext(GraphBatch(X.x, X.edge_index, X.target))
        self._x = X.x

    def _instances(self, context: GraphContext, targets: torch.Tensor,
                   generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Local subgraphs of ``targets`` (global ids, CPU): their nodes ``(B, k)``, the target
        last, and their normalised adjacency ``(B, k, k)`` with the target's column set to 0:
        ``Â X_sub`` with the target's attributes anonymised (zero) without writing them."""
        neighbours = sample_neighbours(context.rowptr, context.col, targets,
                                       self.subgraph_size - 1, generator)
        nodes = torch.cat([neighbours, targets.unsqueeze(1)], dim=1)
        adjacency = context.adjacency(nodes)
        adjacency[:, :, -1] = 0.0
        return nodes, adjacency

    def _embed(self, x: torch.Tensor, nodes: torch.Tensor, adjacency: torch.Tensor,
               projected_all: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``X W`` of the targets and the readouts ``e`` of their subgraphs for the instances
        ``nodes`` / ``adjacency`` (from :meth:`_instances`). ``projected_all``: ``X W`` of
        every node when already computed (scoring)."""
        net = self.model_
        batch, k = nodes.shape
        if projected_all is None and sparse_attributes(x) is not None:
            # sparse attributes: X W of every node costs less than the dense rows of a batch
            projected_all = input_linear(x, net.weight.weight)
        flat = nodes.to(x.device).reshape(-1)
        rows = projected_all[flat] if projected_all is not None else net.weight(x[flat])
        projected = rows.view(batch, k, -1)
        h = net.act(torch.bmm(adjacency.to(x.device), projected) + net.bias)
        return projected[:, -1], h.mean(dim=1)

    def _weighted_target(self, projected: torch.Tensor) -> torch.Tensor:
        """``h_vᵀ W_d`` of targets whose ``X W`` rows are ``projected``: ``h_v`` is the target
        alone with its self-loop, ``PReLU(x_v W + b)``."""
        net = self.model_
        return net.act(projected + net.bias) @ net.discriminator.weight[0]

    def _discriminate(self, weighted: torch.Tensor, readout: torch.Tensor,
                      segment: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Positive and negative logits of the bilinear discriminator ``h_vᵀ W_d e + b_d``
        from ``weighted = h_vᵀ W_d`` (computed once for both pairs: torch's bilinear kernel
        took half of a training step's time); the negative pairs join each target with the
        previous instance's readout, cyclically within consecutive segments of ``segment``
        instances (default: all of them)."""
        bias = self.model_.discriminator.bias[0]
        batch = len(readout)
        segment = segment or batch
        shifted = readout.view(batch // segment, segment, -1).roll(1, dims=1).view(batch, -1)
        return (weighted * readout).sum(1) + bias, (weighted * shifted).sum(1) + bias

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        """One epoch's targets in batches of ``batch_size``, one optimiser step each (the
        authors' batches of 300; the trainer hands the epoch's nodes over at once). The
        epoch's subgraphs are sampled at once, then cut into the batches."""
        (optimizer,) = optimizers
        targets = batch.index.cpu()
        nodes, adjacency = self._instances(self._context, targets, self._generator)
        total, steps = 0.0, 0
        for start in range(0, len(targets), self.batch_size):
            part = slice(start, start + self.batch_size)
            if len(targets[part]) < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            own, readout = self._embed(self._x, nodes[part], adjacency[part])
            positive, negative = self._discriminate(self._weighted_target(own), readout)
            loss = 0.5 * (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive))
                          + F.binary_cross_entropy_with_logits(negative,
                                                               torch.zeros_like(negative)))
            loss.backward()
            self.clip_gradients(self.model_.parameters())
            optimizer.step()
            total += float(loss.detach())
            steps += 1
        return {"loss": torch.tensor(total / max(steps, 1))}

    def _score(self, graph: GraphBatch, context: GraphContext, rounds: int,
               generator: torch.Generator | None) -> torch.Tensor:
        targets = graph.target.cpu()
        n = len(targets)
        score = torch.zeros(n, dtype=torch.float64)
        projected_all = input_linear(graph.x, self.model_.weight.weight)  # rounds gather rows
        weighted = self._weighted_target(projected_all[graph.target])  # the same every round
        per_draw = max(1, SCORE_INSTANCES // max(n, 1))  # rounds drawn and scored at once
        for first in range(0, rounds, per_draw):
            group = min(per_draw, rounds - first)
            # a new pairing of negatives each round: the targets in a random order, each
            # paired with the subgraph of the one before it
            order = torch.cat([torch.randperm(n, generator=generator) for _ in range(group)])
            nodes, adjacency = self._instances(context, targets[order], generator)
            # embedded in cache-sized chunks (large (B, k, 64) tensors are memory-bound)
            readout = torch.cat([self._embed(graph.x, nodes[i:i + SCORE_CHUNK],
                                             adjacency[i:i + SCORE_CHUNK], projected_all)[1]
                                 for i in range(0, len(order), SCORE_CHUNK)])
            positive, negative = self._discriminate(weighted[order], readout, segment=n)
            score.index_add_(0, order, (negative - positive).double().cpu())
        return (score / rounds).to(graph.x.dtype).to(graph.x.device)

    def loss(self, batch: Batch) -> torch.Tensor:
        """The score with one round (the validation loss when ``validation_size > 0``)."""
        return self._score(GraphBatch(self._x, self._context_edges(), batch.index),
                           self._context, 1, getattr(self, "_generator", None))

    def _context_edges(self) -> torch.Tensor:
        return torch.stack([torch.repeat_interleave(
            torch.arange(self._context.n), self._context.rowptr[1:] - self._context.rowptr[:-1]),
            self._context.col]).to(self._x.device)

    def score(self, batch: Batch) -> torch.Tensor:
        graph = self._graph_batch(batch)
        generator = torch.Generator().manual_seed(int(self.seed_ or 0))
        rounds = scoring_rounds(self.n_rounds, graph.x.shape[0])
        return self._score(graph, GraphContext(graph), rounds, generator)
