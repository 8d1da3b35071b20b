"""Input validation: what a detector accepts, and the clear error for what it does not.

Nothing is silently coerced: a DataFrame with a text column, NaN / inf values, a 1-D array,
a label other than 0/1 or a feature count that differs from ``fit`` raise ``TypeError`` or
``ValueError`` saying what was wrong and what was expected.

The modality is read from the shape: 2-D ``(n_samples, n_features)`` is tabular rows, 3-D
``(n_windows, window, n_features)`` is sequence windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from deepad.data.spec import InputSpec

MODALITY_BY_NDIM = {2: "tabular", 3: "sequence"}

__all__ = ["InputSpec", "check_array", "check_labels", "check_matches_spec"]


def _frame_to_array(X: pd.DataFrame) -> np.ndarray:
    bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])
           or pd.api.types.is_complex_dtype(X[c])]
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5]) + (" ..." if len(bad) > 5 else "")
        msg = (f"X has non-numeric columns {shown}; deepad detectors take numeric features only. "
               "Encode categorical columns first (e.g. sklearn OneHotEncoder or OrdinalEncoder).")
        raise TypeError(msg)
    return X.to_numpy(dtype=np.float64, na_value=np.nan)


def check_array(X: Any, *, min_samples: int = 1, name: str = "X") -> np.ndarray:
    """Validate ``X`` and return it as a C-contiguous float32 array of 2 or 3 dimensions.

    Raises
    ------
    TypeError
        Non-numeric data (strings, objects, complex numbers, sparse matrices).
    ValueError
        Wrong number of dimensions, empty input, NaN / inf, or fewer than ``min_samples`` rows.
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        msg = f"{name} is a sparse matrix; deepad needs a dense array (call X.toarray())."
        raise TypeError(msg)
    if isinstance(X, pd.Series):
        msg = (f"{name} is a pandas Series (1-D); expected a 2-D table (n_samples, n_features) "
               "or 3-D windows (n_windows, window, n_features). Use X.to_frame().")
        raise ValueError(msg)
    if isinstance(X, pd.DataFrame):
        array = _frame_to_array(X)
    else:
        try:
            array = np.asarray(X)
        except (ValueError, TypeError) as error:
            msg = f"{name} could not be read as an array: {error}"
            raise ValueError(msg) from error
    if array.dtype.kind not in "biuf":
        msg = (f"{name} has dtype {array.dtype}; expected numeric data (bool, int or float). "
               "Encode text or categorical features first.")
        raise TypeError(msg)
    if array.ndim not in MODALITY_BY_NDIM:
        msg = (f"{name} has {array.ndim} dimension(s) with shape {array.shape}; expected 2-D rows "
               "(n_samples, n_features) or 3-D sequence windows (n_windows, window, n_features)."
               + (" Reshape a single feature with X.reshape(-1, 1)." if array.ndim == 1 else ""))
        raise ValueError(msg)
    if array.size == 0:
        msg = (f"{name} is empty (shape {array.shape}); at least one sample with one feature "
               "is needed.")
        raise ValueError(msg)
    if array.shape[0] < min_samples:
        msg = f"{name} has {array.shape[0]} sample(s); at least {min_samples} are needed."
        raise ValueError(msg)
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)
        msg = (f"{name} contains {len(bad)} NaN or infinite value(s), the first at index "
               f"{tuple(int(i) for i in bad[0])}; impute or drop them before fitting.")
        raise ValueError(msg)
    if array.dtype.kind == "f" and np.abs(array).max() >= np.finfo(np.float32).max:
        msg = f"{name} has values too large for float32 (max |x| = {np.abs(array).max():.3g}); "\
              "scale the features first."
        raise ValueError(msg)
    return np.ascontiguousarray(array, dtype=np.float32)


def check_matches_spec(X: np.ndarray, spec: InputSpec, *, name: str = "X") -> None:
    """Raise ``ValueError`` if ``X`` does not have the modality / width seen in ``fit``."""
    seen = InputSpec.of(X)
    if seen.modality != spec.modality:
        msg = (f"{name} is {seen.modality} data with shape {X.shape}, but the detector was fitted "
               f"on {spec.modality} data with samples of shape {spec.sample_shape}.")
        raise ValueError(msg)
    if seen.n_features != spec.n_features:
        msg = (f"{name} has {seen.n_features} features, but the detector was fitted with "
               f"{spec.n_features} features.")
        raise ValueError(msg)
    if seen.window != spec.window:
        msg = (f"{name} has windows of length {seen.window}, but the detector was fitted on "
               f"windows of length {spec.window}.")
        raise ValueError(msg)


def check_labels(y: Any, n_samples: int, *, require_anomaly: bool = False) -> np.ndarray:
    """Validate weak-supervision labels: 1 = labelled anomaly, 0 = unlabelled / normal.

    Returns an int64 array of shape ``(n_samples,)``.
    """
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            msg = f"y must be one column of labels; got a DataFrame with {y.shape[1]} columns."
            raise ValueError(msg)
        y = y.iloc[:, 0]
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        msg = f"y must be 1-D with one label per sample; got shape {array.shape}."
        raise ValueError(msg)
    if array.shape[0] != n_samples:
        msg = f"y has {array.shape[0]} labels but X has {n_samples} samples."
        raise ValueError(msg)
    if array.dtype.kind not in "biuf":
        msg = f"y has dtype {array.dtype}; expected numeric labels 0 (unlabelled) and 1 (anomaly)."
        raise TypeError(msg)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        msg = "y contains NaN or infinite values; expected labels 0 and 1 only."
        raise ValueError(msg)
    values = set(np.unique(array).tolist())
    if not values <= {0, 1}:
        msg = (f"y must contain only 0 (unlabelled / normal) and 1 (labelled anomaly); got values "
               f"{sorted(values)[:10]}.")
        raise ValueError(msg)
    if require_anomaly and 1 not in values:
        msg = ("This detector is weakly supervised and needs at least one labelled anomaly "
               "(y == 1) in fit(X, y).")
        raise ValueError(msg)
    return array.astype(np.int64)
