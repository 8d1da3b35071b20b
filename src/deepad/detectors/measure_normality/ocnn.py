"""One-class neural network (OC-NN): a one-class SVM objective on a learned hidden layer."""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import torch
from torch import nn

from deepad.core.chunks import forward_in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.params import Interval, Options
from deepad.core.pretrain import pretrain_autoencoder
from deepad.core.registry import register
from deepad.core.saved_state import read_field, read_history
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder
from deepad.nets.mlp import ACTIVATIONS


class Cosine(nn.Module):
    """``g(t) = cos(t) / √h`` over the ``h`` hidden units: the release's cosine activation
    (random Fourier features of a Gaussian kernel when ``V`` is Gaussian and has a uniform
    phase, Rahimi & Recht 2007)."""

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return torch.cos(t) / math.sqrt(t.shape[-1])


HIDDEN_ACTIVATIONS = {"linear": nn.Identity, "sigmoid": nn.Sigmoid, "cos": Cosine}
MEDIAN_ROWS = 1000  # rows (drawn at random) whose pairwise code distances set the bandwidth


def ocnn_objective(outputs: torch.Tensor, w: torch.Tensor, V: torch.Tensor, r: torch.Tensor,
                   nu: float) -> torch.Tensor:
    """Per-sample OC-NN objective (Chalapathy et al. 2018, Eq. 4-5); its mean over the batch is

    ``1/2 ||w||² + 1/2 ||V||_F² + 1/ν · 1/n Σ_n max(0, r − ŷ_n) − r`` with ``ŷ_n = ⟨w, g(V x_n)⟩``
    (``outputs``). The regularisers and ``− r`` are the same for every sample.
    """
    regulariser = 0.5 * w.pow(2).sum() + 0.5 * V.pow(2).sum()
    return regulariser + torch.clamp(r - outputs, min=0.0) / nu - r


def quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q``-quantile of a 1-D tensor with linear interpolation (``numpy.quantile``'s
    default), without ``torch.quantile``'s limit on the input size."""
    ordered = torch.sort(values.flatten()).values
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


