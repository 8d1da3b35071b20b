"""Distance-based measures: learn a representation in which a random-distance measure (REPEN)
or random distances themselves (RDP) separate anomalies from normal data.

Both methods use random references at inference (REPEN's LeSiNN subsamples, RDP's random
projection and reference rows); they are drawn once per ``fit`` from the fit's local generator
and kept as buffers, so a saved model scores exactly as the fitted one.
"""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepad.core.chunks import element_rows, in_chunks
from deepad.core.deep import OPTIMIZERS, DeepDetector
from deepad.core.params import Interval, Options
from deepad.core.registry import register
from deepad.core.saved_state import read_field, read_tensor
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder
from deepad.nets.mlp import ACTIVATIONS

CANTELLI_A = math.sqrt(3.0)  # P(s >= mu + a sigma) <= 1 / (1 + a^2) = 0.25 (Cantelli)
FALLBACK_CANDIDATES = 10  # the release's top-10 when no score passes the threshold


# ============================================================================ REPEN
def lesinn(queries: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """LeSiNN scores (Pang, Ting & Albrecht, ICDMW 2015): for each query, the Euclidean
    distance to its nearest neighbour in each of ``E`` random subsamples, averaged over them.

    ``queries``: ``(n, D)``; ``reference``: ``(E, S, D)`` (E subsamples of S rows). Returns
    ``(n,)``: ``s(x) = 1/E Σ_e min_{r ∈ R_e} ||x − r||``.
    """
    n_estimators, subsample_size, dim = reference.shape
    flat = reference.reshape(n_estimators * subsample_size, dim)

    def score(chunk: torch.Tensor) -> torch.Tensor:
        distances = torch.cdist(chunk, flat, compute_mode="donot_use_mm_for_euclid_dist")
        return distances.reshape(-1, n_estimators, subsample_size).amin(dim=2).mean(dim=1)

    return in_chunks(score, queries, rows=element_rows(len(flat)))


def cantelli_split(scores: torch.Tensor, a: float = CANTELLI_A,
                   fallback: int = FALLBACK_CANDIDATES) -> tuple[torch.Tensor, torch.Tensor]:
    """Split rows by their initial outlier scores into (inlier indices, outlier candidates).

    Candidates score above ``μ + a σ`` (mean and population standard deviation of the
    scores); by Cantelli's inequality at most ``1 / (1 + a²)`` of any score distribution lies
    there (a = √3 → 25 %; Pang et al. 2018). When no score is above the threshold
    the ``fallback`` highest-scored rows are the candidates (the release's top 10), here never
    more than ``n − 2`` so that two inliers remain for an anchor and a positive.
    """
    scores = scores.double()
    threshold = scores.mean() + a * scores.std(unbiased=False)
    candidates = scores > threshold
    if not bool(candidates.any()):
        k = max(1, min(fallback, len(scores) - 2))
        top = torch.argsort(scores, descending=True, stable=True)[:k]
        candidates = torch.zeros_like(candidates)
        candidates[top] = True
    return torch.nonzero(~candidates).squeeze(1), torch.nonzero(candidates).squeeze(1)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float) -> torch.Tensor:
    """REPEN's triplet ranking loss per triplet (Pang et al. 2018, with squared Euclidean
    distances as in the authors' release):
    ``max(0, c + ||φ(a) − φ(p)||² − ||φ(a) − φ(n)||²)``."""
    closer = (anchor - positive).pow(2).sum(dim=1)
    farther = (anchor - negative).pow(2).sum(dim=1)
    return torch.clamp(margin + closer - farther, min=0.0)


