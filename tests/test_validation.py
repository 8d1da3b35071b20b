"""Input errors of ``deepad.core.validation``, raised through a real detector.

Each bad input is given to ``fit`` (a fresh DeepSVDD, or DevNet for the labels) or to
``decision_function`` of the session's fitted DeepSVDD, and the error must say what was
wrong. Nothing here trains a model except the DataFrame tests.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from deepad import DeepSVDD, DevNet
from deepad.detectors import OCNN


@pytest.fixture(scope="module")
def rows(planted_rows) -> np.ndarray:
    return planted_rows[0]


@pytest.fixture(scope="module")
def svdd(fitted) -> DeepSVDD:
    """The session's DeepSVDD fitted on the planted rows (8 features)."""
    return fitted(DeepSVDD, "tabular")


def new_svdd() -> DeepSVDD:
    return DeepSVDD(**DeepSVDD.test_params, random_state=0)


def new_devnet() -> DevNet:
    return DevNet(**DevNet.test_params, random_state=0)


def with_value(X: np.ndarray, index: tuple, value: float) -> np.ndarray:
    X = X.copy()
    X[index] = value
    return X


# ---------------------------------------------------------------------------- values
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_at_fit(rows, value):
    X = with_value(rows, (7, 3), value)
    expected = r"1 NaN or infinite value\(s\), the first at index \(7, 3\)"
    with pytest.raises(ValueError, match=expected):
        new_svdd().fit(X)


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_values_at_decision_function(svdd, rows, value):
    X = with_value(rows[:10], (2, 0), value)
    expected = r"NaN or infinite value\(s\), the first at index \(2, 0\)"
    with pytest.raises(ValueError, match=expected):
        svdd.decision_function(X)


def test_nan_in_windows_names_the_time_step(planted_windows):
    X = with_value(planted_windows[0][:20], (4, 17, 1), np.nan)
    with pytest.raises(ValueError, match=r"the first at index \(4, 17, 1\)"):
        new_svdd().fit(X)


def test_values_too_large_for_float32(rows):
    X = with_value(rows, (0, 0), 1e39)
    with pytest.raises(ValueError, match="too large for float32"):
        new_svdd().fit(X)


# ---------------------------------------------------------------------------- shapes
def test_one_dimensional_input(rows, svdd):
    with pytest.raises(ValueError, match=r"1 dimension\(s\).*X\.reshape\(-1, 1\)"):
        new_svdd().fit(rows[:, 0])
    with pytest.raises(ValueError, match=r"1 dimension\(s\)"):
        svdd.decision_function(rows[0])


def test_pandas_series_is_one_dimensional(rows):
    with pytest.raises(ValueError, match="pandas Series.*to_frame"):
        new_svdd().fit(pd.Series(rows[:, 0]))


def test_four_dimensional_input(rows):
    # DeepSVDD takes images; OCNN takes rows and windows only
    X = rows[:40].reshape(10, 2, 2, 8)
    with pytest.raises(ValueError, match=r"4 dimension\(s\) with shape \(10, 2, 2, 8\)"):
        OCNN(**OCNN.test_params, random_state=0).fit(X)


@pytest.mark.parametrize("shape", [(0, 8), (5, 0), (0, 4, 2)])
def test_empty_input(shape):
    with pytest.raises(ValueError, match=re.escape(f"X is empty (shape {shape})")):
        new_svdd().fit(np.empty(shape))


def test_too_few_rows(rows):
    with pytest.raises(ValueError, match=r"X has 1 sample\(s\); at least 2 are needed"):
        new_svdd().fit(rows[:1])


def test_one_row_can_be_scored(svdd, rows):
    assert svdd.decision_function(rows[:1]).shape == (1,)


def test_feature_count_differs_from_fit(svdd, rows):
    with pytest.raises(ValueError, match="X has 7 features, but the detector was fitted with 8"):
        svdd.decision_function(rows[:5, :7])


def test_window_length_differs_from_fit(fitted, planted_windows):
    detector = fitted(DeepSVDD, "sequence")
    with pytest.raises(ValueError, match="windows of length 16, but the detector was fitted on "
                                         "windows of length 32"):
        detector.decision_function(planted_windows[0][:5, :16])


# ---------------------------------------------------------------------------- types
def test_non_numeric_dataframe_column(rows):
    frame = pd.DataFrame(rows[:50], columns=[f"f{i}" for i in range(8)])
    frame["city"] = "Paris"
    with pytest.raises(TypeError, match="non-numeric columns 'city'.*Encode categorical"):
        new_svdd().fit(frame)


def test_categorical_dataframe_column(rows):
    frame = pd.DataFrame(rows[:50], columns=[f"f{i}" for i in range(8)])
    frame["f3"] = frame["f3"].round(1).astype("category")
    with pytest.raises(TypeError, match="non-numeric columns 'f3'"):
        new_svdd().fit(frame)


