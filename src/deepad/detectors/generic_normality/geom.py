"""GEOM (Golan & El-Yaniv, NeurIPS 2018): which geometric transformation was applied to this
image? A classifier trained on normal images answers confidently; an anomaly confuses it.

Every transformation of the set is a fixed permutation of the pixels (a flip, a translation
with reflected borders, a rotation by a multiple of 90°), so the set is one index table
``sources`` of shape (T, height · width): output pixel p of transformation t reads input pixel
``sources[t, p]``. All T views of a batch are one gather ``x.flatten(2)[:, :, sources]``; no
Python loop runs over samples or transformations.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.core.chunks import in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.params import BOOLEAN, Interval, Options, PositiveInts
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.mlp import ACTIVATIONS

TRANSFORMATION_SETS = {"rotations": 4, "flip_rotations": 8, "all": 72}
"""Name → number of transformations (``transformations=`` of :class:`GEOM`)."""
IMAGE_BACKBONE = "dcgan"
"""The classifier ``backbone="auto"`` builds for GEOM and GOAD on images: the DCGAN-style
all-convolutional CNN (strided convolutions, no pooling), which trains and scores several
times more views per CPU second than the pooled CNN of :mod:`deepad.nets.conv` and a WRN
(``benchmarks/image_ssl_budget.py``, ``docs/decisions.md``)."""
_VIEWS_PER_CHUNK = 4096  # transformed images per forward pass when scoring (bounded memory)
_EULER_GAMMA = 0.5772156649015329  # −ψ(1)


# ============================================================================ transformations
def transformation_parameters(kind: str, shift: int) -> np.ndarray:
    """The (flip, tx, ty, k) of every transformation of the set ``kind``, shape (T, 4), in the
    order of the authors' ``Transformer``: ``itertools.product((False, True), (0, −s, s),
    (0, −s, s), range(4))``. ``flip``: mirror left-right first; ``tx`` / ``ty``: shift of the
    rows / columns (reflected borders); ``k``: then rotate by k · 90° counter-clockwise."""
    if kind not in TRANSFORMATION_SETS:
        msg = f"transformations must be one of {list(TRANSFORMATION_SETS)}; got {kind!r}."
        raise ValueError(msg)
    flips = (0, 1) if kind != "rotations" else (0,)
    shifts = (0, -shift, shift) if kind == "all" else (0,)
    return np.array([(f, tx, ty, k) for f in flips for tx in shifts for ty in shifts
                     for k in range(4)], dtype=np.int64)


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Indices outside ``[0, n)`` mirrored about the border, the edge pixel repeated
    (``d c b a | a b c d | d c b a``: scipy's ``mode="reflect"``, which the release's Keras
    ``apply_affine_transform(fill_mode="reflect")`` uses)."""
    index = np.mod(index, 2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


def transformation_sources(parameters: np.ndarray, side: int) -> np.ndarray:
    """Flat source pixel of every output pixel of each transformation: (T, side²) int64.

    Transformation (f, tx, ty, k) of a square image x, in the release's order:
    ``x1 = fliplr(x)`` if f; ``x2[i, j] = x1[reflect(i + tx), reflect(j + ty)]``;
    ``out = rot90(x2, k)`` (numpy's, counter-clockwise). Composed backwards, output pixel (i, j)
    reads ``x[r, c]`` with (r, c) found by undoing the rotation, the translation and the flip.
    """
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    last = side - 1
    # out = rot90(x2, k): out[i, j] = x2[rot_k(i, j)]
    rotations = {0: (i, j), 1: (j, last - i), 2: (last - i, last - j), 3: (last - j, i)}
    tables = []
    for flip, tx, ty, k in parameters:
        r, c = rotations[int(k)]
        r, c = _reflect(r + tx, side), _reflect(c + ty, side)
        if flip:
            c = last - c
        tables.append((r * side + c).ravel())
    return np.stack(tables).astype(np.int64)


def resolve_shift(kind: str, shift: int | str, side: int) -> int:
    """The translation in pixels: 0 for the sets without translations, ``round(side / 4)``
    for ``"auto"`` (8 on the paper's 32 x 32 images)."""
    if kind != "all":
        return 0
    resolved = max(1, round(side / 4)) if shift == "auto" else int(shift)
    if resolved >= side:
        msg = (f"shift={shift} gives a translation of {resolved} pixels, not less than the "
               f"image side {side}; use a smaller shift or 'auto'.")
        raise ValueError(msg)
    return resolved


def geometric_sources(spec: InputSpec, kind: str, shift: int | str,
                      method: str = "GEOM") -> torch.Tensor:
    """The pixel index table (T, side²) of the set ``kind`` for square images of ``spec``.

    Raises
    ------
    ValueError
        Images that are not square (a rotation by 90° must keep the shape).
    """
    if spec.height != spec.width:
        msg = (f"{method} needs square images (its rotations by 90° must keep the shape); got "
               f"{spec.height} x {spec.width} pixels. Pad or crop them to a square.")
        raise ValueError(msg)
    parameters = transformation_parameters(kind, resolve_shift(kind, shift, spec.height))
    return torch.from_numpy(transformation_sources(parameters, spec.height))


def apply_transformations(x: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """Every transformation of every image: (n, C, S, S) → (n, T, C, S, S)."""
    n, c, h, w = x.shape
    views = x.flatten(2)[:, :, sources]  # (n, C, T, S·S)
    return views.transpose(1, 2).reshape(n, len(sources), c, h, w)


# ============================================================================ Dirichlet MLE
def inverse_digamma(y: torch.Tensor, iterations: int = 5) -> torch.Tensor:
    """ψ⁻¹(y) by Newton's method from Minka's initial guess (Minka 2000, App. C):
    ``x₀ = exp(y) + 1/2`` for y ≥ −2.22, else ``−1 / (y − ψ(1))``."""
    x = torch.where(y >= -2.22, torch.exp(y) + 0.5, -1.0 / (y + _EULER_GAMMA))
    for _ in range(iterations):
        x = x - (torch.digamma(x) - y) / torch.polygamma(1, x)
    return x


def fit_dirichlet(log_p: torch.Tensor, max_iter: int = 1000, tol: float = 1e-9) -> torch.Tensor:
    """Maximum-likelihood Dirichlet parameters of probability vectors, by Minka's fixed point.

    ``log_p``: (N, ..., K) log-probabilities of N observations (several Dirichlets at once
    along the middle axes: GEOM fits one per transformation). Returns α of shape (..., K),
    float64.

    Starting point (Minka 2000, Eq. 21 approximation of the precision, as the release's
    ``calc_approx_alpha_sum``): with ``f = mean(p)`` and ``log p̂ = mean(log p)``,
    ``s₀ = (K − 1) · (−ψ(1)) / (Σ_k f_k log f_k − Σ_k f_k log p̂_k)``, ``α₀ = s₀ f``.
    Fixed point (Minka 2000, Eq. 9): ``α_k ← ψ⁻¹(ψ(Σ_j α_j) + log p̂_k)`` until the change of α
    (Euclidean norm, per Dirichlet) is below ``tol`` for all, or ``max_iter`` iterations.
    """
    log_p = log_p.double()
    n_classes = log_p.shape[-1]
    f = log_p.exp().mean(dim=0)
    log_p_hat = log_p.mean(dim=0)
    spread = (f * f.log()).sum(-1) - (f * log_p_hat).sum(-1)
    precision = (n_classes - 1) * _EULER_GAMMA / spread.clamp_min(1e-12)
    alpha = f * precision.unsqueeze(-1)
    for _ in range(max_iter):
        new = inverse_digamma(torch.digamma(alpha.sum(-1, keepdim=True)) + log_p_hat)
        change = (new - alpha).pow(2).sum(-1).sqrt().max()
        alpha = new
        if change < tol:
            break
    return alpha


# ============================================================================ network
class GEOMNet(nn.Module):
    """The transformation classifier: the backbone over each view, T logits per view.

    ``sources`` (non-persistent buffer: it follows from the hyperparameters and the image
    size) is the transformation table; ``alphas`` (T, T), the Dirichlet parameters of the
    softmax outputs of each transformation on the training images, is saved with the model.
    ``forward`` returns log-probabilities (n, T, T): row t is ``log softmax(y(T_t(x)))``.
    """

    def __init__(self, classifier: nn.Module, sources: torch.Tensor) -> None:
        super().__init__()
        self.classifier = classifier
        self.register_buffer("sources", sources, persistent=False)
        n = len(sources)
        self.register_buffer("alphas", torch.ones(n, n, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views = apply_transformations(x, self.sources)
        n, t = views.shape[:2]
        # channels-last: oneDNN's convolutions run about 1.3-1.5 times faster on CPUs in this
        # layout (benchmarks/image_ssl_budget.py); the values are the same
        views = views.flatten(0, 1).contiguous(memory_format=torch.channels_last)
        logits = self.classifier(views)
        return torch.log_softmax(logits, dim=-1).view(n, t, -1)


def geom_loss(log_p: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the transformation classifier per image (Golan & El-Yaniv 2018,
    Sec. 4): ``−1/T Σ_t log y(T_t(x))_t``; shape (n,)."""
    return -torch.diagonal(log_p, dim1=1, dim2=2).mean(dim=1)


def dirichlet_normality(log_p: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """The paper's normality score (Sec. 4): ``n(x) = 1/T Σ_t Σ_k (α̃_{t,k} − 1) log y(T_t(x))_k``
    (the Dirichlet log-density of each softmax vector, up to its constant); shape (n,)."""
    return ((alphas - 1.0) * log_p.double()).sum(dim=(1, 2)) / len(alphas)


def simple_normality(log_p: torch.Tensor) -> torch.Tensor:
    """The simplified score: ``n_S(x) = Σ_t log y(T_t(x))_t``; shape (n,)."""
    return torch.diagonal(log_p, dim1=1, dim2=2).double().sum(dim=1)


# ============================================================================ detector
@register
class GEOM(DeepDetector):
    """GEOM: deep anomaly detection using geometric transformations (images).

    A set of T geometric transformations ``T_0 = identity, ..., T_{T−1}`` is applied to each
    training image and a network y (a CNN with a T-way softmax) is trained to tell which one
    was applied: the loss (Golan & El-Yaniv 2018, Sec. 4) is the cross-entropy
    ``L(x) = −1/T Σ_t log y(T_t(x))_t``. The full set (``transformations="all"``, T = 72) is the
    paper's: a horizontal flip or not × a translation of (0, −s, +s) rows × (0, −s, +s)
    columns (borders reflected) × a rotation by 0, 90, 180 or 270°, applied in that order,
    with s = 8 pixels on the paper's 32 × 32 images (``shift="auto"``: s = round(side / 4),
    the same fraction of other sizes). ``"flip_rotations"`` (T = 8; the release's
    ``SimpleTransformer``) and ``"rotations"`` (T = 4) are smaller sets.

    Scores (anomaly score = −normality score):

    - ``score_type="dirichlet"`` (the paper's, Sec. 4): for each transformation t, the softmax
      vectors ``y(T_t(x))`` of the training images are modelled by a Dirichlet
      ``Dir(α̃_t)`` fitted by maximum likelihood (Minka's fixed point, initialised with his
      approximate precision, as the release); the normality score is
      ``n(x) = 1/T Σ_t Σ_k (α̃_{t,k} − 1) log y(T_t(x))_k`` (the log-densities summed, up to
      constants).
    - ``score_type="simple"``: ``n_S(x) = Σ_t log y(T_t(x))_t``, the log-probability the
      classifier gives the transformation actually applied. (The release's commented-out
      "simplified normality score" averages the probabilities ``y(T_t(x))_t`` instead of their
      logarithms; the ranking differs only through that monotone map inside the sum.)

    The Dirichlet parameters are always fitted (the buffer ``model_.alphas``), so
    ``score_type`` can be switched with ``set_params`` after ``fit`` without refitting.

    Input: images ``(n, channels, height, width)``, square (the rotations by 90° must keep the
    shape), used as given (the release scales pixels to [−1, 1] and pads MNIST to 32 × 32;
    ``benchmarks/geom_mnist.py`` does the same).

    Deviations from the authors' release (``izikgo/AnomalyDetectionTransformations``: a
    Wide-ResNet WRN-10-4 trained with Adam at Keras' defaults, batch 128 of transformed images
    shuffled over the 72-fold expanded training set, ``ceil(200 / 72) = 3`` epochs): the
    network is a small all-convolutional CNN (``backbone="auto"`` →
    :class:`~deepad.nets.dcgan.DCGANEncoder`: strided 4 x 4 convolutions of widths 16-32-64,
    batch normalisation, leaky ReLU, a last convolution over the whole map to the T logits;
    ``backbone="wrn"`` builds the paper's kind of network, ``hidden_dims=(64, 128, 256)``
    being WRN-10-4, far too slow on a CPU); a batch holds ``batch_size`` images with all
    their T views (every (image, transformation) pair once per epoch, as in the release, but
    the T views of an image share a batch, so an epoch takes 72 / 128 · 8 ≈ 4.5 times fewer,
    larger steps than the release's); one epoch instead of three. Defaults were chosen for a
    CPU budget of a few minutes per class on two cores (6,000 images x 72 views per epoch,
    10,000 x 72 views to score) and only on training data: Fashion-MNIST training images,
    part of the normal class held out against other classes' training images, the test split
    never read (``benchmarks/image_ssl_budget.py``, ``docs/results/image_ssl_budget.md``,
    ``docs/decisions.md``). Adam at lr 1e-3 and 8 images (576 views) per batch as before
    (``docs/results/geom_mnist.md`` used three epochs of the pooled CNN of
    :mod:`deepad.nets.conv`).

    Parameters
    ----------
    transformations : {"all", "flip_rotations", "rotations"}, default "all"
        The transformation set (72, 8 or 4 transformations).
    shift : "auto" or int, default "auto"
        Translation s in pixels for ``"all"``; "auto" → round(side / 4) (8 for 32 × 32).
    score_type : {"dirichlet", "simple"}, default "dirichlet"
    hidden_dims : tuple of int, default (16, 32, 64)
        Channel widths of the convolutional layers (of the groups for ``backbone="wrn"``).
    batch_norm : bool, default True
    activation : str, default "relu"
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; ``batch_size`` counts images, each with its
        T views.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_, device_
    model_ : GEOMNet
        ``model_.classifier`` the CNN, ``model_.alphas`` (T, T) the Dirichlet parameters.
    n_transformations_ : int
    shift_ : int
        The translation used (0 for the sets without translations).

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import GEOM
    >>> X = np.random.default_rng(0).uniform(size=(40, 1, 8, 8)).astype(np.float32)
    >>> det = GEOM(transformations="rotations", hidden_dims=(4,), epochs=1, random_state=0)
    >>> det.fit(X).decision_function(X[:3]).shape, det.n_transformations_
    ((3,), 4)

    References
    ----------
    Golan & El-Yaniv, "Deep Anomaly Detection Using Geometric Transformations", NeurIPS 2018
    (Sec. 4). Minka, "Estimating a Dirichlet distribution", 2000 (the fixed-point MLE).

    See Also
    --------
    GOAD : random affine maps instead of geometric transformations, for any data.
    """

    name = "GEOM"
    category = "generic_normality"
    subcategory = "self_supervised"
    supervision = ("unsupervised",)
    modalities = ("image",)
    reference = ("Golan & El-Yaniv, Deep Anomaly Detection Using Geometric Transformations, "
                 "NeurIPS 2018")
    test_params: ClassVar[dict] = {"transformations": "rotations", "hidden_dims": (8, 16),
                                   "epochs": 3, "batch_size": 16}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "transformations": [Options(tuple(TRANSFORMATION_SETS))],
        "shift": [Options(("auto",)), Interval(numbers.Integral, 1, None)],
        "score_type": [Options(("dirichlet", "simple"))],
        "hidden_dims": [PositiveInts()],
        "batch_norm": [BOOLEAN],
        "activation": [Options(tuple(ACTIVATIONS))],
    }

    def __init__(self, transformations="all", shift="auto", score_type="dirichlet",
                 hidden_dims=(16, 32, 64), batch_norm=True, activation="relu", backbone="auto",
                 epochs=1, batch_size=8, lr=1e-3, weight_decay=0.0, validation_size=0.0,
                 patience=None, grad_clip=None, contamination=0.1, device=None,
                 random_state=None, verbose=False):
        self.transformations = transformations
        self.shift = shift
        self.score_type = score_type
        self.hidden_dims = hidden_dims
        self.batch_norm = batch_norm
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
        sources = geometric_sources(spec, self.transformations, self.shift)
        classifier = build_backbone(spec, hidden_dims=tuple(self.hidden_dims),
                                    out_dim=len(sources), kind=self.backbone,
                                    activation=self.activation, batch_norm=self.batch_norm,
                                    prefer={"image": IMAGE_BACKBONE})
        return GEOMNet(classifier, sources)

    def _set_resolved(self) -> None:
        self.n_transformations_ = len(self.model_.sources)
        self.shift_ = resolve_shift(self.transformations, self.shift, self.spec_.height)

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors, device)
        self._set_resolved()

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        super()._fit(X, y)
        self._set_resolved()
        self._fit_dirichlet(torch.from_numpy(X).to(self.device_))

    @torch.no_grad()
    def _log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """``model_(x)`` over chunks of images (a bounded number of views per pass)."""
        return in_chunks(self.model_, x, rows=_VIEWS_PER_CHUNK // len(self.model_.sources))

    @torch.no_grad()
    def _fit_dirichlet(self, X: torch.Tensor) -> None:
        """α̃_t: the Dirichlet MLE of the softmax outputs ``y(T_t(x))`` over the training images,
        for every t at once, under the final weights."""
        self.model_.eval()
        self.model_.alphas.copy_(fit_dirichlet(self._log_probs(X)))

    def loss(self, batch: Batch) -> torch.Tensor:
        return geom_loss(self.model_(batch.x))

    def score(self, batch: Batch) -> torch.Tensor:
        log_p = self._log_probs(batch.x)
        if self.score_type == "simple":
            return -simple_normality(log_p)
        return -dirichlet_normality(log_p, self.model_.alphas)
