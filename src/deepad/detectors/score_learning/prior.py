"""Prior-driven score learning: a prior over anomaly scores guides the score learner."""

from __future__ import annotations

import numbers
from typing import ClassVar

import torch
from torch import nn

from deepad.core.deep import DeepDetector
from deepad.core.optim import keras_rmsprop
from deepad.core.params import Interval, Options
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.heads import LinearScoreNet
from deepad.nets.mlp import ACTIVATIONS


def deviation_loss(scores: torch.Tensor, y: torch.Tensor, reference: torch.Tensor,
                   margin: float) -> torch.Tensor:
    """Per-sample deviation loss of Pang et al. 2019, Eq. 3-4.

    ``dev(x) = (φ(x) − μ_R) / σ_R`` with μ_R, σ_R the mean and standard deviation of the prior
    reference scores; ``L = (1 − y) |dev(x)| + y max(0, a − dev(x))``.
    """
    dev = (scores - reference.mean()) / reference.std()
    return (1 - y) * dev.abs() + y * torch.clamp(margin - dev, min=0.0)


class DeviationScoreNet(LinearScoreNet):
    """DevNet's network: backbone → one linear anomaly score; holds the prior reference
    scores as a buffer."""

    def __init__(self, backbone: nn.Module, n_reference: int) -> None:
        super().__init__(backbone)
        self.register_buffer("reference", torch.zeros(n_reference))


@register
class DevNet(DeepDetector):
    """Deviation Networks: end-to-end anomaly scores guided by a Gaussian prior and a few
    labelled anomalies.

    A network φ maps a sample to a scalar anomaly score. ``l = 5000`` reference scores drawn
    from the prior N(0, 1) define the deviation ``dev(x) = (φ(x) − μ_R) / σ_R``
    (Pang et al. 2019, Eq. 3); the deviation loss (Eq. 4)
    ``L = (1 − y) |dev(x)| + y max(0, a − dev(x))`` pulls unlabelled data (y = 0, mostly
    normal) to the prior mean and pushes labelled anomalies (y = 1) at least ``a`` standard
    deviations above it. The score is φ(x) (Sec. 3.3).

    Training as in the paper and the authors' release: balanced mini-batches (half labelled
    anomalies, half unlabelled rows, drawn with replacement), 50 epochs of 20 batches of 512,
    RMSprop (lr 1e-3, ρ = 0.9, ε = 1e-7: the Keras defaults they used), one hidden layer of 20
    ReLU units with an L2 penalty of 0.01 on its weights (here weight decay 0.02 on the hidden
    weights only, the same gradient) and a linear output. The reference scores are drawn once
    per fit and kept as a buffer. Deviation: the release clips each gradient to norm 0.001
    (Keras ``clipnorm``); RMSprop's per-parameter normalisation makes this mostly a rescaling,
    so it is left to ``grad_clip`` (off by default).

    Graphs (one score per node; ``fit(G, y)`` with a few labelled outlier nodes): φ is a GNN
    (GraphSAGE-mean by default) and a linear score, which makes this GDN, the graph deviation
    network (Ding, Zhou, Tong & Liu, "Few-shot Network Anomaly Detection via Cross-network
    Meta-learning", WWW 2021, Eq. 2-4: network encoder, anomaly evaluator, the same deviation
    loss with a = 5 and 5,000 N(0, 1) reference scores). ``DevNet.modality_defaults["graph"]``
    has GDN's settings: 512 hidden units, 100 epochs of one balanced batch of 20 nodes, no
    weight decay. Deviations: GraphSAGE instead of GDN's SGC encoder (``backbone="gcn"`` is
    closer), and DevNet's RMSprop at lr 1e-3 instead of the release's Adam at 0.01 (RMSprop
    at 0.01 did not rank the planted test graph's outliers; ``docs/decisions.md``).

    Images ``(n, C, H, W)``: φ is the convolutional backbone (one 3 x 3 block per width of
    ``hidden_dims``, pooled to at most 4 x 4 cells; :class:`~deepad.nets.conv.ConvEncoder`)
    followed by the linear score; the paper's networks are for tabular data, and its
    training scheme carries over unchanged. :meth:`anomaly_map` is the gradient map
    ``Σ_c |∂φ(x) / ∂x_chw|``.

    Parameters
    ----------
    hidden_dims : tuple of int, default (20,)
    margin : float, default 5.0
        Confidence margin ``a`` of the deviation loss.
    n_reference : int, default 5000
        Number ``l`` of prior reference scores.
    n_batches : int, default 20
        Balanced batches per epoch (``n_batches``).
    activation : str, default "relu"
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; ``weight_decay`` applies to hidden weights.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import DevNet
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(200, 4)), rng.normal(4, 1, size=(5, 4))])
    >>> y = np.r_[np.zeros(200), np.ones(5)]
    >>> DevNet(epochs=2, random_state=0).fit(X, y).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Pang, Shen & van den Hengel, "Deep Anomaly Detection with Deviation Networks", KDD 2019.
    """

    name = "DevNet"
    category = "score_learning"
    subcategory = "prior"
    supervision = ("weakly-supervised",)
    modalities = ("tabular", "sequence", "image", "graph")
    reference = "Pang et al., Deep Anomaly Detection with Deviation Networks, KDD 2019"
    optimizer_name = "rmsprop"
    sampling = "balanced"
    test_params: ClassVar[dict] = {"epochs": 3, "batch_size": 32, "n_batches": 5}
    # full-graph training: a step per batch, so the tiny graph needs more of them
    modality_test_params: ClassVar[dict] = {"graph": {"epochs": 20}}
    # GDN (Ding et al. 2021; the authors' release): 512 units on the graph, 100 epochs of one
    # balanced batch of 20 nodes (10 labelled outliers, 10 unlabelled), no weight decay; the
    # release's Adam at lr 0.01 becomes DevNet's RMSprop at its lr 1e-3 (RMSprop at 0.01
    # ranked the planted test graph's outliers at AUC 0.29, at 1e-3 at 0.97)
    modality_defaults: ClassVar[dict] = {"graph": {
        "hidden_dims": (512,), "epochs": 100, "n_batches": 1,
        "batch_size": 20, "lr": 1e-3, "weight_decay": 0.0}}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "margin": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "n_reference": [Interval(numbers.Integral, 2, None)],
        "n_batches": [Interval(numbers.Integral, 1, None)],
        "activation": [Options(tuple(ACTIVATIONS))],
    }

    def __init__(self, hidden_dims=(20,), margin=5.0, n_reference=5000, n_batches=20,
                 activation="relu", backbone="auto", epochs=50, batch_size=512, lr=1e-3,
                 weight_decay=0.02, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.margin = margin
        self.n_reference = n_reference
        self.n_batches = n_batches
        self.activation = activation
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
        backbone = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=None,
                                  kind=self.backbone, activation=self.activation)
        return DeviationScoreNet(backbone, self.n_reference)

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        prior = torch.randn(self.n_reference, generator=self._generator)
        self.model_.reference.copy_(prior.to(self.model_.reference.device))

    def steps_per_epoch(self, n_samples: int) -> int:
        return self.n_batches

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [keras_rmsprop(self.model_, self.model_.backbone, self.lr, self.weight_decay)]

    def loss(self, batch: Batch) -> torch.Tensor:
        if batch.y is None:
            msg = "DevNet's loss needs labels: call fit(X, y)."
            raise ValueError(msg)
        y = batch.y.to(torch.float32)
        return deviation_loss(self.model_(batch.x), y, self.model_.reference, self.margin)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)
