"""The preprocessing of a raw table, fitted once and stored with the model that needs it.

:class:`TablePreprocessor` turns a raw DataFrame (what ``pandas.read_csv`` gives) into the
numeric frame a detector is fitted on: it selects the feature columns by name and in their
fitted order, encodes the categorical ones (:func:`deepad.data.encoding.encode_categorical`)
and scales the numeric ones (``x * multiply + add``, the affine map of scikit-learn's
``MinMaxScaler`` / ``StandardScaler`` fitted on the training frame). Encoded categorical
columns are never scaled: one-hot indicators stay 0 / 1 and ordinal codes stay the integer
codes a categorical detector reads.

Its fitted state is plain JSON (:meth:`TablePreprocessor.to_dict`) and is read back strictly
(:meth:`TablePreprocessor.from_dict`: every field checked, ``ValueError`` naming it), so a
saved model (:class:`deepad.tabular.TableDetector`) carries it next to its weights without
pickle. numpy / pandas / scikit-learn only.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from deepad.data.encoding import (
    CATEGORICAL_CHOICES,
    CategoricalEncoding,
    encode_categorical,
)

__all__ = ["SCALINGS", "TablePreprocessor"]

SCALINGS = ("minmax", "standard", "none")
"""Accepted values of ``scale``."""

_FIELDS = ("scale", "categorical", "columns", "drop", "categorical_columns", "categories",
           "feature_names", "scaled_columns", "multiply", "add")


class TablePreprocessor:
    """Column selection, categorical encoding and scaling of a raw table, fitted on training data.

    Parameters
    ----------
    scale : {"minmax", "standard", "none"}, default "minmax"
        Scaling of the numeric (not encoded) columns, fitted on the training frame.
    categorical : {"error", "onehot", "ordinal"}, default "error"
        Non-numeric columns (object, string, category, bool): ``"error"`` refuses them,
        ``"onehot"`` / ``"ordinal"`` encode them (never scaled).
    drop : sequence of str, default ()
        Columns that are not features (a label, a row id, columns to ignore): removed when a
        frame holds them, so the frame a model was fitted from can be scored as it is.

    Attributes
    ----------
    columns_ : list of str
        The raw feature columns, in fitted order.
    encoding_ : CategoricalEncoding
        The categorical encoding (``encoding_.columns`` empty when all columns are numeric).
    feature_names_ : list of str
        The columns of the transformed frame.
    scaled_columns_ : list of str
        The transformed columns that are scaled (the numeric input columns).
    multiply_, add_ : ndarray of float64
        The affine map of ``scaled_columns_``: ``x * multiply_ + add_``.
    """

    def __init__(self, scale: str = "minmax", categorical: str = "error",
                 drop: Sequence[str] = ()) -> None:
        self.scale = scale
        self.categorical = categorical
        self.drop = drop

    # ------------------------------------------------------------------ fit / transform
    def _check_params(self) -> list[str]:
        if self.scale not in SCALINGS:
            msg = f"scale must be one of {SCALINGS}; got {self.scale!r}."
            raise ValueError(msg)
        if self.categorical not in CATEGORICAL_CHOICES:
            msg = f"categorical must be one of {CATEGORICAL_CHOICES}; got {self.categorical!r}."
            raise ValueError(msg)
        if isinstance(self.drop, str) or not all(isinstance(c, str) for c in self.drop):
            msg = f"drop must be a list of column names; got {self.drop!r}."
            raise TypeError(msg)
        return list(self.drop)

    def fit(self, frame: Any) -> TablePreprocessor:
        """Fit on the training table; see :meth:`fit_transform`."""
        self.fit_transform(frame)
        return self

    def fit_transform(self, frame: Any) -> pd.DataFrame:
        """Fit on the training table and return it transformed.

        Parameters
        ----------
        frame : DataFrame, or 2-D array (columns named ``f0`` ... ``f{d-1}``)
            Raw training data. Columns of ``drop`` are removed; every other column is a
            feature.

        Returns
        -------
        DataFrame
            The transformed features (columns ``feature_names_``), index of ``frame``.
        """
        drop = self._check_params()
        frame = _as_frame(frame, None)
        columns = [c for c in frame.columns if str(c) not in drop]
        if not columns:
            msg = "The table has no feature column left once " + (
                f"{drop} are removed." if drop else "read.")
            raise ValueError(msg)
        features = frame[columns]
        features.columns = [str(c) for c in columns]
        _check_unique(features.columns)
        encoded, encoding = encode_categorical(features, self.categorical)
        scaled = [c for c in features.columns if c not in encoding.columns]
        values = _numeric(encoded, scaled)
        self.columns_ = [str(c) for c in features.columns]
        self.encoding_ = encoding
        self.feature_names_ = [str(c) for c in encoded.columns]
        self.scaled_columns_ = scaled
        self.multiply_, self.add_ = _affine(values, self.scale)
        self.drop_ = drop
        return self._scale(encoded, values)

    def fit_stats(self, columns: Sequence[str], minimum: np.ndarray, maximum: np.ndarray,
                  mean: np.ndarray, var: np.ndarray) -> TablePreprocessor:
        """Fit from per-column statistics of numeric columns, computed in one streaming pass
        (:func:`deepad.data.streaming.scan`) instead of a frame: the same affine map as
        ``MinMaxScaler`` / ``StandardScaler`` (a constant column: multiplier 1), no
        categorical column. ``drop`` columns must already be left out of ``columns``."""
        drop = self._check_params()
        columns = [str(c) for c in columns]
        _check_unique(columns)
        if not columns:
            msg = "The table has no feature column."
            raise ValueError(msg)
        self.columns_ = columns
        self.encoding_ = CategoricalEncoding(self.categorical, [], {}, list(columns))
        self.feature_names_ = list(columns)
        self.scaled_columns_ = list(columns)
        width = len(columns)
        if self.scale == "none":
            self.multiply_, self.add_ = np.ones(width), np.zeros(width)
        elif self.scale == "minmax":
            span = np.asarray(maximum, dtype=np.float64) - np.asarray(minimum, dtype=np.float64)
            self.multiply_ = 1.0 / np.where(span < 10 * np.finfo(np.float64).eps, 1.0, span)
            self.add_ = -np.asarray(minimum, dtype=np.float64) * self.multiply_
        else:
            std = np.sqrt(np.asarray(var, dtype=np.float64))
            std = np.where(std < 10 * np.finfo(np.float64).eps, 1.0, std)
            self.multiply_ = 1.0 / std
            self.add_ = -np.asarray(mean, dtype=np.float64) / std
        self.drop_ = drop
        return self

    def transform_array(self, values: np.ndarray) -> np.ndarray:
        """The scaling alone, on a numeric array whose columns are ``columns_`` in order (a
        fitted preprocessor without categorical columns): ``values * multiply_ + add_``."""
        if self.encoding_.columns:
            msg = "transform_array needs a preprocessor without categorical columns."
            raise ValueError(msg)
        return values * self.multiply_ + self.add_

    def transform(self, frame: Any) -> pd.DataFrame:
        """The raw table ``frame`` preprocessed as the training table was.

        Feature columns are selected by name (any order; columns of ``drop`` are removed);
        a 2-D array is read as the feature columns in fitted order. A missing feature column
        or a column that is neither a feature nor in ``drop`` raises ``ValueError`` naming
        it. Unknown categories are encoded as ``encode_categorical`` does (all-zero one-hot,
        ordinal -1) with a logged warning.
        """
        if not hasattr(self, "columns_"):
            msg = "This TablePreprocessor is not fitted yet; call fit first."
            raise ValueError(msg)
        frame = _as_frame(frame, self.columns_)
        given = [str(c) for c in frame.columns]
        _check_unique(given)
        missing = [c for c in self.columns_ if c not in given]
        extra = [c for c in given if c not in self.columns_ and c not in self.drop_]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks the feature column(s) {_shown(missing)}")
            if extra:
                parts.append(f"has column(s) {_shown(extra)} the model was not fitted on")
            msg = (f"The table {' and '.join(parts)}; the model reads the columns "
                   f"{_shown(self.columns_)}" + (f" (and ignores {_shown(self.drop_)})"
                                                  if self.drop_ else "") + ".")
            raise ValueError(msg)
        features = frame.set_axis(given, axis=1)[self.columns_]
        if self.encoding_.columns:
            features = _match_category_kinds(features, self.encoding_.categories)
            encoded = self.encoding_.transform(features)
        else:
            encoded = features
        values = _numeric(encoded, self.scaled_columns_)
        return self._scale(encoded, values)

    def _scale(self, encoded: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
        out = encoded.astype(np.float64)
        if self.scaled_columns_:
            out[self.scaled_columns_] = values * self.multiply_ + self.add_
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON-ready values (read back by :meth:`from_dict`)."""
        return {
            "scale": self.scale, "categorical": self.categorical, "drop": list(self.drop_),
            "columns": list(self.columns_),
            "categorical_columns": [str(c) for c in self.encoding_.columns],
            "categories": {str(k): list(v) for k, v in self.encoding_.categories.items()},
            "feature_names": list(self.feature_names_),
            "scaled_columns": list(self.scaled_columns_),
            "multiply": [float(v) for v in self.multiply_],
            "add": [float(v) for v in self.add_],
        }

    @classmethod
    def from_dict(cls, state: Any) -> TablePreprocessor:
        """A fitted preprocessor from :meth:`to_dict`'s output, every field checked.

        Raises ``ValueError`` naming the field that is missing, of the wrong type, or
        inconsistent with the others (the state may come from a tampered file).
        """
        if not isinstance(state, dict):
            msg = f"the preprocessing must be an object; got {type(state).__name__}."
            raise ValueError(msg)
        missing = [f for f in _FIELDS if f not in state]
        if missing:
            msg = f"the preprocessing lacks the field(s) {missing}."
            raise ValueError(msg)
        unknown = sorted(set(state) - set(_FIELDS))
        if unknown:
            msg = f"the preprocessing has unknown field(s) {unknown}."
            raise ValueError(msg)
        scale, how = state["scale"], state["categorical"]
        if scale not in SCALINGS:
            raise _bad("scale", f"one of {SCALINGS}", scale)
        if how not in CATEGORICAL_CHOICES:
            raise _bad("categorical", f"one of {CATEGORICAL_CHOICES}", how)
        columns = _strings(state, "columns", unique=True, nonempty=True)
        drop = _strings(state, "drop", unique=True)
        if set(drop) & set(columns):
            raise _bad("drop", "columns that are not features", drop)
        cat_columns = _strings(state, "categorical_columns", unique=True)
        if [c for c in columns if c in cat_columns] != cat_columns:
            raise _bad("categorical_columns", "feature columns, in their order", cat_columns)
        if cat_columns and how == "error":
            raise _bad("categorical_columns", 'empty when categorical is "error"', cat_columns)
        categories = state["categories"]
        if not isinstance(categories, dict) or list(categories) != cat_columns:
            raise _bad("categories", "an object with one entry per categorical column, in "
                                     "order", categories)
        for column, values in categories.items():
            _check_categories(column, values)
        names = _strings(state, "feature_names", unique=True, nonempty=True)
        expected = []
        for column in columns:
            if column not in cat_columns:
                expected.append(column)
            elif how == "ordinal":
                expected.append(column)
            else:
                expected.extend(f"{column}_{v}" for v in categories[column])
        if names != expected:
            raise _bad("feature_names", "the columns the encoding gives", names)
        scaled = _strings(state, "scaled_columns")
        if scaled != [c for c in columns if c not in cat_columns]:
            raise _bad("scaled_columns", "the numeric feature columns, in order", scaled)
        multiply = _numbers(state, "multiply", len(scaled))
        add = _numbers(state, "add", len(scaled))
        if scale == "none" and not (np.all(multiply == 1.0) and np.all(add == 0.0)):
            raise _bad("multiply", 'ones (and add zeros) when scale is "none"', state["multiply"])
        self = cls(scale=scale, categorical=how, drop=drop)
        self.columns_ = columns
        self.drop_ = drop
        self.encoding_ = CategoricalEncoding(how, cat_columns, categories, names)
        self.feature_names_ = names
        self.scaled_columns_ = scaled
        self.multiply_, self.add_ = multiply, add
        return self

    def __repr__(self) -> str:
        return (f"TablePreprocessor(scale={self.scale!r}, categorical={self.categorical!r}, "
                f"drop={list(self.drop)!r})")


