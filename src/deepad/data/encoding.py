"""Numeric features from a table with categorical columns.

Detectors take numbers only. :func:`encode_categorical` turns the non-numeric columns of a
DataFrame (object, string, category and bool dtypes) into numbers with scikit-learn's
``OneHotEncoder`` or ``OrdinalEncoder`` and returns the fitted encoding, so that new data can
be encoded the same way. numpy / pandas / scikit-learn only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

__all__ = ["CATEGORICAL_CHOICES", "CategoricalEncoding", "categorical_columns",
           "encode_categorical"]

logger = logging.getLogger(__name__)

CATEGORICAL_CHOICES = ("error", "onehot", "ordinal")
"""Accepted values of ``how`` (and of ``load_table(..., categorical=)``)."""

UNKNOWN_ORDINAL = -1
"""Code given by ``how="ordinal"`` to a category not seen when the encoding was fitted."""


@dataclass(frozen=True)
class CategoricalEncoding:
    """The encoding fitted by :func:`encode_categorical`.

    Attributes
    ----------
    how : {"error", "onehot", "ordinal"}
        The encoding.
    columns : list
        The encoded (categorical) input columns, in the order of the input frame. Empty when
        the frame was all numeric.
    categories : dict
        ``{column: [category, ...]}``: the sorted categories of each encoded column, as plain
        Python values (JSON-serialisable for string, integer and bool categories). Passing it
        back as ``encode_categorical(new_frame, how, categories=encoding.categories)``
        reproduces this encoding on new data.
    feature_names : list of str
        The columns of the encoded frame, in order.
    encoder : OneHotEncoder or OrdinalEncoder or None
        The fitted scikit-learn encoder of ``columns`` (None when nothing was encoded).
    """

    how: str
    columns: list
    categories: dict
    feature_names: list
    encoder: Any = None

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Encode new data the same way (same output columns, in the same order).

        Unknown categories become all-zero indicator columns (``"onehot"``) or the code -1
        (``"ordinal"``); their count per column is logged as a warning.

        Parameters
        ----------
        frame : DataFrame
            Data with the same columns as the frame the encoding was fitted on.

        Returns
        -------
        DataFrame
            Numeric columns ``feature_names``, index of ``frame``.
        """
        encoded, _ = encode_categorical(frame, self.how, categories=self.categories)
        if [str(c) for c in encoded.columns] != list(self.feature_names):
            msg = (f"The frame encodes to the columns {list(encoded.columns)}; the fitted "
                   f"encoding gave {list(self.feature_names)}. Pass a frame with the same "
                   "columns as the one it was fitted on.")
            raise ValueError(msg)
        return encoded


def categorical_columns(frame: pd.DataFrame) -> list:
    """The columns of ``frame`` that :func:`encode_categorical` encodes.

    Those of object, string, category and bool dtype, in frame order. Raises ``ValueError``
    for a column that is neither numeric nor one of these (datetime, timedelta, period,
    interval): convert it to numbers or drop it.
    """
    found, unsupported = [], []
    for column in frame.columns:
        dtype = frame[column].dtype
        if _is_categorical_dtype(dtype):
            found.append(column)
        elif not pd.api.types.is_numeric_dtype(dtype):
            unsupported.append(f"{column!r} ({dtype})")
    if unsupported:
        msg = (f"Column(s) {', '.join(unsupported)} are neither numeric nor categorical "
               "(object, string, category or bool); convert them to numbers or drop them.")
        raise ValueError(msg)
    return found


