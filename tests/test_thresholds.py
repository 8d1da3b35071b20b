"""Thresholds beyond contamination (``set_threshold``: IQR / Tukey fence, MAD / modified
z-score) and ExCeeD confidences (``predict_confidence``, ``predict(X, return_confidence=True)``),
by hand, against a brute-force formula and, where importable, against PyOD."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binom
from sklearn.base import BaseEstimator, clone

import deepad
from deepad.core.scoring import exceed_confidence, iqr_threshold, mad_threshold
from deepad.detectors import KNN


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(20, 3))
    far = directions / np.linalg.norm(directions, axis=1, keepdims=True) * rng.uniform(
        6.0, 10.0, size=(20, 1))  # 20 scattered rows far from the bulk
    train = np.vstack([rng.normal(size=(380, 3)), far])
    test = np.vstack([rng.normal(size=(30, 3)), [[6.0, 6.0, 6.0], [0.0, 0.0, 0.0]]])
    return train, test


@pytest.fixture(scope="module")
def knn(rows):
    return KNN(contamination=0.05).fit(rows[0])


# ---------------------------------------------------------------------------- rules by hand
def test_iqr_and_mad_by_hand():
    scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 100.0])
    # numpy's linear percentiles: Q1 = 2.25, Q3 = 4.75, IQR = 2.5
    assert iqr_threshold(scores) == pytest.approx(4.75 + 1.5 * 2.5)
    assert iqr_threshold(scores, 3.0) == pytest.approx(4.75 + 3.0 * 2.5)
    # median 3.5, |s - 3.5| = 2.5 1.5 .5 .5 1.5 96.5 → MAD 1.5
    assert mad_threshold(scores) == pytest.approx(3.5 + 3.5 * 1.5 / 0.6745)


@pytest.mark.parametrize(("rule", "factor", "expected"), [
    ("iqr", None, iqr_threshold), ("mad", None, mad_threshold),
    ("iqr", 3.0, lambda s: iqr_threshold(s, 3.0)), ("mad", 2.0, lambda s: mad_threshold(s, 2.0)),
])
def test_set_threshold(knn, rows, rule, factor, expected):
    train, test = rows
    det = clone(knn).fit(train)
    assert det.set_threshold(rule, factor=factor) is det
    assert det.threshold_rule_ == rule
    assert det.threshold_ == pytest.approx(expected(det.decision_scores_))
    np.testing.assert_array_equal(det.labels_,
                                  (det.decision_scores_ > det.threshold_).astype(np.int64))
    np.testing.assert_array_equal(det.predict(test),
                                  (det.decision_function(test) > det.threshold_).astype(int))
    # the 20 far rows lie above either fence; the bulk mostly below
    assert det.labels_[-20:].all() and det.labels_[:380].mean() < 0.2
    # back to contamination: the fit's threshold again
    det.set_threshold("contamination")
    assert det.threshold_ == knn.threshold_ and det.threshold_rule_ == "contamination"


def test_rule_is_saved_and_a_refit_forgets_it(knn, rows, tmp_path):
    train, test = rows
    det = clone(knn).fit(train).set_threshold("mad")
    loaded = deepad.load(det.save(tmp_path / "mad"))
    assert loaded.threshold_rule_ == "mad" and loaded.threshold_ == det.threshold_
    np.testing.assert_array_equal(loaded.predict(test), det.predict(test))
    det.fit(train)
    assert det.threshold_rule_ == "contamination" and det.threshold_ == knn.threshold_


def test_bad_rules_are_refused(knn, tmp_path):
    with pytest.raises(ValueError, match=r"rule must be one of \['contamination', 'iqr', 'mad'\]"):
        knn.set_threshold("otsu")
    for factor in (0.0, -1.0, float("nan"), "2", True):
        with pytest.raises(ValueError, match="factor must be a positive finite number"):
            knn.set_threshold("iqr", factor=factor)
    with pytest.raises(ValueError, match="factor applies to the 'iqr' and 'mad' rules"):
        knn.set_threshold("contamination", factor=2.0)
    # a saved rule outside the list is refused on load
    path = knn.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["state"]["threshold_rule"] = "magic"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"state\['threshold_rule'\] must be one of"):
        deepad.load(path)


def test_models_saved_before_the_rule_load_as_contamination(knn, tmp_path):
    path = knn.save(tmp_path / "old")
    config = json.loads((path / "config.json").read_text())
    del config["state"]["threshold_rule"]
    (path / "config.json").write_text(json.dumps(config))
    assert deepad.load(path).threshold_rule_ == "contamination"


# ---------------------------------------------------------------------------- confidence
def brute_force_confidence(scores, train_scores, threshold, contamination):
    n = len(train_scores)
    out = []
    for s in scores:
        p = (1 + np.sum(train_scores <= s)) / (2 + n)
        c = 1 - binom.cdf(n - int(n * contamination), n, p)
        out.append(c if s > threshold else 1 - c)
    return np.array(out)


def test_confidence_by_brute_force(knn, rows):
    _, test = rows
    confidence = knn.predict_confidence(test)
    expected = brute_force_confidence(knn.decision_function(test), knn.decision_scores_,
                                      knn.threshold_, 0.05)
    np.testing.assert_allclose(confidence, expected, rtol=1e-12, atol=1e-15)
    assert confidence.dtype == np.float64 and ((confidence >= 0) & (confidence <= 1)).all()
    # far above the threshold (6, 6, 6) and deep in the bulk (0, 0, 0): confident
    assert confidence[-2] > 0.99 and confidence[-1] > 0.99
    # a score at the threshold is the least certain
    at = exceed_confidence(np.array([knn.threshold_]), knn.decision_scores_, knn.threshold_,
                           0.05)
    assert at[0] < confidence[-1]


def test_predict_with_confidence(knn, rows):
    _, test = rows
    labels, confidence = knn.predict(test, return_confidence=True)
    np.testing.assert_array_equal(labels, knn.predict(test))
    np.testing.assert_array_equal(confidence, knn.predict_confidence(test))


def test_confidence_under_another_rule_uses_the_labelled_fraction(knn, rows):
    train, test = rows
    det = clone(knn).fit(train).set_threshold("iqr")
    expected = brute_force_confidence(det.decision_function(test), det.decision_scores_,
                                      det.threshold_, det.labels_.mean())
    np.testing.assert_allclose(det.predict_confidence(test), expected, rtol=1e-12, atol=1e-15)


def test_confidence_equals_pyods(knn, rows):
    """PyOD's ``predict_confidence`` on the same training scores and threshold (skipped
    without PyOD; run with PYTHONPATH pointing at a PyOD installation)."""
    pytest.importorskip("pyod")
    from pyod.models.base import BaseDetector as PyODBase

    _, test = rows

    class Fitted(BaseEstimator):  # the attributes PyOD's method reads, taken from the deepad model
        contamination = knn.contamination
        decision_scores_ = knn.decision_scores_
        threshold_ = knn.threshold_
        labels_ = knn.labels_

        def fit(self):  # scikit-learn's check_is_fitted wants an estimator
            return self

        def decision_function(self, X):
            return knn.decision_function(X)

    theirs = PyODBase.predict_confidence(Fitted(), test)
    np.testing.assert_allclose(knn.predict_confidence(test), theirs, rtol=1e-12, atol=1e-15)