class TripletSampler:
    """Draws (anchor, positive, negative) row indices from the initial outlier scores.

    As in the authors' release: anchors are inliers drawn with probability proportional to
    ``Σ_j s_j − s_i`` over the inliers (likelier the lower their score), positives are inliers
    drawn uniformly and distinct from their anchor, negatives are outlier candidates drawn with
    probability proportional to their score. With labelled anomalies (REPEN with prior
    knowledge), the first half of each batch's negatives (⌈b / 2⌉) are labelled anomalies drawn
    uniformly, the rest come from the candidates; labelled anomalies are never inliers.
    """

    def __init__(self, scores: torch.Tensor, labelled: torch.Tensor | None = None,
                 a: float = CANTELLI_A) -> None:
        scores = scores.double().cpu()
        if labelled is None:
            labelled = torch.zeros(len(scores), dtype=torch.bool)
        labelled = labelled.cpu().bool()
        inliers, candidates = cantelli_split(scores, a)
        inliers = inliers[~labelled[inliers]]
        if len(inliers) < 2:
            msg = (f"REPEN needs at least two unlabelled rows below the outlier threshold to "
                   f"draw anchors and positives; got {len(inliers)}.")
            raise ValueError(msg)
        self.inliers = inliers
        self.candidates = candidates
        self.labelled = torch.nonzero(labelled).squeeze(1)
        inlier_scores = scores[inliers]
        anchor_weights = inlier_scores.sum() - inlier_scores
        if not bool(anchor_weights.sum() > 0):  # a single non-zero score, or all zero
            anchor_weights = torch.ones_like(inlier_scores)
        self.anchor_weights = anchor_weights
        negative_weights = scores[candidates]
        if not bool(negative_weights.sum() > 0):
            negative_weights = torch.ones_like(negative_weights)
        self.negative_weights = negative_weights

    def draw(self, n: int, generator: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        m = len(self.inliers)
        anchor_pos = torch.multinomial(self.anchor_weights, n, replacement=True,
                                       generator=generator)
        # uniform over the other m - 1 inliers: shift by 1..m-1 positions
        shift = torch.randint(1, m, (n,), generator=generator)
        positive_pos = (anchor_pos + shift) % m
        n_labelled = (n + 1) // 2 if len(self.labelled) else 0
        negative_pos = torch.multinomial(self.negative_weights, n - n_labelled, replacement=True,
                                         generator=generator)
        negatives = self.candidates[negative_pos]
        if n_labelled:
            pick = torch.randint(len(self.labelled), (n_labelled,), generator=generator)
            negatives = torch.cat([self.labelled[pick], negatives])
        return self.inliers[anchor_pos], self.inliers[positive_pos], negatives


class LeSiNNNet(nn.Module):
    """The representation network φ and the LeSiNN reference subsamples (raw rows, a buffer);
    ``forward`` scores by LeSiNN in the representation space."""

    def __init__(self, encoder: nn.Module, spec: InputSpec, n_estimators: int,
                 subsample_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.n_estimators = n_estimators
        self.subsample_size = subsample_size
        self.register_buffer("reference",
                             torch.zeros(n_estimators * subsample_size, *spec.sample_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reference = self.encoder(self.reference)
        reference = reference.reshape(self.n_estimators, self.subsample_size, -1)
        return lesinn(self.encoder(x), reference)


def _draw_subsamples(n: int, n_estimators: int, subsample_size: int,
                     generator: torch.Generator) -> torch.Tensor:
    """``n_estimators`` × ``subsample_size`` row indices, without replacement within a
    subsample (with replacement when ``n < subsample_size``)."""
    if n < subsample_size:
        return torch.randint(n, (n_estimators * subsample_size,), generator=generator)
    return torch.cat([torch.randperm(n, generator=generator)[:subsample_size]
                      for _ in range(n_estimators)])


@register
class REPEN(DeepDetector):
    """REPresentations for a random nEarest Neighbour distance-based method: a low-dimensional
    representation learned, from triplets sampled by initial outlier scores, for a random
    nearest-neighbour distance detector (LeSiNN).

    1. Initial scores: LeSiNN on the input (windows flattened),
       ``s(x) = 1/E Σ_e min_{r ∈ R_e} ||x − r||`` over ``E = n_estimators`` random subsamples
       ``R_e`` of ``subsample_size`` training rows (paper: E = 50, |R_e| = 8).
    2. Triplet sampling (paper and release): outlier candidates score above
       ``μ + a σ`` (Cantelli's inequality, ``a = √3``: at most 25 % false positives; the
       top 10 when nothing passes); anchors are inliers drawn with probability ∝
       ``Σ_j s_j − s_i``, positives uniform inliers, negatives candidates drawn with
       probability ∝ their score. With labelled anomalies (``fit(X, y)``, y = 1; the paper's
       "REPEN with prior knowledge"), half of the negatives are labelled anomalies drawn
       uniformly, as in the release.
    3. Loss (squared distances as in the release): the triplet ranking loss
       ``max(0, c + ||φ(a) − φ(p)||² − ||φ(a) − φ(n)||²)`` (paper and release: ``c = 1000``;
       default here ``c = 1``, see the deviations).
    4. Score: LeSiNN in the learned space, ``s(x) = 1/E Σ_e min_{r ∈ R_e} ||φ(x) − φ(r)||``,
       against the same subsamples (kept as a buffer of raw rows).

    Release defaults: φ = one ReLU layer of 20 units (the representation is its output),
    Adadelta (lr 1.0, ρ 0.95, ε 1e-7 as Keras), 30 epochs of ``ceil(n / 256)`` triplet
    batches of 256. Deviations: the release scores transductively (LeSiNN subsamples drawn
    from the data being scored); here the subsamples come from the training data and are
    kept, so unseen rows are scored against them. The release keeps the epoch with the
    lowest training loss (Keras ``ModelCheckpoint``); here the last epoch (``patience``
    restores the best one). Margin 1 instead of 1000: the paper's margin suits its raw
    ultrahigh-dimensional data; on scaled features (ADBench's min-max protocol) squared
    distances are of order 1, a margin of 1000 is never met and the loss only inflates φ's
    weights. Over six ADBench sets c = 1 ranked better than c = 1000, and than LeSiNN on the
    input (measured: ``docs/decisions.md``; current results: ``docs/results/quick.md``).
    Triplets are drawn from all fit rows, so ``validation_size`` must be 0.

    Images: not supported, because REPEN learns representations of high-dimensional tabular data
    from triplets chosen by LeSiNN scores of the raw features; give it image embeddings as rows.

    Parameters
    ----------
    hidden_dims : tuple of int, default (20,)
        Widths of φ; the representation is the last hidden layer's activation (for windows:
        the TCN/GRU width, then the dense layers).
    n_estimators : int, default 50
        Number ``E`` of LeSiNN subsamples.
    subsample_size : int, default 8
        Rows per subsample.
    margin : float, default 1.0
        Margin ``c`` of the triplet loss (the paper's 1000 suits unscaled data whose squared
        distances are in the thousands).
    outlier_threshold : float, default √3
        ``a`` of the candidate threshold ``μ + a σ``.
    activation : str, default "relu"
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; ``lr`` is Adadelta's.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_
    model_ : LeSiNNNet
        ``model_.encoder`` is φ, ``model_.reference`` the subsample rows.
    initial_scores_ : ndarray of shape (n_samples,)
        LeSiNN scores of the training rows in the input space.
    n_candidates_ : int
        Number of outlier candidates the negatives were drawn from.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import REPEN
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> REPEN(epochs=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Pang, Cao, Chen & Liu, "Learning Representations of Ultrahigh-dimensional Data for Random
    Distance-based Outlier Detection", KDD 2018.
    Pang, Ting & Albrecht, "LeSiNN: Detecting anomalies by identifying least similar nearest
    neighbours", ICDM Workshops 2015.

    See Also
    --------
    RDP : representations learned by predicting random distances.
    """

    name = "REPEN"
    category = "measure_normality"
    subcategory = "distance"
    supervision = ("unsupervised", "weakly-supervised")
    modalities = ("tabular", "sequence")
    reference = ("Pang et al., Learning Representations of Ultrahigh-dimensional Data for "
                 "Random Distance-based Outlier Detection, KDD 2018")
    min_samples = 3  # an anchor, a different positive and a negative
    stream_refusal = ("its triplet sampler draws from the LeSiNN outlier scores of every "
                      "training row, computed against reference subsamples of the whole set "
                      "before training (Pang et al. 2018, Sec. 3.2)")
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (8,), "batch_size": 64,
                                   "n_estimators": 10}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "n_estimators": [Interval(numbers.Integral, 1, None)],
        "subsample_size": [Interval(numbers.Integral, 1, None)],
        "margin": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "outlier_threshold": [Interval(numbers.Real, 0.0, None)],
        "activation": [Options(tuple(ACTIVATIONS))],
        "validation_size": [Interval(numbers.Real, 0.0, 0.0)],
    }

    def __init__(self, hidden_dims=(20,), n_estimators=50, subsample_size=8, margin=1.0,
                 outlier_threshold=CANTELLI_A, activation="relu", backbone="auto", epochs=30,
                 batch_size=256, lr=1.0, weight_decay=0.0, validation_size=0.0, patience=None,
                 grad_clip=None, contamination=0.1, device=None, random_state=None,
                 verbose=False):
        self.hidden_dims = hidden_dims
        self.n_estimators = n_estimators
        self.subsample_size = subsample_size
        self.margin = margin
        self.outlier_threshold = outlier_threshold
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
        encoder = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=None,
                                 kind=self.backbone, activation=self.activation)
        return LeSiNNNet(encoder, spec, self.n_estimators, self.subsample_size)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adadelta(self.model_.parameters(), lr=self.lr, rho=0.95, eps=1e-7,
                                     weight_decay=self.weight_decay)]

    @torch.no_grad()
    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        picks = _draw_subsamples(len(X), self.n_estimators, self.subsample_size,
                                 self._generator).to(X.device)
        reference = X[picks]
        self.model_.reference.copy_(reference)
        shape = (self.n_estimators, self.subsample_size, -1)
        initial = lesinn(X.reshape(len(X), -1), reference.reshape(shape))
        labelled = None if y is None else (y == 1)
        self._sampler = TripletSampler(initial, labelled, self.outlier_threshold)
        self.initial_scores_ = initial.double().cpu().numpy()
        self.n_candidates_ = int(len(self._sampler.candidates))
        self._X = X

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        try:
            super()._fit(X, y)
        finally:
            for name in ("_sampler", "_X"):
                if hasattr(self, name):
                    delattr(self, name)

    def loss(self, batch: Batch) -> torch.Tensor:
        """The triplet loss of ``len(batch.x)`` triplets drawn by the sampler (the batch's rows
        only set the count: triplets are drawn from all fit rows by their initial scores)."""
        rows = torch.cat(self._sampler.draw(len(batch.x), self._generator))
        anchor, positive, negative = self.model_.encoder(self._X[rows.to(self._X.device)]).chunk(3)
        return triplet_loss(anchor, positive, negative, self.margin)

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)

    def _get_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["n_candidates"] = self.n_candidates_
        tensors["initial_scores"] = torch.from_numpy(self.initial_scores_.copy())
        return state, tensors

    def _set_state(self, state: dict, tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors, device)
        self.n_candidates_ = read_field(state, "n_candidates", "int", low=1)
        initial = read_tensor(tensors, "initial_scores", ndim=1, floating=True,
                              rows=len(self.decision_scores_))
        self.initial_scores_ = initial.numpy().astype(np.float64)