def encode_categorical(
    frame: pd.DataFrame,
    how: Literal["error", "onehot", "ordinal"],
    categories: Mapping[Any, Sequence[Any]] | None = None,
) -> tuple[pd.DataFrame, CategoricalEncoding]:
    """Replace the categorical columns of ``frame`` by numeric ones.

    Numeric columns (integer and float dtypes) pass through unchanged. Categorical columns
    are those of object, string, category and bool dtype. The encoded frame keeps the column
    order of ``frame``; each categorical column is replaced, at its place, by its encoded
    column(s).

    Parameters
    ----------
    frame : DataFrame
        The features.
    how : {"error", "onehot", "ordinal"}
        ``"error"``: raise if there is any categorical column (nothing is encoded).
        ``"onehot"``: one 0/1 float column per category, named ``"{column}_{category}"``
        (``OneHotEncoder(handle_unknown="ignore")``; an unknown category gives all zeros).
        ``"ordinal"``: one float column of codes 0, 1, ... in the sorted order of the
        categories, keeping the column's name (``OrdinalEncoder(handle_unknown=
        "use_encoded_value", unknown_value=-1)``; an unknown category gives -1).
    categories : mapping, optional
        ``{column: [category, ...]}``, typically ``encoding.categories`` from an earlier
        call, to encode new data the same way. Its keys are the columns to encode (whatever
        their dtype); every other column must be numeric. Default: the categorical columns
        of ``frame``, each with the categories found in it.

    Returns
    -------
    encoded : DataFrame
        Numeric features, index of ``frame``.
    encoding : CategoricalEncoding
        The fitted encoding; ``encoding.transform(new_frame)`` applies it to new data.

    Raises
    ------
    ValueError
        ``how="error"`` and a categorical column is present (the message names the columns
        and says to pass ``categorical="onehot"`` or ``"ordinal"``); an unknown ``how``;
        missing values in a categorical column; a column that is neither numeric nor
        categorical (datetime, ...); ``categories`` naming a column ``frame`` lacks; two
        encoded columns with the same name.
    TypeError
        ``frame`` is not a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"amount": [3.5, 1.0, 2.0], "kind": ["b", "a", "b"]})
    >>> encoded, encoding = encode_categorical(frame, "onehot")
    >>> list(encoded.columns)
    ['amount', 'kind_a', 'kind_b']
    >>> encoded["kind_b"].tolist()
    [1.0, 0.0, 1.0]
    >>> encoding.transform(pd.DataFrame({"amount": [0.0], "kind": ["a"]})).to_numpy().tolist()
    [[0.0, 1.0, 0.0]]
    >>> encode_categorical(frame, "ordinal")[0]["kind"].tolist()
    [1.0, 0.0, 1.0]
    """
    if not isinstance(frame, pd.DataFrame):
        msg = f"frame must be a pandas DataFrame; got {type(frame).__name__}."
        raise TypeError(msg)
    if how not in CATEGORICAL_CHOICES:
        msg = f"how / categorical must be one of {CATEGORICAL_CHOICES}; got {how!r}."
        raise ValueError(msg)
    if how == "error" and categories is not None:
        msg = 'categories applies to how="onehot" or "ordinal", not to how="error".'
        raise ValueError(msg)
    columns = _columns_to_encode(frame, categories)
    if how == "error" and columns:
        shown = ", ".join(f"{c!r} ({frame[c].dtype})" for c in columns[:20])
        more = f" ... ({len(columns)} in all)" if len(columns) > 20 else ""
        msg = (f"Non-numeric column(s) {shown}{more}: detectors need numbers. Pass "
               'categorical="onehot" (one 0/1 column per category) or categorical="ordinal" '
               "(one integer code per category) to encode them, or drop these columns.")
        raise ValueError(msg)
    if not columns:
        return frame.copy(), CategoricalEncoding(how, [], {}, [str(c) for c in frame.columns])
    _check_no_missing(frame, columns)

    values = frame[columns].to_numpy(dtype=object)
    fixed = "auto" if categories is None else [list(categories[c]) for c in columns]
    if how == "onehot":
        encoder = OneHotEncoder(categories=fixed, handle_unknown="ignore", sparse_output=False,
                                dtype=np.float64)
    else:
        encoder = OrdinalEncoder(categories=fixed, handle_unknown="use_encoded_value",
                                 unknown_value=UNKNOWN_ORDINAL, dtype=np.float64)
    try:
        codes = encoder.fit_transform(values)
    except (TypeError, ValueError) as error:
        msg = (f"Could not encode the categorical column(s) {columns} ({error}). Each column "
               "must hold only strings or only numbers.")
        raise ValueError(msg) from error

    pieces, start, unknown = {}, 0, {}
    for column, found in zip(columns, encoder.categories_, strict=True):
        width = len(found) if how == "onehot" else 1
        pieces[column] = (start, start + width)
        block = codes[:, start:start + width]
        n_unknown = int((block.sum(axis=1) == 0).sum() if how == "onehot"
                        else (block == UNKNOWN_ORDINAL).sum())
        if n_unknown:
            unknown[column] = n_unknown
        start += width
    if unknown:
        logger.warning("Categories not in the fitted encoding (rows per column): %s; encoded "
                       "as %s.", unknown,
                       "all-zero indicators" if how == "onehot" else UNKNOWN_ORDINAL)
    names = (list(encoder.get_feature_names_out([str(c) for c in columns])) if how == "onehot"
             else columns)
    parts = []
    for column in frame.columns:
        if column in pieces:
            begin, end = pieces[column]
            parts.append(pd.DataFrame(codes[:, begin:end], columns=names[begin:end],
                                      index=frame.index))
        else:
            parts.append(frame[[column]])
    encoded = pd.concat(parts, axis=1)
    duplicated = encoded.columns[encoded.columns.duplicated()].unique().tolist()
    if duplicated:
        msg = (f"Encoding gives duplicate column name(s) {duplicated}: a one-hot column "
               "'{column}_{category}' collides with an existing column. Rename the column.")
        raise ValueError(msg)
    learned = {column: [_plain(v) for v in found]
               for column, found in zip(columns, encoder.categories_, strict=True)}
    encoding = CategoricalEncoding(how, list(columns), learned, [str(c) for c in encoded.columns],
                                   encoder)
    return encoded, encoding


def _is_categorical_dtype(dtype: Any) -> bool:
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype))


def _columns_to_encode(frame: pd.DataFrame, categories: Mapping[Any, Sequence[Any]] | None
                       ) -> list:
    found = categorical_columns(frame)
    if categories is None:
        return found
    lacking = [c for c in categories if c not in frame.columns]
    if lacking:
        msg = (f"categories names column(s) {lacking} that the frame lacks (columns: "
               f"{list(frame.columns)}).")
        raise ValueError(msg)
    extra = [c for c in found if c not in categories]
    if extra:
        msg = (f"Non-numeric column(s) {extra} have no entry in categories (which covers "
               f"{list(categories)}); add them or drop these columns.")
        raise ValueError(msg)
    return [c for c in frame.columns if c in categories]


def _check_no_missing(frame: pd.DataFrame, columns: list) -> None:
    counts = frame[columns].isna().sum()
    bad = counts[counts > 0]
    if len(bad):
        shown = ", ".join(f"{c!r} ({n})" for c, n in bad.items())
        msg = (f"Categorical column(s) {shown} have missing values. Fill them with an "
               "explicit category first, e.g. frame[column].fillna('missing').")
        raise ValueError(msg)


def _plain(value: Any) -> Any:
    """A numpy scalar as the equivalent Python value (so categories serialise to JSON)."""
    return value.item() if isinstance(value, np.generic) else value
