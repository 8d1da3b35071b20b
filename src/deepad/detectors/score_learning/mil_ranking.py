"""Multiple-instance ranking (Sultani, Chen & Shah, CVPR 2018): anomaly scores of instances
learned from bag-level labels, bags being runs of consecutive instances of a series or video."""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import torch
from torch import nn

from deepad.core.deep import DeepDetector
from deepad.core.params import Interval, Options
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.heads import LinearScoreNet
from deepad.nets.mlp import ACTIVATIONS


def mil_ranking_loss(anomalous: torch.Tensor, normal: torch.Tensor, *,
                     anomalous_mask: torch.Tensor | None = None,
                     normal_mask: torch.Tensor | None = None, smoothness: float = 8e-5,
                     sparsity: float = 8e-5) -> torch.Tensor:
    """MIL ranking loss of Sultani et al. 2018, one value per anomalous bag.

    ``anomalous`` (A, m) and ``normal`` (N, m) hold the scores f(x) ∈ [0, 1] of the instances
    of A anomalous and N normal bags, in temporal order; the masks (same shapes, bool) mark
    the instances that exist (a shorter last bag is padded). For anomalous bag a::

        l(a) = 1/N Σ_n max(0, 1 − max_{i∈a} f(x_i) + max_{i∈n} f(x_i))      (hinge)
               + λ1 Σ_i (f(x_i) − f(x_{i+1}))²                               (smoothness)
               + λ2 Σ_i f(x_i)                                               (sparsity)

    the smoothness and sparsity sums running over the instances of ``a``. The mean of ``l``
    over the anomalous bags is the authors' release objective (hinge summed over anomalous
    bags, averaged over normal ones, λ-terms summed over anomalous bags) divided by A.
    Without normal bags the hinge term is 0.
    """
    if anomalous_mask is None:
        anomalous_mask = torch.ones_like(anomalous, dtype=torch.bool)
    if normal_mask is None:
        normal_mask = torch.ones_like(normal, dtype=torch.bool)
    low = torch.finfo(anomalous.dtype).min
    top_a = anomalous.masked_fill(~anomalous_mask, low).amax(dim=1)
    if len(normal):
        top_n = normal.masked_fill(~normal_mask, low).amax(dim=1)
        hinge = torch.clamp(1.0 - top_a[:, None] + top_n[None, :], min=0.0).mean(dim=1)
    else:
        hinge = torch.zeros_like(top_a)
    pairs = anomalous_mask[:, 1:] & anomalous_mask[:, :-1]
    smooth = ((anomalous[:, 1:] - anomalous[:, :-1]) ** 2 * pairs).sum(dim=1)
    sparse = (anomalous * anomalous_mask).sum(dim=1)
    return hinge + smoothness * smooth + sparsity * sparse


class InstanceScorer(LinearScoreNet):
    """Backbone → [dropout] → one logit per instance; f(x) = sigmoid(logit)."""


