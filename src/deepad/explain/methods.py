"""Attribution methods of an anomaly score, on validated numpy inputs of one detector.

Every function takes a fitted detector (the inner one: a :class:`~deepad.core.base.
BaseDetector`), the validated input ``X`` (rows ``(n, d)``, windows ``(n, T, d)`` or images
``(n, C, H, W)``, float32) and a baseline shaped like one sample, and returns float64
attributions shaped like ``X``. Gradient methods go through Captum (imported here, lazily,
by the functions that need it); the model-agnostic fallback through SHAP.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from deepad.core.chunks import chunk_rows
from deepad.core.trainer import Batch

GRADIENT_METHODS = ("integrated_gradients", "saliency", "gradient_x_input", "deeplift")
"""Captum's methods, on the detector's score."""

EXACT = "exact"
"""The score's own decomposition into one term per input value (``score_terms``)."""

AGNOSTIC_METHODS = ("shap", "occlusion")
"""Model-agnostic methods: SHAP's permutation explainer (rows), Captum's occlusion (windows
and images: a time step of every channel, or a patch of pixels, replaced by the baseline)."""

METHODS = (*GRADIENT_METHODS, EXACT, *AGNOSTIC_METHODS)

IG_STEPS = 64
"""Integration steps of integrated gradients (Gauss-Legendre, Captum's default rule)."""

SHAP_BACKGROUND = 50
"""Reference rows SHAP's masker draws the absent features from."""

OCCLUSION_PATCH = 4
"""Side of the square pixel patches occlusion replaces on images."""


def _extra(name: str) -> ImportError:
    return ImportError(f"deepad.explain needs {name}: pip install 'deepad[explain]' "
                       f"(or pip install {name}).")


def _captum():
    try:
        import captum.attr
    except ImportError as error:
        raise _extra("captum") from error
    return captum.attr


class ScoreModule(nn.Module):
    """The detector's anomaly score as a module ``x → score(x)`` (shape (batch,)), with the
    detector's networks as a submodule so Captum's DeepLIFT finds their non-linearities."""

    def __init__(self, detector) -> None:
        super().__init__()
        self.net = detector.model_
        # the detector object itself must not become a submodule (it is not an nn.Module)
        object.__setattr__(self, "_detector", detector)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = torch.arange(len(x), device=x.device)
        return self._detector.score(Batch(x, None, index))


def is_differentiable(detector, sample: np.ndarray) -> bool:
    """Whether the detector's score has a non-zero-able gradient with respect to its input:
    a deep detector whose ``score`` runs through autograd (not kNN distances, a latent search
    under ``no_grad`` or a shallow detector on deep features)."""
    if not hasattr(detector, "model_") or not hasattr(detector, "score"):
        return False
    x = torch.from_numpy(sample[:2]).to(detector.device_).requires_grad_(True)
    detector.model_.eval()
    try:
        with torch.enable_grad():
            out = ScoreModule(detector)(x)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                return False
            (grad,) = torch.autograd.grad(out.sum(), x, allow_unused=True)
    except Exception:  # noqa: BLE001 - a score that cannot run under autograd has no gradient
        return False
    return grad is not None


COMPLETENESS_TOLERANCE = 0.05
"""Largest |Σ attributions − (s(x) − s(b))| of the gradient check, relative to |s(x)| + |s(b)|."""


def gradient_adds_up(detector, X: np.ndarray, baseline: np.ndarray) -> bool:
    """Whether integrated gradients (32 steps) of up to 4 samples of ``X`` add up to
    ``s(x) − s(baseline)``. They do not where part of the score is computed outside autograd
    (a target network under ``no_grad``, as in RND): its gradient then misses that part, and
    every gradient method would explain only the rest; nor where the score is too steep along
    the path to integrate (ICL's normalised embeddings near norm 0)."""
    x = X[:4]
    ig = gradient_attributions(detector, x, "integrated_gradients", baseline, n_steps=32)
    scores = detector.decision_function(x)
    base = float(detector.decision_function(baseline[None])[0])
    gap = np.abs(ig.reshape(len(x), -1).sum(axis=1) - (scores - base))
    return bool((gap <= COMPLETENESS_TOLERANCE * (np.abs(scores) + abs(base)) + 1e-6).all())


def has_exact_terms(detector, sample: np.ndarray) -> bool:
    """Whether the detector splits its score into one term per input value."""
    terms = getattr(detector, "score_terms", None)
    if terms is None:
        return False
    with torch.no_grad():
        detector.model_.eval()
        return terms(torch.from_numpy(sample[:1]).to(detector.device_)) is not None