@pytest.mark.parametrize("X", [np.array([["1.0", "2.0"], ["3.0", "4.0"]]),
                               np.array([[1.0, "a"], [2.0, "b"]], dtype=object)],
                         ids=["str", "object"])
def test_string_or_object_array(X):
    with pytest.raises(TypeError, match=f"X has dtype {X.dtype}; expected numeric data"):
        new_svdd().fit(X)


def test_complex_array(rows):
    with pytest.raises(TypeError, match="X has dtype complex128"):
        new_svdd().fit(rows.astype(np.complex128))


def test_sparse_matrix(rows, svdd):
    with pytest.raises(TypeError, match=r"sparse matrix.*X\.toarray\(\)"):
        new_svdd().fit(scipy.sparse.csr_matrix(rows))
    with pytest.raises(TypeError, match="sparse matrix"):
        svdd.decision_function(scipy.sparse.csr_matrix(rows[:5]))


def test_ragged_nested_list():
    with pytest.raises(ValueError, match="could not be read as an array"):
        new_svdd().fit([[0.1, 0.2], [0.3]])


def test_int_and_bool_arrays_are_accepted(rows):
    X = (rows > 0.5)
    scores = new_svdd().fit(X).decision_function(X.astype(np.int64))
    assert scores.shape == (len(X),) and np.isfinite(scores).all()


# ---------------------------------------------------------------------------- labels
@pytest.mark.parametrize("bad", [2, -1, 0.5], ids=["2", "-1", "0.5"])
def test_labels_other_than_zero_and_one(rows, planted_rows, bad):
    y = planted_rows[1].astype(np.float64)
    y[3] = bad
    with pytest.raises(ValueError, match=r"y must contain only 0 .* and 1 .*; got values"):
        new_devnet().fit(rows, y)


def test_labels_of_wrong_length(rows, planted_rows):
    with pytest.raises(ValueError, match=f"y has 100 labels but X has {len(rows)} samples"):
        new_devnet().fit(rows, planted_rows[1][:100])


def test_nan_labels(rows, planted_rows):
    y = planted_rows[1].astype(np.float64)
    y[0] = np.nan
    with pytest.raises(ValueError, match="y contains NaN or infinite values"):
        new_devnet().fit(rows, y)


def test_text_labels(rows):
    with pytest.raises(TypeError, match="y has dtype <U"):
        new_devnet().fit(rows, np.array(["normal"] * len(rows)))


def test_two_dimensional_labels(rows, planted_rows):
    y = np.column_stack([planted_rows[1], planted_rows[1]])
    with pytest.raises(ValueError, match="y must be 1-D"):
        new_devnet().fit(rows, y)


def test_labels_without_any_anomaly(rows):
    with pytest.raises(ValueError, match="needs at least one labelled anomaly"):
        new_devnet().fit(rows, np.zeros(len(rows)))


def test_label_column_vector_and_dataframe_are_accepted(rows, planted_rows):
    y = np.zeros(len(rows), dtype=np.int64)
    y[np.flatnonzero(planted_rows[1])[:3]] = 1
    as_column = new_devnet().fit(rows, y[:, None]).decision_scores_
    as_frame = new_devnet().fit(rows, pd.DataFrame({"label": y})).decision_scores_
    assert np.array_equal(as_column, new_devnet().fit(rows, y).decision_scores_)
    assert np.array_equal(as_frame, as_column)


# ---------------------------------------------------------------------------- DataFrames
@pytest.fixture(scope="module")
def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[f"feature_{i}" for i in range(rows.shape[1])])


@pytest.fixture(scope="module")
def frame_svdd(frame) -> DeepSVDD:
    return new_svdd().fit(frame)


def test_dataframe_input_works(frame_svdd, frame, svdd):
    assert list(frame_svdd.feature_names_in_) == list(frame.columns)
    scores = frame_svdd.decision_function(frame)
    assert scores.shape == (len(frame),) and scores.dtype == np.float64
    # same numbers as the array, same seed: same model
    assert np.array_equal(scores, svdd.decision_function(frame.to_numpy()))


def test_dataframe_column_names_are_enforced(frame_svdd, frame):
    swapped = frame[[frame.columns[1], frame.columns[0], *frame.columns[2:]]]
    with pytest.raises(ValueError, match="same columns in the same order"):
        frame_svdd.decision_function(swapped)
    renamed = frame.rename(columns={"feature_0": "amount"})
    with pytest.raises(ValueError, match=r"X has columns \['amount'"):
        frame_svdd.predict(renamed)


def test_array_fit_forgets_earlier_column_names(frame, rows):
    detector = new_svdd().fit(frame)
    detector.fit(rows)
    assert not hasattr(detector, "feature_names_in_")
    renamed = frame.rename(columns={"feature_0": "amount"})
    assert detector.decision_function(renamed).shape == (len(frame),)
