"""DeepXGBOD's booster weight in its rank average: fixed, equal, or chosen by cross-fitting on
the partial labels (``booster_weight="auto"``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepad
from deepad.detectors import DeepXGBOD
from deepad.detectors.feature_extraction.boosted_scores import (
    AUTO_WEIGHTS,
    hanley_mcneil_se,
    rank_normalise,
)
from deepad.metrics import auc_roc

FAST = {"extractors": ("IsolationForest",), "blend": (), "booster": "histgb", "max_iter": 30,
        "random_state": 0}


def hidden_cluster(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anomalies packed at the centre of a wide normal cloud: an isolation forest ranks them
    as the most normal rows, a classifier on a few labels finds them. Returns rows, truth and
    the partial labels (8 of the 30 anomalies labelled)."""
    rng = np.random.default_rng(seed)
    normal = rng.uniform(-4.0, 4.0, size=(600, 2))
    normal = normal[np.abs(normal).max(axis=1) > 1.0][:500]
    X = np.vstack([normal, rng.normal(0.0, 0.2, size=(30, 2))])
    y = np.r_[np.zeros(len(normal), dtype=int), np.ones(30, dtype=int)]
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:8]] = 1
    return X, y, labels


def test_auto_weight_trusts_the_booster_when_the_unsupervised_ranks_mislead():
    X, y, labels = hidden_cluster()
    auto = DeepXGBOD(**FAST, booster_weight="auto").fit(X, labels)
    equal = DeepXGBOD(**FAST, booster_weight="equal").fit(X, labels)
    assert set(auto.weight_auroc_) == {f"{w:.4g}" for w in AUTO_WEIGHTS}  # equal is 0.5 here
    assert auto.booster_weight_ == 1.0  # the extractor ranks the anomalies as normal
    assert equal.booster_weight_ == 0.5  # one other member: the extractors' mean rank
    unlabelled = labels == 0
    assert (auc_roc(y[unlabelled], auto.decision_scores_[unlabelled])
            > auc_roc(y[unlabelled], equal.decision_scores_[unlabelled]) + 0.1)


def test_auto_weight_keeps_one_half_unless_another_is_better_by_a_standard_error(planted_rows):
    X, y = planted_rows
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:6]] = 1
    det = DeepXGBOD(**FAST, booster_weight="auto").fit(X, labels)
    prior = det.weight_auroc_["0.5"]
    best = max(det.weight_auroc_, key=det.weight_auroc_.get)
    # here the isolation forest finds the planted rows too: a higher weight scores a little
    # better out of fold, by less than one standard error, so the rule keeps 1/2
    assert best != "0.5" and det.weight_auroc_[best] > prior
    assert det.weight_auroc_[best] - prior <= hanley_mcneil_se(prior, 6, len(y) - 6)
    assert det.booster_weight_ == 0.5


def test_default_weight_is_half_and_equal_weights_remain_available(planted_rows):
    X, y = planted_rows
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:5]] = 1
    assert DeepXGBOD().booster_weight == 0.5
    det = DeepXGBOD(**{**FAST, "extractors": ("IsolationForest", "ECOD")},
                    booster_weight="equal").fit(X, labels)
    assert det.booster_weight_ == 0.5  # one other member, the extractors' mean rank


@pytest.mark.parametrize(("auc", "n_positive", "n_negative"), [(0.9, 50, 50), (0.75, 8, 400)])
def test_hanley_mcneil_standard_error_matches_simulation(auc, n_positive, n_negative):
    # their Q1, Q2 are exact when both classes' scores are exponential: negatives Exp(1),
    # positives with mean A / (1 − A), so that P(positive > negative) = A
    rng = np.random.default_rng(0)
    negatives = rng.exponential(1.0, size=(4000, n_negative))
    positives = rng.exponential(auc / (1.0 - auc), size=(4000, n_positive))
    wins = (positives[:, :, None] > negatives[:, None, :]).mean(axis=(1, 2))
    assert hanley_mcneil_se(auc, n_positive, n_negative) == pytest.approx(wins.std(), rel=0.06)


def test_one_labelled_anomaly_falls_back_without_cross_fitting(planted_rows):
    X, y = planted_rows
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[0]] = 1
    det = DeepXGBOD(**FAST, booster_weight="auto").fit(X, labels)
    assert det.weight_auroc_ == {}
    assert det.booster_weight_ == 0.5  # equal weights: the booster and the extractor's rank


def test_fixed_weight_mixes_the_booster_rank_and_the_others(planted_rows):
    X, y = planted_rows
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:5]] = 1
    det = DeepXGBOD(**FAST, booster_weight=0.75).fit(X, labels)
    booster = rank_normalise(det.booster_scores_, det.booster_scores_)
    extractor = det.extractors_[0]
    tos = rank_normalise(extractor.decision_scores_, extractor.decision_scores_)
    np.testing.assert_allclose(det.decision_scores_, 0.75 * booster + 0.25 * tos)


def test_weight_survives_save_and_load(tmp_path):
    X, _, labels = hidden_cluster(1)
    det = DeepXGBOD(**FAST, booster_weight="auto").fit(X, labels)
    det.save(tmp_path / "model")
    loaded = deepad.load(tmp_path / "model")
    assert loaded.booster_weight_ == det.booster_weight_
    assert loaded.weight_auroc_ == det.weight_auroc_
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))


def test_tampered_weight_is_refused(tmp_path):
    X, _, labels = hidden_cluster(2)
    DeepXGBOD(**FAST, booster_weight=0.5).fit(X, labels).save(tmp_path / "model")
    path = tmp_path / "model" / "config.json"
    config = json.loads(path.read_text())
    config["state"]["booster_weight"] = 1.5
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="booster_weight"):
        deepad.load(tmp_path / "model")


def test_model_saved_before_the_weight_averages_equally(tmp_path):
    X, _, labels = hidden_cluster(3)
    det = DeepXGBOD(**FAST, booster_weight="equal").fit(X, labels)
    det.save(tmp_path / "model")
    path = tmp_path / "model" / "config.json"
    config = json.loads(path.read_text())
    for key in ("booster_weight", "weight_auroc"):
        del config["state"][key]
    config["params"].pop("booster_weight")
    path.write_text(json.dumps(config))
    loaded = deepad.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))


@pytest.mark.parametrize("weight", [0.0, 1.5, "best", -0.2])
def test_bad_weight_is_refused(planted_rows, weight):
    X, y = planted_rows
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:3]] = 1
    with pytest.raises(ValueError, match="booster_weight"):
        DeepXGBOD(**FAST, booster_weight=weight).fit(X, labels)
