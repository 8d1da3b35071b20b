"""ODDS ``.mat`` files, categorical encoding, and ``load_table`` with categorical columns."""

from __future__ import annotations

import importlib.util
import struct
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.io

from deepad.data.encoding import encode_categorical
from deepad.data.odds import load_odds
from deepad.data.tables import load_table

HAS_H5PY = importlib.util.find_spec("h5py") is not None


# ------------------------------------------------------------------------------ ODDS
@pytest.fixture
def odds_arrays():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = np.zeros((12, 1))
    y[[2, 7]] = 1.0
    return X, y


def test_load_odds_v5(tmp_path, odds_arrays):
    X, y = odds_arrays
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": X.astype(np.float32), "y": y})  # ODDS: y is an (n, 1) column
    X_read, y_read = load_odds(path)
    assert X_read.dtype == np.float64 and X_read.shape == (12, 3)
    np.testing.assert_array_equal(X_read, X.astype(np.float32).astype(np.float64))
    assert y_read.dtype == np.int64 and y_read.shape == (12,)
    assert y_read.tolist() == y[:, 0].astype(int).tolist()


def test_load_odds_flat_and_integer_labels(tmp_path, odds_arrays):
    X, y = odds_arrays
    path = tmp_path / "flat.mat"
    scipy.io.savemat(path, {"X": X, "y": y[:, 0].astype(np.uint8)}, oned_as="row")
    _, y_read = load_odds(path)
    assert y_read.tolist() == y[:, 0].astype(int).tolist()


def test_load_odds_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.mat"):
        load_odds(tmp_path / "nothere.mat")


def test_load_odds_missing_key(tmp_path, odds_arrays):
    path = tmp_path / "nolabels.mat"
    scipy.io.savemat(path, {"X": odds_arrays[0], "labels": odds_arrays[1]})
    with pytest.raises(ValueError, match=r"nolabels\.mat has no variable 'y'.*labels"):
        load_odds(path)


@pytest.mark.parametrize(("arrays", "pattern"), [
    ({"X": np.zeros((4, 2, 2)), "y": np.zeros((4, 1))}, r"'X' has shape \(4, 2, 2\)"),
    ({"X": np.zeros((4, 2)), "y": np.zeros((5, 1))}, r"'y' has shape \(5, 1\)"),
    ({"X": np.zeros((4, 2)), "y": np.zeros((4, 2))}, r"'y' has shape \(4, 2\)"),
    ({"X": np.zeros((4, 2)), "y": np.array([[0], [1], [2], [1]])}, r"found 0, 1, 2"),
    ({"X": np.zeros((4, 2)), "y": np.array([[0.0], [np.nan], [1.0], [1.0]])}, "missing"),
    ({"X": "text", "y": np.zeros((1, 1))}, "expected a numeric matrix"),
])
def test_load_odds_bad_content(tmp_path, arrays, pattern):
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, arrays)
    with pytest.raises(ValueError, match=pattern) as info:
        load_odds(path)
    assert "bad.mat" in str(info.value)


def test_load_odds_not_a_mat_file(tmp_path):
    path = tmp_path / "garbage.mat"
    path.write_bytes(b"this is not a MATLAB file at all" * 8)
    with pytest.raises(ValueError, match="garbage.mat"):
        load_odds(path)


