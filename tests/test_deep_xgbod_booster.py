"""DeepXGBOD's booster option: CatBoost (the default; optional extra ``deepad[boost]``) or
scikit-learn's booster, CatBoost's model saved as its JSON format inside deepad's save format."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import deepad
from deepad.detectors import DeepXGBOD
from deepad.metrics import auc_roc

TINY = (("AutoEncoder", "epochs", 3), ("AutoEncoder", "hidden_dims", (16, 4)),
        ("AutoEncoder", "batch_size", 32), ("DevNet", "epochs", 3), ("DevNet", "batch_size", 32),
        ("DevNet", "n_batches", 5))


def few_labels(y: np.ndarray, n: int) -> np.ndarray:
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y == 1)[:n]] = 1
    return labels


@pytest.fixture(scope="module")
def catboost_xgbod(planted_rows):
    pytest.importorskip("catboost")
    X, y = planted_rows
    det = DeepXGBOD(extractors=("AutoEncoder",), member_params=TINY, random_state=0)
    return det.fit(X, few_labels(y, 5))


def test_catboost_is_the_default_booster():
    assert DeepXGBOD().booster == "catboost"
    assert DeepXGBOD.test_params["booster"] == "histgb"  # the conformance suite needs no extra


def test_catboost_booster_ranks_planted_anomalies_first(catboost_xgbod, planted_rows):
    X, y = planted_rows
    scores = catboost_xgbod.decision_function(X)
    unlabelled = few_labels(y, 5) == 0  # judged on the rows it was not told about
    assert auc_roc(y[unlabelled], scores[unlabelled]) > 0.9
    top = np.argsort(-scores)[: int(y.sum())]
    assert y[top].mean() > 0.75
    assert catboost_xgbod.n_iter_ == 1000  # CatBoost's default number of trees


def test_catboost_booster_alone_learns_from_five_labels(planted_rows):
    pytest.importorskip("catboost")
    X, y = planted_rows
    det = DeepXGBOD(extractors=("IsolationForest",), blend=(), blend_extractors=False,
                    random_state=0).fit(X, few_labels(y, 5))
    np.testing.assert_array_equal(det.decision_scores_, det.booster_scores_)
    unlabelled = few_labels(y, 5) == 0
    assert auc_roc(y[unlabelled], det.decision_scores_[unlabelled]) > 0.95


def test_catboost_save_load_gives_identical_scores(catboost_xgbod, planted_rows, tmp_path):
    X, _ = planted_rows
    catboost_xgbod.save(tmp_path / "model")
    loaded = deepad.load(tmp_path / "model")
    assert isinstance(loaded, DeepXGBOD) and loaded.booster == "catboost"
    np.testing.assert_array_equal(loaded.decision_function(X),
                                  catboost_xgbod.decision_function(X))
    np.testing.assert_array_equal(loaded.booster_scores_, catboost_xgbod.booster_scores_)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    model = json.loads(config["state"]["booster_json"])  # CatBoost's JSON model, plain data
    assert len(model["oblivious_trees"]) == 1000


def test_catboost_scores_are_catboosts_log_odds(planted_rows):
    catboost = pytest.importorskip("catboost")
    from deepad.detectors.feature_extraction.boosted_scores import CatBoostTrees

    X, y = planted_rows
    labels = few_labels(y, 10)
    trees = CatBoostTrees().fit(X, labels, seed=0)
    model = catboost.CatBoostClassifier(random_seed=0, verbose=False,
                                        allow_writing_files=False).fit(X, labels)
    expected = model.predict(X, prediction_type="RawFormulaVal")
    # CatBoost's JSON rounds floats in the last digit: equal up to that
    np.testing.assert_allclose(trees.raw(X), expected, rtol=0, atol=1e-9)


def test_bad_booster_name_is_refused(planted_rows):
    X, y = planted_rows
    with pytest.raises(ValueError, match="booster"):
        DeepXGBOD(booster="xgboost").fit(X, few_labels(y, 3))


def test_missing_catboost_names_the_extra(planted_rows, monkeypatch):
    X, y = planted_rows
    monkeypatch.setitem(sys.modules, "catboost", None)  # import catboost now fails
    det = DeepXGBOD(extractors=("AutoEncoder",), member_params=TINY, random_state=0)
    with pytest.raises(ImportError, match=r'pip install "deepad\[boost\]"') as raised:
        det.fit(X, few_labels(y, 3))
    assert 'booster="histgb"' in str(raised.value)
    assert not hasattr(det, "extractors_")  # refused before any member was trained


def test_missing_catboost_at_load_names_the_extra(catboost_xgbod, tmp_path, monkeypatch):
    catboost_xgbod.save(tmp_path / "model")
    monkeypatch.setitem(sys.modules, "catboost", None)
    with pytest.raises(ImportError, match=r"deepad\[boost\]"):
        deepad.load(tmp_path / "model")


@pytest.mark.parametrize(("edit", "match"), [
    (lambda text: text[:-10], "not valid JSON"),
    (lambda text: 42, "must be a string"),
    (lambda text: json.dumps({**json.loads(text), "oblivious_trees": []}), "at least one"),
    (lambda text: text.replace('"flat_feature_index":0', '"flat_feature_index":99')
     .replace('"flat_feature_index": 0', '"flat_feature_index": 99'), "indexed below"),
])
def test_tampered_catboost_model_is_refused(catboost_xgbod, edit, match):
    state, tensors = catboost_xgbod._get_state()
    assert not any(k.startswith("booster.") for k in tensors)  # no tree arrays: JSON only
    bad = {**state, "booster_json": edit(state["booster_json"])}
    fresh = DeepXGBOD(**catboost_xgbod.get_params())
    with pytest.raises(ValueError, match=match):
        fresh._set_state(bad, tensors)


def test_model_saved_before_the_booster_parameter_is_explained(catboost_xgbod):
    state, tensors = catboost_xgbod._get_state()
    old = {k: v for k, v in state.items() if k != "booster_json"}
    with pytest.raises(ValueError, match='"booster": "histgb"'):
        DeepXGBOD(**catboost_xgbod.get_params())._set_state(old, tensors)
