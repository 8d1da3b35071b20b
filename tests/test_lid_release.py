"""LID as Ma et al.'s release computes it: the representations of ``layers="auto"`` (the
input, every layer, the softmax) and the regression on characteristics scaled to [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegressionCV

from deepad.detectors import LID
from deepad.detectors.related.adversarial import _regression, adversarial_protocol

PARAMS = {"hidden_dims": (16,), "feature_dim": 8, "epochs": 20, "batch_size": 64,
          "random_state": 0}


@pytest.fixture(scope="module")
def fitted():
    gen = np.random.default_rng(0)
    means = gen.random((3, 12)) * 0.3 + 0.35
    y = np.arange(600) % 3
    X = np.clip(means[y] + 0.08 * gen.normal(size=(600, 12)), 0, 1).astype(np.float32)
    lid = LID(**PARAMS).fit(X[:400], y[:400])
    split = adversarial_protocol(lid.classifier_, X[400:], y[400:], "fgsm", eps=0.2, seed=0)
    lid.fit_detector(split.X_fit, split.y_fit)
    return lid, split


def test_auto_layers_are_input_every_layer_and_softmax(fitted):
    lid, split = fitted
    x = torch.from_numpy(split.X_eval[:5])
    outputs = lid.lid_outputs(x)
    assert len(outputs) == len(lid.lid_layers()) + 2
    torch.testing.assert_close(outputs[0], x.reshape(5, -1))
    with torch.no_grad():
        probabilities = torch.softmax(lid.classifier_(x).double(), dim=1)
    torch.testing.assert_close(outputs[-1], probabilities)
    assert lid.characteristics(x).shape == (5, len(outputs))
    named = LID(**PARAMS, layers=tuple(lid.lid_layers()[:1]), classifier=lid.classifier_)
    named.fit(split.X_fit[:60], np.zeros(60, int) + (np.arange(60) % 3))
    assert len(named.lid_outputs(x)) == 1  # named layers: only those


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_regression_on_min_max_scaled_characteristics(fitted):
    lid, split = fitted
    X_t = torch.from_numpy(split.X_fit)
    z = lid._characteristics_in_chunks(X_t).numpy()
    stats = lid.statistics_
    np.testing.assert_allclose(stats["char_mean"].numpy(), z.min(axis=0))
    np.testing.assert_allclose(stats["char_std"].numpy(), z.max(axis=0) - z.min(axis=0))
    scaled = (z - z.min(axis=0)) / (z.max(axis=0) - z.min(axis=0))
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    reference = LogisticRegressionCV(cv=5, max_iter=2000).fit(scaled, split.y_fit)
    np.testing.assert_allclose(lid.decision_function(split.X_fit),
                               reference.decision_function(scaled), rtol=1e-6, atol=1e-8)
    # the standardised regression of the other detectors is another one
    standard, mean, std = _regression(z, split.y_fit, "standard")
    assert not np.allclose(mean, z.min(axis=0))
    assert standard.decision_function((z - mean) / std).shape == (len(z),)
