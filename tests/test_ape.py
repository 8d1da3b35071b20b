"""What is specific to APE: the NCE loss and the pairwise interaction score on hand-checkable
cases, the context-dependent noise events, unseen categories, categorical input (DataFrames,
mixed column types, validation errors), and planted rare combinations of common values in a
categorical table built from a real dataset. The conformance suite covers the contract."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad import APE
from deepad.data import make_rare_combinations
from deepad.detectors.score_learning.softmax import UNKNOWN, nce_loss


@pytest.fixture(scope="module")
def ape(planted_categorical) -> APE:
    return APE(**APE.test_params, random_state=0).fit(planted_categorical[0])


# ---------------------------------------------------------------------------- by hand
def test_nce_loss_by_hand():
    pos, pos_noise = torch.tensor([1.0]), torch.log(torch.tensor([0.5]))
    neg, neg_noise = torch.tensor([[0.0, 2.0]]), torch.log(torch.tensor([[0.25, 0.1]]))
    k = 2
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = (-math.log(sigmoid(1.0 - math.log(k * 0.5)))
                - math.log(sigmoid(-0.0 + math.log(k * 0.25)))
                - math.log(sigmoid(-2.0 + math.log(k * 0.1))))
    loss = nce_loss(pos, pos_noise, neg, neg_noise)
    torch.testing.assert_close(loss, torch.tensor([expected]))


def test_score_is_minus_weighted_pairwise_interactions(ape, planted_categorical):
    X = planted_categorical[0][:7]
    model = ape.model_
    ids = torch.from_numpy(ape._entity_ids(X))
    v = model.embedding(ids).detach()
    w = dict(zip(zip(model.pair_i.tolist(), model.pair_j.tolist(), strict=True),
                 model.pair_weight.detach().tolist(), strict=True))
    m = X.shape[1]
    by_hand = [-(sum(w[i, j] * float(v[n, i] @ v[n, j]) for i in range(m)
                     for j in range(i + 1, m)) + float(model.bias.detach())) for n in range(len(X))]
    np.testing.assert_allclose(ape.decision_function(X), by_hand, rtol=1e-5, atol=1e-6)
    assert (model.pair_weight >= 0).all()  # kept non-negative, as the authors' release


def test_noise_events_replace_one_entity_of_the_drawn_type(ape, planted_categorical):
    ids = torch.from_numpy(ape._entity_ids(planted_categorical[0]))
    ape._generator = torch.Generator().manual_seed(0)
    ape._noise_probs_cpu = ape.model_.noise_probs.cpu()
    try:
        noise, replaced, types = ape._noise_events(ids)
    finally:
        del ape._generator, ape._noise_probs_cpu
    n, k, m = noise.shape
    assert (n, k) == (len(ids), ape.n_negatives) and m == ids.shape[1]
    differs = noise != ids[:, None, :]
    other = torch.ones_like(differs)
    other[torch.arange(n), :, types] = False
    assert not (differs & other).any()  # only the drawn type's entity can change
    torch.testing.assert_close(noise[torch.arange(n), :, types], replaced)
    offsets = ape.model_.offsets
    sizes = torch.tensor([len(c) for c in ape.categories_])
    assert ((replaced >= offsets[types, None]) & (replaced < (offsets + sizes)[types, None])).all()


def test_noise_distribution_is_the_smoothed_value_frequency(ape, planted_categorical):
    X = planted_categorical[0]
    model = ape.model_
    for j, categories in enumerate(ape.categories_):
        counts = np.array([(X[:, j] == c).sum() for c in categories], dtype=float)
        expected = counts**ape.noise_power / (counts**ape.noise_power).sum()
        np.testing.assert_allclose(model.noise_probs[j, :len(categories)], expected, rtol=1e-5)
        start = int(model.offsets[j])
        np.testing.assert_allclose(model.log_noise[start:start + len(categories)],
                                   np.log(expected) - np.log(X.shape[1]), rtol=1e-5)


# ---------------------------------------------------------------------------- categories
def test_unseen_categories_use_the_zero_entity(ape, planted_categorical):
    X = planted_categorical[0][:5].copy()
    X[:, 0] = "never-seen"
    ids = ape._entity_ids(X)
    assert (ids[:, 0] == UNKNOWN).all() and (ids[:, 1:] != UNKNOWN).all()
    assert not ape.model_.embedding.weight[UNKNOWN].any()
    scores = ape.decision_function(X)
    assert np.isfinite(scores).all()


def test_dataframe_with_mixed_column_types(tmp_path):
    rng = np.random.default_rng(0)
    group = rng.integers(3, size=300)
    frame = pd.DataFrame({"user": np.array(["ann", "bob", "cy"])[group],
                          "port": np.array([22, 80, 443])[group],
                          "admin": group == 0,
                          "level": pd.Categorical(np.array(["lo", "mid", "hi"])[group])})
    det = APE(**APE.test_params, random_state=0).fit(frame)
    assert list(det.feature_names_in_) == ["user", "port", "admin", "level"]
    odd = pd.DataFrame({"user": ["ann"], "port": [443], "admin": [True], "level": ["lo"]})
    assert det.decision_function(odd)[0] > np.percentile(det.decision_scores_, 99)
    loaded = deepad.load(det.save(tmp_path / "ape"))
    np.testing.assert_array_equal(loaded.decision_function(frame), det.decision_function(frame))
    assert [list(c) for c in loaded.categories_] == [list(c) for c in det.categories_]
    with pytest.raises(ValueError, match="same columns in the same order"):
        det.decision_function(frame[["port", "user", "admin", "level"]])


@pytest.mark.parametrize(("X", "error", "match"), [
    ([["a", 1], ["b", None]], ValueError, r"1 missing value\(s\).*index \(1, 1\)"),
    ([["a", 1], [2, "b"]], TypeError, "column '0' holds mixed-integer values"),
    ([[0.5, 1.0], [1.5, 2.0]], TypeError, "non-integral floats.*KBinsDiscretizer"),
    ([["a"], ["b", "c"]], ValueError, r"1 dimension\(s\).*2-D table of categories"),
])
def test_bad_categorical_input(X, error, match):
    with pytest.raises(error, match=match):
        APE(**APE.test_params).fit(X)


def test_integral_floats_and_ints_are_categories():
    X = np.array([[1.0, 2.0], [3.0, 2.0]] * 20)
    scores = APE(**APE.test_params, random_state=0).fit(X).decision_scores_
    assert scores.shape == (40,) and np.isfinite(scores).all()


def test_windows_are_refused_by_modality(ape):
    with pytest.raises(ValueError, match=r"supports \['categorical'\] input; got sequence"):
        APE(**APE.test_params).fit(np.zeros((4, 8, 5)))
    with pytest.raises(ValueError, match="fitted on categorical data"):
        ape.decision_function(np.zeros((4, 8, 5)))


# ---------------------------------------------------------------------------- planted
def test_planted_rare_combinations(planted_categorical):
    X, y = planted_categorical
    normal = X[y == 0]
    det = APE(**APE.test_params, random_state=1).fit(normal[:400])
    test = np.vstack([normal[400:], X[y == 1]])
    labels = np.r_[np.zeros(len(normal) - 400), np.ones(int(y.sum()))]
    assert roc_auc_score(labels, det.decision_function(test)) >= 0.9


def test_planted_combinations_are_unseen_and_made_of_test_values():
    X = np.random.default_rng(0).normal(size=(900, 10))
    train, test, y = make_rare_combinations(X, 300, 50, seed=1)
    assert train.shape == (300, 8) and test.shape == (550, 8) and y.sum() == 50
    assert set(np.unique(train)) == set(range(5))  # five quantile bins per column
    seen = {tuple(row) for row in train}
    normal, planted = test[y == 0], test[y == 1]
    assert not any(tuple(row) in seen for row in planted)
    for j in range(8):  # every planted value is a value of the same column's test rows
        assert set(planted[:, j]) <= set(normal[:, j])
    with pytest.raises(ValueError, match="at least 8 features"):
        make_rare_combinations(X[:, :5], 300, 50)


@pytest.mark.needs_shared
def test_rare_combinations_in_binned_satellite(shared_datasets):
    """ADBench satellite (normal rows): 2,000 training rows of 8 binned spectral features;
    500 held-out rows and 100 planted rare combinations. Default hyperparameters."""
    data = np.load(shared_datasets / "adbench" / "classical" / "30_satellite.npz")
    train, test, y = make_rare_combinations(data["X"][data["y"] == 0], 2000, 100)
    assert y.sum() == 100
    det = APE(random_state=0).fit(train)
    assert roc_auc_score(y, det.decision_function(test)) >= 0.9
