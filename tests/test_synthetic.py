"""The planted-anomaly generators of ``deepad.data.synthetic``."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from deepad.data import synthetic
from deepad.data.synthetic import make_planted_rows, make_planted_windows


def test_module_imports_numpy_only():
    tree = ast.parse(Path(synthetic.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "numpy"}


@pytest.mark.parametrize("make", [make_planted_rows, make_planted_windows])
def test_deterministic_per_random_state(make):
    X, y = make(random_state=3)
    X_again, y_again = make(random_state=3)
    X_other, _ = make(random_state=4)
    assert np.array_equal(X, X_again) and np.array_equal(y, y_again)
    assert not np.array_equal(X, X_other)


@pytest.mark.parametrize("make", [make_planted_rows, make_planted_windows])
def test_unseeded_calls_leave_the_global_rng_alone(make):
    np.random.seed(7)
    state = np.random.get_state()
    make(random_state=None)
    assert np.array_equal(np.random.get_state()[1], state[1])


@pytest.mark.parametrize("n_features", [1, 2, 8, 40])
def test_rows_shape_range_and_labels(n_features):
    X, y = make_planted_rows(n_normal=120, n_anomalies=9, n_features=n_features, random_state=0)
    assert X.shape == (129, n_features) and X.dtype == np.float64
    assert y.shape == (129,) and y.dtype == np.int64
    assert int(y.sum()) == 9 and set(np.unique(y)) == {0, 1}
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert not np.array_equal(y, np.sort(y))  # shuffled, not anomalies last


def test_rows_anomalies_are_off_the_normal_clusters():
    X, y = make_planted_rows(n_normal=500, n_anomalies=40, n_features=8, random_state=0)
    normal, anomalies = X[y == 0], X[y == 1]
    # distance of each row to its nearest normal row (other than itself)
    def nearest_normal(points, exclude_self):
        d = np.linalg.norm(points[:, None, :] - normal[None, :, :], axis=2)
        if exclude_self:
            np.fill_diagonal(d, np.inf)
        return d.min(axis=1)
    within = nearest_normal(normal, exclude_self=True)
    outside = nearest_normal(anomalies, exclude_self=False)
    assert np.median(outside) > 3 * np.quantile(within, 0.99)


def test_windows_shape_range_and_labels():
    X, y = make_planted_windows(n_normal=60, n_anomalies=12, window=24, n_features=3,
                                random_state=0)
    assert X.shape == (72, 24, 3) and X.dtype == np.float64
    assert y.shape == (72,) and y.dtype == np.int64 and int(y.sum()) == 12
    assert np.abs(X).max() <= 1.5


def test_normal_windows_are_noisy_sinusoids():
    X, y = make_planted_windows(n_normal=50, n_anomalies=0, window=32, n_features=2,
                                random_state=0)
    assert y.sum() == 0
    spectrum = np.abs(np.fft.rfft(X, axis=1))
    # two periods per window: the energy sits in frequency bin 2
    assert (spectrum.argmax(axis=1) == 2).all()
    assert np.abs(X).max() < 1.3


def test_anomalous_windows_differ_from_every_normal_shape():
    X, y = make_planted_windows(n_normal=300, n_anomalies=30, window=32, n_features=1,
                                random_state=1)
    t = np.arange(32) / 32
    # best fit of a clean two-period sinusoid of any phase, by least squares on sin and cos
    basis = np.column_stack([np.sin(4 * np.pi * t), np.cos(4 * np.pi * t)])
    coef, *_ = np.linalg.lstsq(basis, X[:, :, 0].T, rcond=None)
    residual = np.sqrt(((X[:, :, 0].T - basis @ coef) ** 2).mean(axis=0))
    assert residual[y == 1].min() > residual[y == 0].max()


@pytest.mark.parametrize(("make", "kwargs", "message"), [
    (make_planted_rows, {"n_normal": 0}, "n_normal must be >= 1"),
    (make_planted_rows, {"n_anomalies": -1}, "n_anomalies >= 0"),
    (make_planted_rows, {"n_features": 0}, "n_features must be a positive int"),
    (make_planted_windows, {"window": 4}, "window must be at least 8"),
    (make_planted_windows, {"n_features": 0}, "n_features must be a positive int"),
])
def test_bad_arguments(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_planted_series_labels_and_training_part():
    from deepad.data.synthetic import make_planted_series

    series, y, train_end = make_planted_series(4000, 3, 6, random_state=1)
    assert series.shape == (4000, 3) and y.shape == (4000,)
    assert y[:train_end].sum() == 0 and np.abs(series).max() <= 1.5
    starts = np.flatnonzero(np.diff(np.r_[0, y]) == 1)
    assert len(starts) == 6  # non-overlapping segments
    # the planted segments are real anomalies: a seasonal difference (one period back)
    # ranks them far above the normal steps
    seasonal = np.abs(series[50:] - series[:-50]).sum(axis=1)
    assert roc_auc_score(y[50:], seasonal) > 0.85
    again = make_planted_series(4000, 3, 6, random_state=1)
    np.testing.assert_array_equal(series, again[0])
    with pytest.raises(ValueError, match="do not fit"):
        make_planted_series(400, 1, 10)