# ---------------------------------------------------------------------------- helpers
def _as_frame(frame: Any, columns: list[str] | None) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    array = np.asarray(frame) if not isinstance(frame, np.ndarray) else frame
    if array.ndim != 2:
        msg = (f"a table must be a DataFrame or a 2-D array; got an array of shape "
               f"{array.shape}.")
        raise ValueError(msg)
    if columns is None:
        return pd.DataFrame(array, columns=[f"f{j}" for j in range(array.shape[1])])
    if array.shape[1] != len(columns):
        msg = (f"X has {array.shape[1]} columns; the model was fitted on {len(columns)} "
               f"columns {_shown(columns)}.")
        raise ValueError(msg)
    if columns != [f"f{j}" for j in range(len(columns))]:
        # scikit-learn's wording, so filters written for scikit-learn catch it too
        warnings.warn("X does not have valid feature names, but the model was fitted with "
                      "feature names; the columns are read in the fitted order.", UserWarning,
                      stacklevel=4)
    return pd.DataFrame(array, columns=columns)


def _check_unique(columns: Any) -> None:
    seen = pd.Index(columns)
    if seen.has_duplicates:
        msg = f"The table has duplicate column name(s) {seen[seen.duplicated()].unique().tolist()}."
        raise ValueError(msg)


