"""One-class measures: learn a representation in which normal data is compact.

Deep SVDD (unsupervised) and Deep SAD (weakly supervised) share the hypersphere machinery of
this module: a bias-free encoder φ built for the input's modality, a centre ``c`` fixed from
the mean of φ over the training data (:meth:`_Hypersphere._init_center`), and optional
autoencoder pre-training of φ (:func:`deepad.core.pretrain.pretrain_autoencoder`), which runs
through the same :class:`~deepad.core.trainer.Trainer` as the main objective, only with the
reconstruction loss.
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
from deepad.core.graph_input import GraphSource
from deepad.core.params import BOOLEAN, Interval, Options
from deepad.core.pretrain import pretrain_autoencoder
from deepad.core.registry import register
from deepad.core.saved_state import read_history
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder
from deepad.nets.mlp import ACTIVATIONS

logger = logging.getLogger(__name__)

SAD_EPS = 1e-6  # ε of Deep SAD's inverse distance: (||φ(x) − c||² + ε)^-1 stays finite
INPUT_SCALINGS = ("none", "std")
OUTPUT_ACTIVATIONS = ("linear", "relu")
STD_TOL = 1e-8  # a feature whose training std is not above this is left unscaled (constant)
# Deep SVDD on windows: an epoch is a random 1/WINDOW_EPOCH_SHARE of the windows. 1 (every
# window, as on rows) is the default: shorter epochs were 5-10x faster on SMAP/MSL windows but
# lost AUC on UCR 135 and T-4 (docs/results/deepsvdd_windows.md); benchmarks set it to measure.
WINDOW_EPOCH_SHARE = 1


# ---------------------------------------------------------------------------- objectives
def squared_distance(z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Per-sample ``||z − c||²``: shape (batch,)."""
    return (z - center).pow(2).sum(dim=1)


def soft_boundary_loss(dist: torch.Tensor, radius: torch.Tensor | float,
                       nu: float) -> torch.Tensor:
    """Per-sample soft-boundary Deep SVDD loss: ``R² + max(0, d − R²) / ν``.

    ``dist`` holds the squared distances ``d = ||φ(x) − c||²``. The batch mean is Ruff et al.
    2018, Eq. 3 without the weight-decay term: ``R² + 1/(νn) Σ_i max(0, d_i − R²)``.
    """
    r2 = torch.as_tensor(radius, dtype=dist.dtype, device=dist.device).pow(2)
    return r2 + torch.clamp(dist - r2, min=0.0) / nu


def deep_sad_loss(dist: torch.Tensor, semi_targets: torch.Tensor, eta: float,
                  eps: float = SAD_EPS) -> torch.Tensor:
    """Per-sample Deep SAD loss (Ruff et al. 2020, Eq. 3, without weight decay).

    ``semi_targets`` follows the paper's ỹ: 0 = unlabelled, +1 = labelled normal, −1 =
    labelled anomaly. Unlabelled rows contribute ``d``, labelled ones ``η (d + ε)^ỹ``
    (the inverse distance for anomalies); the batch mean is Eq. 3's
    ``1/(n+m) Σ_i d_i + η/(n+m) Σ_j (d_j + ε)^ỹ_j``.
    """
    semi = semi_targets.to(dist.dtype)
    labelled = eta * (dist + eps).pow(semi)
    return torch.where(semi == 0, dist, labelled)


