"""DeepXGBOD (deep outlier scores as features of a boosted classifier, rank-averaged with
DevNet) and the gradient-boosting bench peers (catboost: / xgboost: / lightgbm:)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.ensemble import HistGradientBoostingClassifier

import deepad
from deepad.bench import detectors as bench_detectors
from deepad.bench import peers
from deepad.detectors import DeepXGBOD
from deepad.detectors.feature_extraction.boosted_scores import BoostedTrees, rank_normalise
from deepad.metrics import auc_roc

TINY = (("AutoEncoder", "epochs", 3), ("AutoEncoder", "hidden_dims", (16, 4)),
        ("AutoEncoder", "batch_size", 32))


def few_labels(y: np.ndarray, n: int) -> np.ndarray:
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y == 1)[:n]] = 1
    return labels


@pytest.fixture(scope="module")
def fitted_xgbod(planted_rows):
    X, y = planted_rows
    det = DeepXGBOD(extractors=("AutoEncoder",), member_params=TINY, booster="histgb",
                    max_iter=30, random_state=0)
    return det.fit(X, few_labels(y, 5))


def test_planted_anomalies_with_five_labels_rank_first(fitted_xgbod, planted_rows):
    X, y = planted_rows
    scores = fitted_xgbod.decision_function(X)
    unlabelled = few_labels(y, 5) == 0  # judged on the rows it was not told about
    # the booster alone ranks them almost perfectly (next test); DevNet at its defaults is
    # weaker on these three clusters and its rank is averaged in
    assert auc_roc(y[unlabelled], scores[unlabelled]) > 0.9
    top = np.argsort(-scores)[: int(y.sum())]
    assert y[top].mean() > 0.75


def test_save_load_gives_identical_scores(fitted_xgbod, planted_rows, tmp_path):
    X, _ = planted_rows
    fitted_xgbod.save(tmp_path / "model")
    loaded = deepad.load(tmp_path / "model")
    assert isinstance(loaded, DeepXGBOD)
    np.testing.assert_array_equal(loaded.decision_function(X), fitted_xgbod.decision_function(X))
    np.testing.assert_array_equal(loaded.decision_scores_, fitted_xgbod.decision_scores_)


def test_tree_arrays_give_the_boosters_log_odds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 2.0).astype(int)
    model = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    trees = BoostedTrees().fit(model)
    Xt = rng.normal(size=(400, 5)).astype(np.float32)
    np.testing.assert_allclose(trees.raw(Xt), model.decision_function(Xt), rtol=0, atol=1e-10)


def test_xgbod_alone_scores_by_the_booster(planted_rows):
    X, y = planted_rows
    det = DeepXGBOD(extractors=("IsolationForest",), blend=(), blend_extractors=False,
                    booster="histgb", max_iter=20, random_state=0).fit(X, few_labels(y, 5))
    np.testing.assert_array_equal(det.decision_scores_, det.booster_scores_)
    assert det.blend_ == [] and det.n_iter_ == 20
    unlabelled = few_labels(y, 5) == 0
    assert auc_roc(y[unlabelled], det.decision_scores_[unlabelled]) > 0.95


def test_rank_normalise_counts_ties_half():
    train = np.array([1.0, 2.0, 2.0, 3.0])
    np.testing.assert_allclose(rank_normalise(train, np.array([0.0, 2.0, 5.0])),
                               [0.0, 0.5, 1.0])


@pytest.mark.parametrize(("params", "match"), [
    ({"extractors": (), "use_raw_features": False}, "needs features"),
    ({"member_params": (("DeepSVDD", "epochs", 1),)}, "member_params names"),
    ({"member_params": {"VAE": {"epochs": 1}}}, "member_params"),
    ({"extractors": ("DevNet",)}, "extractors"),
    ({"blend": ("AutoEncoder",)}, "blend"),
])
def test_bad_configuration_is_refused(planted_rows, params, match):
    X, y = planted_rows
    with pytest.raises(ValueError, match=match):
        DeepXGBOD(**params).fit(X, few_labels(y, 3))


def test_unlabelled_fit_is_refused(planted_rows):
    with pytest.raises(ValueError, match="weakly supervised"):
        DeepXGBOD().fit(planted_rows[0])


def test_tampered_tree_is_refused(fitted_xgbod):
    state, tensors = fitted_xgbod._get_state()
    bad = dict(tensors)
    feature = bad["booster.feature"].clone()
    feature[0, 0] = 10_000
    bad["booster.feature"] = feature
    fresh = DeepXGBOD(**fitted_xgbod.get_params())
    with pytest.raises(ValueError, match="'feature' must index"):
        fresh._set_state(state, bad)
    loop = dict(tensors)
    left = loop["booster.left"].clone()
    left[0, 0] = 0  # a node pointing at itself would never reach a leaf
    loop["booster.left"] = left
    with pytest.raises(ValueError, match="point forward"):
        fresh._set_state(state, loop)
    assert torch.equal(tensors["booster.feature"], fitted_xgbod.booster_.state()["feature"])


# ---------------------------------------------------------------- boosting peers of the bench
class SklearnBooster(peers.BoostedClassifier):
    """The adapter on scikit-learn's booster, so it is tested without the peer packages."""

    package, class_name = "sklearn.ensemble", "HistGradientBoostingClassifier"


def test_boosted_classifier_scores_the_probability_of_class_one(planted_rows):
    X, y = planted_rows
    labels = few_labels(y, 10)
    det = SklearnBooster(random_state=0).fit(X, labels)
    model = HistGradientBoostingClassifier(random_state=0).fit(X, labels)
    np.testing.assert_array_equal(det.decision_function(X), model.predict_proba(X)[:, 1])


@pytest.mark.parametrize(("spec", "name"), [("catboost:CatBoostClassifier", "CatBoostClassifier"),
                                            ("xgboost:XGBClassifier", "XGBClassifier"),
                                            ("lightgbm:LGBMClassifier", "LGBMClassifier")])
def test_booster_specs_parse_and_learn_from_labels(spec, name):
    ref = bench_detectors.parse_detector(spec)
    assert ref.name == name and ref.spec == spec
    cls = peers._BOOSTER_CLASSES[ref.kind]
    assert bench_detectors.supervision(ref, cls) == bench_detectors.WEAK_ONLY
    assert peers.peer_kwargs(cls, 7) == {"random_state": 7}


def test_unknown_booster_class_names_the_right_one(monkeypatch):
    monkeypatch.setattr(peers, "require", lambda package: None)
    with pytest.raises(KeyError, match="catboost:CatBoostClassifier"):
        peers.peer_class("catboost", "CatBoostClassifer")


@pytest.mark.parametrize("package", ["catboost", "xgboost", "lightgbm"])
def test_installed_booster_runs_the_adbench_way(package, planted_rows, tmp_path, monkeypatch):
    pytest.importorskip(package)
    monkeypatch.chdir(tmp_path)  # CatBoost would write catboost_info/ here if not silenced
    X, y = planted_rows
    cls = peers.peer_class(package, peers.BOOSTERS[package])
    det = cls(random_state=0).fit(X, few_labels(y, 10))
    scores = det.decision_function(X)
    assert scores.shape == (len(X),) and ((scores >= 0) & (scores <= 1)).all()
    assert auc_roc(y, scores) > 0.9
    assert not list(tmp_path.iterdir())
