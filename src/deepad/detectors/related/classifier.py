"""Post-hoc detectors on a classifier: the shared machinery of the out-of-distribution and
adversarial-example detectors (supervision ``"class-labels"``).

Such a detector is fitted on in-distribution data with its class labels, ``fit(X, y)``: it
trains a classifier of those classes (deepad's own, built by modality through
:func:`deepad.nets.build_backbone` and trained by the one :class:`~deepad.core.trainer.Trainer`
with cross-entropy) or takes one the user trained (``classifier=``, any ``torch.nn.Module``
mapping a batch of ``X`` to logits ``(n, n_classes)``), then gathers whatever statistics its
score needs from the training data (class means, a feature bank, ...).
``decision_function(X)`` is higher for samples more likely out of distribution / adversarial.

Features are the output of a named module (``feature_layer``) captured by a forward hook, so
any network works without a ``features()`` method; by default they are the *input of the
last* ``nn.Linear`` (in ``named_modules`` order), the penultimate-layer features of the OOD
papers. A feature map ``(n, C, H, W)`` is averaged over its spatial positions, as Lee et al.
(2018) do; other outputs of more than two dimensions are flattened.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from deepad.core.chunks import chunk_rows
from deepad.core.deep import DeepDetector
from deepad.core.params import BOOLEAN, NONE, Interval, Options
from deepad.core.runtime import resolve_device, resolve_seed
from deepad.core.saved_state import CONFIG_FILE, read_field, take_tensors
from deepad.core.trainer import Batch
from deepad.core.validation import check_class_labels
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.mlp import ACTIVATIONS, activation_layer

SCORE_POSITIONS = 1 << 17
"""Pixels (or rows) per scoring pass of the classifier detectors (:meth:`score_rows`)."""
GRADIENT_SCORE_POSITIONS = 1 << 16
"""Pixels per scoring pass of a score that takes an input gradient (ODIN, Mahalanobis with
ε > 0): half of ``SCORE_POSITIONS``, about 83 images of 28 x 28. A gradient pass keeps every
activation of its chunk alive until the backward pass; at twice this size the Fashion-MNIST
CNN's working set was handed back to the system and faulted in again every chunk (the
measurement: ``docs/decisions.md``, Mahalanobis scoring speed against pytorch-ood; the
check: ``benchmarks/ood_fashion.py --speed-check``). The scores do not depend on the chunk."""
MAX_SCORE_ROWS = 1024
LAST_LINEAR = None
"""``feature_layer=None``: the features are the input of the network's last ``nn.Linear``."""


class ClassifierNet(nn.Module):
    """deepad's classifier: the modality's backbone to ``feature_dim`` → activation → a linear
    head to ``n_classes`` logits. The head's input (the activated ``feature_dim`` vector) is
    the penultimate-layer feature the OOD detectors read."""

    def __init__(self, body: nn.Module, feature_dim: int, n_classes: int,
                 activation: str = "relu") -> None:
        super().__init__()
        self.body = body
        self.act = activation_layer(activation)
        self.head = nn.Linear(feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act(self.body(x)))


def _as_vectors(t: torch.Tensor) -> torch.Tensor:
    """A captured output as ``(n, d)``: feature maps ``(n, C, H, W)`` spatially averaged,
    anything else of more than two dimensions flattened."""
    if t.ndim == 4:
        return t.mean(dim=(2, 3))
    return t.reshape(len(t), -1) if t.ndim != 2 else t


def last_linear_name(model: nn.Module) -> str | None:
    """Name of the last ``nn.Linear`` of ``model`` in ``named_modules`` order (None: none)."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return names[-1] if names else None


def logits_and_features(model: nn.Module, x: torch.Tensor,
                        layers: Sequence[str | None]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One forward pass of ``model`` on ``x``: the logits and, for each entry of ``layers``,
    the ``(n, d)`` features there (a module name: its output; None: the input of the last
    ``nn.Linear``). Hooks live only during the call."""
    modules = dict(model.named_modules())
    captured: list[torch.Tensor | None] = [None] * len(layers)
    handles = []
    try:
        for i, name in enumerate(layers):
            if name is None:
                def pre_hook(_m, inputs, i=i):
                    captured[i] = inputs[0]
                handles.append(modules[last_linear_name(model)].register_forward_pre_hook(
                    pre_hook))
            else:
                def hook(_m, _inputs, output, i=i):
                    captured[i] = output
                handles.append(modules[name].register_forward_hook(hook))
        logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return logits, [_as_vectors(t) for t in captured]