def _numeric(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The ``columns`` of ``frame`` as float64, refusing non-numeric values, NaN and inf."""
    if not columns:
        return np.empty((len(frame), 0))
    bad = [c for c in columns if not (pd.api.types.is_numeric_dtype(frame[c].dtype)
                                      and not pd.api.types.is_bool_dtype(frame[c].dtype))]
    if bad:
        msg = (f"Column(s) {_shown(bad)} must hold numbers (they did when the model was "
               f"fitted); got {', '.join(str(frame[c].dtype) for c in bad[:5])}.")
        raise ValueError(msg)
    values = frame[columns].to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        counts = (~finite).sum(axis=0)
        shown = ", ".join(f"{c!r} ({int(n)} rows)" for c, n in zip(columns, counts, strict=True)
                          if n)
        row = int(np.argwhere(~finite)[0][0])
        msg = (f"Column(s) {shown} hold missing (NaN) or infinite values, the first at row "
               f"{row}; fill or drop them first.")
        raise ValueError(msg)
    return values


def _affine(values: np.ndarray, scale: str) -> tuple[np.ndarray, np.ndarray]:
    width = values.shape[1]
    if scale == "none" or width == 0:
        return np.ones(width), np.zeros(width)
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if scale == "minmax":
        scaler = MinMaxScaler().fit(values)
        return scaler.scale_.astype(np.float64), scaler.min_.astype(np.float64)
    scaler = StandardScaler().fit(values)
    return 1.0 / scaler.scale_, -scaler.mean_ / scaler.scale_


def _match_category_kinds(frame: pd.DataFrame, categories: dict) -> pd.DataFrame:
    """Read a categorical column as strings when its fitted categories are strings (pandas
    reads a column of digits as integers when the new file has no other value)."""
    frame = frame.copy()
    for column, values in categories.items():
        if values and all(isinstance(v, str) for v in values) and not (
                pd.api.types.is_object_dtype(frame[column].dtype)
                or pd.api.types.is_string_dtype(frame[column].dtype)):
            frame[column] = frame[column].astype(str).astype(object)
    return frame


def _shown(values: list[str], limit: int = 10) -> str:
    more = f" ... ({len(values)} in all)" if len(values) > limit else ""
    return "[" + ", ".join(repr(v) for v in values[:limit]) + "]" + more


def _bad(field: str, rule: str, value: Any) -> ValueError:
    shown = repr(value)
    if len(shown) > 80:
        shown = f"{type(value).__name__} {shown[:60]}..."
    return ValueError(f"preprocessing field {field!r} must be {rule}; got {shown}.")


def _strings(state: dict, field: str, *, unique: bool = False,
             nonempty: bool = False) -> list[str]:
    values = state[field]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _bad(field, "a list of strings", values)
    if unique and len(set(values)) != len(values):
        raise _bad(field, "a list of distinct strings", values)
    if nonempty and not values:
        raise _bad(field, "a non-empty list of strings", values)
    return list(values)


def _numbers(state: dict, field: str, length: int) -> np.ndarray:
    values = state[field]
    if (not isinstance(values, list) or len(values) != length or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            for v in values)):
        raise _bad(field, f"a list of {length} finite numbers (one per scaled column)", values)
    return np.asarray(values, dtype=np.float64)


def _check_categories(column: str, values: Any) -> None:
    """A non-empty list of distinct categories of one kind (strings, or numbers / bools)."""
    if not isinstance(values, list) or not values:
        raise _bad(f"categories[{column!r}]", "a non-empty list", values)
    strings = all(isinstance(v, str) for v in values)
    plain = all(isinstance(v, numbers.Real) and (isinstance(v, bool) or math.isfinite(v))
                for v in values)
    if not (strings or plain):
        raise _bad(f"categories[{column!r}]", "strings only, or numbers only", values)
    if len(set(values)) != len(values):
        raise _bad(f"categories[{column!r}]", "distinct values", values)
    if plain and values != sorted(values):
        raise _bad(f"categories[{column!r}]", "sorted numbers", values)
