"""Deep features + a shallow detector: a deep network extracts the features, a classical
anomaly detector (isolation forest, one-class SVM, LOF, kNN distance) scores them.

The deep part is a deepad detector whose network has an encoder (``model_.encoder``, as
:class:`~deepad.detectors.AutoEncoder` and :class:`~deepad.detectors.DeepSVDD`), fitted on
the data first or given already fitted; scikit-learn does the shallow part.

Saving keeps state, never objects: the shallow models (:mod:`deepad.core.shallow`, shared
with the shallow baselines) are stored as arrays that safetensors can hold (kNN and LOF: the
reference embeddings; one-class SVM: support vectors, dual coefficients, offset and γ;
isolation forest: every tree's node arrays), and scoring always goes through those arrays, so
a loaded model scores exactly as the fitted one.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from deepad.core.base import BaseDetector
from deepad.core.chunks import forward_in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.params import NONE, Interval, Options
from deepad.core.registry import get_detector, register
from deepad.core.runtime import resolve_seed
from deepad.core.saved_state import read_field, take_tensors
from deepad.core.shallow import (
    IForestScorer,
    KNNScorer,
    LOFScorer,
    OCSVMScorer,
    check_scorer_state,
)
from deepad.core.validation import check_matches_spec

SHALLOW_DETECTORS = ("iforest", "ocsvm", "lof", "knn")
PASSTHROUGH = "passthrough"

NAMED_ENCODER_PARAMS = {"AutoEncoder": {"epochs": 50, "weight_decay": 1e-5}}
"""Settings of a named encoder that differ from the detector's own defaults. The AutoEncoder's
defaults (30 epochs, weight decay 3e-4) are chosen for its reconstruction error; weight decay
shrinks the code a shallow detector measures distances in: kNN on it fell on most
quick-suite sets against these settings (measured: ``docs/decisions.md``)."""
DEFAULT_NEIGHBORS = {"knn": 5, "lof": 20}  # PyOD's KNN and scikit-learn's / PyOD's LOF


# ============================================================================ shallow scorers
class _EstimatorScorer:
    """Any estimator with ``fit`` and ``score_samples`` / ``decision_function``, cloned and
    fitted on the embeddings. scikit-learn's convention (higher = more normal) is negated;
    an estimator that sets ``decision_scores_`` when fitted (PyOD, deepad) already scores
    higher = more anomalous and is used as is. Its state cannot be saved without pickle."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = clone(estimator)

    def fit(self, Z: np.ndarray) -> None:
        self.estimator.fit(Z)

    def score(self, Z: np.ndarray) -> np.ndarray:
        est = self.estimator
        if hasattr(est, "decision_scores_"):
            return np.asarray(est.decision_function(Z), dtype=np.float64)
        if hasattr(est, "score_samples"):
            return -np.asarray(est.score_samples(Z), dtype=np.float64)
        return -np.asarray(est.decision_function(Z), dtype=np.float64)

    def state(self) -> dict[str, torch.Tensor]:  # never reached: save refuses first
        msg = f"The state of {type(self.estimator).__name__} cannot be saved without pickle."
        raise NotImplementedError(msg)


# ============================================================================ constraints
class _EncoderConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, DeepDetector):
            return True
        if not isinstance(value, str):
            return False
        if value == PASSTHROUGH:
            return True
        try:
            return issubclass(get_detector(value), DeepDetector)
        except KeyError:
            return False

    def __str__(self) -> str:
        return (f"{PASSTHROUGH!r}, the name of a registered deep detector (such as "
                "'AutoEncoder') or a deepad DeepDetector instance")


class _ShallowConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, str):
            return value in SHALLOW_DETECTORS
        return (not isinstance(value, type) and hasattr(value, "fit")
                and (hasattr(value, "score_samples") or hasattr(value, "decision_function")))

    def __str__(self) -> str:
        return (f"one of {', '.join(repr(s) for s in SHALLOW_DETECTORS)} or an estimator with "
                "fit and score_samples or decision_function")


