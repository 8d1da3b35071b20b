"""The base-class contract on scripted scores: non-finite scores, scikit-learn conventions
(``score_samples``, the outlier-detector type, feature-name warnings), degenerate weak labels
in the training loop. The same rules over every registered detector are in
``test_conformance.py``; here the scores are chosen, so every branch is reached exactly."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone, is_outlier_detector
from torch import nn

import deepad
from deepad.core.base import LARGEST_SCORE, BaseDetector
from deepad.core.scoring import linear_probability, unify_probability
from deepad.core.trainer import Batch, Trainer
from deepad.core.validation import check_labels


class ScriptedDetector(BaseDetector):
    """Scores = the first column, except rows whose second column is 1 (score +inf), -1
    (score -inf) or 2 (score NaN). Not registered."""

    name = "Scripted"
    supervision: ClassVar[tuple[str, ...]] = ("unsupervised",)
    modalities: ClassVar[tuple[str, ...]] = ("tabular",)

    def __init__(self, contamination=0.1):
        self.contamination = contamination

    def _fit(self, X, y):
        pass

    def _score_samples(self, X):
        scores = X[:, 0].astype(np.float64)
        scores[X[:, 1] == 1] = np.inf
        scores[X[:, 1] == -1] = -np.inf
        scores[X[:, 1] == 2] = np.nan
        return scores


@pytest.fixture(scope="module")
def train() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.column_stack([rng.uniform(0.0, 1.0, 50), np.zeros(50)]).astype(np.float32)


@pytest.fixture(scope="module")
def scripted(train) -> ScriptedDetector:
    return ScriptedDetector().fit(train)


def rows(*pairs) -> np.ndarray:
    return np.asarray(pairs, dtype=np.float32)


# ---------------------------------------------------------------------------- non-finite scores
def test_infinite_scores_are_clipped_with_a_warning(scripted):
    X = rows((0.5, 0), (0.2, 1), (0.3, -1), (0.9, 1), (0.1, 0))
    with pytest.warns(RuntimeWarning, match=r"infinite scores for 3 of 5 row\(s\) \(first at "
                      r"rows \[1, 2, 3\]\).*clipped.*largest float64"):
        scores = scripted.decision_function(X)
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    assert scores[1] == scores[3] == LARGEST_SCORE and scores[2] == -LARGEST_SCORE
    assert scores[0] == pytest.approx(0.5) and scores[4] == pytest.approx(0.1)
    # still ordered: +inf rows rank first, the -inf row last
    assert list(np.argsort(-scores, kind="stable")) == [1, 3, 0, 4, 2]


def test_predictions_of_clipped_scores(scripted):
    X = rows((0.5, 0), (0.2, 1), (0.3, -1))
    with pytest.warns(RuntimeWarning, match="infinite scores"):
        labels = scripted.predict(X)
    np.testing.assert_array_equal(labels, [int(0.5 > scripted.threshold_), 1, 0])
    for method in ("linear", "unify"):
        with pytest.warns(RuntimeWarning, match="infinite scores"):
            proba = scripted.predict_proba(X, method=method)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba[1], [0.0, 1.0])
        np.testing.assert_allclose(proba[2], [1.0, 0.0])
    with pytest.warns(RuntimeWarning, match="infinite scores"):
        normality = scripted.score_samples(X)
    assert normality[1] == -LARGEST_SCORE and normality[2] == LARGEST_SCORE


def test_nan_scores_raise_naming_rows_and_range(scripted):
    X = rows((0.5, 0), (7e6, 2), (0.3, 0), (0.4, 2))
    with pytest.raises(ValueError, match=r"NaN scores for 2 of 4 row\(s\) \(first at rows "
                       r"\[1, 3\]\).*far outside the training range \(largest \|value\| "
                       r"7e\+06, against 0\.\d+ in fit\).*scale it"):
        scripted.decision_function(X)
    for call in (scripted.predict, scripted.predict_proba, scripted.score_samples):
        with pytest.raises(ValueError, match="NaN scores"):
            call(X)


def test_nan_outranks_inf_and_lists_nan_rows_only(scripted):
    with pytest.raises(ValueError, match=r"NaN scores for 1 of 2 row\(s\) \(first at rows \[1\]"):
        scripted.decision_function(rows((0.5, 1), (0.5, 2)))


def test_finite_scores_pass_unchanged_and_silently(scripted, train):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = scripted.decision_function(train)
    np.testing.assert_array_equal(scores, train[:, 0].astype(np.float64))


def test_non_finite_training_scores_still_fail_fit():
    X = rows((0.5, 0), (0.2, 1), (0.3, 0))
    with pytest.raises(FloatingPointError, match="non-finite score"):
        ScriptedDetector().fit(X)


@pytest.mark.parametrize("probability", [linear_probability, unify_probability])
def test_probabilities_never_nan_at_the_ends_of_float64(probability):
    train = np.array([-1e308, 0.0, 1e308, 5e307])
    scores = np.array([-LARGEST_SCORE, -1e308, 0.0, 1e308, LARGEST_SCORE])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        p = probability(scores, train)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p) >= 0).all() and p[0] == 0.0
    if probability is linear_probability:
        assert p[-1] == 1.0 and p[2] == pytest.approx(0.5)


def test_probabilities_of_tiny_score_ranges_do_not_warn():
    train = np.array([0.0, 1e-300, 2e-300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for probability in (linear_probability, unify_probability):
            p = probability(np.array([-LARGEST_SCORE, 1e-300, LARGEST_SCORE]), train)
            assert p[0] == 0.0 and p[-1] == 1.0


def test_probabilities_unchanged_on_ordinary_scores():
    rng = np.random.default_rng(1)
    train, scores = rng.normal(3.0, 2.0, 200), rng.normal(3.0, 3.0, 50)
    low, high = train.min(), train.max()
    np.testing.assert_allclose(linear_probability(scores, train),
                               np.clip((scores - low) / (high - low), 0, 1), rtol=1e-12)
    from scipy.special import erf

    expected = np.clip(erf((scores - train.mean()) / (train.std() * np.sqrt(2))), 0, 1)
    np.testing.assert_allclose(unify_probability(scores, train), expected, rtol=1e-12,
                               atol=1e-15)


# ---------------------------------------------------------------------------- scikit-learn
def test_score_samples_is_sklearn_sign(scripted, train):
    np.testing.assert_array_equal(scripted.score_samples(train),
                                  -scripted.decision_function(train))
    assert "higher = more normal" in BaseDetector.score_samples.__doc__
    assert "higher = more normal" in deepad.core.base.__doc__


def test_every_detector_is_an_outlier_detector():
    assert BaseDetector._estimator_type == "outlier_detector"  # scikit-learn < 1.6
    assert is_outlier_detector(ScriptedDetector())
    for info in deepad.list_detectors():
        detector = deepad.get_detector(info["name"])()
        assert is_outlier_detector(detector), info["name"]
        assert is_outlier_detector(clone(detector)), info["name"]


@pytest.mark.skipif(tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 6),
                    reason="scikit-learn < 1.6 has no __sklearn_tags__")
def test_tags_keep_sklearns_defaults():
    tags = ScriptedDetector().__sklearn_tags__()
    assert tags.estimator_type == "outlier_detector"
    assert tags.requires_fit  # the rest stays as BaseEstimator sets it


def test_array_after_a_dataframe_fit_warns_like_sklearn(train):
    frame = pd.DataFrame(train, columns=["a", "b"])
    detector = ScriptedDetector().fit(frame)
    message = "X does not have valid feature names, but ScriptedDetector was fitted with " \
              "feature names"
    for call in (detector.decision_function, detector.predict, detector.predict_proba):
        with pytest.warns(UserWarning, match=message):
            call(train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector.decision_function(frame)  # names given: no warning
        ScriptedDetector().fit(train).decision_function(train)  # never had names: none


def test_the_feature_name_warning_points_at_the_caller(train):
    detector = ScriptedDetector().fit(pd.DataFrame(train, columns=["a", "b"]))
    with pytest.warns(UserWarning, match="valid feature names") as record:
        detector.decision_function(train)
    assert record[0].filename == __file__


# ---------------------------------------------------------------------------- weak labels
def test_check_labels_can_require_unlabelled_rows():
    with pytest.raises(ValueError, match=r"all 3 samples as anomalies.*needs unlabelled rows"):
        check_labels([1, 1, 1], 3, require_unlabelled=True)
    np.testing.assert_array_equal(check_labels([1, 1, 1], 3), [1, 1, 1])
    np.testing.assert_array_equal(check_labels([1, 0, 1], 3, require_unlabelled=True), [1, 0, 1])


class TinyTrainable:
    """The least a detector needs to be trained by the loop (not a DeepDetector)."""

    def __init__(self):
        self.model_ = nn.Linear(2, 1)

    def configure_optimizers(self):
        return [torch.optim.SGD(self.model_.parameters(), lr=0.01)]

    def loss(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x).squeeze(1) ** 2

    def training_step(self, batch, optimizers):
        (optimizer,) = optimizers
        optimizer.zero_grad()
        loss = self.loss(batch).mean()
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}

    def on_epoch_end(self, epoch, logs):
        pass


def balanced_trainer(**options) -> Trainer:
    return Trainer(epochs=2, batch_size=8, generator=torch.Generator().manual_seed(0),
                   sampling="balanced", **options)


def test_balanced_sampling_trains_any_trainable():
    X = torch.randn(20, 2)
    y = torch.zeros(20, dtype=torch.int64)
    y[:3] = 1
    history = balanced_trainer().fit(TinyTrainable(), X, y)
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(np.isfinite(r["loss"]) for r in history)


@pytest.mark.parametrize(("labels", "message"), [
    (None, "needs labelled anomalies"),
    ([0] * 10, "needs labelled anomalies"),
    ([1] * 10, r"needs unlabelled rows: all 10 rows have y == 1"),
])
def test_balanced_sampling_needs_both_kinds_of_rows(labels, message):
    y = None if labels is None else torch.tensor(labels)
    with pytest.raises(ValueError, match=message):
        balanced_trainer().fit(TinyTrainable(), torch.randn(10, 2), y)


def test_balanced_validation_cannot_take_every_unlabelled_row():
    y = torch.ones(20, dtype=torch.int64)
    y[:2] = 0  # two unlabelled rows; validation_size=0.2 holds out four
    with pytest.raises(ValueError, match=r"holds out 4 row\(s\).*only 2 of the 20 rows are "
                       "unlabelled"):
        balanced_trainer(validation_size=0.2).fit(TinyTrainable(), torch.randn(20, 2), y)