# ---------------------------------------------------------------------------- network
class CenteredNet(nn.Module):
    """A bias-free encoder φ and the hypersphere centre ``c`` (a buffer, so it is saved).

    With ``radius=True`` it also holds the soft-boundary radius ``R`` (a 0-d buffer, 0 until
    set). ``forward`` returns the squared distance ``||φ(x) − c||²``.
    """

    def __init__(self, encoder: nn.Module, *, radius: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("center", torch.zeros(encoder.out_dim))
        if radius:
            self.register_buffer("radius", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return squared_distance(self.encoder(x), self.center)


class ScaledEncoder(nn.Module):
    """``φ(x) = a(f(x / s))``: each input feature divided by the buffer ``scale`` (ones until
    :meth:`DeepSVDD.on_train_start` sets it from the training data), the bias-free backbone
    ``f`` and the output activation ``a`` (identity or ReLU). ``scale`` divides the last axis,
    so it serves rows ``(n, d)`` and windows ``(n, T, d)`` alike; for images it has shape
    ``(C, 1, 1)`` and divides each channel. Being a buffer, it is saved.
    """

    def __init__(self, backbone: nn.Module, n_features: int, output_activation: str,
                 image: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        shape = (n_features, 1, 1) if image else (n_features,)
        self.register_buffer("scale", torch.ones(shape))
        self.output = nn.ReLU() if output_activation == "relu" else nn.Identity()
        self.out_dim = backbone.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.backbone(x / self.scale))


def feature_std(X: torch.Tensor) -> torch.Tensor:
    """Per-feature standard deviation of ``X`` (rows, or windows pooled over rows and steps;
    images ``(n, C, H, W)``: per channel over all images and pixels, shape ``(C, 1, 1)``),
    with 1 in place of any not above ``STD_TOL``, so constant features are left as they are.
    A graph's nodes: per attribute over all nodes."""
    if isinstance(X, GraphSource):
        X = X.x
    if X.dim() in (4, 5):  # images (n, C, H, W) or clips (n, T, C, H, W): per channel
        channel = X.dim() - 3
        flat = X.transpose(0, channel).reshape(X.shape[channel], -1).double()
        std = flat.std(dim=1, unbiased=False).to(X.dtype)[:, None, None]
    else:
        std = X.reshape(-1, X.shape[-1]).double().std(dim=0, unbiased=False).to(X.dtype)
    return torch.where(std > STD_TOL, std, torch.ones_like(std))


# ---------------------------------------------------------------------------- shared base
class _Hypersphere(DeepDetector):
    """What Deep SVDD and Deep SAD share (not registered): the bias-free encoder, the centre,
    autoencoder pre-training and its persistence. Subclasses implement ``_objective(batch)``
    and may narrow the rows the centre is computed from (``_center_rows``)."""

    _radius: ClassVar[bool] = False  # CenteredNet holds a soft-boundary radius buffer
    # images: the paper's bias-free LeNet-type CNN (and its mirror decoder for pre-training)
    preferred_backbones: ClassVar[dict[str, str]] = {"image": "lenet"}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "rep_dim": [Interval(numbers.Integral, 1, None)],
        "activation": [Options(tuple(ACTIVATIONS))],
        "batch_norm": [BOOLEAN],
        "eps": [Interval(numbers.Real, 0.0, None)],
        "pretrain_epochs": [Interval(numbers.Integral, 0, None)],
    }

    def _network_options(self) -> dict[str, Any]:
        # no bias terms anywhere (Ruff et al. 2018, Prop. 2); non-affine batch normalisation
        return {"kind": self.backbone, "activation": self.activation,
                "batch_norm": self.batch_norm, "bias": False,
                "prefer": self.preferred_backbones}

    def build(self, spec: InputSpec) -> nn.Module:
        encoder = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=self.rep_dim,
                                 **self._network_options())
        return CenteredNet(self._wrap_encoder(encoder, spec), radius=self._radius)

    def _wrap_encoder(self, encoder: nn.Module, spec: InputSpec) -> nn.Module:
        """The encoder φ around the backbone (the backbone itself by default)."""
        return encoder

    # -------------------------------------------------------------- fit phases
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.pretrain_history_: list[dict] = []
        try:
            super()._fit(X, y)
        finally:
            self.__dict__.pop("_fit_X", None)

    def _fit_source(self, source, y):
        self.pretrain_history_ = []
        try:
            return super()._fit_source(source, y)
        finally:
            self.__dict__.pop("_fit_X", None)

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        self._fit_X = X
        if self.pretrain_epochs > 0:
            self._pretrain(X)
        self._init_center(self._center_rows(X, y))

    def _center_rows(self, X: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The rows whose mean representation is the centre (all of them by default)."""
        return X

    def _pretrain(self, X: torch.Tensor) -> None:
        """Train φ as the encoder of an autoencoder with a mirrored, bias-free decoder, for
        ``pretrain_epochs`` epochs of the reconstruction loss (Ruff et al. 2018, Sec. 4), with
        the detector's optimiser, validation split and patience
        (:func:`~deepad.core.pretrain.pretrain_autoencoder`); the per-epoch losses land in
        ``pretrain_history_``.
        """
        decoder = build_decoder(self.spec_, latent_dim=self.rep_dim,
                                hidden_dims=tuple(self.hidden_dims), **self._network_options())
        self.pretrain_history_ = pretrain_autoencoder(
            self, self.model_.encoder, decoder, X, epochs=self.pretrain_epochs,
            validation_size=self.validation_size, patience=self.patience)

    @torch.no_grad()
    def _init_center(self, X: torch.Tensor) -> None:
        """``c`` = mean of φ over ``X`` (one forward pass, eval mode); coordinates closer to 0
        than ``eps`` are pushed to ±eps, as in the authors' releases, so that a zero
        coordinate cannot be matched trivially by zero weights."""
        center = forward_in_chunks(self.model_.encoder, X).mean(dim=0)
        small = center.abs() < self.eps
        center[small & (center < 0)] = -self.eps
        center[small & (center >= 0)] = self.eps
        self.model_.center.copy_(center)

    # -------------------------------------------------------------- objective
    def loss(self, batch: Batch) -> torch.Tensor:
        return self._objective(batch)

    def representation_terms(self, x: torch.Tensor) -> torch.Tensor:
        """``(φ(x)_k − c_k)²`` per dimension k of the representation, ``(n, rep_dim)``: the
        squared distance to the centre split exactly over the dimensions (their sum is
        ``||φ(x) − c||²``; the score subtracts ``R²`` for the soft boundary)."""
        return (self.model_.encoder(x) - self.model_.center).pow(2)

    def _objective(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    # -------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["pretrain_history"] = [{k: float(v) for k, v in record.items()}
                                     for record in self.pretrain_history_]
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors, device)
        self.pretrain_history_ = read_history(state, "pretrain_history")


# ---------------------------------------------------------------------------- Deep SVDD
@register
class DeepSVDD(_Hypersphere):
    """Deep Support Vector Data Description (one-class or soft-boundary objective).

    A network φ without bias terms maps the data into a space where it is drawn towards a
    fixed centre ``c``; the distance to ``c`` is the anomaly score.

    Objectives (Ruff et al. 2018; the weight-decay term λ/2 Σ_l ||W_l||² is the optimiser's
    ``weight_decay``):

    - ``"one-class"`` (Eq. 4): ``min_W 1/n Σ_i ||φ(x_i; W) − c||²``; score (Eq. 5)
      ``s(x) = ||φ(x; W*) − c||²``.
    - ``"soft-boundary"`` (Eq. 3): ``min_{R,W} R² + 1/(νn) Σ_i max(0, ||φ(x_i; W) − c||² − R²)``.
      As in the authors' release, R is not learned by gradient: it stays 0 for the first
      ``warm_up_epochs`` epochs, then after every epoch it is set to the (1 − ν)-quantile of
      the distances ``||φ(x) − c||`` over the training data (the release updates it after
      every mini-batch from that batch; over all rows per epoch is the less noisy estimate
      of the same quantity). ν is an upper bound on the fraction of training points outside
      the sphere. Score: ``s(x) = ||φ(x; W*) − c||² − R²`` (Eq. 5; positive outside the
      sphere, the same ranking as the distance). ``R`` is the buffer ``model_.radius``.

    The centre ``c`` is the mean of φ over the training data after an initial forward pass
    (after pre-training when it is on), with coordinates closer to 0 than ``eps`` pushed to
    ±eps (as in the authors' release), and stays fixed. No bias terms and no bounded
    activations (Prop. 2-3) rule out the trivial collapsed solution; batch normalisation,
    when used, is non-affine for the same reason.

    The network: ``φ(x) = a(f(x / s))``. ``s`` is the per-feature standard deviation of the
    training data (``input_scaling="std"``; a constant feature keeps scale 1; for windows,
    per channel over all windows and steps), a buffer fitted in ``fit``, so the detector gives
    the same scores whatever units each feature is in. ``f`` is the bias-free backbone of the
    input's modality (an MLP ``d → 64 → 32`` by default), ``a`` a ReLU on the representation
    (``output_activation="relu"``). The inputs are divided, not centred: a bias-free network
    maps the origin to the origin, so zero-centred data is its degenerate case; min-max scale
    such data (or pre-train, below) (``docs/decisions.md``).

    Defaults, chosen on ADBench's quick suite (8 datasets, seeds 0-2, ADBench protocol; ahead of
    the previous defaults and of PyOD 3.6.7's DeepSVDD; measured: ``docs/decisions.md``, current
    results: ``docs/results/quick.md``): the scaling and the output ReLU above, one hidden layer
    of 64 and a 32-dimensional representation, Adam at lr 1e-4 with batches of 64 for 50 epochs,
    weight decay 1e-6. Each of these mattered on the four small sets (cardio, thyroid, Pima,
    Ionosphere); standardising (centring) the input instead of dividing lowered thyroid.

    Windows ``(n, T, d)``: each epoch passes over every window, as on rows. With the TCN and
    windows cut at stride 1 that makes Deep SVDD one of the slowest sequence detectors to fit;
    shorter epochs were measured and lost AUC on some series (``docs/decisions.md``,
    ``docs/results/deepsvdd_windows.md``). To fit faster on a long series, fit on fewer
    windows (``SeriesDetector(..., train_stride=...)``) or for fewer ``epochs``, and check.

    Pre-training (``pretrain_epochs > 0``, Sec. 4 of the paper): φ is first trained as the
    encoder of an autoencoder with a mirrored bias-free decoder (a GRU decoder for windows)
    on the reconstruction error of the (unscaled) input, with the same optimiser, learning
    rate, batch size and weight decay; φ keeps the encoder's weights and ``c`` is computed
    from it. Off by default: with the earlier defaults, 10 epochs of it left the mean AUC-ROC
    of 6_cardio and 38_thyroid unchanged and longer pre-training lowered it; on zero-centred
    sequence windows it helped (planted windows, ``pretrain_epochs=10``)
    (``docs/decisions.md``).

    Images ``(n, C, H, W)`` (uint8 pixels read as [0, 1]): f is the paper's bias-free
    LeNet-type CNN (:class:`~deepad.nets.lenet.LeNetEncoder`: two 5 x 5 convolution blocks of
    8 and 4 channels for grey images, three of 32, 64, 128 for colour, each with non-affine
    batch normalisation, leaky ReLU and max-pooling, then a dense layer to ``rep_dim``; the
    ``preferred_backbones`` of this class, so ``hidden_dims`` is not used by it), ``s`` is
    the standard deviation of each channel over all training pixels, and pre-training uses
    the mirror decoder. Image settings, ``DeepSVDD.modality_defaults["image"]``: 20 epochs at
    lr 3e-4 instead of 50 at 1e-4, chosen on held-out Fashion-MNIST *training* images only
    (as accurate as the row defaults there at less than half their CPU time; the numbers are
    in ``docs/decisions.md``). The image benchmarks run with them; pass
    them for images (``DeepSVDD(**DeepSVDD.modality_defaults["image"])``): the constructor's
    defaults stay those of rows, so that changing them for images does not change any
    stored row or window result. The release trains 150 epochs (lr 1e-4, then 1e-5 after 50)
    after 150 epochs of pre-training, batches of 200, on globally contrast-normalised, min-max
    scaled images. :meth:`anomaly_map` is the gradient map ``Σ_c |∂s(x) / ∂x_chw|``.

    Graphs (one score per node; ``docs/modalities/graphs.md``): f is a GNN
    (:class:`~deepad.nets.graph.GNNEncoder`, GraphSAGE-mean by default, bias-free), which
    makes this OCGNN (Wang, Jin, Zhang, Zhao & Yu, "One-class graph neural networks for
    anomaly detection in attributed networks", Neural Computing and Applications 2021, Eq.
    4-7): the same hypersphere objective on node embeddings ``φ(v; X, A)``, score
    ``||φ(v) − c||² − R²``. OCGNN's settings are ``DeepSVDD.modality_defaults["graph"]``,
    PyGOD 1.1.0's (BOND's) OCGNN defaults: 2 layers of 64 and 64 units, soft boundary with
    ν = 0.5 (PyGOD's β), lr 4e-3, no weight decay, 100 full-graph epochs, ε = 0.001, ReLU
    hidden and a linear output, no input scaling. Deviations: GraphSAGE-mean (the release's
    default; PyGOD uses GCN); the centre is the mean embedding of the initial network (PyGOD:
    of its first two epochs) and R is updated every epoch (PyGOD: fixed after those two); the
    release's settings (64-32, ν = 0.1, lr 1e-3, weight decay 5e-4, up to 5,000 epochs with
    early stopping on validation labels) ranked BOND's graphs lower (``docs/decisions.md``).

    Deviations from Ruff et al. 2018: the input scaling inside the detector and the ReLU on
    the representation (the paper's networks end in a linear layer; PyOD's DeepSVDD also
    ends in a ReLU); Adam with a constant learning rate instead of the paper's milestones; the
    soft-boundary radius is updated once per epoch over all training rows, not per batch.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64,)
        Hidden widths of f (first = GRU/TCN width for windows).
    rep_dim : int, default 32
        Dimension of the representation φ(x).
    activation : str, default "leaky_relu"
        Activation of the hidden layers.
    output_activation : {"relu", "linear"}, default "relu"
        Activation ``a`` on the representation; "linear" is the paper's network.
    input_scaling : {"std", "none"}, default "std"
        "std" divides each feature by its standard deviation over the training data (stored
        in ``model_.encoder.scale``); "none" feeds the input as given, as the paper.
    batch_norm : bool, default False
    eps : float, default 0.1
        Minimum absolute value of each coordinate of the centre.
    objective : {"one-class", "soft-boundary"}, default "one-class"
    nu : float in (0, 1], default 0.1
        Soft-boundary trade-off ν: an upper bound on the share of training points outside the
        sphere and a lower bound on the share of support vectors. Unused by "one-class".
    warm_up_epochs : int, default 10
        Soft-boundary epochs trained with R = 0 before R is first set (the release's
        ``warm_up_n_epochs``). With ``epochs <= warm_up_epochs`` R stays 0 (a warning says so).
    pretrain_epochs : int, default 0
        Epochs of autoencoder pre-training of φ; 0 turns it off.
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; here lr defaults to 1e-4, epochs to 50,
        batch_size to 64, weight_decay to 1e-6.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_
    model_ : torch.nn.Module
        ``model_.encoder`` is φ (a :class:`ScaledEncoder`: ``scale`` is ``s``,
        ``backbone`` is f), ``model_.center`` is ``c`` and ``model_.radius`` is ``R`` (0 for
        the one-class objective).
    pretrain_history_ : list of dict
        Per-epoch reconstruction losses of pre-training (empty when it is off).

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import DeepSVDD
    >>> X = np.random.default_rng(0).uniform(size=(200, 5))
    >>> DeepSVDD(epochs=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)
    >>> det = DeepSVDD(objective="soft-boundary", nu=0.1, epochs=3, warm_up_epochs=1,
    ...                pretrain_epochs=2, random_state=0).fit(X)
    >>> bool(det.model_.radius > 0), len(det.pretrain_history_)
    (True, 2)

    References
    ----------
    Ruff, Vandermeulen, Görnitz, Deecke, Siddiqui, Binder, Müller & Kloft, "Deep One-Class
    Classification", ICML 2018 (Eq. 3-5, Sec. 4).

    See Also
    --------
    DeepSAD : the same hypersphere, with labelled anomalies (and normals) in the objective.
    """

    name = "DeepSVDD"
    category = "measure_normality"
    subcategory = "one_class"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image", "graph")
    reference = "Ruff et al., Deep One-Class Classification, ICML 2018"
    # video clips (n, T, C, H, W): the stacked-frames CNN (deepad.VideoDetector)
    modalities = (*modalities, "video")
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (16,), "rep_dim": 8,
                                   "batch_size": 32}
    # the tiny LeNet needs its pre-training to rank planted images (3 epochs at lr 1e-4)
    modality_test_params: ClassVar[dict] = {"image": {"pretrain_epochs": 2}}
    # images: a shorter schedule at a higher rate (see the docstring), run by the image benchmarks;
    # graphs: OCGNN (Wang et al. 2021; the authors' release): 2 GNN layers, soft boundary, ν 0.1
    modality_defaults: ClassVar[dict] = {"image": {"epochs": 20, "lr": 3e-4}, "graph": {
        "hidden_dims": (64,), "rep_dim": 64, "activation": "relu",
        "output_activation": "linear", "input_scaling": "none", "objective": "soft-boundary",
        "nu": 0.5, "eps": 0.001, "lr": 4e-3, "weight_decay": 0.0, "epochs": 100}}
    # a stream: the centre c (and the pre-training) from a uniform reservoir sample
    stream_fit = "reservoir"
    _radius = True

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_Hypersphere._parameter_constraints,
        "objective": [Options(("one-class", "soft-boundary"))],
        "nu": [Interval(numbers.Real, 0.0, 1.0, closed="right")],
        "warm_up_epochs": [Interval(numbers.Integral, 0, None)],
        "input_scaling": [Options(INPUT_SCALINGS)],
        "output_activation": [Options(OUTPUT_ACTIVATIONS)],
    }

    def __init__(self, hidden_dims=(64,), rep_dim=32, activation="leaky_relu",
                 output_activation="relu", input_scaling="std", batch_norm=False, eps=0.1,
                 objective="one-class", nu=0.1, warm_up_epochs=10, pretrain_epochs=0,
                 backbone="auto", epochs=50, batch_size=64, lr=1e-4, weight_decay=1e-6,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.rep_dim = rep_dim
        self.activation = activation
        self.output_activation = output_activation
        self.input_scaling = input_scaling
        self.batch_norm = batch_norm
        self.eps = eps
        self.objective = objective
        self.nu = nu
        self.warm_up_epochs = warm_up_epochs
        self.pretrain_epochs = pretrain_epochs
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

    def _wrap_encoder(self, encoder: nn.Module, spec: InputSpec) -> nn.Module:
        return ScaledEncoder(encoder, spec.n_features, self.output_activation,
                             image=spec.modality in ("image", "video"))

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        if self.objective == "soft-boundary" and self.epochs <= self.warm_up_epochs:
            logger.warning("DeepSVDD: epochs=%d <= warm_up_epochs=%d, so the soft-boundary "
                           "radius R is never set and stays 0.", self.epochs, self.warm_up_epochs)
        if self.input_scaling == "std":  # before pre-training and the centre, which see φ
            self.model_.encoder.scale.copy_(feature_std(X))
        super().on_train_start(X, y)

    def _objective(self, batch: Batch) -> torch.Tensor:
        dist = self.model_(batch.x)
        if self.objective == "soft-boundary":
            return soft_boundary_loss(dist, self.model_.radius, self.nu)
        return dist

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self.objective != "soft-boundary":
            return
        if epoch >= self.warm_up_epochs:  # epoch counts from 0, as the release's
            self.model_.radius.copy_(self._radius_quantile(self._fit_X))
            logs["radius"] = float(self.model_.radius)

    def _radius_quantile(self, X: torch.Tensor) -> torch.Tensor:
        """The (1 − ν)-quantile of ``||φ(x) − c||`` over ``X`` (the release's ``get_radius``)."""
        dist = forward_in_chunks(self.model_, X)
        return torch.quantile(dist.sqrt(), 1.0 - self.nu)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x) - self.model_.radius.pow(2)

    def steps_per_epoch(self, n_samples: int) -> int | None:
        """One pass per epoch; windows: a random ``1 / WINDOW_EPOCH_SHARE`` of them when
        the module's ``WINDOW_EPOCH_SHARE`` is above 1 (benchmarks only; 1 by default)."""
        if self.spec_.modality != "sequence" or WINDOW_EPOCH_SHARE == 1:
            return None
        return max(1, math.ceil(n_samples / self.batch_size / WINDOW_EPOCH_SHARE))


