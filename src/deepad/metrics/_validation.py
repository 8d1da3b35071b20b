"""Input checks shared by every metric: shapes, labels in {0, 1}, finite scores.

Each check raises a ``ValueError`` that names the argument, says what was wrong and what was
expected; nothing is silently coerced (a column vector is refused, not flattened).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D ndarray, refusing other shapes and empty input."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        msg = f"{name} could not be read as an array: {error}"
        raise ValueError(msg) from error
    if array.ndim != 1:
        msg = (f"{name} must be 1-D (one value per sample or timestamp); got shape "
               f"{array.shape}. Flatten it first (e.g. with .ravel()) if that is what you mean.")
        raise ValueError(msg)
    if array.size == 0:
        msg = f"{name} is empty; metrics need at least one sample."
        raise ValueError(msg)
    return array


def check_binary(values: ArrayLike, name: str) -> np.ndarray:
    """Return 0/1 labels or predictions as an ``int64`` array.

    Accepts bool, integer or float arrays whose values are all 0 or 1.
    """
    array = _as_1d(values, name)
    if array.dtype.kind not in "biuf":
        msg = f"{name} has dtype {array.dtype}; expected 0/1 values (bool, int or float)."
        raise ValueError(msg)
    bad = ~np.isin(array, (0, 1))
    if bad.any():
        shown = np.unique(array[bad])[:5].tolist()
        msg = (f"{name} must hold only 0 (normal) and 1 (anomaly); found {int(bad.sum())} other "
               f"value(s), e.g. {shown}.")
        raise ValueError(msg)
    return array.astype(np.int64)


def check_scores(values: ArrayLike, name: str = "scores") -> np.ndarray:
    """Return finite anomaly scores as a ``float64`` array (higher = more anomalous)."""
    array = _as_1d(values, name)
    if array.dtype.kind not in "biuf":
        msg = f"{name} has dtype {array.dtype}; expected numeric scores (bool, int or float)."
        raise ValueError(msg)
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        n_nan = int(np.isnan(array).sum())
        msg = (f"{name} contains {int(bad.sum())} non-finite value(s) ({n_nan} NaN, "
               f"{int(bad.sum()) - n_nan} inf) out of {array.size}; scores must be finite.")
        raise ValueError(msg)
    return array


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise when two per-sample arrays differ in length."""
    if len(a) != len(b):
        msg = (f"{name_a} has {len(a)} values but {name_b} has {len(b)}; they must describe "
               "the same samples.")
        raise ValueError(msg)


def require_anomaly(y_true: np.ndarray, what: str) -> None:
    """Raise when ``y_true`` holds no anomaly (recall and ``what`` are undefined then)."""
    if not y_true.any():
        msg = f"y_true holds no anomaly (no 1); {what} is undefined without one."
        raise ValueError(msg)


def require_both_classes(y_true: np.ndarray, what: str) -> None:
    """Raise when ``y_true`` holds a single class (a ranking metric is undefined then)."""
    n_anomalies = int(y_true.sum())
    if n_anomalies in (0, len(y_true)):
        only = "normal (0)" if n_anomalies == 0 else "anomaly (1)"
        msg = (f"y_true holds only the {only} class; {what} needs both classes 0 (normal) "
               "and 1 (anomaly).")
        raise ValueError(msg)


def check_labels_and_scores(y_true: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (labels, scores) pair: 0/1 labels, finite scores, equal lengths."""
    y_array = check_binary(y_true, "y_true")
    s_array = check_scores(scores, "scores")
    check_same_length(y_array, s_array, "y_true", "scores")
    return y_array, s_array


def check_labels_and_predictions(y_true: ArrayLike,
                                 y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (labels, predictions) pair: both 0/1, equal lengths."""
    y_array = check_binary(y_true, "y_true")
    p_array = check_binary(y_pred, "y_pred")
    check_same_length(y_array, p_array, "y_true", "y_pred")
    return y_array, p_array


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float, refusing NaN and non-numbers (inf is allowed)."""
    try:
        if isinstance(threshold, (str, bytes)):
            raise TypeError
        value = float(threshold)
    except (TypeError, ValueError) as error:
        msg = f"threshold must be a number; got {threshold!r}."
        raise ValueError(msg) from error
    if np.isnan(value):
        msg = "threshold is NaN; it must be a number (a score >= threshold is an anomaly)."
        raise ValueError(msg)
    return value