class OCNNNet(nn.Module):
    """Encoder φ → hidden layer ``V`` → activation ``g`` → output weights ``w`` (no bias):
    ``ŷ(x) = ⟨w, g(V φ(x))⟩``. ``V`` has no bias, except for the cosine, whose bias is the
    phase ``b`` of ``cos(V φ + b)``. The threshold ``r`` is a buffer, so it is saved."""

    def __init__(self, encoder: nn.Module, hidden_units: int, hidden_activation: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.V = nn.Linear(encoder.out_dim, hidden_units, bias=hidden_activation == "cos")
        self.g = HIDDEN_ACTIVATIONS[hidden_activation]()
        self.w = nn.Linear(hidden_units, 1, bias=False)
        self.register_buffer("r", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w(self.g(self.V(self.encoder(x)))).squeeze(1)


@register
class OCNN(DeepDetector):
    """One-Class Neural Network: the one-class SVM objective on a network's hidden layer.

    An encoder φ (the backbone for the input's modality) feeds one hidden layer ``V`` with
    activation ``g`` and output weights ``w``: ``ŷ(x) = ⟨w, g(V φ(x))⟩``. As in the paper, the
    encoder is first trained as the encoder of an autoencoder (``pretrain_epochs``) and then
    frozen, so the one-class objective trains ``V`` and ``w`` on its features.

    Loss (Chalapathy, Menon & Chawla 2018, Eq. 4-5):
    ``min_{w,V,r} 1/2 ||w||² + 1/2 ||V||_F² + 1/ν · 1/n Σ_n max(0, r − ⟨w, g(V x_n)⟩) − r``.
    Training alternates as in Algorithm 1: gradient steps on ``(w, V)`` with ``r`` fixed, and
    after every epoch ``r`` is set to the ν-quantile of ``ŷ`` over the training data (the
    optimal ``r`` for fixed ``(w, V)``, the paper's Theorem). Score:
    ``s(x) = r − ⟨w, g(V φ(x))⟩``, the paper's decision value ``ŷ − r`` with the sign flipped
    (higher = more anomalous), so about a fraction ν of the training data scores above 0.

    The hidden activation. The paper's ``g`` (linear or sigmoid, no bias) makes
    ``g(V φ) − g(0)`` odd in φ: the boundary is (the sigmoid image of) a hyperplane through
    the origin of the code space, which cannot enclose the data, so along a line through the
    normal data only the anomalies of one side rank high, and the objective itself shrinks
    ``V`` (both measured, ``docs/decisions.md``). The default ``g`` is therefore the
    authors' release's cosine, ``g(t) = cos(t) / √h`` over the ``h`` hidden units, with the
    bias of ``V`` as a phase: ``ŷ(x) = ⟨w, cos(V φ(x) + b)⟩ / √h``. ``V`` starts as random
    Fourier features of a Gaussian kernel (Rahimi & Recht 2007): ``V ~ N(0, σ⁻² I)``,
    ``b ~ U[0, 2π)``, with σ = ``bandwidth`` × the median distance between the codes of the
    training data (at most 1,000 random rows; ``bandwidth_`` holds σ); then ``V``, ``b`` and
    ``w`` are trained by Eq. 4 (``b`` is not regularised). The objective is then a kernel
    one-class SVM on the codes, whose boundary encloses the data.

    Defaults (``docs/decisions.md``): the cosine with h = 2048 hidden units (the kernel
    estimate is noisy with fewer: planted windows ranked worse with 1,024), bandwidth 0.15,
    ν = 0.5 (the one-class SVM moves towards a kernel density estimate as ν grows; the paper
    leaves ν to the user, the release uses 0.01-0.04), an encoder ``d → 32 → 32`` (windows:
    a TCN of width 32) pre-trained for 50 epochs, then 50 epochs of Eq. 4 with Adam, lr 1e-3,
    batches of 64. These rank planted anomalies in rows and windows near perfectly, where the
    paper's sigmoid ranked them worse than chance (``tests/test_ocnn.py``,
    ``docs/decisions.md``).

    Deviations: the cosine activation and its Fourier initialisation (the release's
    activation, not the paper's); ν = 0.5; ``r`` starts at the ν-quantile of the outputs
    before the first step (the paper leaves ``r⁽⁰⁾`` open) and is set once more after
    training, so it matches the final weights also when early stopping restored earlier
    ones; Adam instead of the release's optimiser settings. With ``pretrain_epochs=0`` the
    encoder is trained jointly from a random initialisation (its weights take
    ``weight_decay``, the only bound on their scale); the regularisers of Eq. 4 act on ``V``
    and ``w`` only.

    Images: not supported, because Chalapathy et al. feed OC-NN the codes of an autoencoder
    pre-trained on the images; this class trains on rows and windows, so give it image
    embeddings as rows (e.g. the encoder of an AutoEncoder fitted on the images).

    Parameters
    ----------
    hidden_dims : tuple of int, default (32,)
        Hidden widths of the encoder (first = GRU/TCN width for windows); the pre-training
        decoder mirrors them.
    rep_dim : int, default 32
        Width of the encoder's output φ(x).
    hidden_units : int, default 2048
        Width h of the OC-NN hidden layer ``V``.
    hidden_activation : {"cos", "sigmoid", "linear"}, default "cos"
        The activation ``g`` of the hidden layer: the release's cosine (with a phase and the
        Fourier initialisation above) or the paper's two variants (no bias, PyTorch's
        default initialisation).
    bandwidth : float > 0, default 0.15
        Width σ of the cosine's Gaussian kernel, in units of the median distance between
        training codes. Unused by "sigmoid" and "linear".
    nu : float in (0, 1], default 0.5
        ν: an upper bound on the fraction of training data outside the boundary.
    pretrain_epochs : int, default 50
        Epochs of autoencoder pre-training of the encoder, which is then frozen; 0 trains the
        encoder jointly with the one-class objective instead.
    activation : str, default "relu"
        Activation of the encoder (and of the pre-training decoder).
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; ``epochs`` counts the one-class phase.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_ (with ``r`` per epoch), device_, spec_
    model_ : OCNNNet
        The network; ``model_.r`` is the threshold ``r``.
    bandwidth_ : float
        The kernel width σ (only with the cosine activation).
    pretrain_history_ : list of dict
        Per-epoch reconstruction losses of the pre-training phase (empty without it).

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import OCNN
    >>> X = np.random.default_rng(0).uniform(size=(200, 5))
    >>> det = OCNN(epochs=2, pretrain_epochs=1, random_state=0).fit(X)
    >>> det.decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Chalapathy, Menon & Chawla, "Anomaly Detection using One-Class Neural Networks",
    arXiv:1802.06360, 2018 (Eq. 4-5, Algorithm 1).
    Rahimi & Recht, "Random Features for Large-Scale Kernel Machines", NeurIPS 2007.

    See Also
    --------
    deepad.DeepSVDD : one-class hypersphere in the representation instead of a hyperplane.
    """

    name = "OCNN"
    category = "measure_normality"
    subcategory = "one_class"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence")
    reference = ("Chalapathy, Menon & Chawla, Anomaly Detection using One-Class Neural "
                 "Networks, arXiv:1802.06360, 2018")
    test_params: ClassVar[dict] = {"epochs": 2, "pretrain_epochs": 2, "hidden_dims": (16,),
                                   "rep_dim": 8, "hidden_units": 512, "bandwidth": 0.3,
                                   "batch_size": 32}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "rep_dim": [Interval(numbers.Integral, 1, None)],
        "hidden_units": [Interval(numbers.Integral, 1, None)],
        "hidden_activation": [Options(tuple(HIDDEN_ACTIVATIONS))],
        "nu": [Interval(numbers.Real, 0.0, 1.0, closed="right")],
        "pretrain_epochs": [Interval(numbers.Integral, 0, None)],
        "activation": [Options(tuple(ACTIVATIONS))],
        "bandwidth": [Interval(numbers.Real, 0.0, None, closed="neither")],
    }

    def __init__(self, hidden_dims=(32,), rep_dim=32, hidden_units=2048,
                 hidden_activation="cos", bandwidth=0.15, nu=0.5, pretrain_epochs=50,
                 activation="relu", backbone="auto", epochs=50, batch_size=64, lr=1e-3,
                 weight_decay=1e-6, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.rep_dim = rep_dim
        self.hidden_units = hidden_units
        self.hidden_activation = hidden_activation
        self.bandwidth = bandwidth
        self.nu = nu
        self.pretrain_epochs = pretrain_epochs
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

    # ------------------------------------------------------------------ networks
    def _encoder_options(self) -> dict[str, Any]:
        return {"hidden_dims": tuple(self.hidden_dims), "kind": self.backbone,
                "activation": self.activation}

    def build(self, spec: InputSpec) -> nn.Module:
        encoder = build_backbone(spec, out_dim=self.rep_dim, **self._encoder_options())
        return OCNNNet(encoder, self.hidden_units, self.hidden_activation)

    # ------------------------------------------------------------------ training
    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        self._train_X = X
        self.pretrain_history_ = []
        if self.pretrain_epochs > 0:
            self._pretrain(X)
        if self.hidden_activation == "cos":
            self._init_fourier_features(X)
        self._update_r()

    @torch.no_grad()
    def _init_fourier_features(self, X: torch.Tensor) -> None:
        """Random Fourier features of a Gaussian kernel on the codes: ``V ~ N(0, σ⁻² I)``,
        phase ``b ~ U[0, 2π)``, with ``σ = bandwidth ×`` the median distance between the
        codes of (up to ``MEDIAN_ROWS`` random) training samples (``bandwidth_`` holds σ)."""
        rows = torch.randperm(len(X), generator=self._generator, device=X.device)[:MEDIAN_ROWS]
        training = self.model_.encoder.training
        codes = self.model_.encoder.eval()(X[rows])
        self.model_.encoder.train(training)
        distances = torch.pdist(codes)
        median = float(distances.median()) if len(distances) else 0.0
        sigma = self.bandwidth * (median if median > 0 else 1.0)
        self.bandwidth_ = sigma
        V = self.model_.V
        V.weight.copy_(torch.randn(V.weight.shape, generator=self._generator,
                                   device=X.device) / sigma)
        V.bias.copy_(torch.rand(V.bias.shape, generator=self._generator,
                                device=X.device) * (2 * math.pi))

    def _pretrain(self, X: torch.Tensor) -> None:
        decoder = build_decoder(self.spec_, latent_dim=self.rep_dim, **self._encoder_options())
        self.pretrain_history_ = pretrain_autoencoder(
            self, self.model_.encoder, decoder, X, epochs=self.pretrain_epochs,
            optimizer=lambda params: torch.optim.Adam(params, lr=self.lr,
                                                      weight_decay=self.weight_decay),
            validation_size=self.validation_size, patience=self.patience)
        self.model_.encoder.requires_grad_(False)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        head = list(self.model_.V.parameters()) + [self.model_.w.weight]  # Eq. 4 regularises
        encoder = [p for p in self.model_.encoder.parameters() if p.requires_grad]
        groups = [{"params": head, "weight_decay": 0.0}]
        if encoder:
            groups.append({"params": encoder, "weight_decay": self.weight_decay})
        return [torch.optim.Adam(groups, lr=self.lr)]

    def loss(self, batch: Batch) -> torch.Tensor:
        return ocnn_objective(self.model_(batch.x), self.model_.w.weight, self.model_.V.weight,
                              self.model_.r, self.nu)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_.r - self.model_(batch.x)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._update_r()
        logs["r"] = float(self.model_.r)

    @torch.no_grad()
    def _update_r(self) -> None:
        """Algorithm 1's r-step: r ← the ν-quantile of ŷ over the training data."""
        outputs = forward_in_chunks(self.model_, self._train_X)
        self.model_.r.copy_(quantile(outputs, self.nu))

    def _fit(self, X, y) -> None:
        self.__dict__.pop("bandwidth_", None)
        try:
            super()._fit(X, y)
            self._update_r()  # matches the final weights (also after early stopping)
        finally:
            self.__dict__.pop("_train_X", None)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["pretrain_history"] = [{k: float(v) for k, v in rec.items()}
                                     for rec in self.pretrain_history_]
        if hasattr(self, "bandwidth_"):
            state["bandwidth"] = self.bandwidth_
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors, device)
        self.pretrain_history_ = read_history(state, "pretrain_history")
        if "bandwidth" in state:
            self.bandwidth_ = read_field(state, "bandwidth", "float", low=0.0)
