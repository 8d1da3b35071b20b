"""OutlierEnsemble: its normalisation and combination on hand-checkable scores, its default
members on planted anomalies, save -> load, and its errors. The contract (fit / predict /
clone / determinism) is the conformance suite's."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepad
from deepad.detectors import ECOD, IsolationForest, OutlierEnsemble
from deepad.detectors.ensembles.outlier_ensemble import (
    COMBINATIONS,
    DEFAULT_MEMBERS,
    combine_scores,
    normalise,
)
from deepad.metrics import auc_roc


# ---------------------------------------------------------------------------- the formulas
def test_zscore_uses_the_training_scores():
    train = np.array([1.0, 2.0, 3.0, 4.0])  # mean 2.5, population std sqrt(1.25)
    got = normalise(train, np.array([2.5, 5.0]), "zscore")
    np.testing.assert_allclose(got, [0.0, 2.5 / np.sqrt(1.25)])


def test_zscore_of_constant_training_scores_is_the_difference():
    np.testing.assert_allclose(normalise(np.full(5, 2.0), np.array([3.0]), "zscore"), [1.0])


def test_rank_is_the_empirical_distribution_with_ties_counted_half():
    train = np.array([1.0, 2.0, 2.0, 3.0])
    got = normalise(train, np.array([0.0, 2.0, 2.5, 9.0]), "rank")
    np.testing.assert_allclose(got, [0.0, (1 + 3) / 8, 3 / 4, 1.0])


def test_combinations_average_or_maximise_the_normalised_scores():
    train = [np.array([0.0, 2.0]), np.array([10.0, 30.0])]  # z = s - 1; z = (s - 20) / 10
    test = [np.array([1.0, 3.0]), np.array([40.0, 20.0])]   # z: [0, 2] and [2, 0]
    np.testing.assert_allclose(combine_scores(train, test, "zscore-mean"), [1.0, 1.0])
    np.testing.assert_allclose(combine_scores(train, test, "zscore-max"), [2.0, 2.0])
    # ranks: [0.5, 1.0] and [1.0, 0.5]
    np.testing.assert_allclose(combine_scores(train, test, "rank-mean"), [0.75, 0.75])
    np.testing.assert_allclose(combine_scores(train, test, "rank-max"), [1.0, 1.0])
    with pytest.raises(ValueError, match="combination must be one of"):
        combine_scores(train, test, "median")


def test_ensemble_of_two_baselines_is_the_mean_of_their_standardised_scores():
    rng = np.random.default_rng(1)
    X, new = rng.normal(size=(200, 3)), rng.normal(size=(30, 3)) * 2
    det = OutlierEnsemble(members=("IsolationForest", "ECOD"), combination="zscore-mean",
                          random_state=4).fit(X)
    forest, ecod = IsolationForest(random_state=4).fit(X), ECOD().fit(X)
    expected = np.mean([normalise(m.decision_scores_, m.decision_function(new), "zscore")
                        for m in (forest, ecod)], axis=0)
    np.testing.assert_allclose(det.decision_function(new), expected, rtol=1e-10)
    np.testing.assert_allclose(det.member_scores(new).mean(axis=1), expected, rtol=1e-10)


# ---------------------------------------------------------------------------- default members
@pytest.fixture(scope="module")
def fitted(planted_rows):
    X, _ = planted_rows
    return OutlierEnsemble(random_state=0).fit(X)


def test_default_members_rank_the_planted_anomalies_first(fitted, planted_rows):
    X, y = planted_rows
    assert [type(m).__name__ for m in fitted.members_] == list(DEFAULT_MEMBERS["tabular"])
    assert fitted.member_entries_ == DEFAULT_MEMBERS["tabular"]
    assert auc_roc(y, fitted.decision_scores_) > 0.95
    top = np.argsort(-fitted.decision_scores_)[: int(y.sum())]
    assert y[top].mean() >= 0.8


def test_save_load_gives_identical_scores(fitted, planted_rows, tmp_path):
    X, _ = planted_rows
    fitted.save(tmp_path / "model")
    loaded = deepad.load(tmp_path / "model")
    assert isinstance(loaded, OutlierEnsemble)
    np.testing.assert_array_equal(loaded.decision_function(X), fitted.decision_function(X))
    assert loaded.threshold_ == fitted.threshold_


def test_a_saved_ensemble_with_a_member_missing_is_refused(planted_rows, tmp_path):
    X, _ = planted_rows
    OutlierEnsemble(members=("IsolationForest", "ECOD"), random_state=0).fit(X).save(
        tmp_path / "model")
    config_path = tmp_path / "model" / "config.json"
    config = json.loads(config_path.read_text())
    config["state"]["members"] = config["state"]["members"][:1]
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="holds 1 members"):
        deepad.load(tmp_path / "model")


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_rule_ranks_planted_anomalies_high(planted_rows, combination):
    X, y = planted_rows
    det = OutlierEnsemble(members=("IsolationForest", "ECOD"), combination=combination,
                          random_state=0).fit(X)
    assert auc_roc(y, det.decision_scores_) > 0.9


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("members", [("REPEN",), ("REPEN", "repen"), ("REPEN", "NoSuchNet"),
                                     ("REPEN", "DevNet"), ("REPEN", "MSP"), "REPEN",
                                     ("REPEN", "OutlierEnsemble")])
def test_bad_members_are_refused(planted_rows, members):
    X, _ = planted_rows
    with pytest.raises(ValueError, match="'members' parameter of OutlierEnsemble"):
        OutlierEnsemble(members=members).fit(X)


def test_bad_combination_is_refused(planted_rows):
    X, _ = planted_rows
    with pytest.raises(ValueError, match="'combination' parameter"):
        OutlierEnsemble(members=("IsolationForest", "ECOD"), combination="mean").fit(X)
