"""``SeriesDetector``: windows in, one score per timestamp out, streamed in bounded batches.

The mechanics (windowing, streaming, subsampling, labels, errors) are checked with a tiny
unregistered window scorer so they are exact and fast; planted-anomaly ranking and save /
load use a real detector (Deep SVDD, TCN backbone).
"""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from deepad import DeepSVDD
from deepad.core.base import BaseDetector
from deepad.data.synthetic import make_planted_series
from deepad.data.windows import sliding_windows, window_scores_to_points, window_starts
from deepad.series import SeriesDetector

SVDD = {"epochs": 5, "lr": 3e-3, "hidden_dims": (16,), "rep_dim": 8, "batch_size": 64,
        "random_state": 0}


class WindowMean(BaseDetector):
    """Unregistered fake: a window's score is the mean of its absolute values; ``fit`` keeps
    what it was given and scoring records every batch size."""

    name = "WindowMean"
    modalities: ClassVar[tuple[str, ...]] = ("sequence",)
    supervision: ClassVar[tuple[str, ...]] = ("unsupervised", "weakly-supervised")

    def __init__(self, contamination: float = 0.1, random_state: int | None = None) -> None:
        self.contamination = contamination
        self.random_state = random_state

    def _fit(self, X, y):
        self.fit_X_ = X.copy()
        self.fit_y_ = None if y is None else y.copy()
        self.batches_ = []

    def _score_samples(self, X):
        self.batches_.append(len(X))
        return np.abs(X).astype(np.float64).mean(axis=(1, 2))


class WeakWindowMean(WindowMean):
    supervision: ClassVar[tuple[str, ...]] = ("weakly-supervised",)


class RowsOnly(WindowMean):
    modalities: ClassVar[tuple[str, ...]] = ("tabular",)


@pytest.fixture(scope="module")
def planted_series():
    return make_planted_series(3000, n_features=2, n_anomalies=6, period=50, random_state=0)


@pytest.fixture(scope="module")
def svdd_series(planted_series):
    series, _, train_end = planted_series
    return SeriesDetector(DeepSVDD(**SVDD), window=32, stride=2).fit(series[:train_end])


def ramp(n: int, channels: int = 2, start: float = 0.0) -> np.ndarray:
    """A series whose value is its timestamp (offset by ``start``) on every channel."""
    return np.repeat(np.arange(start, start + n, dtype=np.float64)[:, None], channels, axis=1)


# ---------------------------------------------------------------------------- planted
def test_planted_anomalies_rank_on_top(svdd_series, planted_series):
    series, y, train_end = planted_series
    scores = svdd_series.decision_function(series)
    assert scores.shape == (len(series),) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    assert roc_auc_score(y[train_end:], scores[train_end:]) >= 0.9
    predicted = svdd_series.predict(series)
    assert set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_array_equal(predicted, scores > svdd_series.threshold_)


def test_fitted_attributes(svdd_series, planted_series):
    series, _, train_end = planted_series
    det = svdd_series
    assert det.n_channels_ == 2
    assert det.n_train_windows_ == len(window_starts(train_end, 32, 2))
    assert det.decision_scores_.shape == (train_end,)
    np.testing.assert_allclose(det.decision_scores_, det.decision_function(series[:train_end]))
    # the threshold is the contamination quantile of the training timestamps' scores
    assert abs(det.labels_.mean() - det.detector_.contamination) <= 0.01
    np.testing.assert_array_equal(det.fit_predict(series[:train_end]), det.labels_)


# ---------------------------------------------------------------------------- streaming
@pytest.mark.parametrize("reduce", ["mean", "max", "last"])
@pytest.mark.parametrize(("window", "stride"), [(8, 1), (8, 3), (5, 5)])
def test_streamed_scores_equal_all_windows_at_once(reduce, window, stride):
    series = np.random.default_rng(0).normal(size=(203, 3))
    det = SeriesDetector(WindowMean(), window=window, stride=stride, score_stride=stride,
                         reduce=reduce, batch_windows=7).fit(series)
    all_windows = sliding_windows(series.astype(np.float32), window, stride)
    window_scores = np.abs(all_windows).astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(det.score_windows(series), window_scores, rtol=1e-12)
    expected = window_scores_to_points(window_scores, len(series), window, stride, reduce)
    np.testing.assert_allclose(det.decision_function(series), expected, rtol=1e-12)


