"""Ranking models: a network learns anomaly scores by regressing ordinal targets, from pairs of
samples and a few labelled anomalies (PReNet) or from pseudo-labels it refines itself (SDOR).

Both draw their training samples themselves from the fit's local generator (balanced over the
ordinal classes, vectorised), so the :class:`~deepad.core.trainer.Trainer` batch only sets how
many samples a step uses; ``validation_size`` is therefore 0 for both.
"""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.core.chunks import forward_in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.optim import keras_rmsprop
from deepad.core.params import NONE, Interval, Options
from deepad.core.registry import get_detector, register
from deepad.core.saved_state import read_field, read_tensor
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.heads import LinearScoreNet
from deepad.nets.mlp import ACTIVATIONS, MLP

logger = logging.getLogger(__name__)


class _IncreasingNumbers:
    """A tuple or list of ``length`` finite real numbers in strictly increasing order."""

    def __init__(self, length: int) -> None:
        self.length = length

    def is_satisfied_by(self, value: Any) -> bool:
        return (isinstance(value, list | tuple) and len(value) == self.length
                and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                        and math.isfinite(v) for v in value)
                and all(a < b for a, b in zip(value[:-1], value[1:], strict=True)))

    def __str__(self) -> str:
        return f"a tuple of {self.length} increasing finite numbers"


class _Widths:
    """A tuple or list of positive ints, possibly empty (no hidden layer)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, list | tuple) and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)

    def __str__(self) -> str:
        return "a tuple of positive ints (empty: no hidden layer)"


class _String:
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value.strip() != ""

    def __str__(self) -> str:
        return "a non-empty str ('iforest' or the name of a registered unsupervised detector)"


def ordinal_error(pred: torch.Tensor, target: torch.Tensor, error: str) -> torch.Tensor:
    """Per-sample regression error to the ordinal target: ``|y − φ|`` (``"absolute"``, the
    papers' and releases' choice) or ``(y − φ)²`` (``"squared"``)."""
    diff = target - pred
    return diff.abs() if error == "absolute" else diff.pow(2)


def _others(n: int, picks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each position in ``picks`` (values in ``[0, n)``), a uniformly drawn *different*
    position (the same one when ``n == 1``)."""
    if n == 1:
        return picks.clone()
    return (picks + torch.randint(1, n, picks.shape, generator=generator)) % n


