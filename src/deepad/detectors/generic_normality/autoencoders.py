"""Autoencoders: learn to reconstruct normal data; poorly reconstructed samples are anomalies.

Four methods of the taxonomy's autoencoder leaf share this module and its network factory:

- :class:`AutoEncoder`: the replicator network, scored by its reconstruction error;
- :class:`RandNet`: an ensemble of randomly connected autoencoders trained with adaptive
  sampling, scored by the median of the members' standardised errors;
- :class:`RobustAutoEncoder`: the robust deep autoencoder (RDA), which splits the training
  data into a part the autoencoder reconstructs and a sparse part of outliers;
- :class:`VAE`: the variational autoencoder, scored by its negative reconstruction
  log-probability.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepad.core.chunks import forward_in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.maps import reconstruction_map
from deepad.core.params import BOOLEAN, Interval, Options
from deepad.core.registry import register
from deepad.core.runtime import resolve_device, resolve_seed, seeded
from deepad.core.saved_state import read_field, read_tensor
from deepad.core.trainer import Batch, Trainer
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder, resolve_backbone
from deepad.nets.autoencoder import AutoEncoderNet, reconstruction_error
from deepad.nets.mlp import ACTIVATIONS


@register
class AutoEncoder(DeepDetector):
    """Autoencoder (replicator neural network): the reconstruction error is the anomaly score.

    The network is trained to reconstruct the (unlabelled, mostly normal) training data by
    minimising the mean squared error; anomalies, which the bottleneck cannot represent, are
    reconstructed badly.

    Loss and score (Hawkins et al. 2002, Sec. 2; Pang et al. 2021 survey, Eq. 6-7):
    ``L = 1/n Σ_i ||x_i − D(E(x_i))||²`` and ``s(x) = ||x − D(E(x))||² / d`` (mean over the
    ``d`` features, and over time steps for windows). Deviation: ReLU activations with
    dropout instead of the paper's step-like activations, Adam instead of plain gradient
    descent (as PyOD and ADBench do).

    Images ``(n, C, H, W)``: a convolutional autoencoder, by default (``preferred_backbones``)
    the LeNet-type one of Deep SVDD's pre-training (:class:`~deepad.nets.lenet.LeNetEncoder`,
    5 x 5 blocks of the paper's widths, a code of ``hidden_dims[-1]``, and its mirror
    decoder); ``backbone="conv"`` gives 3 x 3 blocks of widths ``hidden_dims[:-1]``. The
    score is the mean squared error over all channels and pixels, and :meth:`anomaly_map` the
    squared error per pixel summed over channels (the map's sum is the score times
    ``C·H·W``).

    Video clips ``(n, T, C, H, W)`` (:class:`deepad.VideoDetector`): the convolutional
    autoencoder of Hasan et al. ("Learning Temporal Regularity in Video Sequences", CVPR
    2016, Sec. 3.2): the ``T`` frames are stacked as channels of a fully convolutional
    autoencoder (:class:`~deepad.nets.video.FrameStackEncoder`: 3 x 3 blocks of widths
    ``hidden_dims[:-1]``, a spatial code of ``hidden_dims[-1]`` channels, and its mirror
    decoder); score: the mean squared reconstruction error of the clip, given to every frame
    of the clip by default (``VideoDetector`` averages the overlapping clips); Hasan et al.'s
    per-frame error ``e(t)``, each frame's own reconstruction error within the cuboid, is
    :meth:`clip_frame_scores`, used by ``VideoDetector(..., anchor="frame")``.
    ``backbone="hasan"`` takes the paper's layer layout (Table 1: 11 x 11 stride-4, 5 x 5
    and 3 x 3 convolutions with two max poolings, and the mirror with transposed
    convolutions for the unpooling; :class:`~deepad.nets.video.HasanEncoder`),
    ``hidden_dims = (512, 256, 128)`` its widths.
    Deviations: by default (``backbone="auto"``: ``"conv"``) 3 x 3 convolutions with max
    pooling instead of the paper's layers; with either, a linear code layer, Adam instead of
    the paper's AdaGrad, and the frames at the size given (the paper: 227 x 227, T = 10).

    Graphs (a ``torch_geometric.data.Data`` or ``(X, adjacency)``, one score per node;
    ``docs/modalities/graphs.md``): attribute reconstruction through a GNN encoder
    (GraphSAGE-mean by default, ``backbone="gcn"`` / ``"gat"`` / ``"gin"``) over
    ``hidden_dims`` and an MLP decoder back to each
    node's attributes; the score is the node's mean squared attribute error
    ``||x_v − D(GNN(X, A)_v)||² / d``. This is DOMINANT's attribute branch (Ding et al., SDM
    2019, Eq. 3-4, α = 1) with an MLP instead of a GCN decoder and no structure decoder;
    trained full-graph (one step per epoch over all nodes) or in sampled mini-batches on
    large graphs (:mod:`deepad.core.graph_input`). Inductive: a new graph with the same
    attributes can be scored.

    Parameters
    ----------
    hidden_dims : tuple of int, default (128, 64)
        Encoder widths; the last one is the bottleneck. The decoder mirrors them. For windows
        the first width is the GRU/TCN width.
    activation : str, default "relu"
    dropout : float, default 0.2
        Dropout after every hidden layer: with a bottleneck that may be wider than the input,
        dropout is what keeps the network from learning the identity.
    batch_norm : bool, default False
        Off by default: on the quick-suite datasets batch normalisation lowered the mean
        AUC-ROC (measured: ``benchmarks/foundation.py``, ``docs/results/foundation_quick.md``).
    backbone : {"auto", "mlp", "gru", "tcn"}, default "auto"
        "auto": MLP for rows, TCN encoder + GRU decoder for windows.
    epochs : int, default 30
    weight_decay : float, default 3e-4
        Adam's L2 penalty. With dropout it is what keeps the reconstruction from fitting the
        anomalies in the training data: on the quick suite, on seeds held out from the
        choice, 30 epochs at 3e-4 ranked better than the former 50 epochs at 1e-5, in less CPU
        time (measured: ``docs/decisions.md``, ``docs/results/ae_cpu_time_heldout.md``).
    batch_size, lr, validation_size, patience, grad_clip
        Training (see :class:`deepad.core.deep.DeepDetector`); batch 64, lr 1e-3.
    contamination : float, default 0.1
        Expected anomaly fraction; sets ``threshold_``.
    device : str or None, default None
        None → CUDA when available, else CPU.
    random_state : int or None, default None
    verbose : bool, default False

    Attributes
    ----------
    decision_scores_, threshold_, labels_, model_, history_, device_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import AutoEncoder
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> det = AutoEncoder(epochs=2, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape
    (3,)

    References
    ----------
    Hawkins, He, Williams & Baxter, "Outlier detection using replicator neural networks",
    DaWaK 2002. Aggarwal, "Outlier Analysis", Springer 2017, Sec. 3.5.

    See Also
    --------
    deepad.DeepSVDD : one-class compactness of the representation instead of reconstruction.
    """

    name = "AutoEncoder"
    category = "generic_normality"
    subcategory = "autoencoders"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image", "graph")
    reference = ("Hawkins et al., Outlier detection using replicator neural networks, "
                 "DaWaK 2002")
    # video clips (n, T, C, H, W): Hasan et al.'s Conv-AE over the stacked frames
    modalities = (*modalities, "video")
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (16, 4), "batch_size": 32}
    stream_fit = "batches"  # the loss and score are per row: any stream trains it
    # images: the LeNet-type autoencoder of Deep SVDD's pre-training (a light conv AE)
    preferred_backbones: ClassVar[dict[str, str]] = {"image": "lenet"}
    # graphs: DOMINANT's encoder width and optimiser (Ding et al. 2019; PyGOD's defaults)
    modality_defaults: ClassVar[dict] = {"graph": {
        "hidden_dims": (64, 64), "dropout": 0.0, "lr": 4e-3,
        "weight_decay": 0.0, "epochs": 100}}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "activation": [Options(tuple(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "batch_norm": [BOOLEAN],
    }

    def __init__(self, hidden_dims=(128, 64), activation="relu", dropout=0.2, batch_norm=False,
                 backbone="auto", epochs=30, batch_size=64, lr=1e-3, weight_decay=3e-4,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
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
        hidden = tuple(self.hidden_dims)
        options = {"kind": self.backbone, "activation": self.activation, "dropout": self.dropout,
                   "batch_norm": self.batch_norm, "prefer": self.preferred_backbones}
        encoder = build_backbone(spec, hidden_dims=hidden[:-1] or hidden, out_dim=hidden[-1],
                                 **options)
        decoder = build_decoder(spec, latent_dim=hidden[-1], hidden_dims=hidden[:-1] or hidden,
                                **options)
        return AutoEncoderNet(encoder, decoder)

    def loss(self, batch: Batch) -> torch.Tensor:
        return reconstruction_error(batch.x, self.model_(batch.x))

    def score(self, batch: Batch) -> torch.Tensor:
        return reconstruction_error(batch.x, self.model_(batch.x))

    def score_terms(self, x: torch.Tensor) -> torch.Tensor:
        """``(x − D(E(x)))² / m`` per value (``m`` values per sample): the terms whose sum is
        the score (the per-feature reconstruction error)."""
        return (x - self.model_(x)).pow(2) / x[0].numel()

    @torch.no_grad()
    def anomaly_map_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Squared reconstruction error per pixel, summed over channels."""
        return reconstruction_map(x, self.model_(x))

    @torch.no_grad()
    def clip_frame_scores(self, X: Any) -> np.ndarray:
        """Video clips ``(n, T, C, H, W)``: the reconstruction error of each frame of each
        clip, the mean squared error over that frame's channels and pixels (Hasan et al.'s
        ``e(t) = Σ_(x,y) ||I(x,y,t) − f_W(I)(x,y,t)||²`` divided by the pixel count), float64
        ``(n_clips, T)``; its mean over ``T`` is the clip's score. ``VideoDetector(...,
        anchor="frame")`` gives each frame its own error, averaged over the clips covering it.

        Raises
        ------
        ValueError
            The detector was not fitted on video clips.
        """
        return self._clip_errors(X, "clip_frame_scores",
                                 lambda error: error.flatten(2).mean(dim=2))

    @torch.no_grad()
    def clip_maps(self, X: Any) -> np.ndarray:
        """Video clips ``(n, T, C, H, W)``: the squared reconstruction error per pixel, summed
        over channels and averaged over the clip's frames, float64 ``(n_clips, H, W)``
        (:meth:`deepad.VideoDetector.anomaly_map` spreads it over the clip's frames).

        Raises
        ------
        ValueError
            The detector was not fitted on video clips.
        """
        return self._clip_errors(X, "clip_maps", lambda error: error.sum(dim=2).mean(dim=1))

    def _clip_errors(self, X: Any, method: str,
                     reduce: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
        """``reduce`` of the squared reconstruction error ``(n, T, C, H, W)`` of video clips,
        in batches of about a million values, as float64."""
        X = self._check_input(X)
        if self.spec_.modality != "video":
            msg = (f"{method} needs a detector fitted on video clips; this one was fitted on "
                   f"{self.spec_.modality} data.")
            raise ValueError(msg)
        self.model_.eval()
        rows = max(1, 2**20 // max(1, X[0].size))
        out = []
        for start in range(0, len(X), rows):
            x = torch.from_numpy(X[start:start + rows]).to(self.device_)
            out.append(reduce((x - self.model_(x)).pow(2)).double().cpu().numpy())
        return np.concatenate(out)


# ============================================================================ RandNet
MIN_WIDTH = 2  # narrowest layer of RandNet's funnel


def funnel_widths(width: int, alpha: float, n_layers: int) -> tuple[int, ...]:
    """RandNet's encoder widths: ``n_layers`` layers from ``width`` units, each ``alpha``
    times as wide as the one before it (rounded up, at least 2 units); the last one is the
    bottleneck.

    >>> funnel_widths(64, 0.5, 2), funnel_widths(100, 0.5, 3), funnel_widths(8, 0.25, 3)
    ((64, 32), (100, 50, 25), (8, 2, 2))
    """
    widths = [width]
    for _ in range(n_layers - 1):
        widths.append(max(MIN_WIDTH, math.ceil(alpha * widths[-1])))
    return tuple(widths)


def member_errors(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Per-member, per-sample mean squared error: ``(members, batch, ...)`` →
    ``(members, batch)``."""
    return (x - x_hat).pow(2).flatten(2).mean(dim=2)


def median_standardised(errors: torch.Tensor, mean: torch.Tensor,
                        std: torch.Tensor) -> torch.Tensor:
    """RandNet's score: the median over members of ``(e_m(x) − μ_m) / σ_m``.

    ``errors`` has shape (members, batch); ``mean`` and ``std`` (members,) are each member's
    error statistics over the training data. With an even number of members the median is
    the mean of the two middle values.
    """
    z, _ = ((errors - mean[:, None]) / std[:, None]).sort(dim=0)
    middle = len(z) // 2
    return z[middle] if len(z) % 2 else 0.5 * (z[middle - 1] + z[middle])


class EnsembleLinear(nn.Module):
    """``n_members`` independent linear layers computed in one batched matrix product.

    Each member's weight matrix is multiplied by a fixed random binary mask (the ``mask``
    buffer, drawn once when the layer is made; an entry is 0 with probability
    ``drop_ratio``): RandNet's randomly dropped connections. Input ``(members, batch, in)``.
    """

    def __init__(self, n_members: int, in_dim: int, out_dim: int, drop_ratio: float) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)  # nn.Linear's default initialisation range
        self.weight = nn.Parameter(torch.empty(n_members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, 1, out_dim).uniform_(-bound, bound))
        keep = torch.rand(n_members, in_dim, out_dim) >= drop_ratio
        self.register_buffer("mask", keep.to(torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight * self.mask)


class _ErrorStatistics(nn.Module):
    """Holds each member's mean and standard deviation of the training errors (buffers)."""

    def __init__(self, n_members: int) -> None:
        super().__init__()
        self.n_members = n_members
        self.register_buffer("error_mean", torch.zeros(n_members))
        self.register_buffer("error_std", torch.ones(n_members))

    def apply_masks(self) -> None:
        """Re-impose the dropped connections after an optimiser step (no-op by default)."""


class RandomlyConnectedEnsemble(_ErrorStatistics):
    """RandNet's members for tabular rows, vectorised over members.

    Each member is the autoencoder ``d → widths → reversed(widths[:-1]) → d`` with a fixed
    random mask on every weight matrix (:class:`EnsembleLinear`). Activations after Chen et
    al. (2017): tanh (their sigmoid, zero-centred) after the first hidden layer, ReLU after
    the other hidden layers, and a sigmoid output when ``output_sigmoid``, else a linear one.
    """

    def __init__(self, n_members: int, n_features: int, widths: tuple[int, ...],
                 drop_ratio: float, output_sigmoid: bool) -> None:
        super().__init__(n_members)
        sizes = [n_features, *widths, *reversed(widths[:-1]), n_features]
        self.layers = nn.ModuleList(EnsembleLinear(n_members, a, b, drop_ratio)
                                    for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.output_sigmoid = output_sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, d)`` (the same rows for every member) or ``(members, batch, d)`` →
        reconstructions ``(members, batch, d)``."""
        h = x.expand(self.n_members, *x.shape) if x.dim() == 2 else x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i == 0 and i < last:
                h = torch.tanh(h)
            elif i < last:
                h = torch.relu(h)
            elif self.output_sigmoid:
                h = torch.sigmoid(h)
        return h


class _Masks(nn.Module):
    """One member's masks, as buffers named after the parameters they mask."""


class MaskedMembers(_ErrorStatistics):
    """RandNet's members for any modality: a list of factory autoencoders, run one after the
    other, each weight matrix (every parameter of two or more dimensions: linear, convolution
    and recurrent weights) multiplied by its own fixed random binary mask.

    The masks are imposed on the weights after initialisation and again after every
    optimiser step (:meth:`apply_masks`), so every forward pass uses the masked weights.
    """

    def __init__(self, members: list[nn.Module], drop_ratio: float, output_sigmoid: bool,
                 sample_ndim: int) -> None:
        super().__init__(len(members))
        self.sample_ndim = sample_ndim
        self.members = nn.ModuleList(members)
        self.masks = nn.ModuleList()
        for member in members:
            masks = _Masks()
            for name, parameter in member.named_parameters():
                if parameter.dim() >= 2:
                    keep = torch.rand(parameter.shape) >= drop_ratio
                    masks.register_buffer(name.replace(".", "__"), keep.to(torch.float32))
            self.masks.append(masks)
        self.output_sigmoid = output_sigmoid
        self.apply_masks()

    @torch.no_grad()
    def apply_masks(self) -> None:
        for member, masks in zip(self.members, self.masks, strict=True):
            for name, parameter in member.named_parameters():
                if parameter.dim() >= 2:
                    parameter.mul_(getattr(masks, name.replace(".", "__")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` for every member, or ``(members, batch, ...)`` → ``(members, batch, ...)``."""
        shared = x.dim() == self.sample_ndim + 1
        out = torch.stack([member(x if shared else x[i]) for i, member in
                           enumerate(self.members)])
        return torch.sigmoid(out) if self.output_sigmoid else out


@register
class RandNet(DeepDetector):
    """RandNet: an ensemble of randomly connected autoencoders trained with adaptive sampling.

    Each of the ``n_estimators`` members is an autoencoder whose connections were dropped at
    random once, when it was made: every weight matrix is multiplied by a fixed binary mask
    whose entries are 0 with probability ``drop_ratio`` (unlike dropout, the mask never
    changes; the masks are buffers, saved with the model). Members differ by their masks,
    their initial weights and the rows they train on, and their errors are combined
    robustly (Chen, Sathe, Aggarwal & Turaga 2017).

    Network (rows, Sec. 3 of the paper): the encoder's layers shrink by the factor ``alpha``
    to a bottleneck, ``n_layers`` layers from ``width`` units (``64 → 32`` by default), and
    the decoder mirrors them back to the ``d`` features; a zero-centred sigmoid (tanh) after
    the first hidden layer, ReLU after the others, a linear output (``output_activation=
    "sigmoid"`` gives the paper's sigmoid output, for data in [0, 1]). All members are computed
    together as batched matrix products (one ``baddbmm`` per layer), faster per training step
    than a loop over members (measured: ``docs/decisions.md``). Windows: each member is the
    modality's factory autoencoder (TCN encoder, GRU decoder, widths as for rows) with masks on
    all its weight matrices, run one after the other (a recurrent decoder cannot be batched over
    members); the masks are re-imposed after every optimiser step. Images: the same, with the
    convolutional autoencoder (masks on the convolution kernels: connections between channels
    at a kernel position; the LeNet-type autoencoder of :class:`AutoEncoder` by default); the
    paper evaluates tabular data only. :meth:`anomaly_map` is the gradient map of the median
    score.

    Loss of member m on its sample ``B_m`` of a mini-batch:
    ``L_m = 1/|B_m| Σ_{x∈B_m} ||x − f_m(x)||² / d``; the members' losses are summed, so each
    member gets its own gradient.

    Adaptive sampling (the paper grows the training sample over the epochs): in epoch ``e``
    of ``E`` (from 0) each member trains on its own random share
    ``p_e = initial_sample ** (1 − e / (E − 1))`` of every mini-batch, so the sample each
    member sees per epoch grows geometrically from ``initial_sample · n`` rows in the first
    epoch to all ``n`` rows in the last (0.25, 0.29, ..., 1 with the defaults), and members
    see different rows.

    Score (Sec. 4): each member's error ``e_m(x) = ||x − f_m(x)||² / d`` is standardised by
    its mean ``μ_m`` and standard deviation ``σ_m`` over the training data, and the score is
    the median over members, ``s(x) = median_m (e_m(x) − μ_m) / σ_m`` (the mean of the two
    middle values for an even number of members).

    Deviations, each measured on the ADBench quick suite (``docs/decisions.md``): the funnel
    starts at ``width`` units rather than at ``d`` (a funnel from ``d`` has 2-3 unit ReLU
    layers on 6-8 features, which died in training: every member predicted the mean);
    tanh instead of sigmoid after the first layer (tanh(x) = 2σ(2x) − 1, the same shape,
    zero-centred, and it ranked better than sigmoid with 10 more epochs); a
    linear output; Adam; the sample grows inside the shared trainer's mini-batches (fewer
    rows per step early on, rather than fewer steps); all members share one architecture.

    Parameters
    ----------
    n_estimators : int, default 10
        Number of autoencoders in the ensemble.
    drop_ratio : float in [0, 1), default 0.5
        Probability that a connection (a weight) is dropped.
    width : int, default 64
        Units of the first hidden layer (for windows: the TCN / GRU width).
    alpha : float in (0, 1], default 0.5
        Width ratio of consecutive encoder layers.
    n_layers : int, default 2
        Encoder layers (the last is the bottleneck): widths ``width · alpha^k``, rounded up,
        at least 2.
    output_activation : {"linear", "sigmoid"}, default "linear"
    initial_sample : float in (0, 1], default 0.25
        Share of each mini-batch a member trains on in the first epoch (1 turns adaptive
        sampling off).
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector` (defaults: 20 epochs, batch 128, lr 5e-3).

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_, device_
    model_ : torch.nn.Module
        The members; ``model_.error_mean`` and ``model_.error_std`` hold μ_m and σ_m, and
        the masks are the ``mask`` buffers of its layers (rows) or ``model_.masks`` (windows).

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import RandNet
    >>> X = np.random.default_rng(0).uniform(size=(200, 6))
    >>> det = RandNet(n_estimators=4, epochs=2, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape, det.model_.error_mean.shape
    ((3,), torch.Size([4]))

    References
    ----------
    Chen, Sathe, Aggarwal & Turaga, "Outlier Detection with Autoencoder Ensembles", SIAM SDM
    2017 (Sec. 3: randomly connected autoencoders, adaptive sampling; Sec. 4: combination).

    See Also
    --------
    AutoEncoder : one fully connected autoencoder.
    """

    name = "RandNet"
    category = "generic_normality"
    subcategory = "autoencoders"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image")
    reference = ("Chen, Sathe, Aggarwal & Turaga, Outlier Detection with Autoencoder "
                 "Ensembles, SDM 2017")
    test_params: ClassVar[dict] = {"n_estimators": 3, "epochs": 3, "width": 8,
                                   "batch_size": 32}
    preferred_backbones: ClassVar[dict[str, str]] = {"image": "lenet"}  # light conv AE

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **{k: v for k, v in DeepDetector._parameter_constraints.items() if k != "hidden_dims"},
        "n_estimators": [Interval(numbers.Integral, 1, None)],
        "drop_ratio": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "width": [Interval(numbers.Integral, 1, None)],
        "alpha": [Interval(numbers.Real, 0.0, 1.0, closed="right")],
        "n_layers": [Interval(numbers.Integral, 1, None)],
        "output_activation": [Options(("linear", "sigmoid"))],
        "initial_sample": [Interval(numbers.Real, 0.0, 1.0, closed="right")],
    }

    def __init__(self, n_estimators=10, drop_ratio=0.5, width=64, alpha=0.5, n_layers=2,
                 output_activation="linear", initial_sample=0.25,
                 backbone="auto", epochs=20, batch_size=128, lr=5e-3, weight_decay=0.0,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.n_estimators = n_estimators
        self.drop_ratio = drop_ratio
        self.width = width
        self.alpha = alpha
        self.n_layers = n_layers
        self.output_activation = output_activation
        self.initial_sample = initial_sample
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

    # -------------------------------------------------------------- network
    def build(self, spec: InputSpec) -> nn.Module:
        kind = resolve_backbone(spec, self.backbone, self.preferred_backbones)
        sigmoid = self.output_activation == "sigmoid"
        widths = funnel_widths(self.width, self.alpha, self.n_layers)
        if kind == "mlp":
            return RandomlyConnectedEnsemble(self.n_estimators, spec.n_features, widths,
                                             self.drop_ratio, sigmoid)
        hidden = widths if len(widths) > 1 else widths * 2
        members = []
        for _ in range(self.n_estimators):
            encoder = build_backbone(spec, hidden_dims=hidden[:-1] or hidden,
                                     out_dim=hidden[-1], kind=kind)
            decoder = build_decoder(spec, latent_dim=hidden[-1],
                                    hidden_dims=hidden[:-1] or hidden, kind=kind)
            members.append(AutoEncoderNet(encoder, decoder))
        return MaskedMembers(members, self.drop_ratio, sigmoid, len(spec.sample_shape))

    # -------------------------------------------------------------- fit phases
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        try:
            super()._fit(X, y)
        finally:
            self.__dict__.pop("_epoch", None)
        self._set_error_statistics(torch.from_numpy(X).to(self.device_))

    @torch.no_grad()
    def _set_error_statistics(self, X: torch.Tensor) -> None:
        """μ_m and σ_m of every member's error over the training data (eval mode)."""
        errors = forward_in_chunks(self.model_.eval(), X,
                                   lambda x: member_errors(x, self.model_(x)), dim=1)
        self.model_.error_mean.copy_(errors.mean(dim=1))
        self.model_.error_std.copy_(errors.std(dim=1, correction=0).clamp_min(1e-12))

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        self._epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._epoch = epoch + 1
        logs["sample"] = self.sample_share(epoch)

    def sample_share(self, epoch: int) -> float:
        """Share of each mini-batch a member trains on in ``epoch`` (counted from 0)."""
        if self.epochs <= 1:
            return 1.0
        return float(self.initial_sample ** (1.0 - min(epoch, self.epochs - 1)
                                             / (self.epochs - 1)))

    def _member_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Each member's own random sample of the batch: ``(members, k, ...)``."""
        n = len(x)
        k = max(1, round(self.sample_share(self._epoch) * n))
        if k >= n:
            return x.expand(self.n_estimators, *x.shape)
        order = torch.rand(self.n_estimators, n, generator=self._generator).argsort(dim=1)
        return x[order[:, :k].to(x.device)]

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        (optimizer,) = optimizers
        optimizer.zero_grad(set_to_none=True)
        x = self._member_rows(batch.x)
        errors = member_errors(x, self.model_(x))
        errors.mean(dim=1).sum().backward()  # one independent objective per member
        self.clip_gradients(self.model_.parameters())
        optimizer.step()
        self.model_.apply_masks()
        return {"loss": errors.detach().mean()}

    def loss(self, batch: Batch) -> torch.Tensor:
        return member_errors(batch.x.expand(self.n_estimators, *batch.x.shape),
                             self.model_(batch.x)).mean(dim=0)

    def score(self, batch: Batch) -> torch.Tensor:
        errors = member_errors(batch.x.expand(self.n_estimators, *batch.x.shape),
                               self.model_(batch.x))
        return median_standardised(errors, self.model_.error_mean, self.model_.error_std)


# ============================================================================ RDA
def shrink_l1(x: torch.Tensor, lam: float) -> torch.Tensor:
    """Proximal operator of ``λ||S||_1``: elementwise soft-thresholding
    ``sign(x) · max(|x| − λ, 0)``."""
    return torch.sign(x) * torch.clamp(x.abs() - lam, min=0.0)


def shrink_l21(x: torch.Tensor, lam: float) -> torch.Tensor:
    """Proximal operator of ``λ||S||_{2,1}`` with one group per sample (row, or whole
    window): ``s_i · max(0, 1 − λ / ||s_i||_2)``. Rows with ``||s_i||_2 <= λ`` become 0."""
    flat = x.flatten(1)
    norms = flat.norm(dim=1, keepdim=True)
    factor = torch.clamp(1.0 - lam / norms.clamp_min(torch.finfo(x.dtype).tiny), min=0.0)
    return (flat * factor).view_as(x)


SHRINK = {"l1": shrink_l1, "l21": shrink_l21}


def residual_sizes(residual: torch.Tensor, penalty: str) -> torch.Tensor:
    """The sizes the proximal operator compares with λ: ``|r_ij|`` for every entry (l1) or
    ``||r_i||_2`` for every sample (l2,1)."""
    return residual.abs().flatten() if penalty == "l1" else residual.flatten(1).norm(dim=1)


@register
class RobustAutoEncoder(AutoEncoder):
    """Robust deep autoencoder (RDA): the training data is split into a part an autoencoder
    reconstructs and a sparse part of outliers, ``X = L_D + S``.

    Objective (Zhou & Paffenroth 2017, Eq. 5 for ``penalty="l1"``, Eq. 7 for ``"l21"``):
    ``min ||L_D − D(E(L_D))||_2 + λ ||S||`` subject to ``X − L_D − S = 0``, with
    ``||S||_1`` (elementwise: single corrupted entries) or ``||S||_{2,1} = Σ_i ||s_i||_2``
    (one group per sample: whole rows or windows set aside as outliers). Solved by
    alternating, as the paper's Algorithm 1 (Algorithm 2 for l2,1), for at most ``n_outer``
    iterations from ``S = 0``:

    1. ``L_D = X − S``; train the autoencoder on ``L_D`` for ``inner_epochs`` epochs (mean
       squared error, through the shared :class:`~deepad.core.trainer.Trainer`, one run per
       iteration, with one optimiser whose state carries over between iterations);
    2. ``L_D = D(E(L_D))``; ``S = prox_λ(X − L_D)``, the proximal operator of the penalty:
       soft-thresholding ``sign(r) · max(|r| − λ, 0)`` of every entry (l1), or
       ``r_i · max(0, 1 − λ / ||r_i||_2)`` of every sample (l2,1);
    3. stop when ``c1 = ||X − L_D − S||_F / ||X||_F < tol`` or
       ``c2 = ||LS₀ − L_D − S||_F / ||X||_F < tol`` (``LS₀``: the previous ``L_D + S``).

    λ: a number in the units of the data, or ``lam="auto"`` (default): after the first
    iteration, which trains a plain autoencoder (``S = 0``), λ is set once to the
    ``1 − contamination`` quantile of the residual sizes ``|r_ij|`` (l1) or ``||r_i||_2``
    (l2,1), so that ``S`` starts with the expected share of outlying entries or rows, and
    it stays fixed after that (``lam_``). A fixed λ below the normal rows' residuals makes
    every row shrink toward the autoencoder's own output and training stalls (on the planted
    rows, λ = 0.1 left the normal rows' median residual at 0.43-0.51, against 0.12 with the
    quantile).

    Score: ``S`` exists only for the training rows, so rows are scored by the
    reconstruction error of the trained autoencoder, ``s(x) = ||x − D(E(x))||² / d``, for
    training and new rows alike (``decision_scores_`` equals ``decision_function`` on the
    training data). With l2,1 this ranks rows as the norm of their shrunk residual
    ``||prox_λ(x − D(E(x)))||_2 = max(0, ||x − D(E(x))||_2 − λ)`` would, without its ties
    at 0. The training decomposition is kept: ``clean_`` (``L_D``, the autoencoder's
    reconstruction at the last iteration) and ``sparse_`` (``S``); ``X ≈ clean_ + sparse_``
    up to ``c1``, and the rows of ``sparse_`` with a non-zero norm are the outliers the
    method set aside.

    Images: ``S`` is per pixel and channel (l1: corrupted pixels, as the paper's MNIST
    experiments) or per image (l2,1), the autoencoder is the convolutional one of
    :class:`AutoEncoder`, and :meth:`anomaly_map` its per-pixel reconstruction error.

    Defaults (chosen on the ADBench quick suite, ``docs/decisions.md``; current results:
    ``docs/results/quick.md``): l1 with 8 iterations of 4 epochs (ahead of l2,1 with 5 × 4),
    :class:`AutoEncoder`'s network.

    Deviations: the network is :class:`AutoEncoder`'s (ReLU, dropout, Adam) instead of the
    paper's sigmoid layers; the automatic λ; the l2,1 groups are samples (the paper's
    outlier-detection experiments group rows as well).

    Parameters
    ----------
    lam : "auto" or float >= 0, default "auto"
        λ, the weight of the sparsity penalty: residuals (l1: entries, l2,1: sample norms)
        smaller than λ stay in ``L_D``; a smaller λ sets more data aside.
    penalty : {"l1", "l21"}, default "l1"
    n_outer : int, default 8
        Maximum number of alternating iterations.
    inner_epochs : int, default 4
        Epochs of autoencoder training per iteration.
    tol : float, default 1e-4
        Convergence tolerance of ``c1`` and ``c2``.
    hidden_dims, activation, dropout, batch_norm, backbone, batch_size, lr, weight_decay,
    validation_size, patience, grad_clip, contamination, device, random_state, verbose
        As :class:`AutoEncoder` (``patience`` applies within each iteration).

    Attributes
    ----------
    decision_scores_, threshold_, labels_, model_, device_
    lam_ : float
        The λ used.
    clean_ : ndarray, the training data's shape
        ``L_D``, the part of the training data the autoencoder reconstructs.
    sparse_ : ndarray, the training data's shape
        ``S``, the sparse outlier part of the training data.
    history_ : list of dict
        Per-epoch losses of every inner run, with its iteration (``outer``).
    convergence_ : list of dict
        ``c1``, ``c2`` and the share of non-zero entries (l1) or rows (l2,1) of ``S``
        (``sparse_share``) after every iteration.
    n_outer_ : int
        Iterations run. ``converged_`` : bool, whether a criterion fell below ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import RobustAutoEncoder
    >>> X = np.random.default_rng(0).uniform(size=(200, 5))
    >>> det = RobustAutoEncoder(n_outer=2, inner_epochs=1, random_state=0).fit(X)
    >>> det.sparse_.shape, det.n_outer_
    ((200, 5), 2)

    References
    ----------
    Zhou & Paffenroth, "Anomaly Detection with Robust Deep Autoencoders", KDD 2017
    (Sec. 3-4, Eq. 5 and 7, Algorithms 1 and 2).

    See Also
    --------
    AutoEncoder : the same network trained on all the data.
    """

    name = "RobustAutoEncoder"
    category = "generic_normality"
    subcategory = "autoencoders"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image")
    reference = ("Zhou & Paffenroth, Anomaly Detection with Robust Deep Autoencoders, "
                 "KDD 2017")
    test_params: ClassVar[dict] = {"n_outer": 2, "inner_epochs": 2, "hidden_dims": (16, 4),
                                   "batch_size": 32}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **{k: v for k, v in AutoEncoder._parameter_constraints.items() if k != "epochs"},
        "lam": [Options(("auto",)), Interval(numbers.Real, 0.0, None)],
        "penalty": [Options(("l1", "l21"))],
        "n_outer": [Interval(numbers.Integral, 1, None)],
        "inner_epochs": [Interval(numbers.Integral, 1, None)],
        "tol": [Interval(numbers.Real, 0.0, None)],
    }

    def __init__(self, lam="auto", penalty="l1", n_outer=8, inner_epochs=4, tol=1e-4,
                 hidden_dims=(128, 64), activation="relu", dropout=0.2, batch_norm=False,
                 backbone="auto", batch_size=64, lr=1e-3, weight_decay=1e-5,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.lam = lam
        self.penalty = penalty
        self.n_outer = n_outer
        self.inner_epochs = inner_epochs
        self.tol = tol
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.backbone = backbone
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

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.device_ = resolve_device(self.device)
        self.seed_ = resolve_seed(self.random_state)
        X_t = torch.from_numpy(X).to(self.device_)
        with seeded(self.seed_, self.device_) as generator:
            self.model_ = self.build(self.spec_).to(self.device_)
            self._generator = generator
            self._optimizers = None
            try:
                clean, sparse = self._decompose(X_t)
            finally:
                del self._generator, self._optimizers
        self.clean_ = clean.cpu().numpy()
        self.sparse_ = sparse.cpu().numpy()

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        # one optimiser for the whole fit: its state carries over between iterations
        if self._optimizers is None:
            self._optimizers = super().configure_optimizers()
        return self._optimizers

    def _decompose(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The alternating minimisation (Algorithm 1 / 2); returns ``(L_D, S)``."""
        shrink = SHRINK[self.penalty]
        scale = float(X.norm()) or 1.0
        sparse = torch.zeros_like(X)
        previous = X  # L_D + S before the first iteration (L_D = X, S = 0)
        self.history_, self.convergence_, self.converged_ = [], [], False
        for outer in range(1, self.n_outer + 1):
            trainer = Trainer(epochs=self.inner_epochs, batch_size=self.batch_size,
                              generator=self._generator, validation_size=self.validation_size,
                              patience=self.patience, verbose=bool(self.verbose))
            clean = X - sparse
            for record in trainer.fit(self, clean, None):
                record["epoch"] = len(self.history_) + 1
                self.history_.append({**record, "outer": outer})
            recon = forward_in_chunks(self.model_, clean)
            if outer == 1:
                self.lam_ = self._resolve_lam(X - recon)
            sparse = shrink(X - recon, self.lam_)
            c1 = float((X - recon - sparse).norm()) / scale
            c2 = float((previous - recon - sparse).norm()) / scale
            previous = recon + sparse
            share = float((residual_sizes(sparse, self.penalty) > 0).double().mean())
            self.convergence_.append({"outer": outer, "c1": c1, "c2": c2, "sparse_share": share})
            self.n_outer_ = outer
            if c1 < self.tol or c2 < self.tol:
                self.converged_ = True
                break
        return recon, sparse

    def _resolve_lam(self, residual: torch.Tensor) -> float:
        """λ as given, or for ``lam="auto"`` the ``1 − contamination`` quantile of the
        residual sizes after the first iteration (a plain autoencoder, as ``S = 0``)."""
        if self.lam != "auto":
            return float(self.lam)
        sizes = residual_sizes(residual, self.penalty).double()
        if len(sizes) > 2**24:  # torch.quantile's input limit: a strided subsample
            sizes = sizes[:: math.ceil(len(sizes) / 2**24)]
        return float(torch.quantile(sizes, 1.0 - self.contamination))

    # -------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state.update(convergence=self.convergence_, n_outer=self.n_outer_,
                     converged=self.converged_, lam=self.lam_)
        tensors["clean"] = torch.from_numpy(self.clean_.copy())
        tensors["sparse"] = torch.from_numpy(self.sparse_.copy())
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors, device)
        self.convergence_ = read_field(state, "convergence", "list", default=[])
        self.n_outer_ = read_field(state, "n_outer", "int", default=0, low=0)
        self.converged_ = read_field(state, "converged", "bool", default=False)
        self.lam_ = read_field(state, "lam", "float", low=0.0)
        shape = (len(self.decision_scores_), *self.spec_.sample_shape)
        for name in ("clean", "sparse"):
            tensor = read_tensor(tensors, name, floating=True)
            if tuple(tensor.shape) != shape:
                msg = (f"weights.safetensors: tensor {name!r} must have shape {shape} (the "
                       f"training samples); got {tuple(tensor.shape)}.")
                raise ValueError(msg)
            setattr(self, f"{name}_", tensor.numpy())


# ============================================================================ VAE
LOG_2PI = math.log(2.0 * math.pi)
LOGVAR_RANGE = (-30.0, 20.0)  # clamp of the encoder's log-variance: exp() stays finite


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``−log N(x; mean, diag(exp(logvar)))`` per sample, summed over features (and steps):
    ``½ Σ_j [log 2π + logvar_j + (x_j − mean_j)² / exp(logvar_j)]``."""
    terms = LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar)
    return 0.5 * terms.flatten(1).sum(dim=1)


def bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``−log Bernoulli(x; sigmoid(logits))`` per sample, summed over features:
    ``−Σ_j [x_j log p_j + (1 − x_j) log(1 − p_j)]`` (cross-entropy, x in [0, 1])."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per sample:
    ``½ Σ_k (mu_k² + exp(logvar_k) − 1 − logvar_k)`` (Kingma & Welling 2014, App. B)."""
    return 0.5 * (mu.pow(2) + torch.exp(logvar) - 1.0 - logvar).sum(dim=1)


class VAENet(nn.Module):
    """Gaussian encoder ``q(z|x) = N(mu(x), diag(σ²(x)))`` and a decoder for the parameters
    of ``p(x|z)``: logits (Bernoulli), or a mean and a log-variance per feature (Gaussian),
    the variance with the smooth floor ``min_variance``: ``log(exp(v) + min_variance)``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int,
                 likelihood: str, min_variance: float, feature_dim: int = -1) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.log_min_variance = math.log(min_variance)
        self.feature_dim = feature_dim  # the decoder's output axis of (mean, log-variance)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def nll(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``−log p(x | z)`` per sample; ``z`` may hold several draws per sample
        (``(draws · batch, latent)`` with ``x`` repeated accordingly)."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return bernoulli_nll(x, out)
        mean, raw = out.chunk(2, dim=self.feature_dim)
        floor = torch.full_like(raw, self.log_min_variance)
        return gaussian_nll(x, mean, torch.logaddexp(raw, floor))

    def nll_terms(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The terms of :meth:`nll` per value of ``x`` (same shape as ``x``), unsummed."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(out, x, reduction="none")
        mean, raw = out.chunk(2, dim=self.feature_dim)
        logvar = torch.logaddexp(raw, torch.full_like(raw, self.log_min_variance))
        return 0.5 * (LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's mean (Gaussian) or probabilities (Bernoulli) at ``z = mu(x)``."""
        out = self.decoder(self.encode(x)[0])
        if self.likelihood == "bernoulli":
            return torch.sigmoid(out)
        return out.chunk(2, dim=self.feature_dim)[0]


@register
class VAE(DeepDetector):
    """Variational autoencoder scored by its reconstruction probability.

    A Gaussian encoder ``q(z|x) = N(μ(x), diag σ²(x))`` and a decoder ``p(x|z)``, Gaussian
    (a mean and a variance per feature, as An & Cho 2015) or Bernoulli (for data in [0, 1],
    ``likelihood="bernoulli"``), trained on the negative evidence lower bound (Kingma &
    Welling 2014, Eq. 3 and 10), with the KL weight β of Higgins et al. (2017; β = 1 is the
    ELBO): per sample, with one reparametrised draw ``z = μ(x) + σ(x) ⊙ ε``, ``ε ~ N(0, I)``,

    ``L(x) = −log p(x | z) + β KL(q(z|x) || N(0, I))``,
    ``KL = ½ Σ_k (μ_k² + σ_k² − 1 − log σ_k²)``,
    ``−log p(x|z) = ½ Σ_j [log 2π + log σ²_j(z) + (x_j − μ_j(z))² / σ²_j(z)]`` (Gaussian) or
    ``−Σ_j [x_j log p_j(z) + (1 − x_j) log(1 − p_j(z))]`` (Bernoulli).

    Score (An & Cho 2015, Algorithm 4; higher = more anomalous): the negative reconstruction
    log-probability averaged over ``L = n_samples`` draws from the encoder,
    ``s(x) = −1/L Σ_l log p(x | z_l)``, ``z_l = μ(x) + σ(x) ⊙ ε_l``. The ``ε_l`` are drawn
    from a local generator seeded with the fit's seed and are the same for every row, so a
    row's score does not depend on the rows scored with it, and the same seed gives the
    same scores.

    Deviations: An & Cho average the probabilities ``p(x|z_l)``; the mean of their
    logarithms is used here (it cannot underflow, and it is the expected log-likelihood the
    ELBO trains). The decoder's variance has a smooth floor, ``σ² = exp(v) + min_variance``
    (a near-constant feature would otherwise drive it to 0 and the likelihood to infinity).
    Dropout 0.2 in both networks by default: on the ADBench quick suite it lifted the mean
    AUC-ROC of the four small sets (measured: ``docs/decisions.md``; current results:
    ``docs/results/quick.md``).

    Images ``(n, C, H, W)``: a convolutional encoder and its mirror decoder (by default the
    LeNet-type pair of :class:`AutoEncoder`; ``backbone="conv"``: 3 x 3 blocks of widths
    ``hidden_dims``); the decoder outputs ``2C`` channels (a mean and a log-variance per
    channel and pixel; ``C`` logits for "bernoulli"). :meth:`anomaly_map` is
    the score's per-pixel terms, ``−1/L Σ_l log p(x_hw | z_l)`` summed over channels, so a
    map adds up to the image's score.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64, 32)
        Encoder widths (first = GRU/TCN width for windows); the decoder mirrors them.
    latent_dim : int, default 8
    likelihood : {"gaussian", "bernoulli"}, default "gaussian"
        ``p(x|z)``. "bernoulli" needs data in [0, 1].
    beta : float, default 1.0
        Weight β of the KL term.
    n_samples : int, default 10
        Draws ``L`` of ``z`` per row when scoring.
    min_variance : float, default 1e-3
        Floor of the Gaussian decoder's variance, in squared data units.
    activation : str, default "relu"
    dropout : float, default 0.2
        Dropout after every hidden layer of the encoder and (rows) the decoder.
    batch_norm : bool, default False
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector` (defaults: 30 epochs, batch 64, lr 1e-3).

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_, device_
    model_ : torch.nn.Module
        ``model_.encode(x)`` gives ``(μ, log σ²)``, ``model_.nll(x, z)`` ``−log p(x|z)``.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import VAE
    >>> X = np.random.default_rng(0).uniform(size=(200, 5))
    >>> det = VAE(epochs=2, random_state=0).fit(X)
    >>> bool(np.allclose(det.decision_function(X[:3]), det.decision_scores_[:3]))
    True

    References
    ----------
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (Eq. 3, 10; App. B).
    An & Cho, "Variational Autoencoder based Anomaly Detection using Reconstruction
    Probability", SNU Data Mining Center, Special Lecture on IE 2(1), 2015 (Algorithm 4).
    Higgins et al., "β-VAE", ICLR 2017.

    See Also
    --------
    AutoEncoder : a deterministic autoencoder scored by its reconstruction error.
    """

    name = "VAE"
    category = "generic_normality"
    subcategory = "autoencoders"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image")
    reference = ("Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014; An & Cho, "
                 "Variational autoencoder based anomaly detection using reconstruction "
                 "probability, 2015")
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (16,), "latent_dim": 4,
                                   "n_samples": 3, "batch_size": 32}
    preferred_backbones: ClassVar[dict[str, str]] = {"image": "lenet"}  # light conv AE

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "latent_dim": [Interval(numbers.Integral, 1, None)],
        "likelihood": [Options(("gaussian", "bernoulli"))],
        "beta": [Interval(numbers.Real, 0.0, None)],
        "n_samples": [Interval(numbers.Integral, 1, None)],
        "min_variance": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "activation": [Options(tuple(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "batch_norm": [BOOLEAN],
    }

    def __init__(self, hidden_dims=(64, 32), latent_dim=8, likelihood="gaussian", beta=1.0,
                 n_samples=10, min_variance=1e-3, activation="relu", dropout=0.2,
                 batch_norm=False, backbone="auto", epochs=30, batch_size=64, lr=1e-3,
                 weight_decay=0.0, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.beta = beta
        self.n_samples = n_samples
        self.min_variance = min_variance
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
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
        hidden = tuple(self.hidden_dims)
        options = {"kind": self.backbone, "activation": self.activation, "dropout": self.dropout,
                   "batch_norm": self.batch_norm, "prefer": self.preferred_backbones}
        encoder = build_backbone(spec, hidden_dims=hidden, out_dim=2 * self.latent_dim,
                                 **options)
        # the Gaussian decoder outputs a mean and a log-variance per feature
        outputs = 2 if self.likelihood == "gaussian" else 1
        if spec.modality == "image":
            decoder = build_decoder(spec, latent_dim=self.latent_dim, hidden_dims=hidden,
                                    out_channels=outputs * spec.n_features, **options)
        else:
            out_spec = dataclasses.replace(spec, n_features=outputs * spec.n_features)
            decoder = build_decoder(out_spec, latent_dim=self.latent_dim, hidden_dims=hidden,
                                    **options)
        return VAENet(encoder, decoder, self.latent_dim, self.likelihood, self.min_variance,
                      feature_dim=1 if spec.modality == "image" else -1)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        if self.likelihood == "bernoulli" and (X.min() < 0.0 or X.max() > 1.0):
            msg = (f"likelihood='bernoulli' needs data in [0, 1]; got values in "
                   f"[{X.min():.4g}, {X.max():.4g}]. Scale the features (e.g. MinMaxScaler) "
                   "or use likelihood='gaussian'.")
            raise ValueError(msg)
        super()._fit(X, y)

    def loss(self, batch: Batch) -> torch.Tensor:
        """The negative ELBO per sample, one reparametrised draw of ``z``."""
        mu, logvar = self.model_.encode(batch.x)
        # torch's global generator: forked and seeded for the fit (as dropout)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.model_.nll(batch.x, z) + self.beta * kl_standard_normal(mu, logvar)

    def _score_noise(self, device: torch.device) -> torch.Tensor:
        """The ``n_samples`` draws ε_l (n_samples, latent_dim), the same on every call."""
        generator = torch.Generator().manual_seed(int(self.seed_ or 0))
        return torch.randn(self.n_samples, self.latent_dim, generator=generator).to(device)

    def score(self, batch: Batch) -> torch.Tensor:
        mu, logvar = self.model_.encode(batch.x)
        eps = self._score_noise(mu.device)  # (L, latent)
        z = mu.unsqueeze(0) + torch.exp(0.5 * logvar).unsqueeze(0) * eps.unsqueeze(1)
        x = batch.x.unsqueeze(0).expand(self.n_samples, *batch.x.shape)
        nll = self.model_.nll(x.flatten(0, 1), z.flatten(0, 1))
        return nll.view(self.n_samples, -1).mean(dim=0)

    def score_terms(self, x: torch.Tensor) -> torch.Tensor:
        """``−log p(x_j | z_l)`` per value of ``x``, averaged over the same ``n_samples`` draws
        as :meth:`score`: the terms whose sum is the score."""
        mu, logvar = self.model_.encode(x)
        eps = self._score_noise(mu.device)
        z = mu.unsqueeze(0) + torch.exp(0.5 * logvar).unsqueeze(0) * eps.unsqueeze(1)
        xs = x.unsqueeze(0).expand(self.n_samples, *x.shape)
        terms = self.model_.nll_terms(xs.flatten(0, 1), z.flatten(0, 1))
        return terms.view(self.n_samples, *x.shape).mean(dim=0)

    @torch.no_grad()
    def anomaly_map_batch(self, x: torch.Tensor) -> torch.Tensor:
        """The score's terms per pixel: ``−log p(x_chw | z_l)`` averaged over the same
        ``n_samples`` draws as :meth:`score`, summed over channels (the map sums to the
        score)."""
        mu, logvar = self.model_.encode(x)
        eps = self._score_noise(mu.device)
        z = mu.unsqueeze(0) + torch.exp(0.5 * logvar).unsqueeze(0) * eps.unsqueeze(1)
        xs = x.unsqueeze(0).expand(self.n_samples, *x.shape)
        terms = self.model_.nll_terms(xs.flatten(0, 1), z.flatten(0, 1))
        return terms.view(self.n_samples, *x.shape).mean(dim=0).sum(dim=1)