@register
class MILRanking(DeepDetector):
    """Multiple-instance ranking: instance scores learned from bags labelled anomalous or
    normal as a whole (weak, bag-level supervision).

    The training instances (rows, or sequence windows) are taken **in the order given**, and
    every run of ``bag_size`` consecutive instances is a bag (the paper splits each video
    into 32 temporal segments; pass the 32 segment features or windows of each video one
    after the other and ``bag_size=32``). A bag is anomalous when it holds at least one
    labelled anomaly (``y = 1``; labelling every instance of an anomalous video works the
    same), otherwise it is a normal bag: as in weak supervision, bags without a label are
    taken as normal. The last bag is shorter when ``len(X)`` is not a multiple of
    ``bag_size``.

    A network maps an instance to ``f(x) = sigmoid(logit(x))``. Training minimises the MIL
    ranking loss (Sultani et al. 2018, Sec. 3): for an anomalous bag ``a`` and a normal
    bag ``n``, ``max(0, 1 − max_{i∈a} f(x_i) + max_{i∈n} f(x_i))`` ranks the top instance of
    the anomalous bag above the top instance of the normal bag, plus, over the instances of
    ``a`` in temporal order, the smoothness term ``λ1 Σ (f(x_i) − f(x_{i+1}))²`` and the
    sparsity term ``λ2 Σ f(x_i)`` (anomalies are short and rare), λ1 = λ2 = 8e-5 (paper).
    Each mini-batch holds ``batch_size / 2`` anomalous bags and ``batch_size / 2`` bags of
    unlabelled instances, drawn with replacement (the paper's 30 anomalous + 30 normal
    videos); the hinge is averaged over every (anomalous, normal) pair of the batch, as the
    authors' release. Score: the logit of f(x) per instance (a monotone map of f: the same
    ranking, without ties where the sigmoid saturates).

    Network: the paper's 3-layer network (4096 → 512 → 32 → 1, ReLU after the first layer,
    60 % dropout between layers, sigmoid output) adapted to our input sizes:
    ``hidden_dims=(64, 32)``, ReLU after both hidden layers (the release's 32-unit layer is
    linear) and dropout 0.6. Rows: an MLP with dropout after each hidden layer, as the
    paper. Windows: a TCN of width 64 and a 32-unit head (:func:`deepad.nets.build_backbone`)
    with the dropout before the output layer only: dropout on the convolution features
    erased the local anomalies (planted windows in bags ranked worse than chance with it,
    perfectly without; ``docs/decisions.md``). Optimiser: Adagrad, lr
    0.01 and ε 1e-8 as the authors' release (the paper says 0.001); the release's L2 of
    0.001 on every kernel, on a loss summed over 30 anomalous bags, is weight decay
    ``2 · 0.001 / 30 ≈ 7e-5`` on our per-bag mean (here on biases too). Training length
    in iterations: ``epochs × n_batches`` (the release runs 20,000 iterations of 60
    videos; 1,000 by default here).

    Video clips ``(n, T, C, H, W)`` (:class:`deepad.VideoDetector`, which makes each training
    video one bag of ``bag_size`` evenly spaced clips): the instances are clips, scored end
    to end by a 3-D convolutional network (:class:`~deepad.nets.video.Conv3DEncoder`, blocks
    of widths ``hidden_dims`` and the score head; C3D-style, CPU-sized) instead of the paper's
    fixed C3D features and 3-layer network; dropout before the output layer only. A clip's
    score belongs to all its frames.

    Images: not supported, because the paper ranks bags of video-segment features (C3D), which are
    rows; give it frame or segment embeddings as rows.

    Parameters
    ----------
    bag_size : int, default 32
        Consecutive instances per bag (the paper's 32 segments per video).
    smoothness : float, default 8e-5
        λ1, weight of the temporal smoothness term.
    sparsity : float, default 8e-5
        λ2, weight of the sparsity term.
    hidden_dims : tuple of int, default (64, 32)
    dropout : float, default 0.6
    activation : str, default "relu"
    n_batches : int, default 20
        Mini-batches per epoch.
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`. ``batch_size`` counts bags (half
        anomalous). With ``validation_size > 0`` instances of unlabelled bags are held out;
        the validation loss ranks all anomalous bags against their bags.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import MILRanking
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(256, 4))
    >>> X[[3, 40, 77]] += 4.0          # anomalies inside bags 0, 2 and 4 (bags of 16)
    >>> y = np.zeros(256, dtype=int); y[[3, 40, 77]] = 1
    >>> det = MILRanking(bag_size=16, epochs=1, n_batches=5, random_state=0).fit(X, y)
    >>> det.decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Sultani, Chen & Shah, "Real-world Anomaly Detection in Surveillance Videos", CVPR 2018
    (Sec. 3, the MIL ranking loss with sparsity and smoothness constraints).

    See Also
    --------
    DevNet : weakly supervised score learning from labelled instances.
    """

    name = "MILRanking"
    category = "score_learning"
    subcategory = "ranking"
    supervision = ("weakly-supervised",)
    modalities = ("tabular", "sequence", "video")
    # video: C3D-style 3-D convolutions, as the paper's C3D features (deepad.nets.video)
    preferred_backbones: ClassVar[dict[str, str]] = {"video": "conv3d"}
    reference = ("Sultani, Chen & Shah, Real-world Anomaly Detection in Surveillance Videos, "
                 "CVPR 2018")
    sampling = "balanced"
    # the conformance data are shuffled instances with instance labels: bags of one
    test_params: ClassVar[dict] = {"bag_size": 1, "hidden_dims": (32, 16), "dropout": 0.0,
                                   "epochs": 5, "n_batches": 20, "batch_size": 16}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "bag_size": [Interval(numbers.Integral, 1, None)],
        "smoothness": [Interval(numbers.Real, 0.0, None)],
        "sparsity": [Interval(numbers.Real, 0.0, None)],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "activation": [Options(tuple(ACTIVATIONS))],
        "n_batches": [Interval(numbers.Integral, 1, None)],
        "batch_size": [Interval(numbers.Integral, 2, None)],
    }

    def __init__(self, bag_size=32, smoothness=8e-5, sparsity=8e-5, hidden_dims=(64, 32),
                 dropout=0.6, activation="relu", n_batches=20, backbone="auto", epochs=50,
                 batch_size=60, lr=0.01, weight_decay=7e-5, validation_size=0.0,
                 patience=None, grad_clip=None, contamination=0.1, device=None,
                 random_state=None, verbose=False):
        self.bag_size = bag_size
        self.smoothness = smoothness
        self.sparsity = sparsity
        self.hidden_dims = hidden_dims
        self.dropout = dropout
        self.activation = activation
        self.n_batches = n_batches
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

    # ------------------------------------------------------------------ hooks
    def build(self, spec: InputSpec) -> nn.Module:
        # rows: dropout after every hidden layer (the paper's); windows: before the output
        # only, since dropout on the convolution features erases local anomalies
        rows = spec.modality == "tabular"
        backbone = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=None,
                                  kind=self.backbone, activation=self.activation,
                                  dropout=self.dropout if rows else 0.0,
                                  prefer=self.preferred_backbones)
        return InstanceScorer(backbone, dropout=0.0 if rows else self.dropout)

    def _fit(self, X, y) -> None:
        try:
            super()._fit(X, y)
        finally:  # the bag tables index the training data; they are not part of the model
            for name in ("_X", "_bag_of", "_members", "_member_mask", "_bag_label"):
                self.__dict__.pop(name, None)

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        n, m = len(X), self.bag_size
        n_bags = math.ceil(n / m)
        device = X.device
        positions = torch.arange(n_bags * m, device=device)
        self._X = X
        self._bag_of = torch.arange(n, device=device) // m
        self._members = positions.clamp(max=n - 1).view(n_bags, m)
        self._member_mask = (positions < n).view(n_bags, m)
        labels = torch.zeros(n_bags * m, dtype=torch.bool, device=device)
        labels[:n] = y.bool()
        self._bag_label = labels.view(n_bags, m).any(dim=1)
        n_anomalous = int(self._bag_label.sum())
        if n_anomalous == n_bags:
            msg = (f"Every one of the {n_bags} bag(s) of bag_size={m} consecutive instances "
                   "holds a labelled anomaly; MILRanking needs normal bags to rank them "
                   "against. Lower bag_size or pass more unlabelled instances.")
            raise ValueError(msg)

    def steps_per_epoch(self, n_samples: int) -> int:
        return self.n_batches

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adagrad(self.model_.parameters(), lr=self.lr, eps=1e-8,
                                    weight_decay=self.weight_decay)]

    def _bag_scores(self, bags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        members = self._members[bags]
        logits = self.model_(self._X[members.reshape(-1)]).view(members.shape)
        return torch.sigmoid(logits), self._member_mask[bags]

    def loss(self, batch: Batch) -> torch.Tensor:
        bags = self._bag_of[batch.index]
        anomalous_bags = self._bag_label[bags]
        normal, anomalous = bags[~anomalous_bags], bags[anomalous_bags]
        if len(anomalous) == 0:  # a validation batch (unlabelled rows only): every anomalous bag
            anomalous = torch.nonzero(self._bag_label).squeeze(1)
        scores, mask = self._bag_scores(torch.cat([anomalous, normal]))
        k = len(anomalous)
        return mil_ranking_loss(scores[:k], scores[k:], anomalous_mask=mask[:k],
                                normal_mask=mask[k:], smoothness=self.smoothness,
                                sparsity=self.sparsity)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)
