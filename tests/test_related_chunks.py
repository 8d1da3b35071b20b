"""The classifier detectors' scoring chunks: a score taking an input gradient (ODIN,
Mahalanobis and MahalanobisAdversarial with ε > 0) is computed in smaller chunks than a
forward-only score, and every chunking gives the scores of one pass over all samples (up to
float32 rounding, and for a gradient score the sign of a pixel's near-zero gradient)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_planted_images, planted_classes

import deepad.detectors.related.classifier as classifier_module
from deepad.detectors.related.adversarial import MahalanobisAdversarial
from deepad.detectors.related.classifier import CLASSIFIER_TEST_PARAMS
from deepad.detectors.related.ood import MSP, ODIN, Mahalanobis


@pytest.fixture(scope="module")
def data():
    X, y = make_planted_images(n_normal=120, n_anomalies=10, random_state=0)
    X = X[y == 0]
    X_test, _ = make_planted_images(n_normal=40, n_anomalies=15, random_state=1)
    net = MSP(**CLASSIFIER_TEST_PARAMS, random_state=0).fit(X, planted_classes(X)).classifier_
    return X, planted_classes(X), X_test, net


MAKERS = {
    "ODIN": lambda net: ODIN(classifier=net),
    "Mahalanobis eps 0": lambda net: Mahalanobis(classifier=net, epsilon=0.0),
    "Mahalanobis eps 0.0014": lambda net: Mahalanobis(classifier=net),
    "Mahalanobis layers": lambda net: Mahalanobis(
        classifier=net, layers=(*[n for n, _ in net.named_modules() if n.endswith(".0")][:1],
                                "act")),
    "MahalanobisAdversarial": lambda net: MahalanobisAdversarial(classifier=net),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_chunked_scores_equal_one_pass(name, data, monkeypatch):
    X, c, X_test, net = data
    detector = MAKERS[name](net).fit(X, c)
    positions = int(np.prod(X_test.shape[1:]))
    # small chunks (7 and 3 images), so that the test images span many
    monkeypatch.setattr(classifier_module, "SCORE_POSITIONS", 7 * positions)
    monkeypatch.setattr(classifier_module, "GRADIENT_SCORE_POSITIONS", 3 * positions)
    rows = detector.score_rows(X_test.shape)
    assert rows == (3 if detector.scores_with_gradient() else 7)
    chunked = detector.decision_function(X_test)
    monkeypatch.setattr(classifier_module, "SCORE_POSITIONS", 10**9)
    monkeypatch.setattr(classifier_module, "GRADIENT_SCORE_POSITIONS", 10**9)
    assert detector.score_rows(X_test.shape) >= len(X_test)
    whole = detector.decision_function(X_test)
    if not detector.scores_with_gradient():
        np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-7)
        return
    # a batch's convolutions may sum in another order: float32 rounding, and where a pixel's
    # gradient is about 0, the sign of its perturbation may flip
    close = np.isclose(chunked, whole, rtol=1e-4, atol=1e-6)
    assert close.mean() >= 0.9
    np.testing.assert_allclose(chunked, whole, rtol=0.05, atol=1e-3)


def test_gradient_scores_take_smaller_chunks(data):
    X, c, _, net = data
    shape = (10_000, 1, 28, 28)
    plain = Mahalanobis(classifier=net, epsilon=0.0).fit(X, c)
    perturbed = Mahalanobis(classifier=net, epsilon=0.0014).fit(X, c)
    assert not plain.scores_with_gradient() and perturbed.scores_with_gradient()
    assert perturbed.score_rows(shape) < plain.score_rows(shape)
    assert ODIN(classifier=net, epsilon=0.0).fit(X, c).score_rows(shape) == plain.score_rows(
        shape)
