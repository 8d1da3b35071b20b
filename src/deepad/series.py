"""``SeriesDetector``: any sequence-capable deepad detector applied to whole time series.

Detectors score windows ``(n_windows, window, n_channels)``; users have series
``(n_timestamps, n_channels)`` and want one score per timestamp. :class:`SeriesDetector` is
the adapter between the two (STYLE.md: modalities are adapters, with explicit window, stride
and window → timestamp aggregation, never a copy of an algorithm):

- ``fit(series, y=None)`` cuts the training series into windows (:mod:`deepad.data.windows`),
  optionally subsamples them, and fits a clone of the wrapped detector on them;
- ``decision_function(series)`` streams the windows of a series through the fitted
  detector ``batch_windows`` at a time and maps the window scores back to one score per
  timestamp (:func:`deepad.data.windows.window_scores_to_points`).

Scoring never materialises the windows of a whole series: the windows are a strided view of
the series, ``batch_windows`` of them are copied into a contiguous block per call to the
detector, and only one float per window is kept. Memory is O(n_timestamps ·
n_channels + batch_windows · window · n_channels), not O(n_windows · window · n_channels).
"""

from __future__ import annotations

import json
import logging
import numbers
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from deepad._version import __version__
from deepad.core.params import NONE, Interval, Options, validate_parameters
from deepad.core.persistence import (
    _json_param,
    read_json,
    read_weights,
    register_format,
    write_weights,
)
from deepad.core.persistence import load as load_detector
from deepad.core.registry import list_detectors
from deepad.core.runtime import resolve_seed
from deepad.core.saved_state import read_field, read_strings, read_tensor
from deepad.core.scoring import contamination_threshold
from deepad.core.validation import InputSpec, check_array
from deepad.data.windows import REDUCTIONS, window_labels, window_scores_to_points, window_starts

__all__ = ["SeriesDetector"]

logger = logging.getLogger(__name__)

FORMAT = "deepad-series-detector"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
DETECTOR_DIR = "detector"


class _RandomState:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None or isinstance(value, np.random.RandomState | np.random.Generator) or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0)

    def __str__(self) -> str:
        return "None, a non-negative int or a numpy random generator"


def _is_series_list(series: Any) -> bool:
    """A list / tuple of arrays or frames: several series (a nested list of numbers is one)."""
    return isinstance(series, list | tuple) and len(series) > 0 and all(
        isinstance(s, np.ndarray | pd.DataFrame | pd.Series) for s in series)