# ============================================================================ RDP
def l1_inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise inner product of L1-normalised vectors, ``⟨a/||a||₁, b/||b||₁⟩``: the random
    distance of the authors' release (``(batch,)``)."""
    return (F.normalize(a, p=1, dim=1) * F.normalize(b, p=1, dim=1)).sum(dim=1)


def random_distance_loss(pred_i: torch.Tensor, pred_j: torch.Tensor, target_i: torch.Tensor,
                         target_j: torch.Tensor) -> torch.Tensor:
    """RDP's random-distance prediction loss per pair (Wang et al. 2020, with the release's
    L1-normalised inner products):
    ``(⟨φ̂(x_i), φ̂(x_j)⟩ − ⟨η̂(x_i), η̂(x_j)⟩)²``, ``v̂ = v / ||v||₁``."""
    return (l1_inner(pred_i, pred_j) - l1_inner(target_i, target_j)).pow(2)


def novelty_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The auxiliary novelty loss and the release's anomaly score, per sample:
    ``1/k ||φ(x) − η(x)||²`` over the ``k`` output dimensions."""
    return (pred - target).pow(2).mean(dim=1)


class RandomProjection(nn.Module):
    """η: a fixed random map of the flattened input, ``η(x) = LeakyReLU_α(A · vec(x))`` with
    ``A ~ N(0, 2 / d_in)`` (He initialisation, zero bias) as in the release's target network
    (α = 0.25; α = 1 gives a plain Gaussian random projection). ``A`` is a buffer: saved,
    never trained."""

    def __init__(self, in_dim: int, out_dim: int, negative_slope: float) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.register_buffer("weight", torch.zeros(out_dim, in_dim))

    def reset(self, generator: torch.Generator) -> None:
        std = math.sqrt(2.0 / self.weight.shape[1])
        draw = torch.randn(self.weight.shape, generator=generator) * std
        self.weight.copy_(draw.to(self.weight.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        projected = x.reshape(len(x), -1) @ self.weight.T
        return F.leaky_relu(projected, self.negative_slope)


class RDPNet(nn.Module):
    """φ (trained), η (fixed random projection), an optional decoder, and the reference rows
    of the distance score (a buffer)."""

    def __init__(self, encoder: nn.Module, projection: RandomProjection,
                 decoder: nn.Module | None, spec: InputSpec, n_reference: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.projection = projection
        self.decoder = decoder
        self.register_buffer("reference", torch.zeros(n_reference, *spec.sample_shape))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x), self.projection(x)


@register
class RDP(DeepDetector):
    """Random Distance Prediction: a network φ learns to predict the distances between data
    points in a fixed random projection η of the data; points whose random distances and
    projections it cannot predict are anomalies.

    Loss per pair ``(x_i, x_j)`` (Wang et al. 2020, Sec. 3; pairs are a batch and a random
    permutation of it): ``L = (⟨φ̂(x_i), φ̂(x_j)⟩ − ⟨η̂(x_i), η̂(x_j)⟩)² + λ_n L_novelty +
    λ_ae L_ae`` with ``v̂ = v / ||v||₁`` (the release normalises both inner products by the
    L1 norms; the paper writes plain inner products), ``L_novelty = 1/k ||φ(x_i) − η(x_i)||²``
    (the anomaly-detection auxiliary task, random network distillation) and
    ``L_ae = 1/D ||x_i − g(φ(x_i))||²`` (the clustering auxiliary task, off by default).

    Score (``scoring="novelty"``, the release): ``s(x) = 1/k ||φ(x) − η(x)||²``.
    ``scoring="distance"``: the random-distance prediction error averaged over
    ``n_reference`` training rows drawn once per fit (a buffer),
    ``s(x) = 1/R Σ_r (⟨φ̂(x), φ̂(r)⟩ − ⟨η̂(x), η̂(r)⟩)²``.

    Release defaults: η = He-initialised linear map to k = 50 dimensions followed by
    LeakyReLU(0.25); φ = linear layer of 50 units, LeakyReLU, dropout 0.1; SGD (lr 0.1,
    momentum 0.9) with gradient norm clipped to 0.1; batches of 192, 30 per epoch.
    Deviations: φ ends with a linear layer to k dimensions (the release's φ defines this
    extra layer "for enough capacity" but its forward pass skips it; with it φ can match η
    for windows, whose encoder width differs from k); leaky ReLU slope 0.01 instead of 0.2;
    one model on all rows instead of the release's forest of 30 trees, each on a bootstrap
    sample with seven rounds of filtering the top 5 % scores (the ensemble multiplies the
    cost by about 240); 20 epochs instead of 200: the novelty error ranks anomalies worse the
    longer φ trains on them (``docs/decisions.md``). For windows η projects the flattened
    window.

    Images: not supported, because its target is the distance under a random projection of the raw
    features (tabular data in the paper); give it image embeddings as rows.

    Parameters
    ----------
    hidden_dims : tuple of int, default (50,)
        Hidden widths of φ (first = GRU/TCN width for windows).
    rep_dim : int, default 50
        Output dimension ``k`` of φ and η.
    activation : str, default "leaky_relu"
    dropout : float, default 0.1
    projection_slope : float, default 0.25
        Negative slope α of η's leaky ReLU (1.0 → linear random projection).
    novelty_weight : float, default 1.0
        Weight λ_n of the novelty loss.
    ae_weight : float, default 0.0
        Weight λ_ae of the reconstruction loss (adds a decoder when > 0).
    scoring : {"novelty", "distance"}, default "novelty"
    n_reference : int, default 256
        Reference rows of ``scoring="distance"`` (drawn with replacement from smaller data).
    n_batches : int, default 30
        Batches per epoch.
    backbone, epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`; ``lr`` is SGD's.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, history_
    model_ : RDPNet
        ``model_.encoder`` is φ, ``model_.projection`` η (``projection.weight`` a buffer).

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import RDP
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> RDP(epochs=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Wang, Pang, Shen, Ma & Liu, "Unsupervised Representation Learning by Predicting Random
    Distances", IJCAI 2020.

    See Also
    --------
    REPEN : representations learned for a random nearest-neighbour distance detector.
    """

    name = "RDP"
    category = "measure_normality"
    subcategory = "distance"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence")
    reference = ("Wang et al., Unsupervised Representation Learning by Predicting Random "
                 "Distances, IJCAI 2020")
    # windows need about 100 steps before the novelty error ranks the planted anomalies
    test_params: ClassVar[dict] = {"epochs": 8, "hidden_dims": (16,), "rep_dim": 16,
                                   "batch_size": 64, "n_batches": 15, "grad_clip": 1.0}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "rep_dim": [Interval(numbers.Integral, 1, None)],
        "activation": [Options(tuple(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "projection_slope": [Interval(numbers.Real, 0.0, 1.0)],
        "novelty_weight": [Interval(numbers.Real, 0.0, None)],
        "ae_weight": [Interval(numbers.Real, 0.0, None)],
        "scoring": [Options(("novelty", "distance"))],
        "n_reference": [Interval(numbers.Integral, 1, None)],
        "n_batches": [Interval(numbers.Integral, 1, None)],
    }

    def __init__(self, hidden_dims=(50,), rep_dim=50, activation="leaky_relu", dropout=0.1,
                 projection_slope=0.25, novelty_weight=1.0, ae_weight=0.0, scoring="novelty",
                 n_reference=256, n_batches=30, backbone="auto", epochs=20, batch_size=192,
                 lr=0.1, weight_decay=0.0, validation_size=0.0, patience=None, grad_clip=0.1,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.rep_dim = rep_dim
        self.activation = activation
        self.dropout = dropout
        self.projection_slope = projection_slope
        self.novelty_weight = novelty_weight
        self.ae_weight = ae_weight
        self.scoring = scoring
        self.n_reference = n_reference
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

    def build(self, spec: InputSpec) -> nn.Module:
        encoder = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=self.rep_dim,
                                 kind=self.backbone, activation=self.activation,
                                 dropout=self.dropout)
        projection = RandomProjection(math.prod(spec.sample_shape), self.rep_dim,
                                      self.projection_slope)
        decoder = None
        if self.ae_weight > 0:
            decoder = build_decoder(spec, latent_dim=self.rep_dim,
                                    hidden_dims=tuple(self.hidden_dims), kind=self.backbone,
                                    activation=self.activation)
        return RDPNet(encoder, projection, decoder, spec, self.n_reference)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        if self.scoring == "novelty" and self.novelty_weight == 0:
            msg = ("RDP with scoring='novelty' scores by the novelty error, which "
                   "novelty_weight=0 does not train; set novelty_weight > 0 or "
                   "scoring='distance'.")
            raise ValueError(msg)
        super()._fit(X, y)

    def steps_per_epoch(self, n_samples: int) -> int:
        return self.n_batches

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        trained = [p for name, p in self.model_.named_parameters()
                   if not name.startswith("projection.")]
        return [OPTIMIZERS["sgd"](trained, lr=self.lr, momentum=0.9,
                                  weight_decay=self.weight_decay)]

    @torch.no_grad()
    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        self.model_.projection.reset(self._generator)
        n_reference = len(self.model_.reference)
        if len(X) >= n_reference:
            picks = torch.randperm(len(X), generator=self._generator)[:n_reference]
        else:
            picks = torch.randint(len(X), (n_reference,), generator=self._generator)
        self.model_.reference.copy_(X[picks.to(X.device)])

    def loss(self, batch: Batch) -> torch.Tensor:
        pred, target = self.model_(batch.x)
        pair = torch.randperm(len(batch.x), generator=self._generator).to(pred.device)
        loss = random_distance_loss(pred, pred[pair], target, target[pair])
        if self.novelty_weight > 0:
            loss = loss + self.novelty_weight * novelty_error(pred, target)
        if self.model_.decoder is not None:
            error = (self.model_.decoder(pred) - batch.x).pow(2)
            loss = loss + self.ae_weight * error.reshape(len(error), -1).mean(dim=1)
        return loss

    def score(self, batch: Batch) -> torch.Tensor:
        pred, target = self.model_(batch.x)
        if self.scoring == "novelty":
            return novelty_error(pred, target)
        ref_pred, ref_target = self.model_(self.model_.reference)
        predicted = F.normalize(pred, p=1, dim=1) @ F.normalize(ref_pred, p=1, dim=1).T
        actual = F.normalize(target, p=1, dim=1) @ F.normalize(ref_target, p=1, dim=1).T
        return (predicted - actual).pow(2).mean(dim=1)
