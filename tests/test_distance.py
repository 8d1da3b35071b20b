"""What is specific to the distance-based measures REPEN and RDP: LeSiNN, the triplet sampler
and the losses on hand-checkable cases, the fixed random projection, the use of labelled
anomalies, and planted anomalies ranked on top for rows and windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad.detectors import RDP, REPEN
from deepad.detectors.measure_normality.distance import (
    TripletSampler,
    cantelli_split,
    lesinn,
    novelty_error,
    random_distance_loss,
    triplet_loss,
)


def weak_labels(y: np.ndarray, n_labelled: int = 5) -> np.ndarray:
    """1 for the first ``n_labelled`` true anomalies, 0 elsewhere."""
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y == 1)[:n_labelled]] = 1
    return labels


# ---------------------------------------------------------------------------- by hand
def test_lesinn_by_hand():
    # two subsamples of two 1-D rows: {0, 2} and {5, 6}
    reference = torch.tensor([[[0.0], [2.0]], [[5.0], [6.0]]])
    queries = torch.tensor([[1.0], [6.0], [3.0]])
    # x = 1: nearest 1 and 4 → 2.5; x = 6: 4 and 0 → 2; x = 3: 1 and 2 → 1.5
    torch.testing.assert_close(lesinn(queries, reference), torch.tensor([2.5, 2.0, 1.5]))
    # Euclidean in several dimensions: |(3, 4)| = 5
    reference = torch.tensor([[[0.0, 0.0]]])
    torch.testing.assert_close(lesinn(torch.tensor([[3.0, 4.0]]), reference), torch.tensor([5.0]))


def test_triplet_loss_by_hand():
    anchor = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    positive = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    negative = torch.tensor([[0.0, 2.0], [0.0, 1.0]])
    # max(0, c + ||a - p||² - ||a - n||²): 1 + 1 - 4 < 0 → 0; 1 + 1 - 1 = 1
    torch.testing.assert_close(triplet_loss(anchor, positive, negative, 1.0),
                               torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(triplet_loss(anchor, positive, negative, 1000.0),
                               torch.tensor([997.0, 1000.0]))


def test_random_distance_loss_and_novelty_error_by_hand():
    pred_i = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    pred_j = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    target_i = torch.tensor([[2.0, 0.0], [3.0, 1.0]])
    target_j = torch.tensor([[0.0, 3.0], [1.0, 0.0]])
    # L1-normalised inner products: (.5, .5)·(1, 0) = .5 vs (1, 0)·(0, 1) = 0 → .25;
    # (.5, -.5)·(.5, .5) = 0 vs (.75, .25)·(1, 0) = .75 → .5625
    torch.testing.assert_close(random_distance_loss(pred_i, pred_j, target_i, target_j),
                               torch.tensor([0.25, 0.5625]))
    torch.testing.assert_close(novelty_error(torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)),
                               torch.tensor([2.5]))


# ---------------------------------------------------------------------------- sampler
def _scores() -> torch.Tensor:
    # 28 rows scored 1, two outliers scored 10 and 20: μ + √3 σ ≈ 8.4 keeps only the two
    return torch.tensor([1.0] * 28 + [10.0, 20.0])


def test_cantelli_split_and_top_fallback():
    inliers, candidates = cantelli_split(_scores())
    assert candidates.tolist() == [28, 29] and inliers.tolist() == list(range(28))
    # nothing above the threshold (equal scores): the top 10, as in the release
    inliers, candidates = cantelli_split(torch.ones(30))
    assert len(candidates) == 10 and len(inliers) == 20
    # tiny data keeps two inliers for an anchor and a positive
    inliers, candidates = cantelli_split(torch.ones(4))
    assert len(candidates) == 2 and len(inliers) == 2


def test_sampler_draws_negatives_from_top_scored_candidates():
    sampler = TripletSampler(_scores())
    anchor, positive, negative = sampler.draw(20_000, torch.Generator().manual_seed(0))
    assert set(negative.tolist()) == {28, 29}
    # negatives in proportion to their scores: 20 / 30 for the row scored 20
    assert abs(float((negative == 29).float().mean()) - 2 / 3) < 0.02
    assert int(anchor.max()) < 28 and int(positive.max()) < 28
    assert bool((anchor != positive).all())


def test_sampler_prefers_low_scored_anchors():
    scores = torch.tensor([0.0, 1.0, 2.0, 3.0, 100.0])
    sampler = TripletSampler(scores)
    assert sampler.candidates.tolist() == [4]
    anchor, _, _ = sampler.draw(40_000, torch.Generator().manual_seed(0))
    # weights Σ s - s_i = 6, 5, 4, 3 over the inliers
    freq = torch.bincount(anchor, minlength=4).double() / len(anchor)
    torch.testing.assert_close(freq, torch.tensor([6.0, 5.0, 4.0, 3.0]).double() / 18,
                               atol=0.01, rtol=0)


def test_sampler_with_labelled_anomalies():
    labelled = torch.zeros(30, dtype=torch.bool)
    labelled[3] = True  # an anomaly LeSiNN scores as normal
    sampler = TripletSampler(_scores(), labelled)
    anchor, positive, negative = sampler.draw(101, torch.Generator().manual_seed(0))
    # the first half of the negatives are labelled anomalies, the rest candidates
    assert negative[:51].tolist() == [3] * 51
    assert set(negative[51:].tolist()) <= {28, 29}
    assert 3 not in anchor.tolist() and 3 not in positive.tolist()


def test_sampler_needs_two_inliers():
    with pytest.raises(ValueError, match="at least two unlabelled rows"):
        TripletSampler(torch.tensor([1.0, 1.0, 1.0]), torch.tensor([True, True, False]))


# ---------------------------------------------------------------------------- REPEN
@pytest.fixture(scope="module")
def repen_rows(planted):
    X, _ = planted["tabular"]
    return REPEN(random_state=0).fit(X)


def _brute_force_lesinn(Z: np.ndarray, reference: np.ndarray, n_estimators: int) -> np.ndarray:
    reference = reference.reshape(n_estimators, -1, reference.shape[-1])
    distances = np.linalg.norm(Z[:, None, None, :] - reference[None], axis=-1)
    return distances.min(axis=2).mean(axis=1)


def test_repen_initial_and_final_scores_are_lesinn(repen_rows, planted):
    X, _ = planted["tabular"]
    det = repen_rows
    reference = det.model_.reference.numpy().astype(np.float64)
    assert reference.shape == (det.n_estimators * det.subsample_size, X.shape[1])
    # every reference row is a training row
    assert all(np.isclose(X, row, atol=1e-6).all(axis=1).any() for row in reference[:20])
    np.testing.assert_allclose(det.initial_scores_,
                               _brute_force_lesinn(X, reference, det.n_estimators), rtol=1e-5)
    with torch.no_grad():
        Z = det.model_.encoder(torch.from_numpy(X).float()).double().numpy()
        R = det.model_.encoder(det.model_.reference).double().numpy()
    np.testing.assert_allclose(det.decision_function(X[:50]),
                               _brute_force_lesinn(Z[:50], R, det.n_estimators), rtol=1e-4)


def test_repen_release_defaults():
    params = REPEN().get_params()
    assert params["hidden_dims"] == (20,) and params["activation"] == "relu"
    assert (params["n_estimators"], params["subsample_size"]) == (50, 8)
    assert (params["epochs"], params["batch_size"], params["lr"]) == (30, 256, 1.0)
    assert params["outlier_threshold"] == pytest.approx(math.sqrt(3))


def test_repen_uses_adadelta(repen_rows):
    (optimizer,) = repen_rows.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adadelta)


def test_repen_without_labelled_anomalies_is_unsupervised(repen_rows, planted):
    X, y = planted["tabular"]
    none = REPEN(random_state=0).fit(X, np.zeros(len(X), dtype=int))
    np.testing.assert_array_equal(none.decision_scores_, repen_rows.decision_scores_)
    weak = REPEN(random_state=0).fit(X, weak_labels(y))
    assert not np.array_equal(weak.decision_scores_, repen_rows.decision_scores_)


def test_repen_labelled_anomalies_become_negatives(planted, monkeypatch):
    X, y = planted["tabular"]
    labels = weak_labels(y)
    drawn = []
    original = TripletSampler.draw

    def spy(self, n, generator):
        triplet = original(self, n, generator)
        drawn.append(triplet[2])
        return triplet

    monkeypatch.setattr(TripletSampler, "draw", spy)
    REPEN(**REPEN.test_params, random_state=0).fit(X, labels)
    negatives = torch.cat(drawn).numpy()
    assert np.isin(np.flatnonzero(labels), negatives).all()
    assert (labels[negatives] == 1).mean() >= 0.5


def test_repen_refuses_a_validation_split(planted):
    X, _ = planted["tabular"]
    with pytest.raises(ValueError, match="'validation_size' parameter"):
        REPEN(validation_size=0.2).fit(X)


@pytest.mark.parametrize("modality", ["tabular", "sequence"])
def test_repen_ranks_planted_anomalies(planted, modality):
    X, y = planted[modality]
    det = REPEN(epochs=30 if modality == "tabular" else 5, random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= 0.9


# ---------------------------------------------------------------------------- RDP
@pytest.fixture(scope="module")
def rdp_rows(planted):
    X, _ = planted["tabular"]
    return RDP(random_state=0).fit(X)


def test_rdp_projection_is_fixed_random_and_saved(planted, tmp_path, monkeypatch):
    X, _ = planted["tabular"]
    captured = {}
    original = RDP.on_train_start

    def spy(self, X_t, y_t):
        original(self, X_t, y_t)
        captured["weight"] = self.model_.projection.weight.clone()

    monkeypatch.setattr(RDP, "on_train_start", spy)
    det = RDP(epochs=3, n_batches=10, rep_dim=64, random_state=0).fit(X)
    weight = det.model_.projection.weight
    # drawn once, never trained: not a parameter, unchanged by training
    torch.testing.assert_close(weight, captured["weight"], rtol=0, atol=0)
    assert not any(name.startswith("projection") for name, _ in det.model_.named_parameters())
    assert "projection.weight" in det.model_.state_dict()
    assert weight.shape == (64, X.shape[1])
    assert abs(float(weight.std()) / math.sqrt(2 / X.shape[1]) - 1) < 0.15
    # saved and loaded with the model
    loaded = deepad.load(det.save(tmp_path / "rdp"))
    torch.testing.assert_close(loaded.model_.projection.weight, weight, rtol=0, atol=0)
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))


def test_rdp_window_projection_takes_the_flattened_window(planted):
    X, _ = planted["sequence"]
    det = RDP(**{**RDP.test_params, "epochs": 1}, random_state=0).fit(X[:100])
    assert det.model_.projection.weight.shape == (16, X.shape[1] * X.shape[2])


def test_rdp_release_defaults():
    params = RDP().get_params()
    assert (params["hidden_dims"], params["rep_dim"], params["dropout"]) == ((50,), 50, 0.1)
    assert (params["batch_size"], params["n_batches"], params["lr"]) == (192, 30, 0.1)
    assert params["grad_clip"] == 0.1 and params["projection_slope"] == 0.25
    assert params["scoring"] == "novelty" and params["ae_weight"] == 0.0


def test_rdp_novelty_score_is_the_novelty_error(rdp_rows, planted):
    X, _ = planted["tabular"]
    with torch.no_grad():
        pred, target = rdp_rows.model_(torch.from_numpy(X[:30]).float())
    expected = ((pred - target) ** 2).mean(dim=1).double().numpy()
    np.testing.assert_allclose(rdp_rows.decision_function(X[:30]), expected, rtol=1e-5)


@pytest.mark.parametrize("modality", ["tabular", "sequence"])
def test_rdp_auxiliary_losses_and_distance_score(planted, modality):
    X, _ = planted[modality]
    small = X[:120]
    det = RDP(**{**RDP.test_params, "epochs": 2}, ae_weight=0.5, scoring="distance",
              n_reference=16, random_state=0).fit(small)
    assert det.model_.decoder is not None
    assert det.model_.reference.shape == (16, *small.shape[1:])
    with torch.no_grad():
        pred, target = det.model_(torch.from_numpy(small[:5]).float())
        ref_pred, ref_target = det.model_(det.model_.reference)
    expected = [float(random_distance_loss(pred[i:i + 1].expand(16, -1), ref_pred,
                                           target[i:i + 1].expand(16, -1), ref_target).mean())
                for i in range(5)]
    np.testing.assert_allclose(det.decision_function(small[:5]), expected, rtol=1e-4)


def test_rdp_novelty_score_needs_the_novelty_loss(planted):
    X, _ = planted["tabular"]
    with pytest.raises(ValueError, match="novelty_weight=0"):
        RDP(novelty_weight=0.0).fit(X)
    RDP(**RDP.test_params, novelty_weight=0.0, scoring="distance", random_state=0).fit(X)


@pytest.mark.parametrize("modality", ["tabular", "sequence"])
def test_rdp_ranks_planted_anomalies(planted, modality):
    X, y = planted[modality]
    params = {} if modality == "tabular" else RDP.test_params
    det = RDP(**params, random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= 0.9
