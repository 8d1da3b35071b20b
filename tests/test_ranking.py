"""What is specific to the ranking models (PReNet, SDOR): PReNet's stratified pair sampling,
ordinal loss and reference-pair score, SDOR's pseudo-labels, initial detectors and
self-training refreshes, their errors, and planted anomalies ranked on top. The conformance
suite covers both classes through the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

import deepad
from deepad.data.synthetic import make_planted_rows, make_planted_windows
from deepad.detectors import SDOR, DeepSVDD, PReNet
from deepad.detectors.score_learning.ranking import PairSampler, ordinal_error, pseudo_labels

# small SDOR / PReNet networks for planted windows (the defaults train a TCN on 512 windows a
# step for 1,000 steps)
SDOR_WINDOWS = {"epochs": 10, "n_iterations": 2, "batch_size": 64, "n_batches": 10,
                "hidden_dims": (16,)}
PRENET_WINDOWS = {"epochs": 6, "batch_size": 64, "n_batches": 10, "lr": 3e-3}


def _labels(y: np.ndarray, k: int) -> np.ndarray:
    weak = np.zeros_like(y)
    weak[np.flatnonzero(y == 1)[:k]] = 1
    return weak


# ---------------------------------------------------------------------------- PReNet: pairs
def test_pair_sampler_strata_and_members():
    y = torch.tensor([0, 1, 0, 0, 1, 0, 1, 0, 0, 0])
    sampler = PairSampler(y)
    generator = torch.Generator().manual_seed(0)
    first, second, kind = sampler.draw(402, generator)
    assert first.shape == second.shape == kind.shape == (402,)
    # b - 2 floor(b / 4) unlabelled-unlabelled pairs, floor(b / 4) of each other kind
    assert [(kind == k).sum().item() for k in (0, 1, 2)] == [202, 100, 100]
    uu, au, aa = (kind == 0), (kind == 1), (kind == 2)
    assert (y[first[uu]] == 0).all() and (y[second[uu]] == 0).all()
    assert (first[uu] != second[uu]).all()
    # the release's order: the unlabelled member first, the anomaly second
    assert (y[first[au]] == 0).all() and (y[second[au]] == 1).all()
    assert (y[first[aa]] == 1).all() and (y[second[aa]] == 1).all()
    assert (first[aa] != second[aa]).all()
    # every labelled anomaly and almost every unlabelled row gets drawn
    assert set(second[aa].tolist()) == {1, 4, 6}
    # the same generator state gives the same pairs
    again = sampler.draw(402, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip((first, second, kind), again, strict=True))


def test_pair_sampler_with_one_labelled_anomaly_pairs_it_with_itself():
    sampler = PairSampler(torch.tensor([0, 0, 1, 0]))
    first, second, kind = sampler.draw(16, torch.Generator().manual_seed(1))
    assert (first[kind == 2] == 2).all() and (second[kind == 2] == 2).all()


def test_ordinal_error_by_hand():
    pred = torch.tensor([0.5, 3.0, 9.0])
    target = torch.tensor([0.0, 4.0, 8.0])
    torch.testing.assert_close(ordinal_error(pred, target, "absolute"),
                               torch.tensor([0.5, 1.0, 1.0]))
    torch.testing.assert_close(ordinal_error(pred, target, "squared"),
                               torch.tensor([0.25, 1.0, 1.0]))


@pytest.fixture(scope="module")
def prenet_rows(planted_rows):
    X, y = planted_rows
    weak = _labels(y, 5)
    return PReNet(epochs=20, n_references=7, random_state=0).fit(X, weak), X, weak


def test_prenet_loss_targets_follow_the_pair_kind(prenet_rows, monkeypatch):
    det, X, weak = prenet_rows
    det = det.__class__(**det.get_params())  # unfitted copy with the same parameters
    captured = {}

    def spy(pred, target, error):
        captured["target"] = target
        return (pred - target).abs()

    monkeypatch.setattr("deepad.detectors.score_learning.ranking.ordinal_error", spy)
    det.set_params(epochs=1, n_batches=1, batch_size=8, targets=(-1.0, 2.0, 5.0)).fit(X, weak)
    # 8 pairs: 4 unlabelled-unlabelled, 2 unlabelled-anomaly, 2 anomaly-anomaly
    torch.testing.assert_close(captured["target"],
                               torch.tensor([-1.0, -1.0, -1.0, -1.0, 2.0, 2.0, 5.0, 5.0]))


def test_prenet_score_is_the_mean_relation_to_the_reference_pairs(prenet_rows):
    det, X, weak = prenet_rows
    net = det.model_
    ref_u, ref_a = net.reference_unlabelled, net.reference_anomalies
    assert ref_u.shape == ref_a.shape == (7, X.shape[1])
    # the references are training rows of the right kind, kept as buffers
    rows = torch.from_numpy(X.astype(np.float32))
    match_u = (ref_u[:, None, :] == rows[None]).all(dim=2)
    match_a = (ref_a[:, None, :] == rows[None]).all(dim=2)
    assert match_u.any(dim=1).all() and match_a.any(dim=1).all()
    assert (torch.from_numpy(weak)[match_u.float().argmax(dim=1)] == 0).all()
    assert (torch.from_numpy(weak)[match_a.float().argmax(dim=1)] == 1).all()
    # s(x) = 1/2 [1/E sum_i phi(u_i, x) + 1/E sum_i phi(x, a_i)]
    x = rows[:4]
    with torch.no_grad():
        with_u = torch.stack([net(u.expand(4, -1), x) for u in ref_u]).mean(dim=0)
        with_a = torch.stack([net(x, a.expand(4, -1)) for a in ref_a]).mean(dim=0)
    by_pairs = 0.5 * (with_u + with_a)
    np.testing.assert_allclose(det.decision_function(X[:4]), by_pairs.double().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_prenet_ranks_labelled_anomalies_above_unlabelled_rows(prenet_rows):
    det, _, weak = prenet_rows
    scores = det.decision_scores_
    assert scores[weak == 1].min() > np.median(scores[weak == 0])
    assert np.isfinite(det.history_[-1]["loss"]) and det.history_[-1]["loss"] < \
        det.history_[0]["loss"]


# ---------------------------------------------------------------------------- PReNet: planted
def test_prenet_planted_rows_rank_high():
    """An anomaly pattern seen through 5 labelled examples; its unlabelled members in held-out
    rows rank above the normal rows."""
    normal, _ = make_planted_rows(n_normal=900, n_anomalies=0, n_features=8, random_state=0)
    rng = np.random.default_rng(0)
    centre = np.where(np.arange(8) % 2 == 0, 0.9, 0.1)
    anomalies = np.clip(centre + rng.normal(0.0, 0.05, size=(60, 8)), 0.0, 1.0)
    X = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(900, dtype=int), np.ones(60, dtype=int)]
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    det = PReNet(epochs=10, random_state=0).fit(X[:640], _labels(y[:640], 5))
    assert roc_auc_score(y[640:], det.decision_function(X[640:])) >= 0.9


def test_prenet_planted_windows_rank_high():
    """Spikes, level shifts and frequency changes, 10 of 40 labelled; held-out windows."""
    X, y = make_planted_windows(n_normal=400, n_anomalies=40, window=32, n_features=2,
                                random_state=0)
    X_test, y_test = make_planted_windows(n_normal=200, n_anomalies=20, window=32,
                                          n_features=2, random_state=100)
    det = PReNet(**PRENET_WINDOWS, random_state=0).fit(X, _labels(y, 10))
    assert roc_auc_score(y_test, det.decision_function(X_test)) >= 0.9
    assert np.isfinite(det.decision_scores_).all()


# ---------------------------------------------------------------------------- PReNet: errors
def test_prenet_needs_two_unlabelled_rows(planted_rows):
    X, _ = planted_rows
    y = np.ones(len(X), dtype=int)
    y[0] = 0
    with pytest.raises(ValueError, match="at least two unlabelled rows"):
        PReNet(**PReNet.test_params).fit(X, y)


@pytest.mark.parametrize(("name", "value"), [("targets", (0.0, 8.0, 4.0)),
                                             ("targets", (0.0, 4.0)),
                                             ("relation_dims", (0,)),
                                             ("validation_size", 0.2),
                                             ("error", "huber")])
def test_prenet_invalid_settings(planted_rows, name, value):
    X, y = planted_rows
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        PReNet(**{**PReNet.test_params, name: value}).fit(X, _labels(y, 5))


def test_prenet_relation_layers_take_part_in_the_score(planted_rows):
    X, y = planted_rows
    det = PReNet(**PReNet.test_params, relation_dims=(6,), random_state=0).fit(X, _labels(y, 5))
    assert len([m for m in det.model_.relation if isinstance(m, torch.nn.Linear)]) == 2
    assert np.isfinite(det.decision_scores_).all() and det.decision_scores_.std() > 0


# ---------------------------------------------------------------------------- SDOR: labels
def test_pseudo_labels_by_hand():
    scores = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.9, 0.0, 0.2, 0.4, 0.6, 0.7])
    anomalies, normals = pseudo_labels(scores, 0.15, 0.25)
    # ceil(1.5) = 2 highest (tie at 0.9: by position), ceil(2.5) = 3 lowest
    assert anomalies.tolist() == [1, 4]
    assert sorted(normals.tolist()) == [0, 5, 6]
    # at least one of each, never overlapping, even for tiny shares or sets
    anomalies, normals = pseudo_labels(torch.tensor([0.3, 0.1]), 0.01, 0.99)
    assert anomalies.tolist() == [0] and normals.tolist() == [1]


@pytest.fixture(scope="module")
def sdor_rows(planted_rows):
    X, _ = planted_rows
    return SDOR(random_state=0).fit(X)


def test_sdor_planted_rows_rank_high(sdor_rows, planted_rows):
    _, y = planted_rows
    assert roc_auc_score(y, sdor_rows.decision_scores_) >= 0.9


def test_sdor_planted_windows_rank_high(planted_windows):
    X, y = planted_windows
    det = SDOR(**SDOR_WINDOWS, random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= 0.9
    # iForest on the flattened windows started it
    flat = X.reshape(len(X), -1)
    forest = IsolationForest(n_estimators=100, random_state=det.seed_).fit(flat)
    np.testing.assert_allclose(det.initial_scores_, -forest.score_samples(flat))


def test_sdor_initial_scores_are_isolation_forest_scores(sdor_rows, planted_rows):
    X, _ = planted_rows
    forest = IsolationForest(n_estimators=100, random_state=sdor_rows.seed_).fit(X)
    np.testing.assert_allclose(sdor_rows.initial_scores_, -forest.score_samples(X))


def test_sdor_refreshes_pseudo_labels_between_iterations(sdor_rows):
    # 50 epochs in 5 iterations: refreshed after epochs 10, 20, 30 and 40, never after the last
    refreshed = [r["epoch"] for r in sdor_rows.history_ if "pseudo_anomaly_change" in r]
    assert refreshed == [10, 20, 30, 40]
    assert len(sdor_rows.pseudo_changes_) == 4
    assert all(0.0 <= c <= 1.0 for c in sdor_rows.pseudo_changes_)
    # the network re-ranked the data: its scores are not the initial detector's
    assert not np.array_equal(np.argsort(sdor_rows.decision_scores_),
                              np.argsort(sdor_rows.initial_scores_))


def test_sdor_one_iteration_never_refreshes(planted_rows):
    X, _ = planted_rows
    det = SDOR(**{**SDOR.test_params, "n_iterations": 1}, random_state=0).fit(X)
    assert det.pseudo_changes_ == []
    assert not any("pseudo_anomaly_change" in r for r in det.history_)


def test_sdor_self_training_changes_the_model(planted_rows):
    X, _ = planted_rows
    once = SDOR(**{**SDOR.test_params, "n_iterations": 1}, random_state=0).fit(X)
    twice = SDOR(**SDOR.test_params, random_state=0).fit(X)
    assert not np.allclose(once.decision_scores_, twice.decision_scores_)


def test_sdor_initial_detector_by_registry_name(planted_rows):
    X, _ = planted_rows
    det = SDOR(**SDOR.test_params, initial_detector="DeepSVDD", random_state=0).fit(X)
    expected = DeepSVDD(random_state=det.seed_).fit(X).decision_scores_
    np.testing.assert_allclose(det.initial_scores_, expected)
    assert SDOR(initial_detector="DeepSVDD").get_params()["initial_detector"] == "DeepSVDD"


def test_sdor_save_load_keeps_its_fitted_attributes(sdor_rows, planted_rows, tmp_path):
    X, _ = planted_rows
    loaded = deepad.load(sdor_rows.save(tmp_path / "sdor"))
    np.testing.assert_array_equal(loaded.initial_scores_, sdor_rows.initial_scores_)
    assert loaded.pseudo_changes_ == pytest.approx(sdor_rows.pseudo_changes_)
    np.testing.assert_array_equal(loaded.decision_function(X), sdor_rows.decision_function(X))


# ---------------------------------------------------------------------------- SDOR: errors
@pytest.mark.parametrize(("params", "message"), [
    ({"initial_detector": "IsolationForrest"}, "No detector named 'IsolationForrest'"),
    ({"initial_detector": "DeepSVD"}, "Did you mean DeepSVDD"),
    ({"initial_detector": "DevNet"}, "weakly supervised only"),
    ({"n_iterations": 5, "epochs": 4}, "needs epochs >= 5"),
    ({"anomaly_fraction": 0.6, "normal_fraction": 0.5}, "at most 1"),
])
def test_sdor_refuses_bad_settings(planted_rows, params, message):
    X, _ = planted_rows
    with pytest.raises(ValueError, match=message):
        SDOR(**{**SDOR.test_params, **params}).fit(X)


@pytest.mark.parametrize(("name", "value"), [("patience", 3), ("validation_size", 0.1),
                                             ("targets", (1.0, 0.0)), ("initial_detector", ""),
                                             ("anomaly_fraction", 0.0), ("error", "hinge")])
def test_sdor_invalid_parameters(planted_rows, name, value):
    X, _ = planted_rows
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        SDOR(**{**SDOR.test_params, name: value}).fit(X)