class SeriesDetector(BaseEstimator):
    """Score every timestamp of a time series with a detector of sequence windows.

    The series is cut into windows of ``window`` timestamps (plus a last window ending at the
    last timestamp, :func:`deepad.data.windows.window_starts`); the wrapped detector is fitted
    on training windows starting every ``train_stride`` steps and scores windows starting
    every ``score_stride`` steps (1: every window); each timestamp's score is the ``reduce``
    of the scores of the windows covering it.

    Parameters
    ----------
    detector : deepad detector
        Any detector whose ``modalities`` include ``"sequence"`` (``deepad.list_detectors(
        modalities="sequence")``), unfitted; ``fit`` fits a clone of it (``detector_``). Its
        ``contamination`` sets ``threshold_``.
    window : int, default 64
        Timestamps per window.
    train_stride : int or None, default None
        Steps between the starts of the training windows, ``1 <= train_stride <= window``;
        None → ``stride`` when given, else 1 (resolved in ``fit`` as ``train_stride_``). A
        larger training stride fits on fewer windows: faster, and it can cost accuracy
        (Notes).
    score_stride : int, default 1
        Steps between the starts of the scored windows, ``1 <= score_stride <= window``. 1
        scores every window, so every timestamp gets a score of its own; a coarser stride
        gives the timestamps between two grid starts one shared score (Notes) and scores
        proportionally fewer windows: the knob for faster scoring of a long series.
    stride : int or None, default None
        The training stride under its former name: ``stride=s`` is ``train_stride=s``
        (``train_stride`` wins when both are given). It used to set the scoring stride too;
        it no longer does (models saved then now score at ``score_stride=1``): pass
        ``score_stride`` for a coarser scoring grid.
    reduce : {"mean", "max", "last"}, default "mean"
        Window scores → timestamp score: the mean / maximum over the windows covering the
        timestamp, or the score of the latest window ended at or before it (streaming).
    batch_windows : int, default 4096
        Windows copied out of the series and passed to the detector per call when scoring;
        bounds the scoring memory to ``batch_windows · window · n_channels`` floats on top of
        the series itself.
    max_train_windows : int or None, default 50_000
        At most this many training windows, drawn uniformly without replacement (windows
        holding a labelled anomaly are kept first, see Notes); None → all windows. Bounds the
        memory and time of ``fit`` on a long series.
    random_state : None, int or numpy generator, default None
        Seed of the training-window subsample; None → the wrapped detector's ``random_state``,
        so one seed fixes the whole fit.

    Attributes
    ----------
    detector_ : deepad detector
        The fitted clone of ``detector``.
    train_stride_ : int
        The training stride used (``train_stride``, else ``stride``, else 1).
    score_stride_ : int
        The scoring stride (``score_stride``).
    n_channels_ : int
        Channels of the training series.
    n_train_windows_ : int
        Windows the detector was fitted on (after subsampling).
    decision_scores_ : ndarray of float64, shape (n_timestamps,)
        Timestamp scores of the training series (concatenated in order for several series).
    threshold_ : float
        The ``1 - contamination`` quantile of ``decision_scores_`` (``contamination`` of the
        wrapped detector); ``predict`` flags timestamps scoring above it.
    labels_ : ndarray of int64, shape (n_timestamps,)
        0/1 labels of the training timestamps by ``threshold_``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` received a DataFrame.

    Notes
    -----
    *Several training series* (a list of arrays): windows are cut from each series
    separately, so no window straddles two series.

    *Labels.* ``y`` holds one 0/1 label per timestamp (1 = labelled anomaly). A window is
    labelled 1 when any of its timestamps is (:func:`deepad.data.windows.window_labels`,
    ``rule="any"``); the window labels go to the detector's ``fit``, where weakly supervised
    detectors use them and unsupervised ones ignore them. When subsampling, the windows
    labelled 1 are kept first (they are few and the detector needs them) and the rest of the
    ``max_train_windows`` are drawn from the unlabelled windows.

    *Threshold.* ``decision_scores_`` scores every training timestamp at ``score_stride``
    (streamed as in ``decision_function``, whatever windows were used for fitting), so
    ``threshold_`` is a quantile of the same per-timestamp scores that ``predict``
    thresholds.

    *Strides.* Training and scoring strides are separate because they trade different
    things (measured: ``docs/results/series_stride.md``). The scoring stride sets the time
    resolution of the scores: at stride s, the timestamps between two grid starts are covered
    by the same windows and share one score, so a one-step anomaly shares its score with up
    to s − 1 neighbours, and with ``reduce="last"`` it is seen only when the next grid window
    ends. With ``reduce="mean"`` a coarser scoring stride left the point-wise AUC of the
    measured series almost unchanged while cutting the scoring time in proportion, so it is
    the safe knob for speed; 1 is the default for the per-timestamp resolution. The training
    stride thins the overlapping training windows: fewer of them, a somewhat faster fit, but
    the detector sees each phase of the series less often, and on the measured series that,
    not the scoring stride, is what lowered AUC; it stays 1 by default.

    Examples
    --------
    >>> from deepad import DeepSVDD
    >>> from deepad.data.synthetic import make_planted_series
    >>> series, y, train_end = make_planted_series(1000, n_features=2, n_anomalies=2)
    >>> det = SeriesDetector(DeepSVDD(epochs=2, hidden_dims=(8,), rep_dim=4, random_state=0),
    ...                      window=16, train_stride=4)
    >>> scores = det.fit(series[:train_end]).decision_function(series)
    >>> scores.shape, scores.dtype
    ((1000,), dtype('float64'))
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "window": [Interval(numbers.Integral, 1, None)],
        "train_stride": [NONE, Interval(numbers.Integral, 1, None)],
        "score_stride": [Interval(numbers.Integral, 1, None)],
        "stride": [NONE, Interval(numbers.Integral, 1, None)],
        "reduce": [Options(REDUCTIONS)],
        "batch_windows": [Interval(numbers.Integral, 1, None)],
        "max_train_windows": [NONE, Interval(numbers.Integral, 1, None)],
        "random_state": [_RandomState()],
    }

    def __init__(self, detector: Any, window: int = 64, train_stride: int | None = None,
                 score_stride: int = 1, stride: int | None = None, reduce: str = "mean",
                 batch_windows: int = 4096, max_train_windows: int | None = 50_000,
                 random_state: int | np.random.Generator | None = None) -> None:
        self.detector = detector
        self.window = window
        self.train_stride = train_stride
        self.score_stride = score_stride
        self.stride = stride
        self.reduce = reduce
        self.batch_windows = batch_windows
        self.max_train_windows = max_train_windows
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        validate_parameters(self)
        for name in ("train_stride", "score_stride", "stride"):
            value = getattr(self, name)
            if value is not None and value > self.window:
                msg = (f"{name}={value} is larger than window={self.window}: the timestamps "
                       f"between windows would be in no window; use {name} <= window.")
                raise ValueError(msg)
        self._resolve_strides()

    def _resolve_strides(self) -> None:
        train = self.train_stride if self.train_stride is not None else self.stride
        self.train_stride_ = 1 if train is None else int(train)
        self.score_stride_ = int(self.score_stride)
        detector = self.detector
        if not (hasattr(detector, "fit") and hasattr(detector, "decision_function")
                and hasattr(detector, "modalities")):
            msg = (f"detector must be a deepad detector instance (e.g. deepad.DeepSVDD()); got "
                   f"{detector!r} ({type(detector).__name__}).")
            raise TypeError(msg)
        if isinstance(detector, type):
            msg = (f"detector must be a detector instance, not the class {detector.__name__}; "
                   f"pass {detector.__name__}().")
            raise TypeError(msg)
        if "sequence" not in detector.modalities:
            names = [info["name"] for info in list_detectors(modalities="sequence")]
            msg = (f"{type(detector).__name__} takes {list(detector.modalities)} input, not "
                   f"sequence windows, so it cannot score a series. Detectors that take "
                   f"sequences: {', '.join(names)}.")
            raise ValueError(msg)

    def _as_series(self, series: Any, name: str) -> np.ndarray:
        """One series as a float32 ``(n_timestamps, n_channels)`` array (1-D → one channel)."""
        if isinstance(series, pd.Series):
            series = series.to_frame()
        if not isinstance(series, pd.DataFrame):
            try:
                array = np.asarray(series)
            except (ValueError, TypeError) as error:
                msg = f"{name} could not be read as an array: {error}"
                raise ValueError(msg) from error
            if array.ndim == 1:
                array = array[:, None]
            if array.ndim != 2:
                msg = (f"{name} has shape {array.shape}; expected one series of shape "
                       "(n_timestamps,) or (n_timestamps, n_channels)"
                       + (" (fit also takes a list of such arrays)." if array.ndim == 3 else "."))
                raise ValueError(msg)
            series = array
        array = check_array(series, name=name)
        if len(array) < self.window:
            msg = (f"{name} has {len(array)} timestamps, fewer than window={self.window}; it "
                   "holds no window. Use a shorter window or a longer series.")
            raise ValueError(msg)
        return array

    def _as_series_list(self, series: Any) -> tuple[list[np.ndarray], bool]:
        """The training series as float32 arrays, and whether a list of series was given."""
        if isinstance(series, list | tuple) and len(series) == 0:
            msg = "series is an empty list; pass one array or a list of arrays."
            raise ValueError(msg)
        if not _is_series_list(series):
            self._remember_feature_names(series)
            return [self._as_series(series, "series")], False
        self._remember_feature_names(series[0])
        arrays = [self._as_series(s, f"series[{i}]") for i, s in enumerate(series)]
        channels = [a.shape[1] for a in arrays]
        if len(set(channels)) > 1:
            msg = (f"The training series have different numbers of channels {channels}; every "
                   "series must have the same channels.")
            raise ValueError(msg)
        return arrays, True

    def _remember_feature_names(self, series: Any) -> None:
        if isinstance(series, pd.DataFrame):
            self.feature_names_in_ = np.asarray([str(c) for c in series.columns], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _as_labels_list(self, y: Any, arrays: list[np.ndarray],
                        several: bool) -> list[np.ndarray] | None:
        if y is None:
            return None
        if several and not (isinstance(y, list | tuple) and len(y) == len(arrays)):
            msg = (f"series is a list of {len(arrays)} series, so y must be a list of "
                   f"{len(arrays)} arrays of per-timestamp labels, one per series.")
            raise ValueError(msg)
        labels = list(y) if several else [y]
        out = []
        for i, (lab, array) in enumerate(zip(labels, arrays, strict=True)):
            lab = np.asarray(lab)
            if lab.ndim == 2 and lab.shape[1] == 1:
                lab = lab[:, 0]
            if lab.ndim != 1 or len(lab) != len(array):
                where = f"y[{i}]" if several else "y"
                msg = (f"{where} has shape {lab.shape}; expected one 0/1 label per timestamp, "
                       f"shape ({len(array)},).")
                raise ValueError(msg)
            out.append(lab)
        return out

    def _check_series(self, series: Any) -> np.ndarray:
        """A series to score: one array with the training channels (and column names)."""
        check_is_fitted(self, "detector_")
        if _is_series_list(series):
            msg = ("Scoring takes one series at a time; call decision_function once per series "
                   "of the list.")
            raise ValueError(msg)
        names = getattr(self, "feature_names_in_", None)
        if isinstance(series, pd.DataFrame) and names is not None:
            given = [str(c) for c in series.columns]
            if given != list(names):
                msg = (f"series has columns {given[:5]}... but the detector was fitted on "
                       f"columns {list(names)[:5]}...; pass the same columns in the same order.")
                raise ValueError(msg)
        array = self._as_series(series, "series")
        if array.shape[1] != self.n_channels_:
            msg = (f"series has {array.shape[1]} channel(s), but the detector was fitted on "
                   f"{self.n_channels_} channel(s).")
            raise ValueError(msg)
        return array

    # ------------------------------------------------------------------ fitting
    def fit(self, series: Any, y: Any = None) -> SeriesDetector:
        """Fit the wrapped detector on the windows of the training series.

        Parameters
        ----------
        series : array-like of shape (n_timestamps,) or (n_timestamps, n_channels), or a list
            of such arrays
            Training series (numpy arrays or DataFrames); windows never straddle two series.
        y : array-like of 0/1, shape (n_timestamps,), or a list of them, optional
            Per-timestamp labels, 1 = labelled anomaly (weakly supervised detectors).

        Returns
        -------
        self
        """
        self._check_params()
        arrays, several = self._as_series_list(series)
        labels = self._as_labels_list(y, arrays, several)
        supervision = getattr(self.detector, "supervision", ())
        if labels is None and "unsupervised" not in supervision:
            msg = (f"{type(self.detector).__name__} is weakly supervised: call fit(series, y) "
                   "with y = 1 at the labelled anomalous timestamps and 0 elsewhere.")
            raise ValueError(msg)
        self.n_channels_ = arrays[0].shape[1]
        starts = [window_starts(len(a), self.window, self.train_stride_) for a in arrays]
        window_y = None if labels is None else np.concatenate(
            [window_labels(lab, self.window, self.train_stride_) for lab in labels])
        chosen = self._training_windows(sum(len(s) for s in starts), window_y)
        X = self._gather(arrays, starts, chosen)
        y_windows = None if window_y is None else window_y[chosen]
        min_samples = getattr(self.detector, "min_samples", 1)
        if len(X) < min_samples:
            msg = (f"The training series give {len(X)} window(s) of {self.window} timestamps; "
                   f"{type(self.detector).__name__} needs at least {min_samples}. Use a shorter "
                   "window or train_stride, or a longer series.")
            raise ValueError(msg)
        self.detector_ = clone(self.detector).fit(X, y_windows)
        self.n_train_windows_ = len(X)
        del X
        if (len(chosen) == sum(len(s) for s in starts)
                and self.train_stride_ == self.score_stride_):
            # every scored window was fitted on: the detector already scored them, in order
            window_scores = np.split(np.asarray(self.detector_.decision_scores_, np.float64),
                                     np.cumsum([len(s) for s in starts])[:-1])
            point_scores = [window_scores_to_points(w, len(a), self.window, self.score_stride_,
                                                    self.reduce)
                            for w, a in zip(window_scores, arrays, strict=True)]
        else:
            point_scores = [self._point_scores(a) for a in arrays]
        self.decision_scores_ = np.concatenate(point_scores)
        self.threshold_ = contamination_threshold(self.decision_scores_, self._contamination())
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def _contamination(self) -> float:
        return float(self.detector_.get_params(deep=False).get("contamination", 0.1))

    def _training_windows(self, n_windows: int, window_y: np.ndarray | None) -> np.ndarray:
        """Sorted flat indices of the training windows (all, or a seeded subsample)."""
        budget = self.max_train_windows
        if budget is None or n_windows <= budget:
            return np.arange(n_windows)
        seed_from = self.random_state
        if seed_from is None:
            seed_from = self.detector.get_params(deep=False).get("random_state")
        rng = np.random.default_rng(resolve_seed(seed_from))
        if window_y is None:
            chosen = rng.choice(n_windows, size=budget, replace=False)
        else:
            labelled = np.flatnonzero(window_y == 1)
            if len(labelled) >= budget:
                chosen = rng.choice(labelled, size=budget, replace=False)
            else:
                unlabelled = np.flatnonzero(window_y != 1)
                chosen = np.concatenate([labelled, rng.choice(
                    unlabelled, size=budget - len(labelled), replace=False)])
        logger.info("Fitting on %d of %d training windows.", budget, n_windows)
        return np.sort(chosen)

    def _gather(self, arrays: list[np.ndarray], starts: list[np.ndarray],
                chosen: np.ndarray) -> np.ndarray:
        """The chosen windows (flat indices over all series) as one contiguous array."""
        X = np.empty((len(chosen), self.window, self.n_channels_), dtype=np.float32)
        offsets = np.cumsum([0] + [len(s) for s in starts])
        for array, series_starts, low, high in zip(arrays, starts, offsets[:-1], offsets[1:],
                                                   strict=True):
            lo, hi = np.searchsorted(chosen, [low, high])
            if hi > lo:
                view = self._window_view(array)
                np.take(view, series_starts[chosen[lo:hi] - low], axis=0, out=X[lo:hi],
                        mode="clip")  # valid indices; "clip" writes out unbuffered
        return X

    def _window_view(self, array: np.ndarray) -> np.ndarray:
        """Every window of ``array`` as a read-only strided view (no copy),
        shape (n_timestamps - window + 1, window, n_channels)."""
        return sliding_window_view(array, self.window, axis=0).transpose(0, 2, 1)

    # ------------------------------------------------------------------ scoring
    def _window_scores(self, array: np.ndarray) -> np.ndarray:
        starts = window_starts(len(array), self.window, self.score_stride_)
        view = self._window_view(array)
        scores = np.empty(len(starts), dtype=np.float64)
        for low in range(0, len(starts), self.batch_windows):
            batch = view[starts[low:low + self.batch_windows]]  # one contiguous copy
            scores[low:low + len(batch)] = self.detector_.decision_function(batch)
        return scores

    def _point_scores(self, array: np.ndarray) -> np.ndarray:
        return window_scores_to_points(self._window_scores(array), len(array), self.window,
                                       self.score_stride_, self.reduce)

    def score_windows(self, series: Any) -> np.ndarray:
        """Anomaly score of every window of ``series``, float64 of shape (n_windows,).

        Window ``i`` covers timestamps ``starts[i] .. starts[i] + window - 1`` with
        ``starts = deepad.data.windows.window_starts(len(series), window, score_stride)``.
        """
        return self._window_scores(self._check_series(series))

    def decision_function(self, series: Any) -> np.ndarray:
        """Anomaly score of every timestamp of ``series``, float64 of shape (n_timestamps,);
        higher = more anomalous."""
        return self._point_scores(self._check_series(series))

    def predict(self, series: Any) -> np.ndarray:
        """1 for timestamps scoring above ``threshold_``, else 0; int64 (n_timestamps,)."""
        check_is_fitted(self, "threshold_")
        return (self.decision_function(series) > self.threshold_).astype(np.int64)

    def fit_predict(self, series: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``labels_`` (0/1 per training timestamp)."""
        return self.fit(series, y).labels_

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to the directory ``path``: ``config.json`` (this wrapper's hyperparameters and
        fitted attributes), ``weights.safetensors`` (its training scores) and ``detector/``
        (the wrapped detector's own :meth:`save`). No pickle; see :meth:`load`."""
        check_is_fitted(self, "detector_")
        path = Path(path)
        if path.exists() and not path.is_dir():
            msg = f"{path} exists and is not a directory; save writes a model directory."
            raise FileExistsError(msg)
        params = {k: _json_param(k, v) for k, v in self.get_params(deep=False).items()
                  if k != "detector"}
        state: dict[str, Any] = {"n_channels": self.n_channels_, "threshold": self.threshold_,
                                 "n_train_windows": self.n_train_windows_}
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in"] = [str(c) for c in self.feature_names_in_]
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "versions": {"deepad": __version__, "torch": torch.__version__,
                         "numpy": np.__version__},
            "estimator": type(self).__name__,
            "params": params,
            "state": state,
        }
        path.mkdir(parents=True, exist_ok=True)
        self.detector_.save(path / DETECTOR_DIR)
        write_weights({"decision_scores": torch.from_numpy(self.decision_scores_.copy())},
                      path / WEIGHTS_FILE, FORMAT)
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
        return path

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   fitted: Any) -> None:
        """Restore the fitted attributes written by :meth:`save`, every field checked against
        the others and against the wrapped detector ``fitted`` (``ValueError`` naming it)."""
        self.detector_ = fitted
        self.n_channels_ = read_field(state, "n_channels", "int", low=1)
        self.n_train_windows_ = read_field(state, "n_train_windows", "int", low=1)
        expected = InputSpec("sequence", n_features=self.n_channels_, window=self.window)
        if fitted.spec_ != expected or len(fitted.decision_scores_) != self.n_train_windows_:
            msg = (f"{DETECTOR_DIR}/ holds a detector fitted on {len(fitted.decision_scores_)} "
                   f"windows of {fitted.spec_}; {CONFIG_FILE} state['n_channels'] and "
                   f"state['n_train_windows'] and params['window'] say "
                   f"{self.n_train_windows_} windows of {expected}.")
            raise ValueError(msg)
        if "feature_names_in" in state:
            self.feature_names_in_ = read_strings(state, "feature_names_in",
                                                  length=self.n_channels_)
        scores = read_tensor(tensors, "decision_scores", ndim=1, floating=True)
        if len(scores) < self.window:
            msg = (f"{WEIGHTS_FILE}: tensor 'decision_scores' must score at least one window of "
                   f"{self.window} timestamps; got {len(scores)} scores.")
            raise ValueError(msg)
        self.decision_scores_ = scores.numpy().astype(np.float64)
        self.threshold_ = read_field(state, "threshold", "float")
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> SeriesDetector:
        """Load a ``SeriesDetector`` written by :meth:`save`; scores equal those before saving.

        JSON and safetensors only (the wrapped detector through :func:`deepad.load`), so a
        model directory from a stranger cannot run code. ``device`` as in :func:`deepad.load`.
        """
        path = Path(path)
        config_path = path / CONFIG_FILE
        config = read_json(config_path)
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            found = config.get("format") if isinstance(config, dict) else None
            hint = " (a detector: load it with deepad.load)" if found == "deepad-detector" else ""
            msg = f"{config_path} is not a SeriesDetector (format {found!r} != {FORMAT!r}){hint}."
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
        unknown = set(params) - set(cls._parameter_constraints) | ({"detector"} & set(params))
        if unknown:
            msg = (f"{config_path}: field 'params': saved hyperparameters {sorted(unknown)} are "
                   f"not parameters of {cls.__name__}.")
            raise ValueError(msg)
        tensors = read_weights(path / WEIGHTS_FILE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # version drift: warned above
            fitted = load_detector(path / DETECTOR_DIR, device=device)
        wrapper = cls(detector=clone(fitted), **params)
        try:
            wrapper._check_params()
            wrapper._set_state(config["state"], tensors, fitted)
        except (ValueError, TypeError) as error:
            msg = f"Cannot load {path}: {error}"
            raise ValueError(msg) from error
        unused = sorted(tensors.unused())
        if unused:
            msg = f"Cannot load {path}: {WEIGHTS_FILE} holds unexpected tensors {unused[:5]}."
            raise ValueError(msg)
        return wrapper


# ``deepad.load(path)`` opens a saved SeriesDetector as it opens a detector
register_format(FORMAT, SeriesDetector.load)
