"""Every registered detector that takes sequence windows scores a whole series through
``SeriesDetector``.

The detectors come from the registry (``deepad.list_detectors(modalities="sequence")``), so a
new sequence detector joins this test by being registered. Each fits with its tiny
``test_params`` on the windows of a small planted series and must give one finite float64
score per timestamp.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepad
from deepad.data.synthetic import make_planted_series
from deepad.data.windows import window_starts
from deepad.series import SeriesDetector

WINDOW, STRIDE = 16, 4
SEQUENCE_DETECTORS = [info["name"] for info in deepad.list_detectors(modalities="sequence")]


@pytest.fixture(scope="module")
def small_series():
    """480 timestamps x 2 channels, period 16; the first half normal, 2 planted segments after."""
    return make_planted_series(480, n_features=2, n_anomalies=2, period=16, train_fraction=0.5,
                               random_state=0)


def test_sequence_detectors_are_listed_by_the_registry():
    exported = [getattr(deepad, name) for name in deepad.detectors.__all__]
    takes_sequences = {cls.name for cls in exported if "sequence" in cls.modalities}
    assert takes_sequences <= set(SEQUENCE_DETECTORS)
    assert {"AutoEncoder", "DeepSVDD", "DevNet"} <= set(SEQUENCE_DETECTORS)


@pytest.mark.parametrize("name", SEQUENCE_DETECTORS)
def test_detector_scores_a_series(name, small_series):
    series, y, train_end = small_series
    cls = deepad.get_detector(name)
    detector = cls(**{**cls.test_params, "random_state": 0})
    wrapper = SeriesDetector(detector, window=WINDOW, train_stride=STRIDE, score_stride=STRIDE)
    if "unsupervised" in cls.supervision:
        wrapper.fit(series[:train_end])
        n_train = train_end
    else:  # weakly supervised only: the whole series with its labelled anomalies
        wrapper.fit(series, y)
        n_train = len(series)
    assert wrapper.n_train_windows_ == len(window_starts(n_train, WINDOW, STRIDE))
    assert wrapper.detector_.spec_.sample_shape == (WINDOW, 2)

    scores = wrapper.decision_function(series)
    assert scores.shape == (len(series),) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    window_scores = wrapper.score_windows(series)
    assert window_scores.shape == (len(window_starts(len(series), WINDOW, STRIDE)),)
    assert np.isfinite(window_scores).all()
    assert set(np.unique(wrapper.predict(series))) <= {0, 1}
