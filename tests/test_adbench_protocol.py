"""``adbench_split`` reproduces ADBench's data generator draw for draw."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from deepad.data.adbench import adbench_split, load_adbench


def adbench_reference(X, y, seed, la):
    """ADBench's DataGenerator.generator steps, with its global-numpy seeding."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        if len(y) < 1000:
            idx = np.random.choice(np.arange(len(y)), 1000, replace=True)
            X, y = X[idx], y[idx]
        if len(y) > 10000:
            idx = np.random.choice(np.arange(len(y)), 10000, replace=False)
            X, y = X[idx], y[idx]
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, shuffle=True,
                                                            stratify=y)
        scaler = MinMaxScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        anomalies = np.where(y_train == 1)[0]
        labelled = np.random.choice(anomalies, int(la * len(anomalies)), replace=False)
    finally:
        np.random.set_state(state)
    return X_train, X_test, y_train, y_test, labelled


@pytest.mark.parametrize("name", ["6_cardio", "29_Pima", "5_campaign"])
def test_split_equals_adbench_generator(shared_datasets, name):
    X, y = load_adbench(shared_datasets / "adbench" / "classical" / f"{name}.npz")
    split = adbench_split(X, y, seed=3, labeled_anomalies=0.1)
    X_train, X_test, y_train, y_test, labelled = adbench_reference(X, y, 3, 0.1)
    np.testing.assert_array_equal(split.X_train, X_train)
    np.testing.assert_array_equal(split.X_test, X_test)
    np.testing.assert_array_equal(split.y_test, y_test)
    np.testing.assert_array_equal(np.flatnonzero(split.y_semi), np.sort(labelled))
    assert len(split.X_train) + len(split.X_test) == min(max(len(y), 1000), 10000)


def test_split_properties():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4)) * 50 + 7
    y = (rng.random(2000) < 0.1).astype(int)
    split = adbench_split(X, y, seed=0, labeled_anomalies=0.25, at_least_one=True)
    # the scaler is fitted on the training part only
    np.testing.assert_allclose(split.X_train.min(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(split.X_train.max(axis=0), 1.0, atol=1e-12)
    assert split.X_test.min() < 0.0 or split.X_test.max() > 1.0
    assert abs(split.y_train.mean() - split.y_test.mean()) < 0.01  # stratified
    assert split.y_semi.sum() == math.ceil(0.25 * split.y_train.sum())
    assert set(np.flatnonzero(split.y_semi)) <= set(np.flatnonzero(split.y_train))
    small = adbench_split(X[:300], y[:300], seed=0, resample_small=False)
    assert len(small.y_train) + len(small.y_test) == 300
    with pytest.raises(ValueError, match="labelled anomalies"):
        adbench_split(X, y, seed=0, labeled_anomalies=10_000)


def test_load_adbench_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_adbench("no_such_dataset_name")
    bad = tmp_path / "bad.npz"
    np.savez(bad, A=np.zeros(3))
    with pytest.raises(ValueError, match="'X' and 'y'"):
        load_adbench(bad)