# ---------------------------------------------------------------------------- Deep SAD
def _check_labelled_normal(mask: Any, y: np.ndarray) -> np.ndarray:
    """The ``labelled_normal`` argument of ``DeepSAD.fit`` as a bool mask of shape (n,)."""
    array = np.asarray(mask)
    if array.ndim != 1 or array.shape[0] != len(y):
        msg = (f"labelled_normal must be a 1-D mask with one entry per sample ({len(y)}); got "
               f"shape {array.shape}.")
        raise ValueError(msg)
    if array.dtype.kind not in "biuf" or not set(np.unique(array).tolist()) <= {0, 1}:
        msg = ("labelled_normal must hold True/1 for the labelled normal rows and False/0 "
               f"elsewhere; got values of dtype {array.dtype}.")
        raise ValueError(msg)
    array = array.astype(bool)
    both = np.flatnonzero(array & (y == 1))
    if len(both):
        msg = (f"{len(both)} row(s) are marked both as labelled anomalies (y == 1) and as "
               f"labelled normal, the first at index {int(both[0])}.")
        raise ValueError(msg)
    return array


@register
class DeepSAD(_Hypersphere):
    """Deep Semi-supervised Anomaly Detection: Deep SVDD's hypersphere, with a few labelled
    anomalies pushed away from the centre (and optional labelled normals pulled in).

    Loss (Ruff et al. 2020, Eq. 3; the weight-decay term is the optimiser's ``weight_decay``)
    over n unlabelled rows and m labelled ones with ỹ = +1 (normal) or −1 (anomaly):
    ``min_W 1/(n+m) Σ_i ||φ(x_i; W) − c||² + η/(n+m) Σ_j (||φ(x̃_j; W) − c||² + ε)^ỹ_j``
    with ε = 1e-6 (the release's ``eps``): unlabelled rows are drawn to ``c`` as in Deep SVDD,
    labelled anomalies are penalised by their inverse distance. Score (Sec. 3, as Deep SVDD's
    Eq. 5): ``s(x) = ||φ(x; W*) − c||²``.

    Supervision: ``fit(X, y)`` with y = 1 for labelled anomalies (at least one) and 0 for
    unlabelled rows, as every weakly supervised detector. Labelled normal rows, which the
    loss also uses (ỹ = +1), are passed as a mask: ``fit(X, y, labelled_normal=mask)``
    (``mask[i]`` true → row i is a labelled normal; it must not also have y = 1). With
    η = 1 a labelled normal's term η(d + ε) equals an unlabelled row's d up to a constant,
    so the mask changes training only when η ≠ 1.

    The network is bias-free as Deep SVDD's; ``c`` is the mean of φ over the training rows
    that are not labelled anomalies, after an initial forward pass (after pre-training when
    it is on), with coordinates closer to 0 than ``eps`` pushed to ±eps. Autoencoder
    pre-training of φ on all rows (``pretrain_epochs``) works exactly as :class:`DeepSVDD`'s.

    Batches are drawn uniformly (each row once per epoch) as in the authors' release, not
    class-balanced as DevNet's: balanced batches were within seed noise of uniform ones on
    6_cardio and 38_thyroid (``docs/decisions.md``), and the trainer's balanced
    sampler draws only from y = 1 and y = 0, so labelled normals would never be seen.

    Defaults (chosen on 6_cardio and 38_thyroid, ADBench protocol with 10% labelled
    anomalies, seeds 0-2, ``docs/decisions.md``): Adam, lr 1e-3, weight decay 1e-6, batch
    128 as the release; 25 epochs of autoencoder pre-training (which ranked better than none)
    and 50 epochs of the Deep SAD objective. The paper's tabular setting (32-16-8 units with
    batch normalisation, lr 1e-4, 150 + 150 epochs) took several times longer on a CPU and
    scored lower (measured: ``docs/decisions.md``; current results:
    ``docs/results/quick.md``).

    Graphs (one score per node): φ is a bias-free GNN (GraphSAGE-mean by default), as in
    OCGNN (Wang et al. 2021), with Deep SAD's objective over the nodes and ``fit(G, y)``
    labels per node; ``DeepSAD.modality_defaults["graph"]`` holds the OCGNN release's network and
    optimiser settings with 25 pre-training epochs (not a published Deep SAD setting).

    Images ``(n, C, H, W)``: φ is Deep SVDD's bias-free LeNet-type CNN
    (:class:`~deepad.nets.lenet.LeNetEncoder`, the class's ``preferred_backbones``; the
    paper's MNIST / CIFAR-10 networks), pre-trained with its mirror decoder; the defaults are
    those above, not measured on images. :meth:`anomaly_map` is the gradient map
    ``Σ_c |∂s(x) / ∂x_chw|``.

    Deviations: Adam with a constant learning rate instead of the release's milestones;
    labelled anomalies do not enter the centre (the release averages over all rows); fewer
    epochs (above).

    Parameters
    ----------
    hidden_dims : tuple of int, default (64, 32)
        Hidden widths of φ (first = GRU/TCN width for windows).
    rep_dim : int, default 16
    activation : str, default "leaky_relu"
    batch_norm : bool, default False
    eps : float, default 0.1
        Minimum absolute value of each coordinate of the centre.
    eta : float, default 1.0
        Weight η of the labelled rows' term.
    pretrain_epochs : int, default 25
        Epochs of autoencoder pre-training of φ; 0 turns it off.
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_
    model_ : torch.nn.Module
        ``model_.encoder`` is φ, ``model_.center`` is ``c``.
    pretrain_history_ : list of dict
        Per-epoch reconstruction losses of pre-training (empty when it is off).

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import DeepSAD
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.uniform(0.4, 0.6, size=(200, 4)), rng.uniform(size=(5, 4))])
    >>> y = np.r_[np.zeros(200), np.ones(5)]
    >>> DeepSAD(epochs=2, random_state=0).fit(X, y).decision_function(X[:2]).shape
    (2,)
    >>> normal = np.r_[np.ones(10), np.zeros(195)].astype(bool)
    >>> DeepSAD(epochs=2, random_state=0).fit(X, y, labelled_normal=normal).labels_.shape
    (205,)

    References
    ----------
    Ruff, Vandermeulen, Görnitz, Binder, Müller, Müller & Kloft, "Deep Semi-Supervised
    Anomaly Detection", ICLR 2020 (Eq. 3).

    See Also
    --------
    DeepSVDD : the unsupervised hypersphere.
    deepad.detectors.DevNet : weakly supervised score learning with a Gaussian prior.
    """

    name = "DeepSAD"
    category = "measure_normality"
    subcategory = "one_class"
    supervision = ("weakly-supervised",)
    modalities = ("tabular", "sequence", "image", "graph")
    reference = "Ruff et al., Deep Semi-Supervised Anomaly Detection, ICLR 2020"
    test_params: ClassVar[dict] = {"epochs": 3, "pretrain_epochs": 1, "hidden_dims": (16,),
                                   "rep_dim": 8, "batch_size": 32}
    # graphs: OCGNN's GCN and optimiser settings with Deep SAD's objective
    modality_defaults: ClassVar[dict] = {"graph": {
        "hidden_dims": (64,), "rep_dim": 32, "activation": "relu",
        "eps": 0.001, "lr": 1e-3, "weight_decay": 5e-4, "epochs": 100, "pretrain_epochs": 25}}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_Hypersphere._parameter_constraints,
        "eta": [Interval(numbers.Real, 0.0, None, closed="neither")],
    }

    def __init__(self, hidden_dims=(64, 32), rep_dim=16, activation="leaky_relu",
                 batch_norm=False, eps=0.1, eta=1.0, pretrain_epochs=25, backbone="auto",
                 epochs=50, batch_size=128, lr=1e-3, weight_decay=1e-6, validation_size=0.0,
                 patience=None, grad_clip=None, contamination=0.1, device=None,
                 random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.rep_dim = rep_dim
        self.activation = activation
        self.batch_norm = batch_norm
        self.eps = eps
        self.eta = eta
        self.pretrain_epochs = pretrain_epochs
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

    def fit(self, X: Any, y: Any = None, labelled_normal: Any = None) -> DeepSAD:
        """Fit on ``X`` with y = 1 for labelled anomalies, 0 for unlabelled rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_windows, window, n_features)
        y : array-like of shape (n_samples,)
            1 = labelled anomaly (at least one), 0 = unlabelled.
        labelled_normal : array-like of bool of shape (n_samples,), optional
            True (or 1) for rows known to be normal; they enter the loss with ỹ = +1.

        Returns
        -------
        self
        """
        self._labelled_normal = labelled_normal
        try:
            return super().fit(X, y)
        finally:
            del self._labelled_normal

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        # y for the trainer: 1 = labelled anomaly, 0 = unlabelled, -1 = labelled normal
        targets = y.copy()
        if self._labelled_normal is not None:
            targets[_check_labelled_normal(self._labelled_normal, y)] = -1
        if not (targets != 1).any():
            msg = ("DeepSAD needs unlabelled or labelled normal rows besides the labelled "
                   "anomalies; every row has y == 1.")
            raise ValueError(msg)
        super()._fit(X, targets)

    def _center_rows(self, X: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return X if y is None else X[y != 1]

    def _objective(self, batch: Batch) -> torch.Tensor:
        # the paper's ỹ is the opposite of the trainer's label: anomaly 1 → −1, normal −1 → +1
        return deep_sad_loss(self.model_(batch.x), -batch.y, self.eta)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)
