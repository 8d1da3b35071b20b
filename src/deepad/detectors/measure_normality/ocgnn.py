"""OCGNN: the one-class hypersphere of Deep SVDD on node embeddings of a graph neural network.

A detector class of its own, with the network and settings of the authors' release, next to
:class:`~deepad.detectors.measure_normality.one_class.DeepSVDD`, whose graph settings
(``DeepSVDD.modality_defaults["graph"]``) stay PyGOD's: the objective, centre, radius and score
are Deep SVDD's soft boundary, inherited unchanged; what this module adds is the release's
network (:class:`deepad.nets.graph.ReleaseGraphSAGE`: DGL's ``gcn`` aggregator on a graph with
self-loops, biases, dropout), its optimiser and its radius schedule.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

from torch import nn

from deepad.core.params import BOOLEAN, Interval, Options
from deepad.core.registry import register
from deepad.data.spec import InputSpec
from deepad.detectors.measure_normality.one_class import CenteredNet, DeepSVDD
from deepad.nets import build_backbone
from deepad.nets.graph import GNN_KINDS, ReleaseGraphSAGE
from deepad.nets.mlp import ACTIVATIONS

RADIUS_EVERY = 5
"""Epochs between two updates of the soft-boundary radius R (the release: ``epoch % 5 == 0``)."""


@register
class OCGNN(DeepSVDD):
    """One-Class Graph Neural Network: Deep SVDD's soft-boundary hypersphere on the node
    embeddings of a GNN, with the network and settings of the authors' release.

    A GNN φ maps every node, with its neighbourhood, to an embedding; the objective (Wang et
    al. 2021, Eq. 4-6, Deep SVDD's soft boundary) over the n training nodes is

    ``min_{R, W} R² + 1/(νn) Σ_v max(0, ||φ(v; X, A, W) − c||² − R²) + λ/2 Σ_l ||W_l||²``

    (the weight-decay term is AdamW's decoupled weight decay, as in the release) and the score
    of a node (Eq. 7) is ``s(v) = ||φ(v; X, A, W*) − c||² − R²`` (positive outside
    the sphere). ``c`` is the mean embedding of the initial network (one forward pass in eval
    mode), coordinates closer to 0 than ``eps`` pushed to ±eps, then fixed; R is set to the
    (1 − ν)-quantile of the nodes' distances ``||φ(v) − c||`` (the release's ``get_radius``)
    after the first epoch and every ``RADIUS_EVERY`` (5) epochs after it, not by gradient.

    The release (WangXuhongCN/OCGNN: ``main.py``, ``networks/init.py``,
    ``networks/GraphSAGE.py``, ``optim/trainer.py``, ``optim/loss.py``) and what is taken from
    it: GraphSAGE with DGL's ``gcn`` aggregator on a graph with self-loops
    (:class:`SelfWeightedSAGEConv`; ``backbone="auto"``), three layers of widths 64, 64 and 32
    (``--n-hidden 32 --n-layers 2``: hidden width twice the embedding), ReLU between layers,
    biases, ν = 0.1, AdamW at lr 1e-3 with weight decay 5e-4, ε = 0.001 for the centre,
    full-graph steps.

    Deviations, each because the release's choice needs labels or is not a setting:

    - **epochs**: the release trains up to 5,000 epochs and keeps the epoch with the best
      AUC-ROC on labelled validation nodes (early stopping, patience 100); without labels a
      fixed count is used, 10, chosen on planted graphs (contextual and structural outliers
      injected into Cora and CiteSeer, and the conformance tests' two-community graph; never
      BOND's labels): on the Planetoid graphs the ranking was best after few epochs and fell
      as training went on (``docs/results/graph_ocgnn.md``; ``docs/decisions.md``, "Graphs:
      fifth pass").
    - **dropout**: the release declares 0.5, but its loop leaves the network in eval mode
      after the first epoch's validation pass (``model.train()`` is called once, before the
      loop, and the evaluation calls ``model.eval()``), so only its first step sees dropout.
      The default here is 0, chosen with the epochs on the planted graphs (0.5 at every
      step ranked them no better and is several times slower on bag-of-words attributes);
      ``dropout`` acts at every training step when set.
    - the radius is the quantile over the nodes' distances after the epoch's step, in eval mode
      (the release: from the step's own forward pass); the release's training set is the
      normal nodes of its one-class splits, here every node (unsupervised).

    Biases are kept as in the release although Deep SVDD's Proposition 2 warns that with them
    the network can map every node to ``c``: on the planted graphs the spread of the distances
    shrinks steadily with longer training (``docs/results/graph_ocgnn.md``), which the short
    default schedule stops early. :class:`DeepSVDD` with ``DeepSVDD.modality_defaults["graph"]``
    is the other OCGNN of the library: a bias-free GraphSAGE-mean network at PyGOD's settings.
    The GNN is inductive: a new graph with the same attributes can be scored. Graphs above
    :data:`~deepad.core.graph_input.FULL_GRAPH_MAX_EDGES` edges train on sampled subgraphs.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64, 64)
        Widths of the hidden GNN layers.
    rep_dim : int, default 32
        Dimension of the embedding φ(v).
    activation : str, default "relu"
    dropout : float in [0, 1), default 0.0
        Dropout on each layer's input (training only; the release declares 0.5, see above).
    bias : bool, default True
        Bias terms in every layer (the release's).
    nu : float in (0, 1], default 0.1
        Soft-boundary ν: an upper bound on the share of training nodes outside the sphere.
    eps : float, default 0.001
        Minimum absolute value of each coordinate of the centre.
    backbone : {"auto", "sage", "gcn", "gat", "gin", "sgc"}, default "auto"
        "auto" is the release's layer (:class:`SelfWeightedSAGEConv`); the others are the
        library's GNN layers (:class:`deepad.nets.graph.GNNEncoder`), with ``bias`` and
        ``dropout`` as given.
    epochs : int, default 10
    lr : float, default 1e-3
    weight_decay : float, default 5e-4
        AdamW's decoupled weight decay (the release's optimiser).
    batch_size, contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; full-graph training makes one step per
        epoch whatever ``batch_size``.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_
    model_ : torch.nn.Module
        ``model_.encoder`` is φ, ``model_.center`` is ``c``, ``model_.radius`` is ``R``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from deepad import OCGNN
    >>> rng = np.random.default_rng(0)
    >>> A = sp.random(60, 60, density=0.1, random_state=0, format="csr")
    >>> det = OCGNN(epochs=6, random_state=0).fit((rng.normal(size=(60, 4)), A))
    >>> det.decision_scores_.shape, bool(det.model_.radius > 0)
    ((60,), True)

    References
    ----------
    Wang, Jin, Du, Cui, Tan & Yang, "One-class graph neural networks for anomaly detection in
    attributed networks", Neural Computing and Applications 33, 2021 (Eq. 4-7). Ruff et al.,
    "Deep One-Class Classification", ICML 2018 (Eq. 3, 5: the soft-boundary objective).

    See Also
    --------
    DeepSVDD : the same objective on rows, windows, images, and on graphs at PyGOD's settings.
    """

    name = "OCGNN"
    category = "measure_normality"
    subcategory = "one_class"
    supervision = ("unsupervised",)
    modalities = ("graph",)
    reference = ("Wang et al., One-class graph neural networks for anomaly detection in "
                 "attributed networks, Neural Computing and Applications 2021")
    optimizer_name = "adamw"
    stream_fit = None
    # tiny widths need more steps than the defaults' to rank the conformance graph's outliers
    test_params: ClassVar[dict] = {"epochs": 100, "hidden_dims": (16,), "rep_dim": 8,
                                   "dropout": 0.0}
    modality_test_params: ClassVar[dict] = {}
    modality_defaults: ClassVar[dict] = {}
    # Deep SVDD's design fixed by OCGNN (not hyperparameters of this class)
    objective = "soft-boundary"
    input_scaling = "none"
    output_activation = "linear"
    batch_norm = False
    pretrain_epochs = 0
    warm_up_epochs = 0
    validation_size = 0.0
    patience = None
    grad_clip = None

    # DeepSVDD's rules for the parameters OCGNN keeps (its others are fixed class attributes)
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **{name: rule for name, rule in DeepSVDD._parameter_constraints.items()
           if name in ("hidden_dims", "rep_dim", "nu", "eps", "epochs", "batch_size", "lr",
                       "weight_decay", "contamination", "device", "random_state", "verbose")},
        "activation": [Options(tuple(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "bias": [BOOLEAN],
        "backbone": [Options(("auto", *GNN_KINDS))],
    }

    def __init__(self, hidden_dims=(64, 64), rep_dim=32, activation="relu", dropout=0.0,
                 bias=True, nu=0.1, eps=0.001, backbone="auto", epochs=10, batch_size=64,
                 lr=1e-3, weight_decay=5e-4, contamination=0.1, device=None,
                 random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.rep_dim = rep_dim
        self.activation = activation
        self.dropout = dropout
        self.bias = bias
        self.nu = nu
        self.eps = eps
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def build(self, spec: InputSpec) -> nn.Module:
        if self.backbone == "auto":
            encoder = ReleaseGraphSAGE(spec.n_features, tuple(self.hidden_dims), self.rep_dim,
                                       activation=self.activation, bias=self.bias,
                                       dropout=self.dropout)
        else:
            encoder = build_backbone(spec, kind=self.backbone, hidden_dims=tuple(self.hidden_dims),
                                     out_dim=self.rep_dim, activation=self.activation,
                                     dropout=self.dropout, bias=self.bias)
        return CenteredNet(encoder, radius=True)

    def _network_options(self) -> dict[str, Any]:  # pragma: no cover - no pre-training
        return {"kind": self.backbone, "activation": self.activation, "bias": self.bias}

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if epoch % RADIUS_EVERY == 0:  # epoch counts from 0: after the 1st, 6th, 11th, ...
            self.model_.radius.copy_(self._radius_quantile(self._fit_X))
            logs["radius"] = float(self.model_.radius)

    def steps_per_epoch(self, n_samples: int) -> int | None:
        return None


__all__ = ["RADIUS_EVERY", "OCGNN"]