def input_gradient(function, x: torch.Tensor) -> torch.Tensor:
    """``∇_x Σ function(x)``, the gradient of a per-sample function with respect to the input
    only (the network's parameters accumulate nothing)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(function(x).sum(), x)
    return grad


class _ModuleOrNone:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None or isinstance(value, nn.Module)

    def __str__(self) -> str:
        return "None (deepad trains a classifier) or a trained torch.nn.Module"


class _NameOrNone:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None or (isinstance(value, str) and bool(value))

    def __str__(self) -> str:
        return "None (the input of the last nn.Linear) or a module name of the classifier"


CLASSIFIER_CONSTRAINTS: dict[str, list] = {
    "classifier": [_ModuleOrNone()],
    "feature_layer": [_NameOrNone()],
    "feature_dim": [Interval(numbers.Integral, 1, None)],
    "activation": [Options(tuple(ACTIVATIONS))],
    "batch_norm": [BOOLEAN],
}


class ClassifierDetector(DeepDetector):
    """Base of the post-hoc detectors on a classifier (not registered itself).

    Subclasses declare ``uses_features`` and ``statistic_names``, and implement
    ``fit_statistics(X, y) -> dict[str, Tensor]`` (from the training data, after the
    classifier is ready) and ``ood_score(x) -> Tensor`` (a batch's scores, higher = more
    out of distribution). The classifier is ``model_`` (also ``classifier_``), in eval mode.

    Shared hyperparameters
    ----------------------
    classifier : torch.nn.Module or None, default None
        A trained classifier to use as it is (not copied, not trained; set to eval mode and
        moved to ``device`` when one is given): it maps a batch of ``X`` (a float tensor of the
        validated input's shape) to logits ``(n, n_classes)``, and ``y`` must hold its output
        indices. None → deepad trains a :class:`ClassifierNet` on ``(X, y)``. A detector
        with a given classifier cannot be saved (``save`` raises ``NotImplementedError``):
        its architecture is code, not JSON. Pass ``classifier=other.classifier_`` to score
        with another detector's classifier.
    feature_layer : str or None, default None
        Name (in ``classifier.named_modules()``) of the module whose output are the features;
        None → the input of the last ``nn.Linear``.
    hidden_dims, feature_dim, activation, backbone, batch_norm
        deepad's classifier: the modality's backbone (MLP layers / convolutional blocks of
        ``hidden_dims``, each followed by batch normalisation when ``batch_norm``, default
        False) to ``feature_dim`` units, the activation, and a linear head. The
        Fashion-MNIST benchmarks (``benchmarks/ood_fashion.py``, ``adversarial_fashion.py``)
        train their CNN with it. The scores use the network in eval mode, so its running
        statistics, not the batch's, normalise (one sample scores as in a batch).
    epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip
        Its training (Adam, cross-entropy).

    Attributes
    ----------
    classifier_ : torch.nn.Module
        The classifier the scores use (``model_``).
    classes_ : ndarray of int
        The class labels, in the order of the classifier's outputs.
    statistics_ : dict of str to Tensor
        What ``fit_statistics`` gathered.
    """

    supervision: ClassVar[tuple[str, ...]] = ("class-labels",)
    modalities: ClassVar[tuple[str, ...]] = ("tabular", "image")
    category: ClassVar[str] = "related"
    uses_features: ClassVar[bool] = False
    statistic_names: ClassVar[tuple[str, ...]] = ()

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints, **CLASSIFIER_CONSTRAINTS}

    # ------------------------------------------------------------------ hooks
    def fit_statistics(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Statistics of the training data the score needs (default: none)."""
        return {}

    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------ classifier
    def build(self, spec: InputSpec) -> nn.Module:
        body = build_backbone(spec, hidden_dims=self.hidden_dims, out_dim=self.feature_dim,
                              kind=self.backbone, activation=self.activation,
                              batch_norm=self.batch_norm)
        return ClassifierNet(body, self.feature_dim, self.n_classes_, self.activation)

    def loss(self, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(self.model_(batch.x), batch.y, reduction="none")

    def score(self, batch: Batch) -> torch.Tensor:
        return self.ood_score(batch.x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model_(x)

    def features(self, x: torch.Tensor,
                 layers: Sequence[str | None] | None = None) -> tuple[torch.Tensor,
                                                                      list[torch.Tensor]]:
        """Logits and the features of ``layers`` (default: ``[feature_layer]``) of a batch."""
        return logits_and_features(self.model_, x, [self.feature_layer] if layers is None
                                   else list(layers))

    @torch.no_grad()
    def features_in_chunks(self, X: torch.Tensor,
                           layers: Sequence[str | None] | None = None) -> list[torch.Tensor]:
        """Features of every sample of ``X`` (chunked forward passes), one ``(n, d)`` tensor
        per layer."""
        rows = self.score_rows(X.shape)
        parts = [self.features(X[start:start + rows], layers)[1]
                 for start in range(0, len(X), rows)]
        return [torch.cat(column) for column in zip(*parts, strict=True)]

    def score_rows(self, shape: Sequence[int]) -> int:
        """Samples per scoring pass: :func:`~deepad.core.chunks.chunk_rows` with
        ``SCORE_POSITIONS`` (about 170 images of 28 x 28; at most ``MAX_SCORE_ROWS`` rows),
        larger than the library's default pass: the ODIN and Mahalanobis scores take a
        backward pass per chunk, which small chunks make overhead-bound; a score that takes
        an input gradient (:meth:`scores_with_gradient`) uses ``GRADIENT_SCORE_POSITIONS``
        (about 80 images). Detectors whose intermediate tensors grow with something else
        bound it further (``DeepKNN``)."""
        positions = (GRADIENT_SCORE_POSITIONS if self.scores_with_gradient()
                     else SCORE_POSITIONS)
        return min(chunk_rows(shape, positions=positions), MAX_SCORE_ROWS)

    def scores_with_gradient(self) -> bool:
        """Whether the score takes an input gradient (ODIN's and Mahalanobis' pre-processing
        with ε > 0); it sets the scoring chunk (:meth:`score_rows`)."""
        return float(getattr(self, "epsilon_", 0.0) or 0.0) > 0

    @torch.no_grad()
    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        self.model_.eval()
        rows = self.score_rows(X.shape)
        scores = []
        for start in range(0, len(X), rows):
            x = torch.from_numpy(X[start:start + rows]).to(self.device_)
            index = torch.arange(start, start + len(x), device=self.device_)
            scores.append(self.score(Batch(x, None, index)).double().cpu())
        return torch.cat(scores).numpy()

    def check_layers(self, layers: Sequence[str | None]) -> None:
        """Each name a module of the classifier (None: it has an ``nn.Linear``), or
        ``ValueError`` listing the names there are."""
        modules = dict(self.model_.named_modules())
        for name in layers:
            if name is None and last_linear_name(self.model_) is None:
                msg = (f"{type(self).__name__}: the classifier has no nn.Linear layer, so its "
                       "features must be named: pass feature_layer= one of "
                       f"{[n for n in modules if n][:20]}.")
                raise ValueError(msg)
            if name is not None and name not in modules:
                msg = (f"{type(self).__name__}: the classifier has no module named {name!r}; "
                       f"its modules are {[n for n in modules if n][:20]}.")
                raise ValueError(msg)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        if self.classifier is None:
            self.classes_, encoded = np.unique(y, return_inverse=True)
            self.n_classes_ = len(self.classes_)
            super()._fit(X, encoded.astype(np.int64))
        else:
            encoded = self._take_classifier(X, y)
        self.classifier_ = self.model_
        if self.uses_features:
            self.check_layers(self.feature_layers())
        X_t = torch.from_numpy(X).to(self.device_)
        y_t = torch.from_numpy(np.asarray(encoded, dtype=np.int64)).to(self.device_)
        self.statistics_ = {k: v.detach() for k, v in self.fit_statistics(X_t, y_t).items()}

    def feature_layers(self) -> list[str | None]:
        """The layers whose features the score reads (default: ``[feature_layer]``)."""
        return [self.feature_layer]

    def _take_classifier(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        model = self.classifier
        params = list(model.parameters())
        if self.device is None:
            self.device_ = params[0].device if params else torch.device("cpu")
        else:
            self.device_ = resolve_device(self.device)
            model.to(self.device_)
        self.seed_ = resolve_seed(self.random_state)
        self.history_ = []
        model.eval()
        with torch.no_grad():
            probe = model(torch.from_numpy(X[:2]).to(self.device_))
        if not isinstance(probe, torch.Tensor) or probe.ndim != 2 or probe.shape[1] < 2:
            shape = tuple(probe.shape) if isinstance(probe, torch.Tensor) else type(probe)
            msg = (f"{type(self).__name__}: the classifier must map a batch of X to logits of "
                   f"shape (n, n_classes) with n_classes >= 2; it returned {shape}.")
            raise ValueError(msg)
        self.n_classes_ = int(probe.shape[1])
        self.classes_ = np.arange(self.n_classes_)
        self.model_ = model
        return check_class_labels(y, len(X), n_classes=self.n_classes_)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to the directory ``path`` (see :meth:`BaseDetector.save`); only a detector whose
        classifier deepad built (``classifier=None``): ``NotImplementedError`` otherwise."""
        check_is_fitted(self, "decision_scores_")
        if self.classifier is not None:
            msg = (f"{type(self).__name__} with a classifier given as an object cannot be "
                   "saved: deepad stores hyperparameters as JSON and never pickles, and a "
                   "network's architecture is code. Save your classifier's state_dict yourself "
                   "and refit the detector on it after loading, or let deepad train the "
                   "classifier (classifier=None), which saves and loads.")
            raise NotImplementedError(msg)
        return super().save(path)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["n_classes"] = int(self.n_classes_)
        state["classes"] = [int(c) for c in self.classes_]
        for key, value in self.statistics_.items():
            tensors[f"stats.{key}"] = value.detach().cpu().contiguous()
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        self.n_classes_ = read_field(state, "n_classes", "int", low=2)
        classes = read_field(state, "classes", "list")
        if len(classes) != self.n_classes_ or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in classes):
            msg = (f"{CONFIG_FILE}: state['classes'] must list {self.n_classes_} integer "
                   f"labels; got {classes[:10]!r}.")
            raise ValueError(msg)
        self.classes_ = np.asarray(classes, dtype=np.int64)
        super()._set_state(state, tensors, device=device)
        self.classifier_ = self.model_
        stats = take_tensors(tensors, "stats.")
        if set(stats) != set(self.statistic_names):
            msg = (f"{type(self).__name__} needs the saved statistics "
                   f"{sorted(self.statistic_names)}; the weights file holds {sorted(stats)}.")
            raise ValueError(msg)
        # copies: a tensor read from the weights file may sit at an address a BLAS kernel
        # treats differently from a fresh allocation (last-bit differences in a product)
        self.statistics_ = {k: stats[k].to(self.device_).clone() for k in self.statistic_names}


CLASSIFIER_DEFAULTS: dict[str, Any] = {
    "classifier": None, "feature_layer": None, "hidden_dims": (32, 64), "feature_dim": 128,
    "activation": "relu", "backbone": "auto", "epochs": 20, "batch_size": 128, "lr": 1e-3,
    "weight_decay": 0.0, "validation_size": 0.0, "patience": None, "grad_clip": None,
    "contamination": 0.1, "device": None, "random_state": None, "verbose": False,
    "batch_norm": False}
"""Defaults of the shared hyperparameters (each detector's ``__init__`` restates them)."""

CLASSIFIER_TEST_PARAMS: dict[str, Any] = {"hidden_dims": (16,), "feature_dim": 16,
                                          "epochs": 30, "batch_size": 64}
"""Tiny shared hyperparameters for the conformance suite."""

__all__ = ["CLASSIFIER_CONSTRAINTS", "CLASSIFIER_DEFAULTS", "CLASSIFIER_TEST_PARAMS",
           "ClassifierDetector", "ClassifierNet", "NONE", "input_gradient",
           "last_linear_name", "logits_and_features"]