def _v73_header() -> bytes:
    """The 128-byte header of a MATLAB v7.3 file (version 0x0200, little-endian 'IM')."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5"
    return text.ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0200) + b"IM"


def test_load_odds_v73_without_h5py(tmp_path, monkeypatch):
    path = tmp_path / "big.mat"
    path.write_bytes(_v73_header() + bytes(512 - 128))
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(ImportError, match=r"v7\.3.*pip install h5py"):
        load_odds(path)


@pytest.mark.skipif(not HAS_H5PY, reason="h5py is not installed; the MATLAB v7.3 path needs it")
def test_load_odds_v73_with_h5py(tmp_path, odds_arrays):
    import h5py

    X, y = odds_arrays
    path = tmp_path / "big.mat"
    with h5py.File(path, "w", userblock_size=512) as file:
        file["X"] = X.T  # MATLAB writes column-major, so HDF5 holds the transpose
        file["y"] = y.T
    with open(path, "r+b") as handle:
        handle.write(_v73_header())
    X_read, y_read = load_odds(path)
    np.testing.assert_array_equal(X_read, X)
    assert y_read.tolist() == y[:, 0].astype(int).tolist()


# ----------------------------------------------------------------------- encoding
@pytest.fixture
def mixed_frame():
    return pd.DataFrame({
        "amount": [3.5, 1.0, 2.0, 8.0],
        "kind": ["b", "a", "b", "c"],
        "count": np.array([1, 2, 3, 4], dtype=np.int64),
        "flag": [True, False, True, True],
        "size": pd.Categorical(["S", "L", "M", "S"]),
    })


def test_onehot_keeps_order_and_numeric_columns(mixed_frame):
    encoded, encoding = encode_categorical(mixed_frame, "onehot")
    assert list(encoded.columns) == ["amount", "kind_a", "kind_b", "kind_c", "count",
                                     "flag_False", "flag_True", "size_L", "size_M", "size_S"]
    pd.testing.assert_series_equal(encoded["amount"], mixed_frame["amount"])
    pd.testing.assert_series_equal(encoded["count"], mixed_frame["count"])  # int64 kept
    assert encoded["kind_b"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert encoded["flag_True"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert encoding.columns == ["kind", "flag", "size"]
    assert encoding.categories == {"kind": ["a", "b", "c"], "flag": [False, True],
                                   "size": ["L", "M", "S"]}
    assert all(type(v) in (str, bool) for values in encoding.categories.values() for v in values)
    assert encoding.feature_names == list(encoded.columns)


def test_ordinal_codes_in_sorted_order(mixed_frame):
    encoded, encoding = encode_categorical(mixed_frame, "ordinal")
    assert list(encoded.columns) == list(mixed_frame.columns)
    assert encoded["kind"].tolist() == [1.0, 0.0, 1.0, 2.0]
    assert encoded["size"].tolist() == [2.0, 0.0, 1.0, 2.0]
    assert encoded["flag"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert all(pd.api.types.is_numeric_dtype(t) for t in encoded.dtypes)


def test_encoding_applies_to_new_data(mixed_frame, caplog):
    encoded, encoding = encode_categorical(mixed_frame, "onehot")
    new = mixed_frame.iloc[[3, 0]].copy()
    new.loc[new.index[0], "kind"] = "zzz"  # unseen category
    again = encoding.transform(new)
    assert "{'kind': 1}" in caplog.text  # the unknown category is logged
    assert list(again.columns) == list(encoded.columns)
    assert again.loc[new.index[0], ["kind_a", "kind_b", "kind_c"]].tolist() == [0.0, 0.0, 0.0]
    pd.testing.assert_frame_equal(again.iloc[[1]], encoded.iloc[[0]])
    # a subset that lacks category "c" still gets the fitted columns
    subset = mixed_frame.iloc[:2]
    same, _ = encode_categorical(subset, "onehot", categories=encoding.categories)
    pd.testing.assert_frame_equal(same, encoded.iloc[:2])

    _, ordinal = encode_categorical(mixed_frame, "ordinal")
    codes = ordinal.transform(new)
    assert codes["kind"].tolist() == [-1.0, 1.0]


def test_error_names_the_columns(mixed_frame):
    with pytest.raises(ValueError, match=r"'kind' \(.*'flag' \(bool\).*'size' \(category\)"
                       r".*categorical=\"onehot\".*categorical=\"ordinal\""):
        encode_categorical(mixed_frame, "error")
    numeric = mixed_frame[["amount", "count"]]
    same, encoding = encode_categorical(numeric, "error")
    pd.testing.assert_frame_equal(same, numeric)
    assert encoding.columns == []


@pytest.mark.parametrize(("frame", "how", "pattern"), [
    (pd.DataFrame({"a": ["x", None, "y"]}), "onehot", r"'a' \(1\) have missing values"),
    (pd.DataFrame({"a": ["x", 1, "y"]}), "ordinal", "only strings or only numbers"),
    (pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])}), "onehot", r"'t' \(datetime64"),
    (pd.DataFrame({"a": [1.0]}), "binary", "one of"),
    (pd.DataFrame({"a": ["x"], "a_x": [1.0]}), "onehot", r"duplicate column name\(s\) \['a_x'\]"),
])
def test_encoding_errors(frame, how, pattern):
    with pytest.raises(ValueError, match=pattern):
        encode_categorical(frame, how)


def test_categories_must_cover_the_categorical_columns(mixed_frame):
    with pytest.raises(ValueError, match=r"\['flag', 'size'\] have no entry in categories"):
        encode_categorical(mixed_frame, "onehot", categories={"kind": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"lacks"):
        encode_categorical(mixed_frame[["amount"]], "onehot", categories={"kind": ["a"]})
    with pytest.raises(TypeError, match="DataFrame"):
        encode_categorical(mixed_frame.to_numpy(), "onehot")


# ------------------------------------------------------------------- load_table
@pytest.fixture
def mixed_table():
    return pd.DataFrame({
        "amount": [10.5, 3.0, 7.25, 99.0, 4.0, 5.5],
        "country": ["fr", "de", "fr", "us", "de", "fr"],
        "items": [1, 2, 1, 9, 3, 2],
        "label": [0, 0, 0, 1, 0, 0],
    })


@pytest.fixture(params=["csv", "parquet"])
def table_file(request, tmp_path, mixed_table):
    path = tmp_path / f"mixed.{request.param}"
    if request.param == "csv":
        mixed_table.to_csv(path, index=False)
    else:
        mixed_table.to_parquet(path, engine="pyarrow", index=False)
    return path


def test_load_table_default_keeps_features_unchanged(table_file, mixed_table):
    X, y = load_table(table_file, label_column="label")
    assert y.dtype == np.int64 and y.tolist() == [0, 0, 0, 1, 0, 0]
    assert list(X.columns) == ["amount", "country", "items"]
    assert X["country"].tolist() == mixed_table["country"].tolist()
    assert not pd.api.types.is_numeric_dtype(X["country"])
    assert X["items"].tolist() == mixed_table["items"].tolist()


def test_load_table_onehot_round_trip(table_file, mixed_table):
    X, y = load_table(table_file, label_column="label", categorical="onehot")
    assert y.tolist() == [0, 0, 0, 1, 0, 0]
    assert list(X.columns) == ["amount", "country_de", "country_fr", "country_us", "items"]
    np.testing.assert_array_equal(X["amount"], mixed_table["amount"])
    np.testing.assert_array_equal(X["items"], mixed_table["items"])
    assert X["country_fr"].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert X.to_numpy(dtype=np.float64).shape == (6, 5)


def test_load_table_ordinal_and_error(table_file):
    X, _ = load_table(table_file, label_column="label", categorical="ordinal")
    assert X["country"].tolist() == [1.0, 0.0, 1.0, 2.0, 0.0, 1.0]
    with pytest.raises(ValueError, match=r"mixed\.(csv|parquet): Non-numeric column\(s\) "
                       r"'country'.*categorical=\"onehot\""):
        load_table(table_file, label_column="label", categorical="error")
    with pytest.raises(ValueError, match="categorical must be None or one of"):
        load_table(table_file, label_column="label", categorical="dummies")


def test_load_table_numeric_npz_with_categorical(tmp_path):
    path = tmp_path / "numeric.npz"
    np.savez(path, X=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 0]))
    X, y = load_table(path, categorical="error")
    assert list(X.columns) == ["f0", "f1"] and y.tolist() == [0, 1, 0]