# ============================================================================ the detector
@register
class DeepFeatureDetector(BaseDetector):
    """Deep features + a shallow detector: an encoder's embedding scored by an isolation
    forest, a one-class SVM, LOF or kNN distance.

    The survey's first branch ("deep learning for feature extraction", Pang et al. 2021,
    Sec. 4): the deep network only extracts features, which a classical detector scores. Here
    the encoder is a deepad detector whose network has an encoder, ``model_.encoder`` (the
    encoder half of :class:`~deepad.detectors.AutoEncoder`, the feature map φ of
    :class:`~deepad.detectors.DeepSVDD`); the embedding of a sample ``z = φ(x)`` is scored by
    a scikit-learn detector. Scores are higher = more anomalous for every shallow detector
    (scikit-learn's own convention is the opposite and is negated).

    Encoder (``encoder``):

    - a registered deep detector's name (default ``"AutoEncoder"``): built with its
      defaults (except those in :data:`NAMED_ENCODER_PARAMS`), ``random_state`` from this
      detector, ``device`` and, when given, ``epochs``, then fitted on ``X``;
    - a deepad detector instance: unfitted → a clone is fitted on ``X`` (it keeps its own
      hyperparameters; its ``random_state`` is set from this detector's when it is None);
      already fitted → used as is (its input must match ``X``);
    - ``"passthrough"``: no encoder; ``X`` is scored as given (flattened for windows). This
      is the "pretrained features" setting: deepad downloads no pretrained network, so
      embed the data first (the shared ADBench CV / NLP sets are ResNet-18 / BERT
      embeddings already) and pass the embeddings.

    Images ``(n, C, H, W)``: the named encoders build their image backbone (the default
    ``"AutoEncoder"`` a convolutional autoencoder, trained on ``X`` itself: a self-trained
    conv encoder; ``"DeepSVDD"`` the LeNet-type CNN); ``"passthrough"`` scores the flattened
    pixels. There is no anomaly map (the shallow detectors' scores have no gradient).

    Shallow detector (``detector``): ``"iforest"`` (scikit-learn's ``IsolationForest``,
    100 trees), ``"ocsvm"`` (``OneClassSVM``, RBF, ν = 0.5, γ = "scale"), ``"lof"``
    (``LocalOutlierFactor(novelty=True)``), ``"knn"`` (distance to the k-th nearest training
    embedding, or the mean over the k nearest with ``knn_method="mean"``); or any estimator
    with ``fit`` and ``score_samples`` / ``decision_function`` (cloned before fitting).
    Training scores include each row itself among its neighbours (kNN, LOF), because
    ``decision_scores_`` are the scores ``decision_function`` gives the training data.

    Saving (:meth:`save`) needs ``encoder`` and ``detector`` given by name: hyperparameters
    are stored as JSON and nothing is pickled. The named encoder's weights and the shallow
    model's arrays (see the module docstring) go to safetensors. Instances of encoders or
    estimators cannot be saved (``NotImplementedError``).

    Parameters
    ----------
    encoder : str or DeepDetector, default "AutoEncoder"
    detector : {"iforest", "ocsvm", "lof", "knn"} or estimator, default "knn"
        kNN by default: on the default AutoEncoder's features it ranked best overall on the
        quick suite, second to iforest on the four small sets and ahead of it on the four
        larger ones (measured: ``docs/decisions.md``; current results:
        ``docs/results/quick.md``).
    n_neighbors : int or None, default None
        Neighbours of kNN and LOF; None → 5 for kNN (PyOD's default), 20 for LOF.
    knn_method : {"largest", "mean"}, default "largest"
        kNN score: distance to the k-th neighbour, or the mean distance to the k nearest.
    epochs : int or None, default None
        Training epochs of an encoder built by name (None → the encoder's default). Not
        allowed with an encoder instance (set them on it).
    contamination : float, default 0.1
    device : str or None, default None
        Device of an encoder built by name (None → CUDA when available, else CPU).
    random_state : int or None, default None
        Seeds the encoder built by name (or an instance without its own) and the isolation
        forest.

    Attributes
    ----------
    decision_scores_, threshold_, labels_, spec_
    encoder_ : DeepDetector or None
        The fitted encoder (None with ``"passthrough"``).
    embedding_dim_ : int
        Dimension of the embeddings the shallow detector scores.
    seed_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import AutoEncoder, DeepFeatureDetector
    >>> X = np.random.default_rng(0).uniform(size=(200, 5))
    >>> det = DeepFeatureDetector(AutoEncoder(hidden_dims=(16, 4), epochs=2),
    ...                           detector="iforest", random_state=0).fit(X)
    >>> det.embedding_dim_, det.decision_function(X[:3]).shape
    (4, (3,))

    References
    ----------
    Pang, Shen, Cao & van den Hengel, "Deep Learning for Anomaly Detection: A Review", ACM
    Computing Surveys 2021 (Sec. 4, "Deep learning for feature extraction"). Liu, Ting & Zhou,
    "Isolation Forest", ICDM 2008. Schölkopf et al., "Estimating the Support of a
    High-Dimensional Distribution", Neural Computation 2001. Breunig et al., "LOF", SIGMOD
    2000. Ramaswamy, Rastogi & Shim, "Efficient algorithms for mining outliers from large
    data sets", SIGMOD 2000.
    """

    name = "DeepFeatureDetector"
    category = "feature_extraction"
    subcategory = "deep_features"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image")
    reference = ("Pang et al., Deep Learning for Anomaly Detection: A Review, ACM CSUR 2021 "
                 "(deep learning for feature extraction)")
    test_params: ClassVar[dict] = {"encoder": "AutoEncoder", "detector": "knn", "epochs": 3}
    stream_refusal = ("its shallow detector is fitted on the features of every training row, "
                      "and kNN / LOF scoring compares each new row with all of them")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "encoder": [_EncoderConstraint()],
        "detector": [_ShallowConstraint()],
        "n_neighbors": [NONE, Interval(numbers.Integral, 1, None)],
        "knn_method": [Options(("largest", "mean"))],
        "epochs": [NONE, Interval(numbers.Integral, 1, None)],
        "device": DeepDetector._parameter_constraints["device"],
        "random_state": DeepDetector._parameter_constraints["random_state"],
    }

    def __init__(self, encoder="AutoEncoder", detector="knn", n_neighbors=None,
                 knn_method="largest", epochs=None, contamination=0.1, device=None,
                 random_state=None):
        self.encoder = encoder
        self.detector = detector
        self.n_neighbors = n_neighbors
        self.knn_method = knn_method
        self.epochs = epochs
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ encoder
    def _named_encoder(self) -> DeepDetector:
        cls = get_detector(self.encoder)
        known = cls().get_params(deep=False)
        params = {"random_state": self.seed_, "device": self.device, "epochs": self.epochs}
        params = {k: v for k, v in params.items() if k in known and v is not None}
        return cls(**{**NAMED_ENCODER_PARAMS.get(self.encoder, {}), **params})

    def _fit_encoder(self, X: np.ndarray) -> DeepDetector | None:
        if isinstance(self.encoder, str):
            return None if self.encoder == PASSTHROUGH else self._named_encoder().fit(X)
        if self.epochs is not None:
            msg = (f"epochs={self.epochs} applies to an encoder built by name; set the epochs "
                   f"on the {type(self.encoder).__name__} instance instead.")
            raise ValueError(msg)
        if hasattr(self.encoder, "model_"):  # already fitted: used as is
            check_matches_spec(X, self.encoder.spec_)
            return self.encoder
        encoder = clone(self.encoder)
        if encoder.get_params(deep=False).get("random_state", 0) is None:
            encoder.set_params(random_state=self.seed_)
        return encoder.fit(X)

    @staticmethod
    def _network(encoder: DeepDetector) -> torch.nn.Module:
        network = getattr(getattr(encoder, "model_", None), "encoder", None)
        if not isinstance(network, torch.nn.Module):
            msg = (f"{type(encoder).__name__}'s network has no encoder (model_.encoder) to "
                   "extract features with; use a detector that has one, such as AutoEncoder "
                   "or DeepSVDD.")
            raise TypeError(msg)
        return network

    @torch.no_grad()
    def _embed(self, X: np.ndarray) -> np.ndarray:
        """The embeddings of ``X`` (float64, (n, embedding_dim)), in batches."""
        if self.encoder_ is None:
            return X.reshape(len(X), -1).astype(np.float64)
        network = self._network(self.encoder_)
        device = self.encoder_.device_
        embedding = forward_in_chunks(
            network, X, lambda x: network(torch.from_numpy(x).to(device)).double().cpu())
        return embedding.reshape(len(X), -1).numpy()

    # ------------------------------------------------------------------ shallow part
    def _make_scorer(self):
        if not isinstance(self.detector, str):
            return _EstimatorScorer(self.detector)
        if self.detector == "iforest":
            return IForestScorer(self.seed_)
        if self.detector == "ocsvm":
            return OCSVMScorer()
        k = self.n_neighbors or DEFAULT_NEIGHBORS[self.detector]
        if self.detector == "lof":
            return LOFScorer(k, "largest")
        return KNNScorer(k, self.knn_method)

    # ------------------------------------------------------------------ template
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.seed_ = resolve_seed(self.random_state)
        self.encoder_ = self._fit_encoder(X)
        if self.encoder_ is not None:
            self._network(self.encoder_)
            try:
                self._embed(X[:2])
            except RuntimeError as error:  # e.g. GOAD's encoder takes transformed views
                msg = (f"{type(self.encoder_).__name__}'s model_.encoder does not take the "
                       f"samples themselves ({error}); use an encoder of the raw input, such "
                       "as AutoEncoder's or DeepSVDD's.")
                raise TypeError(msg) from error
        Z = self._embed(X)
        self.embedding_dim_ = Z.shape[1]
        scorer = self._make_scorer()
        k = getattr(scorer, "n_neighbors", 0)
        if k >= len(X):
            msg = (f"n_neighbors={k} needs more than {k} training rows; got {len(X)}. Lower "
                   "n_neighbors.")
            raise ValueError(msg)
        scorer.fit(Z)
        self.scorer_ = scorer

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.scorer_.score(self._embed(X)), dtype=np.float64)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to the directory ``path`` (see :meth:`BaseDetector.save`); needs ``encoder``
        and ``detector`` given by name (``NotImplementedError`` otherwise)."""
        check_is_fitted(self, "decision_scores_")
        instances = [name for name in ("encoder", "detector")
                     if not isinstance(getattr(self, name), str)]
        if instances:
            msg = (f"DeepFeatureDetector with {' and '.join(instances)} given as an object "
                   "cannot be saved: deepad stores hyperparameters as JSON and never pickles. "
                   "Give them by name (encoder='AutoEncoder', detector='iforest', ...), or "
                   "save the fitted encoder on its own with encoder_.save(path).")
            raise NotImplementedError(msg)
        return super().save(path)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["seed"] = self.seed_
        state["embedding_dim"] = self.embedding_dim_
        if self.encoder_ is not None:
            encoder_state, encoder_tensors = self.encoder_._get_state()
            state["encoder"] = encoder_state
            tensors.update({f"encoder.{k}": v for k, v in encoder_tensors.items()})
        tensors.update({f"scorer.{k}": v for k, v in self.scorer_.state().items()})
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors)
        self.seed_ = read_field(state, "seed", "int", low=0)
        self.embedding_dim_ = read_field(state, "embedding_dim", "int", low=1)
        self.encoder_ = None
        if self.encoder != PASSTHROUGH:
            encoder = self._named_encoder()
            encoder._set_state(read_field(state, "encoder", "dict"),
                               take_tensors(tensors, "encoder."), device=device)
            self.encoder_ = encoder
        scorer = self._make_scorer()
        scorer_tensors = take_tensors(tensors, "scorer.")
        check_scorer_state(scorer, scorer_tensors, self.embedding_dim_)
        scorer.load(scorer_tensors)
        self.scorer_ = scorer
