"""The shallow baselines (IsolationForest, LOF, KNN, ECOD): their scores against
scikit-learn, against brute-force formulas and, where PyOD is importable, against PyOD; the
baselines' own errors and tampered saved state. The contract itself (fit / predict / save /
load, parameters) is the conformance suite's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn.ensemble
import sklearn.neighbors
from safetensors.torch import load_file, save_file

import deepad
from deepad.detectors import ECOD, KNN, LOF, IsolationForest


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    train = np.column_stack([rng.normal(size=300), rng.exponential(size=300),
                             -rng.exponential(size=300), rng.integers(0, 4, size=300)])
    test = np.vstack([train[:5] + 0.25, rng.normal(size=(20, 4)) * 3.0])
    # deepad validates rows to float32: data exactly representable in it, so the references
    # (which compute in float64) see the same values
    return train.astype(np.float32).astype(np.float64), test.astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("params", [{}, {"max_samples": 100, "max_features": 0.5},
                                    {"n_estimators": 30, "max_features": 2}])
def test_isolation_forest_is_scikit_learns(data, params):
    train, test = data
    det = IsolationForest(random_state=3, **params).fit(train)
    forest = sklearn.ensemble.IsolationForest(random_state=3, **params).fit(train)
    np.testing.assert_allclose(det.decision_function(test), -forest.score_samples(test),
                               rtol=1e-12)
    np.testing.assert_allclose(det.decision_scores_, -forest.score_samples(train), rtol=1e-12)


def test_lof_is_scikit_learns(data):
    train, test = data
    det = LOF(n_neighbors=15).fit(train)
    lof = sklearn.neighbors.LocalOutlierFactor(n_neighbors=15, novelty=True).fit(train)
    np.testing.assert_allclose(det.decision_function(test), -lof.score_samples(test),
                               rtol=1e-12)


# ---------------------------------------------------------------------------- by hand
@pytest.mark.parametrize("method", ["largest", "mean", "median"])
def test_knn_by_brute_force(data, method):
    train, test = data
    det = KNN(n_neighbors=7, method=method).fit(train)
    distances = np.sqrt(((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=2))
    nearest = np.sort(distances, axis=1)[:, :7]
    expected = {"largest": nearest[:, -1], "mean": nearest.mean(axis=1),
                "median": np.median(nearest, axis=1)}[method]
    np.testing.assert_allclose(det.decision_function(test), expected, rtol=1e-10)


def ecod_by_brute_force(train, test, variant):
    """ECOD's tails by counting, one test value at a time (Li et al., TKDE 2022, Alg. 1)."""
    n, d = train.shape
    left = np.array([[-np.log((np.sum(train[:, j] <= x[j]) + 1) / (n + 1)) for j in range(d)]
                     for x in test])
    right = np.array([[-np.log((np.sum(train[:, j] >= x[j]) + 1) / (n + 1)) for j in range(d)]
                      for x in test])
    centred = train - train.mean(axis=0)
    gamma = (centred ** 3).mean(axis=0) / (centred ** 2).mean(axis=0) ** 1.5
    if variant == "paper":
        skewed = np.where(gamma < 0, left, right)
        return np.max([left.sum(1), right.sum(1), skewed.sum(1)], axis=0)
    s = np.sign(gamma)
    per_feature = np.maximum(left * -np.sign(s - 1) + right * np.sign(s + 1),
                             np.maximum(left, right))
    return per_feature.sum(axis=1)


@pytest.mark.parametrize("variant", ["paper", "pyod"])
def test_ecod_by_brute_force(data, variant):
    train, test = data
    det = ECOD(variant=variant).fit(train)
    np.testing.assert_allclose(det.decision_function(test),
                               ecod_by_brute_force(train, test, variant), rtol=1e-12)
    # the training scores are the training rows scored as any row (decision_scores_)
    np.testing.assert_allclose(det.decision_scores_,
                               ecod_by_brute_force(train, train, variant), rtol=1e-12)


def test_ecod_by_hand():
    # one feature, training values 0..9 (right-skewed? no: symmetric, gamma = 0 → right tail)
    det = ECOD().fit(np.arange(10.0)[:, None])
    # 100 lies beyond every training value: right tail 1 / 11; -1 beyond on the left
    np.testing.assert_allclose(det.decision_function([[100.0], [-1.0], [4.5]]),
                               [np.log(11.0), np.log(11.0), np.log(11.0 / 6.0)])


def test_ecod_scores_each_row_alone(data):
    train, test = data
    det = ECOD().fit(train)
    together = det.decision_function(test)
    alone = np.array([det.decision_function(row[None, :])[0] for row in test])
    np.testing.assert_array_equal(together, alone)


