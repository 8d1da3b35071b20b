"""``BaseDetector``: the scikit-learn compatible, PyOD-style contract every detector keeps.

Output convention (PyOD's, not scikit-learn's): ``decision_function`` returns one float per
sample and **higher means more anomalous**; ``predict`` returns 1 for anomalies and 0 for
normal samples. (scikit-learn's outlier detectors return -1 / +1 and low = abnormal.)
``score_samples`` is the one method with scikit-learn's sign: it returns
``-decision_function(X)``, **higher = more normal**, as ``IsolationForest.score_samples`` does,
so code written for scikit-learn's outlier detectors reads it the way it expects. Every
detector is tagged as an outlier detector (``sklearn.base.is_outlier_detector`` is true).

Scores are finite (``docs/decisions.md``, issue 16): an infinite score, which an input far
outside the training range can produce, is clipped to the largest finite float64 of its sign
with a ``RuntimeWarning`` (it still ranks above every finite score); a NaN score raises
``ValueError`` naming the rows, since it carries no order.
"""

from __future__ import annotations

import numbers
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from deepad.core.params import Interval, validate_parameters
from deepad.core.saved_state import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    read_field,
    read_strings,
    read_tensor,
)
from deepad.core.scoring import (
    PROBABILITY_METHODS,
    THRESHOLD_RULES,
    contamination_threshold,
    exceed_confidence,
    rule_threshold,
)
from deepad.core.validation import (
    Graph,
    InputSpec,
    check_class_labels,
    check_input,
    check_labels,
    check_matches_spec,
    describe_input,
)

LARGEST_SCORE = float(np.finfo(np.float64).max)
"""Infinite scores are clipped to plus or minus this value (``decision_function``)."""