# ============================================================================ PReNet
class PairSampler:
    """Stratified pair sampling of PReNet (Pang et al., KDD 2023, and the authors' release):
    of ``b`` pairs, ``b − 2⌊b/4⌋`` are unlabelled–unlabelled (two different rows), ``⌊b/4⌋``
    unlabelled–anomaly (in that order) and ``⌊b/4⌋`` anomaly–anomaly (two different labelled
    anomalies when there are at least two). Rows are drawn uniformly, with replacement across
    pairs, from the fit's generator in a few vectorised draws."""

    def __init__(self, y: torch.Tensor) -> None:
        y = y.cpu()
        self.anomalies = torch.nonzero(y == 1).squeeze(1)
        self.unlabelled = torch.nonzero(y != 1).squeeze(1)

    def draw(self, n_pairs: int, generator: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(first, second, kind)``: row indices of both members and the pair kind
        (0 = unlabelled–unlabelled, 1 = unlabelled–anomaly, 2 = anomaly–anomaly)."""
        quarter = n_pairs // 4
        n_uu = n_pairs - 2 * quarter
        m_u, m_a = len(self.unlabelled), len(self.anomalies)
        u1 = torch.randint(m_u, (n_uu + quarter,), generator=generator)
        u2 = _others(m_u, u1[:n_uu], generator)
        a1 = torch.randint(m_a, (2 * quarter,), generator=generator)
        a2 = _others(m_a, a1[quarter:], generator)
        first = torch.cat([self.unlabelled[u1], self.anomalies[a1[quarter:]]])
        second = torch.cat([self.unlabelled[u2], self.anomalies[a1[:quarter]],
                            self.anomalies[a2]])
        kind = torch.cat([torch.zeros(n_uu, dtype=torch.long),
                          torch.ones(quarter, dtype=torch.long),
                          torch.full((quarter,), 2, dtype=torch.long)])
        return first, second, kind


class RelationNet(nn.Module):
    """ψ shared by both members of a pair, and a relation score over ``[ψ(p), ψ(q)]``: linear,
    ``φ(p, q) = w·[ψ(p); ψ(q)] + b`` (the release), or an MLP with ``relation_dims`` hidden
    widths. Holds the scoring references (raw samples) as buffers."""

    def __init__(self, backbone: nn.Module, spec: InputSpec, n_references: int,
                 relation_dims: tuple[int, ...] = (), activation: str = "relu") -> None:
        super().__init__()
        self.backbone = backbone
        self.relation = MLP(2 * backbone.out_dim, relation_dims, 1, activation=activation)
        self.register_buffer("reference_unlabelled",
                             torch.zeros(n_references, *spec.sample_shape))
        self.register_buffer("reference_anomalies",
                             torch.zeros(n_references, *spec.sample_shape))

    def relate(self, fp: torch.Tensor, fq: torch.Tensor) -> torch.Tensor:
        """Relation scores of feature pairs; broadcasts over leading dimensions."""
        fp, fq = torch.broadcast_tensors(fp, fq)
        return self.relation(torch.cat([fp, fq], dim=-1)).squeeze(-1)

    def forward(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        features = self.backbone(torch.cat([p, q]))
        return self.relate(*features.split(len(p)))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``½ [1/E Σ_i φ(u_i, x) + 1/E Σ_i φ(x, a_i)]`` over the E reference pairs."""
        n_ref = len(self.reference_unlabelled)
        features = self.backbone(torch.cat([x, self.reference_unlabelled,
                                            self.reference_anomalies]))
        fx = features[:-2 * n_ref].unsqueeze(1)                      # (n, 1, d)
        fu = features[-2 * n_ref:-n_ref].unsqueeze(0)                # (1, E, d)
        fa = features[-n_ref:].unsqueeze(0)
        return 0.5 * (self.relate(fu, fx).mean(dim=1) + self.relate(fx, fa).mean(dim=1))


@register
class PReNet(DeepDetector):
    """Pairwise Relation prediction Network: anomaly scores learned by regressing the ordinal
    relation of sample pairs, from a few labelled anomalies and unlabelled data.

    Pairs of training samples get ordinal targets by their labels (Pang et al. 2023):
    ``y = c_aa`` for two labelled anomalies, ``c_au`` for an unlabelled sample and an anomaly,
    ``c_uu`` for two unlabelled samples (paper and release: 8, 4, 0). A feature network ψ
    (shared by both members) and a linear relation layer give the pair score
    ``φ(p, q) = w·[ψ(p); ψ(q)] + b``, trained on the absolute error (the release's loss)
    ``L = 1/|B| Σ_(p,q)∈B |y_pq − φ(p, q)|`` over stratified batches: half
    unlabelled–unlabelled, a quarter unlabelled–anomaly, a quarter anomaly–anomaly pairs,
    drawn with the fit's generator. The anomaly score of ``x`` is the mean relation to ``E``
    reference pairs (the paper's ensemble score; the release's order of the members):
    ``s(x) = ½ [1/E Σ_i φ(u_i, x) + 1/E Σ_i φ(x, a_i)]``, with ``u_i`` unlabelled and ``a_i``
    labelled training samples drawn once per fit and kept as buffers, so the score is
    deterministic and survives ``save`` / ``load``. (With the linear relation layer the
    references shift every score by the same constant: the ranking is that of
    ``(w_p + w_q)·ψ(x)``.)

    Defaults follow the authors' release (``prenet.py``): ψ = one hidden layer of 20 ReLU
    units with an L2 penalty of 0.01 on its weights (weight decay 0.02 on them), RMSprop
    (lr 1e-3, ρ 0.9, ε 1e-7 as Keras), 50 epochs of 20 batches of 512 pairs; ``E = 30`` (the
    paper's; the release's command line defaults to 1, which ranks identically).
    Deviations: the release clips each gradient tensor to norm 1 (Keras ``clipnorm``); here
    ``grad_clip`` (a global norm, off by default; RMSprop normalises the step size anyway).
    The release keeps the epoch with the lowest training loss (Keras ``ModelCheckpoint``); here
    the last (``patience`` restores the best). Its anomaly–anomaly pairs need two labelled
    anomalies; with a single one, that anomaly is paired with itself. The release draws the
    unlabelled rows of a batch without replacement; here with replacement (the same except on
    tiny data). Pairs are drawn from all fit rows, so ``validation_size`` must be 0.

    Images ``(n, C, H, W)``: ψ is the convolutional backbone (one 3 x 3 block per width of
    ``hidden_dims``, pooled to at most 4 x 4 cells, flattened;
    :class:`~deepad.nets.conv.ConvEncoder`), the reference pairs are images; the paper
    evaluates tabular data only, and its pairs and targets carry over unchanged.
    :meth:`anomaly_map` is the gradient map ``Σ_c |∂s(x) / ∂x_chw|``.

    Parameters
    ----------
    hidden_dims : tuple of int, default (20,)
        Widths of ψ; the pair features are its last hidden layer (for windows: the TCN/GRU
        width, then dense layers).
    targets : tuple of three floats, default (0.0, 4.0, 8.0)
        Ordinal targets ``(c_uu, c_au, c_aa)``, increasing.
    relation_dims : tuple of int, default ()
        Hidden widths of the relation network over ``[ψ(p); ψ(q)]``; empty: the release's
        linear layer (its commented-out variant adds one hidden layer of 20 units).
    n_references : int, default 30
        ``E``, the reference pairs per score.
    n_batches : int, default 20
        Batches of ``batch_size`` pairs per epoch.
    error : {"absolute", "squared"}, default "absolute"
        The regression error of the loss.
    activation : str, default "relu"
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; ``batch_size`` counts pairs and
        ``weight_decay`` applies to ψ's weight matrices.

    Attributes
    ----------
    model_ : RelationNet
        ψ (``model_.backbone``), the relation layer and the reference samples.
    decision_scores_, threshold_, labels_, history_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import PReNet
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(200, 4)), rng.normal(4, 1, size=(5, 4))])
    >>> y = np.r_[np.zeros(200), np.ones(5)]
    >>> PReNet(epochs=2, random_state=0).fit(X, y).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Pang, Shen, Jin & van den Hengel, "Deep Weakly-supervised Anomaly Detection", KDD 2023
    (arXiv 1910.13601).

    See Also
    --------
    DevNet : one-sample deviation loss with a Gaussian prior.
    """

    name = "PReNet"
    category = "score_learning"
    subcategory = "ranking"
    supervision = ("weakly-supervised",)
    modalities = ("tabular", "sequence", "image")
    reference = "Pang et al., Deep Weakly-supervised Anomaly Detection, KDD 2023"
    min_samples = 3  # one labelled anomaly and two unlabelled rows
    # balanced Trainer batches: exactly n_batches steps an epoch (the pairs are drawn in loss)
    sampling = "balanced"
    test_params: ClassVar[dict] = {"epochs": 5, "batch_size": 64, "n_batches": 5,
                                   "n_references": 5, "lr": 0.01}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "targets": [_IncreasingNumbers(3)],
        "relation_dims": [_Widths()],
        "n_references": [Interval(numbers.Integral, 1, None)],
        "n_batches": [Interval(numbers.Integral, 1, None)],
        "error": [Options(("absolute", "squared"))],
        "activation": [Options(tuple(ACTIVATIONS))],
        "batch_size": [Interval(numbers.Integral, 4, None)],
        "validation_size": [Interval(numbers.Real, 0.0, 0.0)],
    }

    def __init__(self, hidden_dims=(20,), targets=(0.0, 4.0, 8.0), relation_dims=(),
                 n_references=30, n_batches=20, error="absolute", activation="relu",
                 backbone="auto", epochs=50, batch_size=512, lr=1e-3, weight_decay=0.02,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.targets = targets
        self.relation_dims = relation_dims
        self.n_references = n_references
        self.n_batches = n_batches
        self.error = error
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
        return RelationNet(backbone, spec, self.n_references, tuple(self.relation_dims),
                           self.activation)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [keras_rmsprop(self.model_, self.model_.backbone, self.lr, self.weight_decay)]

    def steps_per_epoch(self, n_samples: int) -> int:
        return self.n_batches

    @torch.no_grad()
    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        sampler = PairSampler(y)
        if len(sampler.unlabelled) < 2:
            msg = (f"PReNet needs at least two unlabelled rows (y = 0) to form "
                   f"unlabelled-unlabelled pairs; got {len(sampler.unlabelled)}.")
            raise ValueError(msg)
        picks_u = torch.randint(len(sampler.unlabelled), (self.n_references,),
                                generator=self._generator)
        picks_a = torch.randint(len(sampler.anomalies), (self.n_references,),
                                generator=self._generator)
        self.model_.reference_unlabelled.copy_(X[sampler.unlabelled[picks_u].to(X.device)])
        self.model_.reference_anomalies.copy_(X[sampler.anomalies[picks_a].to(X.device)])
        self._sampler = sampler
        self._X = X
        self._targets = torch.tensor([float(t) for t in self.targets], device=X.device)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        try:
            super()._fit(X, y)
        finally:
            for name in ("_sampler", "_X", "_targets"):
                self.__dict__.pop(name, None)

    def loss(self, batch: Batch) -> torch.Tensor:
        """The error of ``batch_size`` stratified pairs drawn from all fit rows (the batch's
        rows only set the count)."""
        first, second, kind = self._sampler.draw(self.batch_size, self._generator)
        device = self._X.device
        pred = self.model_(self._X[first.to(device)], self._X[second.to(device)])
        return ordinal_error(pred, self._targets[kind.to(device)], self.error)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_.score(batch.x)


# ============================================================================ SDOR
class OrdinalScoreNet(LinearScoreNet):
    """SDOR's network: backbone → one linear anomaly score, regressed on ordinal targets."""


def pseudo_labels(scores: torch.Tensor, anomaly_fraction: float,
                  normal_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(pseudo-anomalies, pseudo-normals): the indices of the ``⌈a·n⌉`` highest and the
    ``⌈b·n⌉`` lowest scores (ties broken by position), at least one each and never
    overlapping."""
    n = len(scores)
    n_a = min(max(1, math.ceil(anomaly_fraction * n)), n - 1)
    n_n = min(max(1, math.ceil(normal_fraction * n)), n - n_a)
    order = torch.argsort(scores.double().cpu(), descending=True, stable=True)
    return order[:n_a], order[n - n_n:]


@register
class SDOR(DeepDetector):
    """Self-trained Deep Ordinal Regression: an anomaly score network trained on pseudo-labels
    from an unsupervised detector, then on its own refreshed rankings.

    1. Initial detection: an unsupervised detector scores the training data (default:
       scikit-learn's IsolationForest on the rows, windows flattened; the paper combines
       iForest and a sparse-coding detector on ResNet-50 features of video frames). The
       ``⌈a·n⌉`` highest-ranked samples form the pseudo-anomalies A, the ``⌈b·n⌉``
       lowest-ranked the pseudo-normals N.
    2. Ordinal regression: a score network φ (the modality's backbone and a linear output; the
       paper's is a ResNet-50 with a fully connected head) regresses the two ordinal targets
       ``c_A > c_N`` with the absolute loss ``L = 1/|B| Σ_x∈B |y_x − φ(x)|``, ``y_x = c_A``
       for x ∈ A and ``c_N`` for x ∈ N, over batches of half pseudo-anomalies and half
       pseudo-normals drawn with the fit's generator.
    3. Self-training: after each of ``n_iterations`` iterations but the last, φ re-scores all
       training samples and A and N are taken afresh from its ranking; the network keeps its
       weights from one iteration to the next. The ``epochs`` are split evenly over the
       iterations.

    The anomaly score is ``φ(x)``.

    From the paper: b = 20 % pseudo-normals, 5 iterations, the absolute loss. The network and
    its training have no tabular counterpart there (a ResNet-50 on frames); they follow the
    same authors' tabular releases (DevNet, PReNet: RMSprop, lr 1e-3, ρ 0.9, ε 1e-7, batches of
    512, 20 batches an epoch; 50 epochs, 10 per iteration), with two hidden ReLU layers of 64
    and 32 units and no weight decay, and targets ``(c_N, c_A) = (0, 1)``. Deviations, chosen
    on ADBench and planted data (``docs/decisions.md``): a = 5 % pseudo-anomalies instead of
    the paper's 10 % (tabular sets are often less contaminated; with 10 % the pseudo-anomalies
    are mostly normal rows on thyroid or the planted rows, and self-training drifts); the
    release-size network (20 units, L2 0.01) underfits the pseudo-labels and inverts rankings
    after self-training. One initial detector instead of the paper's two. Pseudo-labelled
    samples are drawn from all fit rows, so ``validation_size`` must be 0, and since the
    targets change from one iteration to the next, early stopping (``patience``) is not
    offered.

    Video clips ``(n, T, C, H, W)`` (:class:`deepad.VideoDetector`): φ is the stacked-frames
    CNN (:class:`~deepad.nets.video.FrameStackEncoder`, blocks of widths ``hidden_dims``,
    average-pooled to at most 4 x 4 cells) with the linear output, trained end to end on the
    clips as the paper trains its ResNet-50 on frames; the initial detector scores the clips
    (iForest on the flattened clips by default, or ``initial_detector="AutoEncoder"``, the
    Conv-AE). As in the paper the method is transductive: fit it on the unlabelled videos to
    be scored. A clip's score belongs to all its frames.

    Images: not supported, because the paper scores ResNet-50 features of video frames, and its
    initial pseudo-labels come from shallow detectors on rows; give it image embeddings as rows.

    Parameters
    ----------
    initial_detector : str, default "iforest"
        ``"iforest"`` (scikit-learn's IsolationForest, 100 trees, seeded from
        ``random_state``) or the name of a registered unsupervised deepad detector, fitted with
        its default hyperparameters, the same ``random_state`` and ``device``.
    n_iterations : int, default 5
        Self-training iterations (the first trains on the initial detector's pseudo-labels);
        at most ``epochs``.
    anomaly_fraction : float, default 0.05
        Share ``a`` of the training samples taken as pseudo-anomalies.
    normal_fraction : float, default 0.2
        Share ``b`` taken as pseudo-normals.
    targets : tuple of two floats, default (0.0, 1.0)
        Ordinal targets ``(c_N, c_A)``, increasing.
    n_batches : int, default 20
        Batches per epoch.
    error : {"absolute", "squared"}, default "absolute"
        The regression error of the loss.
    hidden_dims : tuple of int, default (64, 32)
    activation : str, default "relu"
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; ``epochs`` counts all iterations together,
        ``weight_decay`` applies to the hidden weight matrices; ``validation_size`` must be 0
        and ``patience`` None.

    Attributes
    ----------
    initial_scores_ : ndarray of shape (n_samples,)
        The initial detector's scores of the training samples.
    pseudo_changes_ : list of float
        After each refresh, the share of pseudo-anomalies that were not pseudo-anomalies
        before (also in ``history_`` as ``pseudo_anomaly_change``).
    model_ : OrdinalScoreNet
    decision_scores_, threshold_, labels_, history_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import SDOR
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> SDOR(epochs=2, n_iterations=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Pang, Yan, Shen, van den Hengel & Bai, "Self-trained Deep Ordinal Regression for End-to-End
    Video Anomaly Detection", CVPR 2020.

    See Also
    --------
    PReNet : ordinal regression over pairs, with labelled anomalies.
    """

    name = "SDOR"
    category = "score_learning"
    subcategory = "ranking"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "video")
    reference = ("Pang et al., Self-trained Deep Ordinal Regression for End-to-End Video Anomaly "
                 "Detection, CVPR 2020")
    test_params: ClassVar[dict] = {"epochs": 4, "n_iterations": 2, "batch_size": 64,
                                   "n_batches": 10, "hidden_dims": (16, 16), "lr": 0.01}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "initial_detector": [_String()],
        "n_iterations": [Interval(numbers.Integral, 1, None)],
        "anomaly_fraction": [Interval(numbers.Real, 0.0, 1.0, closed="neither")],
        "normal_fraction": [Interval(numbers.Real, 0.0, 1.0, closed="neither")],
        "targets": [_IncreasingNumbers(2)],
        "n_batches": [Interval(numbers.Integral, 1, None)],
        "error": [Options(("absolute", "squared"))],
        "activation": [Options(tuple(ACTIVATIONS))],
        "batch_size": [Interval(numbers.Integral, 2, None)],
        "validation_size": [Interval(numbers.Real, 0.0, 0.0)],
        "patience": [NONE],
    }

    def __init__(self, initial_detector="iforest", n_iterations=5, anomaly_fraction=0.05,
                 normal_fraction=0.2, targets=(0.0, 1.0), n_batches=20, error="absolute",
                 hidden_dims=(64, 32), activation="relu", backbone="auto", epochs=50,
                 batch_size=512, lr=1e-3, weight_decay=0.0, validation_size=0.0, patience=None,
                 grad_clip=None, contamination=0.1, device=None, random_state=None, verbose=False):
        self.initial_detector = initial_detector
        self.n_iterations = n_iterations
        self.anomaly_fraction = anomaly_fraction
        self.normal_fraction = normal_fraction
        self.targets = targets
        self.n_batches = n_batches
        self.error = error
        self.hidden_dims = hidden_dims
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

    # -------------------------------------------------------------- checks
    def _check_settings(self) -> type | None:
        """Check what the constraints cannot; return the initial detector's class (None for
        the built-in iForest)."""
        if self.n_iterations > self.epochs:
            msg = (f"SDOR splits its epochs over the self-training iterations: n_iterations="
                   f"{self.n_iterations} needs epochs >= {self.n_iterations}; got epochs="
                   f"{self.epochs}.")
            raise ValueError(msg)
        if self.anomaly_fraction + self.normal_fraction > 1.0:
            msg = (f"anomaly_fraction + normal_fraction must be at most 1 (the pseudo-label sets "
                   f"cannot overlap); got {self.anomaly_fraction} + {self.normal_fraction}.")
            raise ValueError(msg)
        name = self.initial_detector.strip()
        if name.lower() == "iforest":
            return None
        try:
            cls = get_detector(name)
        except KeyError as error:
            msg = f"initial_detector={self.initial_detector!r}: {error.args[0]}"
            raise ValueError(msg) from None
        if "unsupervised" not in cls.supervision:
            msg = (f"initial_detector={self.initial_detector!r} is weakly supervised only; SDOR "
                   "needs an unsupervised detector ('iforest' or one listed by "
                   "deepad.list_detectors(supervision='unsupervised')).")
            raise ValueError(msg)
        if self.spec_.modality not in cls.modalities:
            msg = (f"initial_detector={self.initial_detector!r} does not take "
                   f"{self.spec_.modality} input (it takes {list(cls.modalities)}).")
            raise ValueError(msg)
        return cls

    def _initial_scores(self, X: np.ndarray, cls: type | None) -> np.ndarray:
        if cls is None:
            from sklearn.ensemble import IsolationForest

            forest = IsolationForest(n_estimators=100, random_state=self.seed_)
            flat = X.reshape(len(X), -1)
            return -forest.fit(flat).score_samples(flat)
        params = cls().get_params()
        options = {k: v for k, v in (("random_state", self.seed_), ("device", self.device))
                   if k in params}
        return np.asarray(cls(**options).fit(X).decision_scores_, dtype=np.float64)

    # -------------------------------------------------------------- fit phases
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self._initial_cls = self._check_settings()
        self.pseudo_changes_: list[float] = []
        try:
            super()._fit(X, None)
        finally:
            for name in ("_initial_cls", "_X", "_anomalies", "_normals", "_targets",
                         "_boundaries"):
                self.__dict__.pop(name, None)

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        # not under no_grad: a deepad initial detector trains its own network here
        self.initial_scores_ = self._initial_scores(X.cpu().numpy(), self._initial_cls)
        self._X = X
        self._targets = torch.tensor([float(t) for t in self.targets], device=X.device)
        self._set_pseudo_labels(torch.from_numpy(self.initial_scores_))
        # the epochs after which the pseudo-labels are refreshed (all iterations but the last)
        self._boundaries = {self.epochs * k // self.n_iterations
                            for k in range(1, self.n_iterations)}

    def _set_pseudo_labels(self, scores: torch.Tensor) -> float:
        anomalies, normals = pseudo_labels(scores, self.anomaly_fraction, self.normal_fraction)
        previous = getattr(self, "_anomalies", None)
        change = 1.0
        if previous is not None:
            change = 1.0 - float(np.isin(anomalies.numpy(), previous.numpy()).mean())
        self._anomalies, self._normals = anomalies, normals
        return change

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if epoch + 1 not in self._boundaries:
            return
        scores = forward_in_chunks(self.model_, self._X).cpu()
        change = self._set_pseudo_labels(scores)
        self.pseudo_changes_.append(change)
        logs["pseudo_anomaly_change"] = change
        logger.debug("SDOR: pseudo-labels refreshed after epoch %d; %.1f%% new pseudo-anomalies",
                     epoch + 1, 100 * change)

    def build(self, spec: InputSpec) -> nn.Module:
        backbone = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=None,
                                  kind=self.backbone, activation=self.activation,
                                  readout="grid" if spec.modality == "video" else "pool")
        return OrdinalScoreNet(backbone)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [keras_rmsprop(self.model_, self.model_.backbone, self.lr, self.weight_decay)]

    def steps_per_epoch(self, n_samples: int) -> int:
        return self.n_batches

    def loss(self, batch: Batch) -> torch.Tensor:
        """The error of ``batch_size`` samples, half pseudo-anomalies and half pseudo-normals,
        drawn from all fit rows (the batch's rows only set the count)."""
        half = self.batch_size // 2
        pick_a = torch.randint(len(self._anomalies), (half,), generator=self._generator)
        pick_n = torch.randint(len(self._normals), (self.batch_size - half,),
                               generator=self._generator)
        rows = torch.cat([self._anomalies[pick_a], self._normals[pick_n]]).to(self._X.device)
        target = torch.cat([self._targets[1].expand(half),
                            self._targets[0].expand(self.batch_size - half)])
        return ordinal_error(self.model_(self._X[rows]), target, self.error)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)

    # -------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["pseudo_changes"] = [float(c) for c in self.pseudo_changes_]
        tensors["initial_scores"] = torch.from_numpy(np.ascontiguousarray(self.initial_scores_))
        return state, tensors

    def _set_state(self, state: dict, tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors, device)
        changes = read_field(state, "pseudo_changes", "list", default=[])
        if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in changes):
            msg = ("config.json: state['pseudo_changes'] must be a list of numbers; got "
                   f"{changes!r}.")
            raise ValueError(msg)
        self.pseudo_changes_ = [float(c) for c in changes]
        initial = read_tensor(tensors, "initial_scores", ndim=1, floating=True,
                              rows=len(self.decision_scores_))
        self.initial_scores_ = initial.numpy().astype(np.float64)