def test_ecod_constant_feature_adds_nothing_inside_and_flags_outside():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=100), np.full(100, 2.0)])
    det = ECOD().fit(X)
    inside = det.decision_function(np.array([[0.0, 2.0]]))[0]
    outside = det.decision_function(np.array([[0.0, 2.5]]))[0]
    assert np.isfinite(inside) and outside > inside + np.log(101.0) / 2


# ---------------------------------------------------------------------------- PyOD
def test_against_pyod(data):
    """PyOD's ECOD, KNN, LOF and IForest on new rows (skipped without PyOD: CI has none; run
    with PYTHONPATH pointing at a PyOD installation). PyOD's ECOD ranks the rows of a call
    together with the training data, so it is compared one row at a time."""
    pytest.importorskip("pyod")
    from pyod.models.ecod import ECOD as PyODECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN as PyODKNN
    from pyod.models.lof import LOF as PyODLOF

    train, test = data
    theirs = PyODECOD().fit(train)
    ours = ECOD(variant="pyod").fit(train)
    pyod_single = np.array([theirs.decision_function(row[None, :])[0] for row in test])
    np.testing.assert_allclose(ours.decision_function(test), pyod_single, rtol=1e-10)
    # the paper's variant shares the tail probabilities (PyOD's U_l, U_r)
    for row in test[:5]:
        theirs.decision_function(row[None, :])
        left, right = ours.scorer_.tails(row[None, :])
        np.testing.assert_allclose(left[0], theirs.U_l[-1], rtol=1e-10)
        np.testing.assert_allclose(right[0], theirs.U_r[-1], rtol=1e-10)

    for method in ("largest", "mean", "median"):
        np.testing.assert_allclose(
            KNN(n_neighbors=6, method=method).fit(train).decision_function(test),
            PyODKNN(n_neighbors=6, method=method).fit(train).decision_function(test),
            rtol=1e-10)
    np.testing.assert_allclose(LOF(n_neighbors=12).fit(train).decision_function(test),
                               PyODLOF(n_neighbors=12).fit(train).decision_function(test),
                               rtol=1e-10)
    # PyOD's IForest scores scikit-learn's decision_function negated: a constant shift
    shift = (IsolationForest(random_state=0).fit(train).decision_function(test)
             - IForest(random_state=0).fit(train).decision_function(test))
    np.testing.assert_allclose(shift, shift[0], atol=1e-12)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls", [KNN, LOF])
def test_too_few_rows_for_the_neighbours(cls):
    with pytest.raises(ValueError, match=r"n_neighbors=5\) needs more than 5 training rows"):
        cls(n_neighbors=5).fit(np.random.default_rng(0).normal(size=(5, 2)))


def test_isolation_forest_max_features_beyond_the_features():
    with pytest.raises(ValueError, match=r"max_features=5\) exceeds the 3 features"):
        IsolationForest(max_features=5).fit(np.random.default_rng(0).normal(size=(50, 3)))


def test_saved_state_is_arrays_and_json(data, tmp_path):
    train, test = data
    for det in (IsolationForest(random_state=0), LOF(), KNN(), ECOD()):
        path = det.fit(train).save(tmp_path / det.name)
        assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.safetensors"]
        assert json.loads((path / "config.json").read_text())["detector"] == det.name
        loaded = deepad.load(path)
        assert np.array_equal(loaded.decision_function(test), det.decision_function(test))


def _tamper(path, name, change):
    tensors = load_file(str(path / "weights.safetensors"))
    tensors[name] = change(tensors[name]).contiguous()
    save_file(tensors, str(path / "weights.safetensors"))


def test_tampered_state_is_refused(data, tmp_path):
    train, _ = data
    ecod = ECOD().fit(train).save(tmp_path / "ecod")
    _tamper(ecod, "scorer.sorted", lambda t: t.flip(0))
    with pytest.raises(ValueError, match="every column ascending"):
        deepad.load(ecod)
    forest = IsolationForest(n_estimators=3, random_state=0).fit(train).save(tmp_path / "if")
    _tamper(forest, "scorer.left", lambda t: t.clamp(max=0))  # every inner node points at root
    with pytest.raises(ValueError, match="not after their node"):
        deepad.load(forest)
    knn = KNN().fit(train).save(tmp_path / "knn")
    _tamper(knn, "scorer.reference", lambda t: t[:, :2])
    with pytest.raises(ValueError, match=r"'reference' of more than 5 rows x 4"):
        deepad.load(knn)