def test_scoring_passes_at_most_batch_windows_per_call():
    series = np.random.default_rng(0).normal(size=(1000, 2))
    det = SeriesDetector(WindowMean(), window=16, batch_windows=100).fit(series[:200])
    det.detector_.batches_.clear()
    det.decision_function(series)
    n_windows = len(window_starts(1000, 16, 1))
    assert max(det.detector_.batches_) <= 100
    assert sum(det.detector_.batches_) == n_windows


def test_one_dimensional_series_is_one_channel():
    series = np.sin(np.arange(300) / 5.0)
    det = SeriesDetector(WindowMean(), window=10).fit(series)
    assert det.n_channels_ == 1
    np.testing.assert_allclose(det.decision_function(series),
                               det.decision_function(series[:, None]))


# ---------------------------------------------------------------------------- training set
def test_windows_never_straddle_two_series():
    first, second = ramp(50), ramp(70, start=1000.0)
    det = SeriesDetector(WindowMean(), window=8, stride=3).fit([first, second])
    X = det.detector_.fit_X_
    assert len(X) == len(window_starts(50, 8, 3)) + len(window_starts(70, 8, 3))
    assert det.n_train_windows_ == len(X)
    # every training window is consecutive timestamps of one series
    np.testing.assert_array_equal(np.diff(X[:, :, 0], axis=1), 1.0)
    assert det.decision_scores_.shape == (120,)


@pytest.mark.parametrize("max_train_windows", [None, 10])
def test_training_scores_equal_scoring_the_training_series(max_train_windows):
    # all windows fitted: fit reuses the detector's own training scores; a subsample: fit
    # scores every window again. Both must equal decision_function on each training series.
    first, second = ramp(50), ramp(70, start=1000.0)
    det = SeriesDetector(WindowMean(), window=8, stride=3, reduce="max",
                         max_train_windows=max_train_windows, random_state=0)
    det.fit([first, second])
    expected = np.concatenate([det.decision_function(first), det.decision_function(second)])
    np.testing.assert_allclose(det.decision_scores_, expected)


def test_subsampling_is_bounded_seeded_and_keeps_labelled_windows():
    series = ramp(500)
    y = np.zeros(500, dtype=int)
    y[[100, 300]] = 1

    def fit(seed, labels=None):
        det = SeriesDetector(WindowMean(random_state=seed), window=10, max_train_windows=40)
        return det.fit(series, labels).detector_

    a, b, c = fit(0), fit(0), fit(1)
    assert len(a.fit_X_) == 40
    np.testing.assert_array_equal(a.fit_X_, b.fit_X_)
    assert not np.array_equal(a.fit_X_, c.fit_X_)
    # the wrapper's own random_state takes precedence over the detector's
    own = SeriesDetector(WindowMean(random_state=1), window=10, max_train_windows=40,
                         random_state=0).fit(series).detector_
    np.testing.assert_array_equal(own.fit_X_, a.fit_X_)
    # labelled windows (10 cover each labelled timestamp) are all kept
    labelled = fit(0, y)
    assert labelled.fit_y_.sum() == 20
    starts = labelled.fit_X_[:, 0, 0]
    assert set(starts[labelled.fit_y_ == 1]) == set(range(91, 101)) | set(range(291, 301))


def test_point_labels_become_window_labels():
    series, y = ramp(60), np.zeros(60, dtype=int)
    y[30] = 1
    det = SeriesDetector(WeakWindowMean(), window=10, stride=5).fit(series, y)
    starts = window_starts(60, 10, 5)
    np.testing.assert_array_equal(det.detector_.fit_y_, (starts <= 30) & (30 < starts + 10))


def test_several_series_with_labels():
    series = [ramp(40), ramp(30, start=100.0)]
    labels = [np.zeros(40, dtype=int), np.eye(1, 30, 5, dtype=int)[0]]
    det = SeriesDetector(WeakWindowMean(), window=10).fit(series, labels)
    assert det.detector_.fit_y_.sum() == 6  # windows starting at 0..5 of the second series
    with pytest.raises(ValueError, match="list of 2 arrays"):
        SeriesDetector(WeakWindowMean(), window=10).fit(series, labels[0])


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("detector", "error", "match"), [
    (RowsOnly(), ValueError, r"takes \['tabular'\] input.*Detectors that take sequences: .*"
                             r"DeepSVDD"),
    (DeepSVDD, TypeError, "not the class DeepSVDD"),
    ("DeepSVDD", TypeError, "must be a deepad detector instance"),
])
def test_detector_must_take_sequences(detector, error, match):
    with pytest.raises(error, match=match):
        SeriesDetector(detector, window=4).fit(ramp(20))


