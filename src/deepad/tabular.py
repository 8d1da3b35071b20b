"""``TableDetector``: a detector together with the preprocessing of the raw table it reads.

Detectors score numeric arrays; users have tables: named columns in some order, categorical
columns, raw units. :class:`TableDetector` fits a
:class:`~deepad.data.preprocess.TablePreprocessor` (feature columns by name, categorical
encoding, scaling) on the training table and a clone of the wrapped detector on the result,
and applies the same preprocessing to every table it scores. Saved, the preprocessing is part
of the model directory (JSON, read back strictly), so ``deepad.load(path)
.decision_function(raw_frame)`` gives the scores of the model that was saved; this is what
``deepad run --save-model`` writes.

The encoding and the scaling follow the detector's metadata when left at ``"auto"``: a
detector of categorical rows (APE) gets ordinal codes, unscaled; any other detector gets its
numeric columns min-max scaled and refuses categorical columns unless ``categorical`` is
``"onehot"`` or ``"ordinal"``. Encoded categorical columns are never scaled.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from deepad._version import __version__
from deepad.core.persistence import load as load_detector
from deepad.core.persistence import read_json, register_format
from deepad.core.saved_state import CONFIG_FILE
from deepad.data.encoding import CATEGORICAL_CHOICES
from deepad.data.preprocess import SCALINGS, TablePreprocessor

__all__ = ["TableDetector", "reads_categories"]

FORMAT = "deepad-table-detector"
FORMAT_VERSION = 1
DETECTOR_DIR = "detector"
AUTO = "auto"


def reads_categories(detector: Any) -> bool:
    """Whether ``detector`` (a class or an instance) reads categories rather than numbers:
    it declares the ``"categorical"`` modality and not ``"tabular"``."""
    modalities = getattr(detector, "modalities", ())
    return "categorical" in modalities and "tabular" not in modalities


class TableDetector(BaseEstimator):
    """A deepad detector fitted on a raw table, with the table's preprocessing.

    Parameters
    ----------
    detector : BaseDetector
        The detector (an unfitted instance; a clone is fitted).
    scale : {"auto", "minmax", "standard", "none"}, default "auto"
        Scaling of the numeric columns, fitted on the training table. ``"auto"``: ``"none"``
        for a detector of categorical rows, else ``"minmax"``. A detector of categorical rows
        refuses any other scaling (it reads integer codes).
    categorical : {"auto", "error", "onehot", "ordinal"}, default "auto"
        Non-numeric columns: ``"auto"`` is ``"ordinal"`` for a detector of categorical rows
        and ``"error"`` (refuse them, naming them) for the others. Encoded columns are never
        scaled.
    drop : sequence of str, default ()
        Columns that are not features (a label, a row id, ...), removed wherever present.

    Attributes
    ----------
    detector_ : BaseDetector
        The fitted clone of ``detector``.
    preprocessor_ : TablePreprocessor
        The fitted preprocessing.
    scale_, categorical_ : str
        ``scale`` and ``categorical`` resolved.
    decision_scores_, threshold_, labels_ :
        Those of ``detector_`` (the training rows).
    feature_names_in_ : ndarray of str
        The raw feature columns, in fitted order.
    n_features_in_ : int
        Their number.

    Examples
    --------
    >>> import pandas as pd
    >>> from deepad import AutoEncoder, TableDetector
    >>> frame = pd.DataFrame({"amount": [1.0, 2.0, 2.5, 30.0] * 10,
    ...                       "kind": ["a", "b", "a", "b"] * 10})
    >>> model = TableDetector(AutoEncoder(epochs=2, random_state=0), categorical="onehot")
    >>> model.fit(frame).decision_function(frame).shape
    (40,)
    """

    _parameter_names: ClassVar[tuple[str, ...]] = ("scale", "categorical", "drop")

    def __init__(self, detector: Any = None, scale: str = AUTO, categorical: str = AUTO,
                 drop: tuple[str, ...] | list[str] = ()) -> None:
        self.detector = detector
        self.scale = scale
        self.categorical = categorical
        self.drop = drop

    # ------------------------------------------------------------------ parameters
    def _resolve(self, detector: Any) -> tuple[str, str]:
        name = getattr(detector, "name", None) or type(detector).__name__
        if self.scale != AUTO and self.scale not in SCALINGS:
            msg = f"scale must be one of {(AUTO, *SCALINGS)}; got {self.scale!r}."
            raise ValueError(msg)
        if self.categorical != AUTO and self.categorical not in CATEGORICAL_CHOICES:
            msg = (f"categorical must be one of {(AUTO, *CATEGORICAL_CHOICES)}; got "
                   f"{self.categorical!r}.")
            raise ValueError(msg)
        if reads_categories(detector):
            if self.scale not in (AUTO, "none"):
                msg = (f"{name} reads categories (integer codes), which are never scaled; got "
                       f"scale={self.scale!r}. Leave scale at 'auto' or pass 'none'.")
                raise ValueError(msg)
            if self.categorical not in (AUTO, "ordinal"):
                msg = (f"{name} reads categories: its categorical columns are given as ordinal "
                       f"codes; got categorical={self.categorical!r}. Leave it at 'auto' or "
                       "pass 'ordinal'.")
                raise ValueError(msg)
            return "none", "ordinal"
        scale = "minmax" if self.scale == AUTO else self.scale
        categorical = "error" if self.categorical == AUTO else self.categorical
        return scale, categorical

    def _check_detector(self) -> None:
        from deepad.core.base import BaseDetector

        if isinstance(self.detector, type):
            msg = (f"detector must be a detector instance, not the class "
                   f"{self.detector.__name__}; write {self.detector.__name__}().")
            raise TypeError(msg)
        if not isinstance(self.detector, BaseDetector):
            msg = f"detector must be a deepad detector; got {type(self.detector).__name__}."
            raise TypeError(msg)
        if not ({"tabular", "categorical"} & set(self.detector.modalities)):
            msg = (f"{type(self.detector).__name__} reads {list(self.detector.modalities)}, not "
                   "table rows; TableDetector needs a tabular or categorical detector.")
            raise ValueError(msg)

    def make_preprocessor(self) -> TablePreprocessor:
        """The unfitted preprocessing ``fit`` uses: ``scale`` and ``categorical`` resolved for
        ``detector`` (raises ``ValueError`` / ``TypeError`` for a combination it refuses)."""
        self._check_detector()
        scale, categorical = self._resolve(self.detector)
        return TablePreprocessor(scale=scale, categorical=categorical, drop=list(self.drop))

    # ------------------------------------------------------------------ fit / score
    def fit(self, X: Any, y: Any = None) -> TableDetector:
        """Fit the preprocessing on the raw table ``X`` and a clone of ``detector`` on the
        result (``y`` passed on: weak supervision, 1 = labelled anomaly).

        ``X`` may be a streaming source of numeric columns (:class:`deepad.data.ParquetSource`,
        ``docs/scale.md``): the scaling is then fitted from one streaming pass
        (:meth:`TablePreprocessor.fit_stats`: min / max or mean / variance per column) and
        the detector fits the scaled stream (it must declare ``stream_fit``); categorical
        columns are refused (list them in the source's ``exclude``).
        """
        from deepad.data.streaming import is_stream

        if is_stream(X):
            return self._fit_stream(X, y)
        preprocessor = self.make_preprocessor()
        features = self._as_input(preprocessor.fit_transform(X), self.detector)
        detector = clone(self.detector).fit(features, y)
        self._set_fitted(preprocessor, detector)
        return self

    def _fit_stream(self, X: Any, y: Any) -> TableDetector:
        from deepad.data.streaming import MappedSource, as_source, scan

        source = as_source(X)
        preprocessor = self.make_preprocessor()
        if preprocessor.categorical == "ordinal" and reads_categories(self.detector):
            msg = (f"{type(self.detector).__name__} reads categories; a streaming source gives "
                   "numeric columns only.")
            raise TypeError(msg)
        if not self.detector.stream_fit:
            raise TypeError(self.detector._stream_refusal_message())
        drop = set(self.drop)
        keep = [j for j, c in enumerate(source.columns) if c not in drop]
        columns = [source.columns[j] for j in keep]
        selected = source if len(keep) == len(source.columns) else MappedSource(
            source, lambda x: x[:, keep], columns)
        stats = scan(selected, reservoir=1)
        preprocessor.fit_stats(columns, stats.min, stats.max, stats.mean, stats.var)
        multiply = preprocessor.multiply_.astype(np.float32)
        add = preprocessor.add_.astype(np.float32)
        scaled = MappedSource(selected, lambda x: x * multiply + add, columns)
        detector = clone(self.detector).fit(scaled, y)
        self._set_fitted(preprocessor, detector)
        return self

    def _set_fitted(self, preprocessor: TablePreprocessor, detector: Any) -> None:
        self.preprocessor_ = preprocessor
        self.scale_, self.categorical_ = preprocessor.scale, preprocessor.categorical
        self.detector_ = detector
        self.feature_names_in_ = np.asarray(preprocessor.columns_, dtype=object)
        self.n_features_in_ = len(preprocessor.columns_)

    # the fitted detector's, always (set_threshold changes them there)
    @property
    def decision_scores_(self) -> np.ndarray:
        """Anomaly scores of the training rows (those of ``detector_``)."""
        check_is_fitted(self, "detector_")
        return self.detector_.decision_scores_

    @property
    def threshold_(self) -> float:
        """``detector_.threshold_``."""
        check_is_fitted(self, "detector_")
        return self.detector_.threshold_

    @property
    def labels_(self) -> np.ndarray:
        """``detector_.labels_`` (0/1 of the training rows)."""
        check_is_fitted(self, "detector_")
        return self.detector_.labels_

    def set_threshold(self, *args: Any, **kwargs: Any) -> TableDetector:
        """``detector_.set_threshold(...)`` (a rule on the training scores); returns self."""
        check_is_fitted(self, "detector_")
        self.detector_.set_threshold(*args, **kwargs)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """The raw table ``X`` preprocessed: what the fitted detector reads."""
        check_is_fitted(self, "preprocessor_")
        return self._as_input(self.preprocessor_.transform(X), self.detector_)

    @staticmethod
    def _as_input(features: pd.DataFrame, detector: Any) -> pd.DataFrame:
        """Integer codes for a detector of categories (its categories are saved as JSON
        integers, not floats); the float frame otherwise."""
        if reads_categories(detector):
            values = features.to_numpy()
            if np.isfinite(values).all() and (values == np.round(values)).all():
                return features.astype(np.int64)
        return features

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores of the raw table ``X`` (higher = more anomalous)."""
        return self.detector_.decision_function(self.transform(X))

    def score_samples(self, X: Any) -> np.ndarray:
        """``-decision_function(X)`` (scikit-learn's sign: higher = more normal)."""
        return -self.decision_function(X)

    def predict(self, X: Any, return_confidence: bool = False) -> Any:
        """1 for anomalies (score above ``threshold_``), 0 for normal rows; with
        ``return_confidence=True``, ``(labels, confidence)`` as ``detector_.predict``."""
        return self.detector_.predict(self.transform(X), return_confidence=return_confidence)

    def predict_confidence(self, X: Any) -> np.ndarray:
        """``detector_.predict_confidence`` of the preprocessed ``X``."""
        return self.detector_.predict_confidence(self.transform(X))

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """``detector_.predict_proba`` of the preprocessed ``X``."""
        return self.detector_.predict_proba(self.transform(X), method=method)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``labels_`` (0/1) of the training rows."""
        return self.fit(X, y).labels_

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to the directory ``path``: ``config.json`` (the preprocessing, JSON) and
        ``detector/`` (the fitted detector's own safetensors + JSON). No pickle."""
        check_is_fitted(self, "detector_")
        path = Path(path)
        if path.exists() and not path.is_dir():
            msg = f"{path} exists and is not a directory; save writes a model directory."
            raise FileExistsError(msg)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "versions": {"deepad": __version__, "torch": torch.__version__,
                         "numpy": np.__version__},
            "estimator": type(self).__name__,
            "params": {"scale": self.scale, "categorical": self.categorical,
                       "drop": [str(c) for c in self.drop]},
            "state": {"preprocessing": self.preprocessor_.to_dict()},
        }
        from deepad.core.distributed import rank0_save

        # in a data-parallel run only rank 0 writes: the detector's save and this config
        # each write on rank 0 and wait for it on every rank
        self.detector_.save(path / DETECTOR_DIR)

        def write(path: Path) -> Path:
            (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
            return path

        return rank0_save(write, path)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> TableDetector:
        """Load a ``TableDetector`` written by :meth:`save` (also through :func:`deepad.load`).

        JSON only for the preprocessing, every field checked; the detector through
        :func:`deepad.load`. Raises ``FileNotFoundError`` / ``ValueError`` naming the file
        and the field.
        """
        path = Path(path)
        config_path = path / CONFIG_FILE
        config = read_json(config_path)
        found = config.get("format") if isinstance(config, dict) else None
        if found != FORMAT:
            msg = f"{config_path} is not a TableDetector (format {found!r} != {FORMAT!r})."
            raise ValueError(msg)
        if config.get("format_version") != FORMAT_VERSION:
            msg = (f"{config_path} has format version {config.get('format_version')!r}; this "
                   f"deepad reads version {FORMAT_VERSION}.")
            raise ValueError(msg)
        for key in ("params", "state"):
            if not isinstance(config.get(key), dict):
                msg = (f"{config_path}: field {key!r} must be an object; got "
                       f"{type(config.get(key)).__name__}.")
                raise ValueError(msg)
        versions = config.get("versions", {})
        saved = versions.get("deepad") if isinstance(versions, dict) else None
        if saved != __version__:
            warnings.warn(f"{path} was saved with deepad {saved}; loading with {__version__}.",
                          UserWarning, stacklevel=2)
        params = config["params"]
        unknown = sorted(set(params) - set(cls._parameter_names))
        if unknown:
            msg = (f"{config_path}: field 'params': saved hyperparameters {unknown} are not "
                   f"parameters of {cls.__name__}.")
            raise ValueError(msg)
        drop = params.get("drop", [])
        if not isinstance(drop, list) or not all(isinstance(c, str) for c in drop):
            msg = f"{config_path}: params['drop'] must be a list of strings; got {drop!r}."
            raise ValueError(msg)
        try:
            preprocessor = TablePreprocessor.from_dict(config["state"].get("preprocessing"))
        except ValueError as error:
            msg = f"{config_path}: state['preprocessing']: {error}"
            raise ValueError(msg) from error
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # version drift: warned above
            fitted = load_detector(path / DETECTOR_DIR, device=device)
        wrapper = cls(detector=clone(fitted) if hasattr(fitted, "get_params") else fitted,
                      **{**params, "drop": tuple(drop)})
        try:
            wrapper._check_detector()
            resolved = wrapper._resolve(fitted)
        except (ValueError, TypeError) as error:
            msg = f"Cannot load {path}: {config_path}: field 'params': {error}"
            raise ValueError(msg) from error
        if resolved != (preprocessor.scale, preprocessor.categorical) or list(drop) != \
                preprocessor.drop_:
            msg = (f"Cannot load {path}: {config_path}: state['preprocessing'] (scale "
                   f"{preprocessor.scale!r}, categorical {preprocessor.categorical!r}, drop "
                   f"{preprocessor.drop_}) disagrees with params (resolved: {resolved}, drop "
                   f"{drop}).")
            raise ValueError(msg)
        names = getattr(fitted, "feature_names_in_", None)
        if fitted.n_features_in_ != len(preprocessor.feature_names_) or (
                names is not None and list(names) != preprocessor.feature_names_):
            msg = (f"Cannot load {path}: {DETECTOR_DIR}/ holds a detector fitted on "
                   f"{fitted.n_features_in_} columns"
                   + ("" if names is None else f" {list(names)[:5]}...")
                   + f"; {CONFIG_FILE} state['preprocessing'] gives "
                   f"{len(preprocessor.feature_names_)} columns "
                   f"{preprocessor.feature_names_[:5]}...")
            raise ValueError(msg)
        wrapper._set_fitted(preprocessor, fitted)
        return wrapper


# ``deepad.load(path)`` opens a saved TableDetector as it opens a detector
register_format(FORMAT, TableDetector.load)