class BaseDetector(BaseEstimator):
    """Template of every anomaly detector.

    Subclasses implement ``_fit(X, y)`` and ``_score_samples(X)`` on validated input and
    declare their taxonomy metadata as class attributes (see :mod:`deepad.core.registry`).
    The validated input is what :func:`deepad.core.validation.check_input` makes of ``X`` for
    the declared ``modalities``: a float32 array for tabular rows and sequence windows, a 2-D
    object array of categories for ``"categorical"``, :class:`~deepad.data.spec.Sessions` for
    ``"event"`` sessions of integer keys.

    Attributes
    ----------
    decision_scores_ : ndarray of shape (n_samples,)
        Anomaly scores of the training data (higher = more anomalous).
    threshold_ : float
        Score above which a sample is labelled an anomaly: the ``1 - contamination``
        percentile of ``decision_scores_``, or another rule's (:meth:`set_threshold`).
    threshold_rule_ : str
        The rule that set ``threshold_``: ``"contamination"`` after ``fit``.
    labels_ : ndarray of shape (n_samples,)
        0/1 labels of the training data by ``threshold_``.
    spec_ : InputSpec
        Modality and shape of the training samples.
    n_features_in_ : int
        Number of features seen in ``fit`` (columns of categorical rows; 1 for event sessions).
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` received a DataFrame.
    """

    # taxonomy metadata, read by the registry
    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    subcategory: ClassVar[str] = ""
    supervision: ClassVar[tuple[str, ...]] = ()
    modalities: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[str] = ""
    # tiny hyperparameters for the conformance suite (fast, still meaningful)
    test_params: ClassVar[dict[str, Any]] = {}
    # per modality, what the conformance suite adds to test_params (images: a budget that
    # lets the tiny network learn the planted images)
    modality_test_params: ClassVar[dict[str, dict[str, Any]]] = {}
    min_samples: ClassVar[int] = 2
    # hyperparameters added after models were saved, with the value that rebuilds those
    # models as they were; ``load`` uses it when a saved configuration lacks the parameter
    params_added: ClassVar[dict[str, Any]] = {}
    # graph input: False for a transductive method, which scores only the graph it was fitted
    # on (decision_function on another graph raises ValueError)
    inductive: ClassVar[bool] = True
    # streaming sources (docs/scale.md): None → ``fit`` refuses them (with ``stream_refusal``
    # as the reason); "batches" → trained batch by batch; "reservoir" → trained batch by
    # batch, with what the method computes from all rows at once (a centre, a normaliser)
    # computed from a uniform reservoir sample of the stream
    stream_fit: ClassVar[str | None] = None
    stream_refusal: ClassVar[str] = ("its method reads the whole training set at once, which "
                                     "a stream never holds")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "contamination": [Interval(numbers.Real, 0.0, 0.5, closed="right")],
    }
    # scikit-learn < 1.6 reads the estimator type from this attribute, >= 1.6 from the tags
    _estimator_type: ClassVar[str] = "outlier_detector"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "outlier_detector"
        return tags

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit the detector.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_windows, window, n_features)
            Training rows, or sequence windows. numpy arrays and pandas DataFrames. Detectors
            of categorical rows take a table of categories, those of event sessions a list of
            integer sequences, those of images ``(n, C, H, W)`` arrays (uint8 → [0, 1]; 3-D
            ``(n, H, W)`` grayscale where :func:`deepad.core.validation.reads_3d_as_images`
            says so) (see :func:`deepad.core.validation.check_input`).
        y : array-like of shape (n_samples,), optional
            Weak supervision: 1 = labelled anomaly, 0 = unlabelled. Required by weakly
            supervised detectors, optional for those supporting both settings, and ignored by
            unsupervised ones (accepted so scikit-learn pipelines work). For the detectors of
            supervision ``"class-labels"`` (out-of-distribution, adversarial examples): the
            integer class of each in-distribution sample, required.

        Returns
        -------
        self
        """
        validate_parameters(self)
        from deepad.data.streaming import is_stream

        if is_stream(X):
            return self._fit_source(X, y)
        self._remember_feature_names(X)
        X = check_input(X, self.modalities, min_samples=self.min_samples)
        y = self._check_fit_labels(y, len(X))
        self.spec_ = InputSpec.of(X)
        if self.spec_.modality not in self.modalities:
            msg = (f"{type(self).__name__} supports {list(self.modalities)} input; got "
                   f"{self.spec_.modality} data {describe_input(X)}.")
            raise ValueError(msg)
        self.n_features_in_ = self.spec_.n_features
        self._fit_abs_max = _abs_max(X)
        self._remember_graph(X)
        self._fit(X, y)
        scores = self._score_samples(X)
        self._check_scores(scores)
        self.decision_scores_ = scores
        self.threshold_rule_ = "contamination"  # a refit forgets set_threshold
        self._set_threshold()
        return self

    def _fit_source(self, source: Any, y: Any) -> BaseDetector:
        """Fit on a streaming source (:mod:`deepad.data.streaming`); deep detectors that
        declare ``stream_fit`` do (:meth:`deepad.core.deep.DeepDetector._fit_source`), the
        others refuse with ``TypeError``."""
        raise TypeError(self._stream_refusal_message())

    def _stream_refusal_message(self) -> str:
        return (f"{type(self).__name__} cannot fit a streaming source: "
                f"{self.stream_refusal}. Fit it on an array instead, for instance a uniform "
                "sample of the stream: deepad.data.scan(source, reservoir=n).sample.")

    def _check_fit_labels(self, y: Any, n_samples: int) -> np.ndarray | None:
        if "class-labels" in self.supervision:
            return check_class_labels(y, n_samples)
        weak = "weakly-supervised" in self.supervision
        unsupervised = "unsupervised" in self.supervision
        if not weak:
            return None
        if y is None:
            if unsupervised:
                return None
            msg = (f"{type(self).__name__} is weakly supervised: call fit(X, y) with y = 1 for "
                   "the labelled anomalies and 0 for the unlabelled rows.")
            raise ValueError(msg)
        return check_labels(y, n_samples, require_anomaly=not unsupervised,
                            require_unlabelled=True)

    def _remember_graph(self, X: Any) -> None:
        """A transductive detector fitted on a graph keeps the graph's fingerprint."""
        self.__dict__.pop("graph_fingerprint_", None)
        if isinstance(X, Graph) and not self.inductive:
            self.graph_fingerprint_ = X.fingerprint()

    def _check_same_graph(self, X: Any) -> None:
        expected = getattr(self, "graph_fingerprint_", None)
        if isinstance(X, Graph) and expected is not None and X.fingerprint() != expected:
            msg = (f"{type(self).__name__} is transductive: it scores the nodes of the graph "
                   f"it was fitted on, and this is another graph ({X.n_nodes} nodes, "
                   f"{X.n_edges} edges, or other attributes). Fit it on the new graph "
                   "(fit(G).decision_scores_), or use an inductive graph detector.")
            raise ValueError(msg)

    def _remember_feature_names(self, X: Any) -> None:
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _set_threshold(self) -> None:
        self.threshold_ = contamination_threshold(self.decision_scores_, self.contamination)
        self.threshold_rule_ = "contamination"
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def set_threshold(self, rule: str = "contamination",
                      factor: float | None = None) -> BaseDetector:
        """Set ``threshold_`` (and ``labels_``) of a fitted detector by an unsupervised rule
        on its training scores ``decision_scores_``; ``predict`` then labels by it.

        - ``"contamination"`` (what ``fit`` sets): the ``1 - contamination`` percentile, so
          the top ``contamination`` fraction of the training data is anomalous.
        - ``"iqr"``: Tukey's upper fence ``Q3 + factor · IQR``, factor 1.5 by default
          (Tukey, *Exploratory Data Analysis*, 1977).
        - ``"mad"``: a modified z-score ``0.6745 (s − median) / MAD`` above ``factor``,
          3.5 by default (Iglewicz & Hoaglin, *How to Detect and Handle Outliers*, 1993).

        The IQR and MAD rules need no guess of the anomaly fraction: they flag the training
        scores that lie far above the bulk, so the fraction labelled follows the data. Where
        more than half the scores are equal (MAD or IQR of 0) they flag every score above that
        value. The rule and threshold are saved with the model; ``fit`` resets the rule to
        ``"contamination"``.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            An unknown rule, or a factor that is not a positive number (or one given to
            ``"contamination"``).
        """
        check_is_fitted(self, "decision_scores_")
        threshold = rule_threshold(self.decision_scores_, rule, self.contamination, factor)
        self.threshold_ = threshold
        self.threshold_rule_ = rule
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def _check_scores(self, scores: np.ndarray) -> None:
        if not np.isfinite(scores).all():
            msg = (f"{type(self).__name__} produced {int((~np.isfinite(scores)).sum())} non-finite "
                   "score(s); training diverged. Scale the features or lower the learning rate.")
            raise FloatingPointError(msg)

    # ------------------------------------------------------------------ inference
    def _check_input(self, X: Any) -> Any:
        check_is_fitted(self, "spec_")
        names = getattr(self, "feature_names_in_", None)
        if names is not None and not isinstance(X, pd.DataFrame):
            # scikit-learn's wording, so filters written for scikit-learn catch it too
            warnings.warn(f"X does not have valid feature names, but {type(self).__name__} was "
                          "fitted with feature names", UserWarning, stacklevel=3)
        if isinstance(X, pd.DataFrame) and names is not None:
            given = [str(c) for c in X.columns]
            if given != list(names):
                msg = (f"X has columns {given[:5]}... but the detector was fitted on columns "
                       f"{list(names)[:5]}...; pass the same columns in the same order.")
                raise ValueError(msg)
        X = check_input(X, self.modalities, fitted=self.spec_.modality)
        check_matches_spec(X, self.spec_)
        self._check_same_graph(X)
        return X

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores of ``X``, float64 of shape (n_samples,); higher = more anomalous.

        Scores are always finite. Input far outside the training range can overflow a network:
        an infinite score is clipped to the largest finite float64 of its sign
        (``LARGEST_SCORE``) with a ``RuntimeWarning``, so it still ranks above (or below) every
        finite score and ``predict`` labels it by its side of the threshold; a NaN score has
        no order and raises ``ValueError`` naming the rows.

        Raises
        ------
        ValueError
            Invalid input (see :func:`deepad.core.validation.check_input`), or NaN scores.
        """
        X = self._check_input(X)
        return self._finite_scores(self._score_samples(X), X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality scores of ``X`` with scikit-learn's sign: **higher = more normal**.

        ``-decision_function(X)``, the convention of scikit-learn's outlier detectors (e.g.
        ``IsolationForest.score_samples``), for code written against them. deepad's own
        methods (``decision_function``, ``decision_scores_``, ``threshold_``) keep PyOD's
        sign, higher = more anomalous.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores; finite, as those of ``decision_function``.
        """
        return -self.decision_function(X)

    def _finite_scores(self, scores: np.ndarray, X: Any) -> np.ndarray:
        """``scores`` as float64 with infinities clipped (warning); NaN raises ValueError."""
        scores = np.asarray(scores, dtype=np.float64)
        nan = np.isnan(scores)
        inf = np.isinf(scores)
        if not (nan.any() or inf.any()):
            return scores
        rows = np.flatnonzero(nan if nan.any() else inf)
        where = (f"{len(rows)} of {len(scores)} row(s) (first at rows "
                 f"{[int(i) for i in rows[:5]]})")
        cause = self._range_hint(X)
        if nan.any():
            msg = (f"{type(self).__name__} gave NaN scores for {where}: the network overflowed, "
                   f"so these rows have no score. {cause}")
            raise ValueError(msg)
        warnings.warn(
            f"{type(self).__name__} gave infinite scores for {where}; they are clipped to "
            f"+/-{LARGEST_SCORE:.4g} (the largest float64), which still ranks them beyond every "
            f"finite score. {cause}", RuntimeWarning, stacklevel=3)
        return np.clip(scores, -LARGEST_SCORE, LARGEST_SCORE)

    def _range_hint(self, X: Any) -> str:
        seen, fitted = _abs_max(X), getattr(self, "_fit_abs_max", None)
        ranges = ""
        if seen is not None:
            ranges = f" (largest |value| {seen:.3g}"
            ranges += f", against {fitted:.3g} in fit)" if fitted is not None else ")"
        return (f"The input is probably far outside the training range{ranges}: scale it as "
                "the training data were scaled, or check it for wrong units or corrupt values.")

    def predict(self, X: Any, return_confidence: bool = False) -> Any:
        """1 for anomalies (score above ``threshold_``), 0 for normal samples.

        ``return_confidence=True`` returns ``(labels, confidence)`` with the confidence of
        :meth:`predict_confidence`, as PyOD's ``predict`` does (kept for code written for
        PyOD; prefer calling ``predict_confidence``).
        """
        check_is_fitted(self, "threshold_")
        scores = self.decision_function(X)
        labels = (scores > self.threshold_).astype(np.int64)
        if return_confidence:
            return labels, self._confidence(scores)
        return labels

    def predict_confidence(self, X: Any) -> np.ndarray:
        """Confidence in each prediction of ``predict(X)``, in [0, 1]: how consistently the
        detector would make it if it were trained on other samples of the same size.

        ExCeeD (Perini, Vercruyssen & Davis, ECML-PKDD 2020), as PyOD's
        ``predict_confidence``: a score's outlier probability from its rank among the
        training scores, ``p = (1 + #{decision_scores_ ≤ s}) / (2 + n)``, and the
        probability that a binomial(n, p) rank lands above the ``n · contamination`` top
        ranks (1 minus that for a predicted normal). The fraction is ``contamination``, or
        the fraction of ``labels_`` when another rule set the threshold
        (:meth:`set_threshold`) or ``contamination`` is None. See
        :func:`deepad.core.scoring.exceed_confidence`.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 confidences; near 1 far from the threshold, lowest near it.
        """
        check_is_fitted(self, "threshold_")
        return self._confidence(self.decision_function(X))

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        fraction = self.contamination
        if fraction is None or getattr(self, "threshold_rule_", "contamination") != (
                "contamination"):
            fraction = float(self.labels_.mean())
        return exceed_confidence(scores, self.decision_scores_, self.threshold_, fraction)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``labels_`` (0/1) of the training data."""
        return self.fit(X, y).labels_

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """Probability of being normal / anomalous, shape (n_samples, 2), columns [P(0), P(1)].

        ``method="linear"`` min-max scales the scores against the training scores;
        ``method="unify"`` applies the Gaussian scaling of Kriegel et al. (SDM 2011).
        """
        if method not in PROBABILITY_METHODS:
            msg = f"method must be one of {list(PROBABILITY_METHODS)}; got {method!r}."
            raise ValueError(msg)
        check_is_fitted(self, "decision_scores_")
        anomalous = PROBABILITY_METHODS[method](self.decision_function(X), self.decision_scores_)
        return np.column_stack([1.0 - anomalous, anomalous])

    # ------------------------------------------------------------------ hooks
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        raise NotImplementedError

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Fitted state as (JSON-serialisable dict, named tensors)."""
        check_is_fitted(self, "decision_scores_")
        state: dict[str, Any] = {"spec": self.spec_.to_dict(), "threshold": self.threshold_,
                                 "n_samples": len(self.decision_scores_)}
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in"] = [str(c) for c in self.feature_names_in_]
        state["threshold_rule"] = getattr(self, "threshold_rule_", "contamination")
        if hasattr(self, "graph_fingerprint_"):
            state["graph_fingerprint"] = self.graph_fingerprint_
        return state, {"decision_scores": torch.from_numpy(self.decision_scores_.copy())}

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        """Restore what ``_get_state`` wrote, every field checked (``deepad.core.saved_state``):
        a bounded spec of a modality this class supports, finite 1-D training scores, a finite
        threshold; ``labels_`` are recomputed. Raises ``ValueError`` naming the field."""
        try:
            self.spec_ = InputSpec.from_dict(read_field(state, "spec", "dict"))
        except ValueError as error:
            msg = f"{CONFIG_FILE}: state['spec'] is invalid: {error}"
            raise ValueError(msg) from error
        if self.spec_.modality not in self.modalities:
            msg = (f"{CONFIG_FILE}: state['spec']['modality'] is {self.spec_.modality!r}; "
                   f"{type(self).__name__} supports {list(self.modalities)}.")
            raise ValueError(msg)
        self.n_features_in_ = self.spec_.n_features
        if "feature_names_in" in state:
            self.feature_names_in_ = read_strings(state, "feature_names_in",
                                                  length=self.n_features_in_)
        scores = read_tensor(tensors, "decision_scores", ndim=1, floating=True)
        if len(scores) == 0 or not bool(torch.isfinite(scores).all()):
            msg = (f"{WEIGHTS_FILE}: tensor 'decision_scores' must hold at least one score, all "
                   f"finite; got {len(scores)} with {int((~torch.isfinite(scores)).sum())} "
                   "non-finite.")
            raise ValueError(msg)
        n_samples = read_field(state, "n_samples", "int", default=len(scores))  # older saves
        if len(scores) != n_samples:
            msg = (f"{WEIGHTS_FILE}: tensor 'decision_scores' holds {len(scores)} scores; "
                   f"{CONFIG_FILE} state['n_samples'] says the detector was fitted on "
                   f"{n_samples} samples.")
            raise ValueError(msg)
        self.decision_scores_ = scores.numpy().astype(np.float64)
        self.threshold_ = read_field(state, "threshold", "float")
        # models saved before set_threshold existed were thresholded by contamination
        self.threshold_rule_ = read_field(state, "threshold_rule", "str",
                                          default="contamination")
        if self.threshold_rule_ not in THRESHOLD_RULES:
            msg = (f"{CONFIG_FILE}: state['threshold_rule'] must be one of "
                   f"{list(THRESHOLD_RULES)}; got {self.threshold_rule_!r}.")
            raise ValueError(msg)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        self.__dict__.pop("graph_fingerprint_", None)
        if "graph_fingerprint" in state:
            self.graph_fingerprint_ = read_field(state, "graph_fingerprint", "str")

    def save(self, path: str | Path) -> Path:
        """Save the fitted detector to the directory ``path`` (safetensors + JSON, no pickle).

        In a data-parallel run (:mod:`deepad.core.distributed`) only rank 0 writes; every
        rank returns once the files are written.

        See :func:`deepad.load`.
        """
        from deepad.core.distributed import rank0_save
        from deepad.core.persistence import save_detector

        return rank0_save(lambda p: save_detector(self, p), path)

    def to_onnx(self, path: str | Path) -> Path:
        """Export the fitted detector's scoring to the ONNX file ``path``, for serving with
        onnxruntime without Python's deep-learning stack (``pip install 'deepad[onnx]'``).

        The graph maps float32 ``x`` of the fitted input's shape (any number of samples) to
        float32 scores; its metadata carry ``threshold_``. Scores agree with
        ``decision_function`` to float32 precision, which is checked on a probe batch before
        the file is kept (:mod:`deepad.core.onnx_export`).

        Raises
        ------
        ValueError
            :class:`~deepad.core.onnx_export.OnnxExportError` (also a
            ``NotImplementedError``): the detector's scoring is not a single forward pass
            (only :data:`~deepad.core.onnx_export.ONNX_DETECTORS` are exported), or the
            exported scores differ.
        ImportError
            ``onnx`` is not installed.
        """
        from deepad.core.onnx_export import export_onnx

        return export_onnx(self, path)


def _abs_max(X: Any) -> float | None:
    """Largest absolute value of a validated numeric input; None for categories / sessions."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf" and X.size:
        return float(max(X.max(), -X.min()))  # no |X| copy of the data
    return None