def _rows_per_pass(X: np.ndarray, factor: int) -> int:
    """Samples per chunk when one sample costs ``factor`` forward + backward passes."""
    return max(1, chunk_rows(X.shape) // max(1, factor) // 2)


def _in_chunks(function: Callable[[torch.Tensor], torch.Tensor], X: np.ndarray, rows: int,
               device: torch.device) -> np.ndarray:
    parts = []
    for start in range(0, len(X), rows):
        x = torch.from_numpy(np.ascontiguousarray(X[start:start + rows])).to(device)
        parts.append(function(x).detach().double().cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros(X.shape)


def exact_terms(detector, X: np.ndarray) -> np.ndarray:
    """``detector.score_terms`` over ``X`` in chunks (their sum per sample is the score)."""
    detector.model_.eval()
    with torch.no_grad():
        return _in_chunks(detector.score_terms, X, chunk_rows(X.shape), detector.device_)


def representation_terms(detector, X: np.ndarray) -> np.ndarray | None:
    """Deep SVDD's per-dimension squared distances to the centre, ``(n, rep_dim)``, where the
    detector has them; None otherwise."""
    terms = getattr(detector, "representation_terms", None)
    if terms is None:
        return None
    detector.model_.eval()
    with torch.no_grad():
        return _in_chunks(terms, X, chunk_rows(X.shape), detector.device_)


def gradient_attributions(detector, X: np.ndarray, method: str, baseline: np.ndarray,
                          n_steps: int = IG_STEPS) -> np.ndarray:
    """Captum's ``method`` on the detector's score.

    - ``"integrated_gradients"``: ``(x − b) · ∫₀¹ ∂s(b + α(x − b))/∂x dα`` (Sundararajan,
      Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML 2017, Eq. 1); sums to
      ``s(x) − s(b)`` (completeness) up to the integration error;
    - ``"saliency"``: ``|∂s(x)/∂x|`` (Simonyan et al., ICLR 2014 workshop);
    - ``"gradient_x_input"``: ``(x − b) · ∂s(x)/∂x`` (Shrikumar et al. 2016's gradient × input,
      taken relative to the baseline as Captum's ``InputXGradient`` on ``x − b``);
    - ``"deeplift"``: Captum's DeepLIFT rescale rule against ``b`` (Shrikumar, Greenside &
      Kundaje, ICML 2017).
    """
    attr = _captum()
    module = ScoreModule(detector).eval()
    device = detector.device_
    base = torch.from_numpy(np.ascontiguousarray(baseline[None])).to(device)

    if method == "integrated_gradients":
        explainer = attr.IntegratedGradients(module)
        rows = _rows_per_pass(X, n_steps)

        def run(x: torch.Tensor) -> torch.Tensor:
            return explainer.attribute(x, baselines=base.expand_as(x), n_steps=n_steps,
                                       internal_batch_size=max(1, rows) * n_steps)
    elif method == "saliency":
        explainer = attr.Saliency(module)
        rows = _rows_per_pass(X, 1)

        def run(x: torch.Tensor) -> torch.Tensor:
            return explainer.attribute(x, abs=True)
    elif method == "gradient_x_input":
        explainer = attr.Saliency(module)
        rows = _rows_per_pass(X, 1)

        def run(x: torch.Tensor) -> torch.Tensor:
            return explainer.attribute(x, abs=False) * (x - base)
    elif method == "deeplift":
        explainer = attr.DeepLift(module)
        rows = _rows_per_pass(X, 2)

        def run(x: torch.Tensor) -> torch.Tensor:
            return explainer.attribute(x, baselines=base.expand_as(x))
    else:  # pragma: no cover - checked by the caller
        raise ValueError(method)

    with torch.enable_grad():
        import warnings

        with warnings.catch_warnings():
            # DeepLIFT warns about reused activation modules and functional non-linearities
            warnings.filterwarnings("ignore", module="captum")
            return _in_chunks(run, X, rows, device)


def shap_attributions(detector, X: np.ndarray, background: np.ndarray, seed: int = 0,
                      max_evals: int | None = None) -> np.ndarray:
    """SHAP's permutation explainer (Lundberg & Lee, "A Unified Approach to Interpreting
    Model Predictions", NeurIPS 2017; the antithetic permutation estimator of SHAP values) of
    ``detector.decision_function`` over the flattened features, absent features drawn from
    ``background`` (an independent masker of up to :data:`SHAP_BACKGROUND` reference rows).
    Needs no gradient: any detector."""
    try:
        import shap
    except ImportError as error:
        raise _extra("shap") from error
    shape = X.shape[1:]
    flat = X.reshape(len(X), -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    take = min(SHAP_BACKGROUND, len(background))
    back = background.reshape(len(background), -1)[rng.choice(len(background), take,
                                                               replace=False)]

    def score(rows: np.ndarray) -> np.ndarray:
        return detector.decision_function(rows.reshape(len(rows), *shape).astype(X.dtype))

    n_features = flat.shape[1]
    evals = max_evals or max(2 * n_features + 1, 10 * n_features)
    masker = shap.maskers.Independent(back, max_samples=take)
    explainer = shap.explainers.Permutation(score, masker, seed=seed)
    values = explainer(flat, max_evals=evals, silent=True).values
    return np.asarray(values, dtype=np.float64).reshape(X.shape)


def occlusion_attributions(detector, X: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Captum's ``Occlusion`` (Zeiler & Fergus, ECCV 2014) of the score: a time step (every
    channel) of a window, or an :data:`OCCLUSION_PATCH`-square patch of an image (every
    channel), replaced by the baseline; the attribution is the score's drop, spread evenly over
    the values replaced. Needs only forward passes."""
    attr = _captum()

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(detector.decision_function(
            x.detach().cpu().numpy().astype(X.dtype)))

    explainer = attr.Occlusion(forward)
    if X.ndim == 3:  # windows (n, T, d)
        window, strides = (1, X.shape[2]), (1, X.shape[2])
    elif X.ndim == 4:  # images (n, C, H, W)
        side = min(OCCLUSION_PATCH, X.shape[2], X.shape[3])
        window, strides = (X.shape[1], side, side), (X.shape[1], side, side)
    else:
        window, strides = (1,), (1,)
    x = torch.from_numpy(np.ascontiguousarray(X)).double()
    base = torch.from_numpy(np.ascontiguousarray(baseline[None])).double().expand_as(x)
    out = explainer.attribute(x, sliding_window_shapes=window, strides=strides,
                              baselines=base, perturbations_per_eval=1)
    values = out.double().numpy()
    size = math.prod(window)
    return values / size