@pytest.mark.parametrize(("params", "match"), [
    ({"stride": 5, "window": 4}, "stride=5 is larger than window=4"),
    ({"reduce": "median"}, "'reduce' parameter"),
    ({"batch_windows": 0}, "'batch_windows' parameter"),
    ({"max_train_windows": 0}, "'max_train_windows' parameter"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        SeriesDetector(WindowMean(), **{"window": 4, **params}).fit(ramp(20))


def test_bad_series():
    det = SeriesDetector(WindowMean(), window=16)
    with pytest.raises(ValueError, match="10 timestamps, fewer than window=16"):
        det.fit(ramp(10))
    with pytest.raises(ValueError, match=r"series\[1\] has 10 timestamps"):
        det.fit([ramp(40), ramp(10)])
    nan = ramp(40)
    nan[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite value\(s\), the first at \w+ \(7, 1\)"):
        det.fit(nan)
    with pytest.raises(ValueError, match="a list of such arrays"):
        det.fit(np.zeros((3, 40, 2)))
    with pytest.raises(ValueError, match="different numbers of channels"):
        det.fit([ramp(40, 2), ramp(40, 3)])
    with pytest.raises(ValueError, match="empty list"):
        det.fit([])
    with pytest.raises(ValueError, match="shape"):
        det.fit(ramp(40), np.zeros(39))


def test_scoring_errors():
    det = SeriesDetector(WindowMean(), window=8)
    with pytest.raises(NotFittedError):
        det.decision_function(ramp(20))
    det.fit(ramp(40, 3))
    with pytest.raises(ValueError, match=r"2 channel\(s\), but the detector was fitted on 3"):
        det.decision_function(ramp(40, 2))
    with pytest.raises(ValueError, match="fewer than window=8"):
        det.decision_function(ramp(5, 3))
    with pytest.raises(ValueError, match="once per series"):
        det.decision_function([ramp(20, 3), ramp(20, 3)])


def test_weakly_supervised_detector_needs_labels():
    with pytest.raises(ValueError, match=r"weakly supervised: call fit\(series, y\)"):
        SeriesDetector(WeakWindowMean(), window=8).fit(ramp(40))


def test_dataframe_columns_are_checked():
    frame = pd.DataFrame(ramp(40, 2), columns=["a", "b"])
    det = SeriesDetector(WindowMean(), window=8).fit(frame)
    np.testing.assert_allclose(det.decision_function(frame), det.decision_function(ramp(40)))
    with pytest.raises(ValueError, match="same columns"):
        det.decision_function(frame[["b", "a"]])


# ---------------------------------------------------------------------------- sklearn / io
def test_clone_keeps_nested_parameters(svdd_series):
    copy = clone(svdd_series)
    assert copy.get_params()["detector__rep_dim"] == 8
    assert copy.window == 32 and copy.stride == 2
    assert not hasattr(copy, "detector_")
    # fit never changes the hyperparameter detector: it fits a clone
    assert not hasattr(svdd_series.detector, "model_")


def test_save_and_load_round_trip(svdd_series, planted_series, tmp_path):
    series = planted_series[0]
    path = svdd_series.save(tmp_path / "series")
    assert {p.name for p in path.iterdir()} == {"config.json", "weights.safetensors",
                                                "detector"}
    config = json.loads((path / "config.json").read_text())
    assert config["format"] == "deepad-series-detector"
    assert config["params"]["window"] == 32 and "detector" not in config["params"]
    loaded = SeriesDetector.load(path)
    params = {k: v for k, v in svdd_series.get_params().items() if k != "detector"}
    assert {k: v for k, v in loaded.get_params().items() if k != "detector"} == params
    assert type(loaded.detector) is DeepSVDD and not hasattr(loaded.detector, "model_")
    assert loaded.threshold_ == svdd_series.threshold_
    np.testing.assert_array_equal(loaded.decision_scores_, svdd_series.decision_scores_)
    np.testing.assert_array_equal(loaded.decision_function(series),
                                  svdd_series.decision_function(series))


def test_deepad_load_opens_a_saved_series_detector(svdd_series, planted_series, tmp_path):
    import deepad

    series = planted_series[0]
    loaded = deepad.load(svdd_series.save(tmp_path / "series"))
    assert type(loaded) is SeriesDetector
    np.testing.assert_array_equal(loaded.decision_function(series),
                                  svdd_series.decision_function(series))


def test_load_refuses_a_plain_detector(svdd_series, tmp_path):
    path = svdd_series.detector_.save(tmp_path / "plain")
    with pytest.raises(ValueError, match="load it with deepad.load"):
        SeriesDetector.load(path)


def test_same_seed_same_scores(planted_series):
    series, _, train_end = planted_series
    params = {**SVDD, "epochs": 1}

    def scores():
        det = SeriesDetector(DeepSVDD(**params), window=16, stride=8, max_train_windows=30)
        return det.fit(series[:train_end]).decision_function(series[:400])

    np.testing.assert_array_equal(scores(), scores())


# ---------------------------------------------------------------------------- strides
def spike_series(n=400, at=203):
    series = np.sin(np.arange(n) / 4.0)[:, None] * 0.1
    series[at] = 5.0  # one anomalous timestamp
    return series, at


def test_default_scoring_stride_catches_a_one_step_spike_a_coarse_one_blurs():
    # trained on a coarse grid for speed (stride=8, the README's former example): scoring
    # still uses every window by default, so the spike alone gets the top score. Scored at
    # stride 8 (what stride=8 meant before), the windows starting between two grid points are
    # skipped and the spike shares its score with up to 7 neighbours.
    series, at = spike_series()
    det = SeriesDetector(WindowMean(), window=16, stride=8).fit(series)
    assert (det.train_stride_, det.score_stride_) == (8, 1)
    assert det.n_train_windows_ == len(window_starts(400, 16, 8))
    scores = det.decision_function(series)
    assert np.argmax(scores) == at and (np.delete(scores, at) < scores[at]).all()
    coarse = det.set_params(score_stride=8)
    coarse._resolve_strides()
    blurred = coarse.decision_function(series)
    assert (blurred == blurred[at]).sum() > 1


def test_streaming_reduction_with_coarse_scoring_misses_a_spike():
    # reduce="last": a timestamp gets the latest window ended at or before it. At scoring
    # stride 1 that window ends on the spike; at stride 8 it ends before it and misses it.
    series, at = spike_series()
    det = SeriesDetector(WindowMean(), window=16, stride=8, reduce="last").fit(series)
    scores = det.decision_function(series)
    assert scores[at] > 4 * np.median(scores) and scores[at - 1] < 2 * np.median(scores)
    late = SeriesDetector(WindowMean(), window=16, stride=8, score_stride=8,
                          reduce="last").fit(series).decision_function(series)
    assert late[at] < 2 * np.median(late)  # flagged only when the next grid window ends


def test_train_stride_wins_over_stride_and_threshold_uses_score_stride():
    series, _ = spike_series()
    det = SeriesDetector(WindowMean(), window=16, stride=2, train_stride=4,
                         score_stride=1).fit(series)
    assert det.train_stride_ == 4
    assert det.n_train_windows_ == len(window_starts(400, 16, 4))
    np.testing.assert_allclose(det.decision_scores_, det.decision_function(series))
    assert SeriesDetector(WindowMean(), window=16).fit(series).train_stride_ == 1


@pytest.mark.parametrize("name", ["train_stride", "score_stride", "stride"])
def test_strides_above_the_window_are_refused(name):
    with pytest.raises(ValueError, match=f"{name}=9 is larger than window=8"):
        SeriesDetector(WindowMean(), window=8, **{name: 9}).fit(ramp(40))


def test_strides_survive_save_and_load(tmp_path):
    series, _ = spike_series()
    det = SeriesDetector(DeepSVDD(**{**SVDD, "epochs": 1}), window=16, train_stride=8,
                         score_stride=2).fit(series)
    loaded = SeriesDetector.load(det.save(tmp_path / "strides"))
    assert (loaded.train_stride_, loaded.score_stride_) == (8, 2)
    np.testing.assert_array_equal(loaded.decision_function(series), det.decision_function(series))
