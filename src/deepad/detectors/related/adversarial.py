"""Adversarial-example detection on a classifier: kernel density + Bayesian uncertainty (KDBU),
local intrinsic dimensionality (LID) and the Mahalanobis layer scores (MahalanobisAdversarial).

**The API.** These detectors learn from examples of attacks, in two steps:

1. ``fit(X, y)`` with clean in-distribution data and its integer classes, as every detector of
   supervision ``"class-labels"``: trains deepad's classifier (or takes ``classifier=``) and
   gathers the statistics the characteristics need (KDBU: the training features of each class;
   LID: a reference mini-batch of clean training inputs; Mahalanobis: class means and tied
   covariances per layer).
2. ``fit_detector(X, is_adversarial)`` with normal (clean and noisy) and adversarial inputs:
   computes each sample's characteristics and fits the papers' logistic regression on them
   (standardised, or scaled to [0, 1] for LID as its release does; scikit-learn's
   ``LogisticRegressionCV``). :func:`adversarial_protocol` makes these inputs by Ma et al.'s
   protocol.

``decision_function(X)`` is then the regression's logit (higher = more likely adversarial).
Before ``fit_detector`` it is a fixed linear rule with the same form: each characteristic
standardised on (up to 1,000) clean training samples, signed as the papers report it (LID up,
kernel density down, uncertainty up, Mahalanobis distance up for adversarial inputs) and
averaged. ``fit_detector`` replaces ``decision_scores_`` by the scores of the samples it was
given and sets ``threshold_`` so that ``contamination`` of its *normal* samples are flagged
(a false-positive rate of ``contamination``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn.modules.dropout import _DropoutNd

from deepad.core.chunks import chunk_rows
from deepad.core.params import Interval, Options
from deepad.core.registry import register
from deepad.core.saved_state import read_field
from deepad.core.scoring import contamination_threshold
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.detectors.related.attacks import as_tensor, predict, run_attack
from deepad.detectors.related.classifier import CLASSIFIER_DEFAULTS as D
from deepad.detectors.related.classifier import (
    CLASSIFIER_TEST_PARAMS,
    ClassifierDetector,
    ClassifierNet,
    input_gradient,
)
from deepad.detectors.related.ood import EPSILONS, Mahalanobis
from deepad.nets import build_backbone
from deepad.nets.mlp import ACTIVATIONS

LID_KS = (10, 20, 30, 40, 50, 60, 70, 80, 90)
"""The k that ``LID(k="auto")`` chooses from (Lee et al.'s list for LID)."""
LID_DEFAULT_K = 20
LID_N_REFERENCES = (100, 200, 300, 500, 1000)
"""The reference mini-batch sizes that ``LID(n_reference="auto")`` chooses from (Ma et al.'s
release: 100); the smaller batches are the first rows of the largest (nested)."""
LID_DEFAULT_N_REFERENCE = 100
STANDARDISE_ROWS = 1000
"""Clean training samples (a seeded subsample) that standardise the characteristics."""
SKIPPED_LAYERS = (_DropoutNd, nn.Flatten, nn.Identity)
DETECTOR_STATS = ("char_mean", "char_std", "coef", "intercept")


def _leaf_layers(model: nn.Module) -> list[str]:
    """Names of the leaf modules of ``model`` whose outputs are layers (not dropout, flatten
    or identity), in ``named_modules`` order."""
    return [name for name, m in model.named_modules()
            if name and not list(m.children()) and not isinstance(m, SKIPPED_LAYERS)]


def _activation_layers(model: nn.Module) -> list[str]:
    """Names of the activation modules of ``model`` (ReLU, leaky ReLU, ...)."""
    kinds = tuple(ACTIVATIONS.values())
    return [name for name, m in model.named_modules() if name and isinstance(m, kinds)]


def layer_outputs(model: nn.Module, x: torch.Tensor,
                  names: Sequence[str]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One forward pass: the logits and each named module's output, flattened to ``(n, d)``."""
    modules = dict(model.named_modules())
    captured: dict[str, torch.Tensor] = {}
    handles = [modules[name].register_forward_hook(
        lambda _m, _i, out, name=name: captured.__setitem__(name, out)) for name in names]
    try:
        logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return logits, [captured[name].reshape(len(x), -1) for name in names]


def lid_mle(distances: torch.Tensor, k: int) -> torch.Tensor:
    """Maximum-likelihood LID estimate per row (Ma et al. 2018, after Amsaleg et al. 2015)
    from each row's distances to a reference set: ``−(1/k Σ_{i≤k} log(r_i / r_k))⁻¹`` over the
    ``k`` smallest distances ``r_1 ≤ ... ≤ r_k``. A zero smallest distance (the sample itself
    in the reference) is skipped for the next one."""
    nearest = distances.topk(min(k + 1, distances.shape[1]), dim=1, largest=False).values
    return lid_from_nearest(nearest, k)


def lid_from_nearest(nearest: torch.Tensor, k: int) -> torch.Tensor:
    """:func:`lid_mle` from each row's smallest distances in ascending order (at least the
    ``k + 1`` smallest, or all there are): one sort serves every k of a grid."""
    nearest = nearest[:, :k + 1]
    self_hit = nearest[:, :1] <= 1e-12
    r = torch.where(self_hit, nearest[:, 1:k + 1], nearest[:, :k]) if nearest.shape[1] > k \
        else nearest
    r = r.clamp(min=1e-12)
    mean_log = torch.log(r / r[:, -1:]).mean(dim=1)
    return -1.0 / mean_log.clamp(max=-1e-12)


class AdversarialDetector(ClassifierDetector):
    """Base of the adversarial-example detectors (not registered): characteristics per sample,
    a standardised linear score, and :meth:`fit_detector`. Subclasses implement
    ``fit_reference(X, y) -> dict`` (statistics the characteristics need) and
    ``characteristics(x, index) -> (n, m)``, and declare ``signs`` (how each characteristic
    moves for adversarial inputs; None → one sign for every column, ``default_sign``)."""

    subcategory = "adversarial"
    reference_stats: ClassVar[tuple[str, ...]] = ()
    default_sign: ClassVar[float] = 1.0
    choice_param: ClassVar[str | None] = None
    """The parameter that ``"auto"`` lets :meth:`fit_detector` choose (Lee et al.'s
    ``ADV_Regression.py``), None when the detector has none."""
    scaling: ClassVar[str] = "standard"
    """How :meth:`fit_detector` scales each characteristic before the logistic regression:
    ``"standard"`` (mean 0, standard deviation 1, Feinman et al.'s release) or ``"minmax"``
    (to [0, 1] on the fitting data, Ma et al.'s release)."""

    # ------------------------------------------------------------------ the choice
    def choice_grid(self) -> tuple:
        """The values ``"auto"`` chooses from."""
        return ()

    def apply_choice(self, value: Any) -> None:
        """Make the characteristics use ``value`` of :attr:`choice_param`."""
        raise NotImplementedError

    def grid_characteristics(self, X: torch.Tensor) -> dict[Any, torch.Tensor]:
        """The characteristics of ``X`` for every value of :meth:`choice_grid` (one pass per
        value; LID overrides it to share the distances)."""
        out = {}
        for value in self.choice_grid():
            self.apply_choice(value)
            out[value] = self._characteristics_in_chunks(X)
        return out

    def _choice_pending(self) -> bool:
        return self.choice_param is not None and getattr(self, self.choice_param) == "auto"

    def _choose(self, X: torch.Tensor, labels: np.ndarray, groups: np.ndarray
                ) -> torch.Tensor:
        """Lee et al.'s choice (``ADV_Regression.py``): for each value of the grid, a logistic
        regression fitted on one half of the detector data (split by ``groups``, so the clean,
        noisy and adversarial versions of one image stay together) and scored by its AUROC on
        the other half; the best value (the first on ties) is kept. Returns its
        characteristics of every row of ``X``."""
        from deepad.metrics import auc_roc

        names = np.unique(groups)
        generator = np.random.default_rng(int(self.seed_ or 0))
        first = np.isin(groups, generator.permutation(names)[:len(names) // 2])
        for part in (first, ~first):
            if np.bincount(labels[part], minlength=2).min() < 2:
                msg = (f"{self.choice_param}='auto' splits the detector data in two halves by "
                       f"group, and each half needs at least 2 normal and 2 adversarial "
                       f"samples; got {np.bincount(labels[part], minlength=2).tolist()}. Pass "
                       f"more samples or a fixed {self.choice_param}.")
                raise ValueError(msg)
        results, best, best_chars = {}, None, None
        for value, chars in self.grid_characteristics(X).items():
            z = chars.cpu().numpy()
            regression, mean, std = _regression(z[first], labels[first], self.scaling)
            auc = float(auc_roc(labels[~first],
                                regression.decision_function((z[~first] - mean) / std)))
            results[value] = auc
            if best is None or auc > results[best]:
                best, best_chars = value, chars
        self.apply_choice(best)
        self.choice_auroc_ = results
        return best_chars

    # ------------------------------------------------------------------ hooks
    def fit_reference(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    def characteristics(self, x: torch.Tensor, index: torch.Tensor | None = None
                        ) -> torch.Tensor:
        raise NotImplementedError

    def signs(self, n_columns: int) -> torch.Tensor:
        return torch.full((n_columns,), self.default_sign, dtype=torch.float64)

    # ------------------------------------------------------------------ fitting
    def fit_statistics(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        self.model_.eval()
        self.statistics_ = dict(self.fit_reference(X, y))
        generator = torch.Generator().manual_seed(int(self.seed_ or 0))
        rows = torch.randperm(len(X), generator=generator)[:STANDARDISE_ROWS].to(X.device)
        chars = self._characteristics_in_chunks(X[rows])
        mean, std = chars.mean(dim=0), chars.std(dim=0).clamp(min=1e-12)
        coef = self.signs(chars.shape[1]).to(chars.device) / chars.shape[1]
        self.detector_fitted_ = False
        return {**self.statistics_, "char_mean": mean, "char_std": std, "coef": coef,
                "intercept": torch.zeros(1, dtype=torch.float64, device=chars.device)}

    def _characteristics_in_chunks(self, X: torch.Tensor) -> torch.Tensor:
        rows = chunk_rows(X.shape)
        index = torch.arange(len(X), device=X.device)
        return torch.cat([self.characteristics(X[s:s + rows], index[s:s + rows]).double()
                          for s in range(0, len(X), rows)])

    def fit_detector(self, X: Any, is_adversarial: Any, groups: Any = None
                     ) -> AdversarialDetector:
        """Fit the logistic regression on the characteristics of ``X`` (normal inputs,
        ``is_adversarial = 0``: clean and noisy ones; adversarial inputs: 1), as Feinman et
        al., Ma et al. and Lee et al. do; the classifier and its statistics stay as ``fit``
        made them.

        Where the detector's :attr:`choice_param` is ``"auto"`` (LID's ``k``,
        MahalanobisAdversarial's ``epsilon``), its value is first chosen on ``X`` alone, as
        Lee et al.'s ``ADV_Regression.py`` does: a regression per value fitted on one half of
        the rows and scored by its AUROC on the other (``choice_auroc_``). ``groups`` (one
        label per row, e.g. the source image of a clean, noisy and adversarial triple, as
        :attr:`AdversarialSplit.groups_fit` holds) keeps related rows in one half; without it
        every row is its own group.

        Raises
        ------
        ValueError
            Labels other than 0 / 1, of another length than ``X``, or without both kinds;
            ``groups`` of another length than ``X``; ``X`` not of the fitted input's shape;
            with ``"auto"``, a half without 2 samples of each kind.
        """
        check_is_fitted(self, "statistics_")
        X = self._check_input(X)
        labels = np.asarray(is_adversarial)
        if labels.ndim != 1 or len(labels) != len(X):
            msg = (f"is_adversarial must hold one 0/1 label per sample of X, shape "
                   f"({len(X)},); got shape {labels.shape}.")
            raise ValueError(msg)
        if not np.isin(labels, (0, 1)).all():
            msg = (f"is_adversarial must be 0 (normal: clean or noisy) or 1 (adversarial); got "
                   f"values {np.unique(labels)[:10].tolist()}.")
            raise ValueError(msg)
        counts = np.bincount(labels.astype(np.int64), minlength=2)
        if counts.min() < 2:
            msg = (f"fit_detector needs at least 2 normal and 2 adversarial samples; got "
                   f"{counts[0]} normal and {counts[1]} adversarial.")
            raise ValueError(msg)
        groups = np.arange(len(X)) if groups is None else np.asarray(groups)
        if groups.shape != (len(X),):
            msg = (f"groups must hold one label per sample of X, shape ({len(X)},); got "
                   f"shape {groups.shape}.")
            raise ValueError(msg)
        labels = labels.astype(np.int64)
        X_t = torch.from_numpy(X).to(self.device_)
        self.model_.eval()
        if self._choice_pending():
            chars = self._choose(X_t, labels, groups)
        else:
            chars = self._characteristics_in_chunks(X_t)
        regression, offset, scale = _regression(chars.cpu().numpy(), labels, self.scaling)
        device = chars.device
        mean = torch.from_numpy(np.asarray(offset, dtype=np.float64)).to(device)
        std = torch.from_numpy(np.asarray(scale, dtype=np.float64)).to(device)
        self.statistics_.update(
            char_mean=mean, char_std=std,
            coef=torch.from_numpy(regression.coef_[0].astype(np.float64)).to(device),
            intercept=torch.tensor([float(regression.intercept_[0])], dtype=torch.float64,
                                   device=device))
        self.detector_fitted_ = True
        scores = self._linear(chars).cpu().numpy()
        self._check_scores(scores)
        self.decision_scores_ = scores
        self.threshold_rule_ = "contamination"
        self.threshold_ = contamination_threshold(scores[labels == 0], self.contamination)
        self.labels_ = (scores > self.threshold_).astype(np.int64)
        return self

    # ------------------------------------------------------------------ scoring
    def _linear(self, chars: torch.Tensor) -> torch.Tensor:
        s = self.statistics_
        return ((chars - s["char_mean"]) / s["char_std"]) @ s["coef"] + s["intercept"]

    def score(self, batch: Batch) -> torch.Tensor:
        return self._linear(self.characteristics(batch.x, batch.index).double())

    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        return self._linear(self.characteristics(x).double())

    # ------------------------------------------------------------------ persistence
    def _get_state(self):
        state, tensors = super()._get_state()
        state["detector_fitted"] = bool(self.detector_fitted_)
        return state, tensors

    def _set_state(self, state, tensors, device=None):
        super()._set_state(state, tensors, device=device)
        self.detector_fitted_ = read_field(state, "detector_fitted", "bool")


def _regression(z: np.ndarray, labels: np.ndarray, scaling: str = "standard"):
    """The papers' logistic regression on scaled characteristics (scikit-learn's
    ``LogisticRegressionCV``); returns it with the scaling's offset and scale (the regression
    sees ``(z - offset) / scale``): ``"standard"``, mean and standard deviation; ``"minmax"``,
    minimum and range."""
    from sklearn.linear_model import LogisticRegressionCV

    if scaling == "minmax":
        mean = z.min(axis=0)
        std = np.maximum(z.max(axis=0) - mean, 1e-12)
    else:
        mean, std = z.mean(axis=0), np.maximum(z.std(axis=0, ddof=1), 1e-12)
    regression = LogisticRegressionCV(
        cv=int(min(5, np.bincount(labels, minlength=2).min())), max_iter=2000)
    with warnings.catch_warnings():  # scikit-learn's notices of changing defaults
        warnings.simplefilter("ignore", FutureWarning)
        regression.fit((z - mean) / std, labels)
    return regression, mean, std


_CLASSIFIER_ARGS = ("classifier", "feature_layer", "hidden_dims", "feature_dim", "activation",
                    "backbone", "epochs", "batch_size", "lr", "weight_decay", "validation_size",
                    "patience", "grad_clip", "contamination", "device", "random_state",
                    "verbose")


class _LayersOrAuto:
    def is_satisfied_by(self, value: Any) -> bool:
        return value == "auto" or (isinstance(value, list | tuple) and len(value) > 0 and all(
            isinstance(v, str) and v for v in value) and len(set(value)) == len(value))

    def __str__(self) -> str:
        return "'auto' or a non-empty tuple of distinct module names"


# ============================================================================ LID
@register
class LID(AdversarialDetector):
    """Local intrinsic dimensionality characteristics (Ma et al., ICLR 2018): adversarial
    regions have a higher LID than the data's submanifold, at every layer of the classifier.

    For a sample x and each layer ℓ, the maximum-likelihood estimate (Amsaleg et al. 2015)
    ``LID_ℓ(x) = −(1/k Σ_{i=1}^{k} log(r_i(x) / r_k(x)))⁻¹`` over the distances ``r_i`` from
    x's layer-ℓ output (flattened) to its k nearest neighbours in a mini-batch of clean
    samples; the vector over layers goes to a logistic regression (:meth:`fit_detector`), on
    the characteristics scaled to [0, 1] by their range on the fitting data (the release's
    ``MinMaxScaler``; it fits the scaler on the evaluation rows too). ``layers="auto"``: as
    the release's ``get_layer_wise_activations``, the input itself, the output of every layer
    of the classifier (each leaf module, the logits included) and the softmax of the logits
    (the release's Keras models end with a softmax layer); dropout, flatten and identity
    modules are left out, since in eval mode their outputs repeat the previous layer's (the
    release lists them, so its regression sees those LIDs twice or three times).
    Defaults are the release's (``extract_characteristics.py -k 20 -b 100``): mini-batches of
    100, k = 20. ``k="auto"``: chosen
    from :data:`LID_KS` (Lee et al.'s ``ADV_Generate_LID_Mahalanobis.py`` list, 10 ... 90,
    those below ``n_reference``) in :meth:`fit_detector` on the detector data alone, by Lee
    et al.'s ``ADV_Regression.py`` rule (see :meth:`AdversarialDetector.fit_detector`); k = 20
    until then. ``n_reference="auto"``: the reference mini-batch size is chosen the same way,
    from :data:`LID_N_REFERENCES` (100, 200, 300, 500, 1000; jointly with k when both are
    ``"auto"``, over the pairs with k below the size); ``fit`` draws the largest batch, the
    smaller ones are its first rows, and 100 is used until :meth:`fit_detector` chooses.
    Ma et al. fix 100 (their release's batch size); the wider grid is deepad's extension of
    Lee et al.'s rule, chosen on the detector data alone like k.

    Deviation: the release estimates LID within each mini-batch of 100 evaluation images,
    against the clean images of that batch, always dropping the nearest one (``mle_batch``:
    the sorted distances ``[1:k+1]``), which for a clean image is itself and for its noisy or
    adversarial version most often its own clean source in the same batch; here the reference
    mini-batch is ``n_reference`` clean training samples drawn once in ``fit`` (a buffer), and
    only a zero distance (the sample itself) is dropped, so a sample's score needs neither its
    clean source nor the other samples it is scored with, and a saved model scores the same.

    Parameters
    ----------
    k : int or "auto", default 20
    n_reference : int or "auto", default 100
        Size of the reference mini-batch (all training samples when there are fewer);
        ``"auto"``: chosen from :data:`LID_N_REFERENCES` in :meth:`fit_detector`.
    layers : "auto" or tuple of str, default "auto"
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector`.

    Attributes
    ----------
    k_ : int
        The k used.
    n_reference_ : int
        The reference mini-batch size used (the first ``n_reference_`` rows of the buffer).
    choice_auroc_ : dict
        With ``k="auto"`` or ``n_reference="auto"``, after :meth:`fit_detector`: each
        value's AUROC on the held-out half, keyed by k (``n_reference`` fixed) or by
        ``(n_reference, k)`` pairs (``n_reference="auto"``).

    References
    ----------
    Ma, Li, Wang, Erfani, Wijewickrema, Schoenebeck, Song, Houle & Bailey, "Characterizing
    Adversarial Subspaces Using Local Intrinsic Dimensionality", ICLR 2018.
    """

    name = "LID"
    reference = ("Ma et al., Characterizing Adversarial Subspaces Using Local Intrinsic "
                 "Dimensionality, ICLR 2018")
    uses_features = False
    scaling = "minmax"
    statistic_names = ("reference", *DETECTOR_STATS)
    choice_param = "k"
    test_params: ClassVar[dict[str, Any]] = {**CLASSIFIER_TEST_PARAMS, "k": 10}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **ClassifierDetector._parameter_constraints,
        "k": [Interval(numbers.Integral, 2, None), Options(("auto",))],
        "n_reference": [Interval(numbers.Integral, 3, None), Options(("auto",))],
        "layers": [_LayersOrAuto()],
    }

    def __init__(self, k=20, n_reference=100, layers="auto", classifier=D["classifier"],
                 feature_layer=D["feature_layer"], hidden_dims=D["hidden_dims"],
                 feature_dim=D["feature_dim"], activation=D["activation"],
                 backbone=D["backbone"], epochs=D["epochs"], batch_size=D["batch_size"],
                 lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        self.k = k
        self.n_reference = n_reference
        self.layers = layers
        self.classifier = classifier
        self.feature_layer = feature_layer
        self.hidden_dims = hidden_dims
        self.feature_dim = feature_dim
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
        self.batch_norm = batch_norm

    def lid_layers(self) -> list[str]:
        names = _leaf_layers(self.model_) if self.layers == "auto" else list(self.layers)
        self.check_layers(names)
        return names

    def lid_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The ``(n, d)`` representations whose LIDs are the characteristics, one forward
        pass: with ``layers="auto"``, the input itself, the output of every layer of
        :meth:`lid_layers` and the softmax of the logits (in float64, so that confident
        outputs do not tie at float32's resolution); otherwise the named layers' outputs."""
        logits, outputs = layer_outputs(self.model_, x, self.lid_layers())
        if self.layers != "auto":
            return outputs
        return [x.reshape(len(x), -1), *outputs, torch.softmax(logits.double(), dim=1)]

    def _choice_pending(self) -> bool:
        return self.k == "auto" or self.n_reference == "auto"

    def _reference_sizes(self) -> tuple[int, ...]:
        """The reference sizes to choose from (``n_reference="auto"``), capped at the rows
        drawn; a fixed ``n_reference``: its one size."""
        rows = self._n_reference_rows
        if self.n_reference != "auto":
            return (min(self.n_reference, rows),)
        return tuple(sorted({min(n, rows) for n in LID_N_REFERENCES}))

    def choice_grid(self) -> tuple:
        ks = LID_KS if self.k == "auto" else (int(self.k),)
        if self.n_reference != "auto":
            return tuple(k for k in ks if k < self._reference_sizes()[0])
        return tuple((n, k) for n in self._reference_sizes() for k in ks if k < n)

    def apply_choice(self, value: Any) -> None:
        if isinstance(value, tuple):
            self.n_reference_, self.k_ = int(value[0]), int(value[1])
        else:
            self.k_ = int(value)

    def fit_reference(self, X, y):
        auto = self.k == "auto"
        smallest = LID_KS[0] if auto else self.k
        largest = max(LID_N_REFERENCES) if self.n_reference == "auto" else self.n_reference
        if smallest >= largest:
            msg = (f"LID needs k < n_reference; got k={self.k!r} (smallest {smallest}), "
                   f"n_reference={self.n_reference!r}.")
            raise ValueError(msg)
        if len(X) <= smallest:
            msg = (f"LID needs more than k={smallest} clean training samples for its reference "
                   f"mini-batch; got {len(X)}.")
            raise ValueError(msg)
        self._n_reference_rows = min(len(X), largest)
        # "auto": the paper's batch of 100 and k = 20 until fit_detector chooses (the largest
        # k the reference allows)
        self.n_reference_ = (min(LID_DEFAULT_N_REFERENCE, self._n_reference_rows)
                             if self.n_reference == "auto" else self._n_reference_rows)
        if self.n_reference == "auto" and smallest >= self.n_reference_:
            self.n_reference_ = min(n for n in self._reference_sizes() if n > smallest)
        self.k_ = min(LID_DEFAULT_K, self.n_reference_ - 1) if auto else int(self.k)
        # the largest batch (all samples when there are fewer); smaller ones are its first rows
        generator = torch.Generator().manual_seed(int(self.seed_ or 0) + 1)
        picks = torch.randperm(len(X), generator=generator)[:largest].to(X.device)
        return {"reference": X[picks].clone()}

    @contextmanager
    def _reference_outputs_once(self):
        """Within the block, the reference buffer's layer outputs are computed once and reused
        by every chunk of samples (the network is in eval mode: a sample's outputs do not
        depend on the others of its pass); outside it, :meth:`_distances` computes them with
        each chunk."""
        with torch.no_grad():
            outputs = self.lid_outputs(self.statistics_["reference"])
        self._reference_outputs = outputs
        try:
            yield
        finally:
            del self._reference_outputs

    @torch.no_grad()
    def _distances(self, x: torch.Tensor, n_reference: int | None = None
                   ) -> list[torch.Tensor]:
        """Per layer, the distances from each row of ``x`` to the first ``n_reference`` rows
        of the reference buffer (None: all of them)."""
        n = len(x)
        cached = getattr(self, "_reference_outputs", None)
        if cached is not None:
            outputs = self.lid_outputs(x)
            return [torch.cdist(o.double(), r[:n_reference].double())
                    for o, r in zip(outputs, cached, strict=True)]
        reference = self.statistics_["reference"][:n_reference]
        outputs = self.lid_outputs(torch.cat([x, reference]))
        return [torch.cdist(o[:n].double(), o[n:].double()) for o in outputs]

    def characteristics(self, x, index=None):
        return torch.stack([lid_mle(d, self.k_)
                            for d in self._distances(x, self.n_reference_)], dim=1)

    def _characteristics_in_chunks(self, X: torch.Tensor) -> torch.Tensor:
        # the reference's outputs once, and the scoring pass's larger chunks
        rows = self.score_rows(X.shape)
        with self._reference_outputs_once():
            return torch.cat([self.characteristics(X[s:s + rows]).double()
                              for s in range(0, len(X), rows)])

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        with self._reference_outputs_once():
            return super()._score_samples(X)

    def grid_characteristics(self, X: torch.Tensor) -> dict[Any, torch.Tensor]:
        # one pass over the network and the distances to the whole buffer serves every k and
        # every reference size (the first columns of the distances); one sort per size serves
        # every k (the k + 1 smallest distances are a prefix of the largest k's)
        grid = self.choice_grid()
        parts: dict[Any, list[torch.Tensor]] = {value: [] for value in grid}
        rows = self.score_rows(X.shape)
        largest = max(self._reference_sizes())
        with self._reference_outputs_once():
            for start in range(0, len(X), rows):
                distances = self._distances(X[start:start + rows], largest)
                sizes: dict[int, list[int]] = {}
                for value in grid:
                    size, k = value if isinstance(value, tuple) else (largest, value)
                    sizes.setdefault(size, []).append(k)
                for size, ks in sizes.items():
                    nearest = [d[:, :size].topk(min(max(ks) + 1, size), dim=1,
                                                largest=False).values for d in distances]
                    for k in ks:
                        value = (size, k) if isinstance(grid[0], tuple) else k
                        parts[value].append(torch.stack(
                            [lid_from_nearest(n, k) for n in nearest], dim=1))
        return {value: torch.cat(chunks) for value, chunks in parts.items()}

    def _get_state(self):
        state, tensors = super()._get_state()
        state["k"] = int(self.k_)
        state["n_reference"] = int(self.n_reference_)
        return state, tensors

    def _set_state(self, state, tensors, device=None):
        super()._set_state(state, tensors, device=device)
        self.k_ = read_field(state, "k", "int", low=1,  # models saved before k_ existed
                             default=LID_DEFAULT_K if self.k == "auto" else self.k)
        self._n_reference_rows = len(self.statistics_["reference"])
        # models saved before n_reference_ existed used their whole buffer
        self.n_reference_ = read_field(state, "n_reference", "int", low=2,
                                       default=self._n_reference_rows)
        if self.n_reference_ > self._n_reference_rows:
            msg = (f"LID: the saved n_reference {self.n_reference_} exceeds the "
                   f"{self._n_reference_rows} saved reference rows.")
            raise ValueError(msg)


# ============================================================================ KD + BU
class DropoutClassifierNet(ClassifierNet):
    """:class:`ClassifierNet` with dropout on its last hidden layer (before the head), for
    Monte-Carlo dropout."""

    def __init__(self, body: nn.Module, feature_dim: int, n_classes: int, activation: str,
                 dropout: float) -> None:
        super().__init__(body, feature_dim, n_classes, activation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.act(self.body(x))))


@register
class KDBU(AdversarialDetector):
    """Kernel density and Bayesian uncertainty (Feinman, Curtin, Shintre & Gardner, "Detecting
    Adversarial Samples from Artifacts", 2017).

    Kernel density: ``K(x) = 1/|X_t| Σ_{x_i ∈ X_t} k(φ(x_i), φ(x))`` with the Gaussian kernel
    ``k(a, b) ∝ exp(−||a − b||² / (2σ²))`` on the last hidden layer's features φ
    (``feature_layer``), over the training samples ``X_t`` of the class the classifier
    *predicts* for x; computed as a log-density (as the authors' code, scikit-learn's
    ``KernelDensity.score_samples``), low for adversarial inputs. Bayesian uncertainty: with T
    stochastic passes under Monte-Carlo dropout, ``U(x) = 1/T Σ_t ŷ_tᵀŷ_t −
    (1/T Σ_t ŷ_t)ᵀ(1/T Σ_t ŷ_t)`` on the softmax outputs ŷ_t, high for adversarial inputs. The
    two, standardised, go to a logistic regression (:meth:`fit_detector`).

    deepad's classifier gets dropout (rate ``dropout``) on its last hidden layer, before the
    head (the paper's MNIST network also drops after its convolutions; the convolutional
    backbone's channel dropout is left out); a given ``classifier``
    must contain dropout modules (only they are switched to training mode for the T passes).
    Defaults: σ = 1.20 and T = 50 (the authors' MNIST values); the density uses at most
    ``max_kde_samples`` training samples (a seeded subsample; the authors use all), kept with
    the model. The dropout masks
    are drawn from a generator seeded by ``random_state`` and the position of the scored chunk,
    so the same input gives the same scores; a sample's uncertainty is a Monte-Carlo estimate
    and changes slightly with the samples it is scored with.

    Parameters
    ----------
    bandwidth : float, default 1.2
    n_passes : int, default 50
    dropout : float, default 0.5
    max_kde_samples : int, default 10000
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector`.

    References
    ----------
    Feinman, Curtin, Shintre & Gardner, "Detecting Adversarial Samples from Artifacts",
    arXiv 1703.00410, 2017.
    """

    name = "KDBU"
    reference = ("Feinman et al., Detecting Adversarial Samples from Artifacts, "
                 "arXiv 1703.00410, 2017")
    uses_features = True
    statistic_names = ("kde_features", "kde_labels", *DETECTOR_STATS)
    test_params: ClassVar[dict[str, Any]] = {**CLASSIFIER_TEST_PARAMS, "n_passes": 10,
                                             "dropout": 0.2, "bandwidth": 1.0}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **ClassifierDetector._parameter_constraints,
        "bandwidth": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "n_passes": [Interval(numbers.Integral, 2, None)],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "max_kde_samples": [Interval(numbers.Integral, 2, None)],
    }

    def __init__(self, bandwidth=1.2, n_passes=50, dropout=0.5, max_kde_samples=10000,
                 classifier=D["classifier"], feature_layer=D["feature_layer"],
                 hidden_dims=D["hidden_dims"], feature_dim=D["feature_dim"],
                 activation=D["activation"], backbone=D["backbone"], epochs=D["epochs"],
                 batch_size=D["batch_size"], lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        self.bandwidth = bandwidth
        self.n_passes = n_passes
        self.dropout = dropout
        self.max_kde_samples = max_kde_samples
        self.classifier = classifier
        self.feature_layer = feature_layer
        self.hidden_dims = hidden_dims
        self.feature_dim = feature_dim
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
        self.batch_norm = batch_norm

    def signs(self, n_columns):
        return torch.tensor([-1.0, 1.0], dtype=torch.float64)  # density down, uncertainty up

    def build(self, spec: InputSpec) -> nn.Module:
        body = build_backbone(spec, hidden_dims=self.hidden_dims, out_dim=self.feature_dim,
                              kind=self.backbone, activation=self.activation,
                              batch_norm=self.batch_norm)
        return DropoutClassifierNet(body, self.feature_dim, self.n_classes_, self.activation,
                                    self.dropout)

    def fit_reference(self, X, y):
        if not any(isinstance(m, _DropoutNd) and m.p > 0 for m in self.model_.modules()):
            msg = ("KDBU's Bayesian uncertainty needs Monte-Carlo dropout: the classifier has "
                   "no nn.Dropout module with p > 0. Pass a classifier trained with dropout, "
                   "or let deepad train one (classifier=None, dropout > 0).")
            raise ValueError(msg)
        generator = torch.Generator().manual_seed(int(self.seed_ or 0) + 2)
        rows = torch.randperm(len(X), generator=generator)[:self.max_kde_samples].to(X.device)
        (features,) = self.features_in_chunks(X[rows])
        return {"kde_features": features.double(), "kde_labels": y[rows].clone()}

    def kernel_density(self, features: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """Gaussian-kernel log-density of each row of ``features`` among the training features
        of its predicted class (scikit-learn's normalisation)."""
        bank, labels = self.statistics_["kde_features"], self.statistics_["kde_labels"]
        h = float(self.bandwidth)
        sq = torch.cdist(features.double(), bank).pow(2) / (2 * h * h)
        same = labels[None, :] == predicted[:, None]
        log_kernel = torch.where(same, -sq, torch.full_like(sq, -math.inf))
        counts = same.sum(dim=1).clamp(min=1).double()
        dim = bank.shape[1]
        log_norm = 0.5 * dim * math.log(2 * math.pi * h * h)
        density = torch.logsumexp(log_kernel, dim=1) - counts.log() - log_norm
        # a predicted class without training samples in the bank: the lowest density seen
        return torch.where(torch.isfinite(density), density,
                           torch.full_like(density, -0.5 * float(sq.max()) - log_norm))

    def uncertainty(self, x: torch.Tensor, seed: int) -> torch.Tensor:
        """Feinman et al.'s U(x) over ``n_passes`` Monte-Carlo dropout passes."""
        dropouts = [m for m in self.model_.modules() if isinstance(m, _DropoutNd)]
        probs = []
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            try:
                for m in dropouts:
                    m.train()
                for _ in range(self.n_passes):
                    probs.append(torch.softmax(self.model_(x).double(), dim=1))
            finally:
                for m in dropouts:
                    m.eval()
        p = torch.stack(probs)  # (T, n, K)
        return p.pow(2).sum(dim=2).mean(dim=0) - p.mean(dim=0).pow(2).sum(dim=1)

    @torch.no_grad()
    def characteristics(self, x, index=None):
        logits, (features,) = self.features(x)
        density = self.kernel_density(features, logits.argmax(dim=1))
        start = 0 if index is None or len(index) == 0 else int(index[0])
        return torch.stack([density, self.uncertainty(x, int(self.seed_ or 0) + start)], dim=1)


# ============================================================================ Mahalanobis
@register
class MahalanobisAdversarial(AdversarialDetector, Mahalanobis):
    """Lee et al.'s (NeurIPS 2018) detector of adversarial examples: the Mahalanobis
    confidence score at several layers of the classifier (class means and a tied covariance
    per layer, Eq. 1-2, input pre-processing of size ε, Eq. 4 — the machinery of
    :class:`~deepad.detectors.related.ood.Mahalanobis`), one score per layer, and a logistic
    regression on them fitted on normal and adversarial samples (the paper's
    "feature ensemble" with weights learned from adversarial examples; :meth:`fit_detector`).

    ``layers="auto"``: the output of every activation module of the classifier (for deepad's
    classifier: the end of each block and the penultimate layer), feature maps averaged over
    their positions, as the paper's layers at the end of each dense / residual block.
    ε is fixed (default 0.0014, ODIN's) or ``"auto"``: chosen as the paper does, on
    adversarial samples (its ``ADV_Regression.py``): in :meth:`fit_detector`, from
    :data:`~deepad.detectors.related.ood.EPSILONS` (the paper's list extended to 0.1 for inputs
    in [0, 1] that are not standardised), by the AUROC of a regression fitted on one half of
    the detector data and scored on the other (see :meth:`AdversarialDetector.fit_detector`);
    no perturbation (ε = 0) until then.

    Parameters
    ----------
    epsilon : float or "auto", default 0.0014
    layers : "auto" or tuple of str, default "auto"
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector`.

    Attributes
    ----------
    epsilon_ : float
        The perturbation size used.
    choice_auroc_ : dict
        With ``epsilon="auto"``, after :meth:`fit_detector`: each ε's AUROC on the held-out
        half.

    References
    ----------
    Lee, Lee, Lee & Shin, "A Simple Unified Framework for Detecting Out-of-Distribution
    Samples and Adversarial Attacks", NeurIPS 2018.
    """

    name = "MahalanobisAdversarial"
    subcategory = "adversarial"
    reference = ("Lee, Lee, Lee & Shin, A Simple Unified Framework for Detecting "
                 "Out-of-Distribution Samples and Adversarial Attacks, NeurIPS 2018")
    statistic_names = ("means", "precision", "score_mean", "score_std", *DETECTOR_STATS)
    test_params: ClassVar[dict[str, Any]] = dict(CLASSIFIER_TEST_PARAMS)
    choice_param = "epsilon"
    epsilon_on_clean = False  # "auto" is chosen on adversarial samples, in fit_detector

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **Mahalanobis._parameter_constraints, "layers": [_LayersOrAuto()]}

    def __init__(self, epsilon=0.0014, layers="auto", classifier=D["classifier"],
                 feature_layer=D["feature_layer"], hidden_dims=D["hidden_dims"],
                 feature_dim=D["feature_dim"], activation=D["activation"],
                 backbone=D["backbone"], epochs=D["epochs"], batch_size=D["batch_size"],
                 lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        Mahalanobis.__init__(self, epsilon, layers, classifier, feature_layer, hidden_dims,
                             feature_dim, activation, backbone, epochs, batch_size, lr,
                             weight_decay, validation_size, patience, grad_clip, contamination,
                             device, random_state, verbose, batch_norm)

    def choice_grid(self) -> tuple:
        return EPSILONS

    def apply_choice(self, value: Any) -> None:
        self.epsilon_ = float(value)

    def feature_layers(self) -> list[str | None]:
        if self.layers != "auto":
            return list(self.layers)
        names = _activation_layers(self.model_)
        return names if names else [self.feature_layer]

    def fit_reference(self, X, y):
        self._choosing_epsilon = True  # epsilon="auto" compares Mahalanobis' own scores
        try:
            return Mahalanobis.fit_statistics(self, X, y)
        finally:
            self._choosing_epsilon = False

    def fit_statistics(self, X, y):
        return AdversarialDetector.fit_statistics(self, X, y)

    def characteristics(self, x, index=None):
        """The smallest squared Mahalanobis distance at each layer, ``(n, n_layers)``, each on
        the input pre-processed towards that layer's closest class."""
        if self.epsilon_ <= 0:
            with torch.no_grad():
                return self._layer_distances(x).double()
        columns = []
        for i in range(len(self._dims)):
            step = torch.sign(input_gradient(lambda z, i=i: self._layer_distances(z)[:, i], x))
            with torch.no_grad():
                columns.append(self._layer_distances(x - self.epsilon_ * step)[:, i])
        return torch.stack(columns, dim=1).double()

    def score(self, batch: Batch) -> torch.Tensor:
        return AdversarialDetector.score(self, batch)

    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        if getattr(self, "_choosing_epsilon", False):
            return Mahalanobis.ood_score(self, x)
        return AdversarialDetector.ood_score(self, x)

    def _get_state(self):
        return AdversarialDetector._get_state(self)

    def _set_state(self, state, tensors, device=None):
        AdversarialDetector._set_state(self, state, tensors, device=device)


# ============================================================================ protocol
@dataclass
class AdversarialSplit:
    """Ma et al.'s data for one attack: normal (clean + noisy) and adversarial inputs of the
    correctly classified images, split by source image into a half to fit the detector and a
    half to evaluate it. ``y_*`` = 1 for adversarial inputs."""

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray
    succeeded_fit: np.ndarray
    """Per row of ``X_fit``: whether the attack on its source image succeeded (for all three
    versions of the image), to restrict an evaluation to successful attacks."""
    succeeded_eval: np.ndarray
    n_correct: int
    success_rate: float
    """Share of the adversarial inputs the classifier no longer assigns to their true class."""
    mean_l2: float
    mean_linf: float
    groups_fit: np.ndarray | None = None
    """Per row of ``X_fit``: the index of its source image (its clean, noisy and adversarial
    versions share it), for :meth:`AdversarialDetector.fit_detector`'s ``groups``."""
    groups_eval: np.ndarray | None = None


def adversarial_protocol(classifier: nn.Module, X: Any, y: Any, attack: str, *,
                         eps: float | None = None, seed: int = 0, fit_share: float = 0.5,
                         successful_only: bool = False,
                         attack_options: dict | None = None) -> AdversarialSplit:
    """Make detector data by Ma et al.'s protocol (ICLR 2018, after Feinman et al. 2017).

    Of the test inputs ``X`` (in [0, 1]; uint8 images are divided by 255) the classifier
    classifies correctly, each gives a clean input (label 0), a noisy counterpart (label 0:
    Gaussian noise scaled to the same L2 norm as its adversarial perturbation, clipped to
    [0, 1] — Ma et al.'s rule for the attacks of unbounded L∞) and an adversarial input
    (label 1) from ``attack`` (``"fgsm"``, ``"bim"``, ``"pgd"`` with ``eps``, or ``"cw"``,
    :func:`deepad.detectors.related.attacks.run_attack`). The source images are shuffled
    (seeded) and split, ``fit_share`` of them with their three versions to fit the detector,
    the rest to evaluate it. ``successful_only=True`` keeps only the images whose attack
    succeeded (the protocol of later benchmarks such as Aldahdooh et al.'s).
    """
    if not 0 < fit_share < 1:
        msg = f"fit_share must lie strictly between 0 and 1; got {fit_share!r}."
        raise ValueError(msg)
    x = as_tensor(X)
    if x.ndim == 3:
        x = x[:, None]
    labels = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    if len(labels) != len(x):
        msg = f"y must hold one class per input: {len(x)} inputs, {len(labels)} labels."
        raise ValueError(msg)
    correct = predict(classifier, x) == labels
    x, labels = x[correct], labels[correct]
    if len(x) < 4:
        msg = f"only {len(x)} input(s) are classified correctly; the protocol needs at least 4."
        raise ValueError(msg)
    adv = run_attack(attack, classifier, x, labels, eps=eps, seed=seed,
                     **(attack_options or {}))
    flipped = predict(classifier, adv) != labels
    success = float(flipped.double().mean())
    if successful_only:
        x, labels, adv, flipped = x[flipped], labels[flipped], adv[flipped], flipped[flipped]
    delta = (adv - x).reshape(len(x), -1)
    l2 = delta.norm(dim=1)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator)
    noise = noise / noise.reshape(len(x), -1).norm(dim=1).clamp(min=1e-12).reshape(
        -1, *([1] * (x.ndim - 1)))
    noisy = (x + noise * l2.reshape(-1, *([1] * (x.ndim - 1)))).clamp(0, 1)
    order = torch.randperm(len(x), generator=generator)
    n_fit = int(round(fit_share * len(x)))

    def part(rows):
        data = torch.cat([x[rows], noisy[rows], adv[rows]]).numpy()
        target = np.r_[np.zeros(2 * len(rows), np.int64), np.ones(len(rows), np.int64)]
        return data, target, np.tile(flipped[rows].numpy(), 3), np.tile(rows.numpy(), 3)

    X_fit, y_fit, succeeded_fit, groups_fit = part(order[:n_fit])
    X_eval, y_eval, succeeded_eval, groups_eval = part(order[n_fit:])
    return AdversarialSplit(X_fit, y_fit, X_eval, y_eval, succeeded_fit, succeeded_eval,
                            int(correct.sum()), success, float(l2.mean()),
                            float(delta.abs().amax(dim=1).mean()), groups_fit, groups_eval)


__all__ = ["KDBU", "LID", "AdversarialDetector", "AdversarialSplit", "MahalanobisAdversarial",
           "adversarial_protocol", "layer_outputs", "lid_mle"]
