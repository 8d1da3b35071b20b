"""What is specific to MIL ranking (Sultani et al. 2018): the loss on hand-checkable bags,
bags of consecutive instances labelled as a whole, anomalies found inside anomalous bags of
windows and rows, and the smoothness and sparsity terms shaping the scores. The conformance
suite covers the detector contract through the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepad import MILRanking
from deepad.data.synthetic import make_planted_rows, make_planted_windows
from deepad.detectors.score_learning.mil_ranking import mil_ranking_loss

BAG = 8
WINDOWS = {"hidden_dims": (32, 16), "dropout": 0.0, "epochs": 10, "n_batches": 10,
           "batch_size": 16}
ROWS = {"hidden_dims": (32, 16), "epochs": 20, "n_batches": 10, "batch_size": 32}


def in_bags(normal: np.ndarray, anomalies: np.ndarray, n_normal_bags: int,
            n_anomalous_bags: int, rng: np.random.Generator):
    """Bags of ``BAG`` consecutive instances in random order; each anomalous bag holds a run
    of one or two anomalies among normal instances. Returns X, the instance truth and the
    bag-level labels repeated on every instance (a video-level label)."""
    bags, truth, labels = [], [], []
    ni = ai = 0
    for anomalous in rng.permutation([False] * n_normal_bags + [True] * n_anomalous_bags):
        bag, t = normal[ni:ni + BAG].copy(), np.zeros(BAG, dtype=np.int64)
        ni += BAG
        if anomalous:
            k = int(rng.integers(1, 3))
            start = int(rng.integers(0, BAG - k + 1))
            bag[start:start + k] = anomalies[ai:ai + k]
            t[start:start + k] = 1
            ai += k
        bags.append(bag)
        truth.append(t)
        labels.append(np.full(BAG, int(anomalous)))
    return np.concatenate(bags), np.concatenate(truth), np.concatenate(labels)


def split_bags(X, truth, labels, n_train_bags):
    cut = n_train_bags * BAG
    return (X[:cut], truth[:cut], labels[:cut]), (X[cut:], truth[cut:])


@pytest.fixture(scope="module")
def window_bags():
    """80 bags of 8 windows (20 anomalous): 40 bags to train on, 40 held out."""
    X, y = make_planted_windows(n_normal=640, n_anomalies=40, window=16, n_features=1,
                                random_state=0)
    return split_bags(*in_bags(X[y == 0], X[y == 1], 60, 20, np.random.default_rng(0)), 40)


@pytest.fixture(scope="module")
def row_bags():
    """80 bags of 8 rows (20 anomalous); the anomalies are one recurring pattern (a tight
    cluster off the normal clusters), as events of one kind in segment features."""
    rng = np.random.default_rng(0)
    normal, _ = make_planted_rows(n_normal=640, n_anomalies=0, n_features=8, random_state=0)
    anomalies = np.clip(rng.normal(0.95, 0.03, size=(40, 8)), 0.0, 1.0)
    return split_bags(*in_bags(normal, anomalies, 60, 20, rng), 40)


@pytest.fixture(scope="module")
def rows_fitted(row_bags):
    (X, _, labels), _ = row_bags
    return MILRanking(bag_size=BAG, **ROWS, random_state=0).fit(X, labels)


# ---------------------------------------------------------------------------- loss by hand
def test_loss_by_hand():
    anomalous = torch.tensor([[0.2, 0.9, 0.1]])
    normal = torch.tensor([[0.3, 0.4, 0.1], [0.8, 0.0, 0.0]])
    loss = mil_ranking_loss(anomalous, normal, smoothness=0.1, sparsity=0.01)
    # hinge: mean(1 − 0.9 + 0.4, 1 − 0.9 + 0.8) = 0.7; smoothness 0.7² + 0.8² = 1.13; sum 1.2
    torch.testing.assert_close(loss, torch.tensor([0.7 + 0.1 * 1.13 + 0.01 * 1.2]))
    # the paper's defaults: the λ terms are small next to the ranking term
    torch.testing.assert_close(mil_ranking_loss(anomalous, normal),
                               torch.tensor([0.7 + 8e-5 * (1.13 + 1.2)]))


def test_loss_masks_padding_and_needs_no_normal_bag():
    anomalous = torch.tensor([[0.2, 0.9, 0.95]])
    mask = torch.tensor([[True, True, False]])  # a shorter last bag: 0.95 is padding
    normal = torch.tensor([[0.5, 0.1, 0.0]])
    loss = mil_ranking_loss(anomalous, normal, anomalous_mask=mask, smoothness=1.0,
                            sparsity=1.0)
    torch.testing.assert_close(loss, torch.tensor([(1 - 0.9 + 0.5) + 0.49 + 1.1]))
    alone = mil_ranking_loss(anomalous, normal[:0], anomalous_mask=mask, smoothness=1.0,
                             sparsity=1.0)
    torch.testing.assert_close(alone, torch.tensor([0.49 + 1.1]))


def test_hinge_ranks_the_top_instances():
    # once the top anomalous instance beats every normal one by the margin, only the λ terms
    # remain; every other instance of the bags is irrelevant to the hinge
    anomalous = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    normal = torch.tensor([[0.0, 0.0, 0.0]])
    loss = mil_ranking_loss(anomalous, normal, smoothness=0.0, sparsity=0.0)
    torch.testing.assert_close(loss, torch.zeros(2))


# ---------------------------------------------------------------------------- bags
def test_bags_are_runs_of_consecutive_instances(row_bags):
    (X, _, labels), _ = row_bags
    det = MILRanking(bag_size=BAG)
    det.on_train_start(torch.from_numpy(X.astype(np.float32)), torch.from_numpy(labels))
    assert det._members.shape == (len(X) // BAG, BAG)
    np.testing.assert_array_equal(det._members[1].numpy(), np.arange(BAG, 2 * BAG))
    np.testing.assert_array_equal(det._bag_label.numpy(), labels[::BAG].astype(bool))


def test_short_last_bag_is_masked(planted_rows):
    X, y = planted_rows  # 525 rows: 65 bags of 8 and a last bag of 5
    det = MILRanking(bag_size=8)
    det.on_train_start(torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y))
    assert det._members.shape == (66, 8)
    assert det._member_mask[-1].tolist() == [True] * 5 + [False] * 3
    assert int(det._members.max()) == len(X) - 1


def test_every_bag_anomalous_is_refused(planted_rows):
    X, y = planted_rows
    with pytest.raises(ValueError, match="needs normal bags"):
        MILRanking(bag_size=len(X), epochs=1).fit(X, y)


def test_fitted_state_keeps_no_training_data(rows_fitted):
    assert not any(hasattr(rows_fitted, name) for name in ("_X", "_members", "_bag_label"))


# ---------------------------------------------------------------------------- planted
def test_windows_in_bags(window_bags):
    (X, truth, labels), (X_test, truth_test) = window_bags
    det = MILRanking(bag_size=BAG, **WINDOWS, random_state=0).fit(X, labels)
    assert np.isfinite(det.decision_scores_).all()
    # the anomalous windows are found inside their bags, and in bags never seen
    assert roc_auc_score(truth, det.decision_scores_) >= 0.9
    assert roc_auc_score(truth_test, det.decision_function(X_test)) >= 0.9


def test_rows_in_bags(rows_fitted, row_bags):
    (_, truth, _), (X_test, truth_test) = row_bags
    assert np.isfinite(rows_fitted.decision_scores_).all()
    assert roc_auc_score(truth, rows_fitted.decision_scores_) >= 0.9
    assert roc_auc_score(truth_test, rows_fitted.decision_function(X_test)) >= 0.9


def test_score_is_the_logit_of_f(rows_fitted, row_bags):
    (X, _, _), _ = row_bags
    with torch.no_grad():
        f = torch.sigmoid(rows_fitted.model_(torch.from_numpy(X[:20].astype(np.float32))))
    np.testing.assert_allclose(torch.sigmoid(torch.from_numpy(
        rows_fitted.decision_function(X[:20]))).numpy(), f.double().numpy(), rtol=1e-5)


# ---------------------------------------------------------------------------- λ terms
def _anomalous_bag_scores(det, X, labels):
    f = 1.0 / (1.0 + np.exp(-det.decision_function(X)))
    return f.reshape(-1, BAG)[labels[::BAG] == 1]


def test_smoothness_and_sparsity_change_training(rows_fitted, row_bags):
    (X, _, labels), _ = row_bags
    base = _anomalous_bag_scores(rows_fitted, X, labels)
    smooth = MILRanking(bag_size=BAG, **ROWS, smoothness=0.5, random_state=0).fit(X, labels)
    sparse = MILRanking(bag_size=BAG, **ROWS, sparsity=0.2, random_state=0).fit(X, labels)
    jumps = [float((np.diff(f, axis=1) ** 2).sum(axis=1).mean())
             for f in (base, _anomalous_bag_scores(smooth, X, labels))]
    mass = [float(f.sum(axis=1).mean())
            for f in (base, _anomalous_bag_scores(sparse, X, labels))]
    # a heavier smoothness term gives flatter scores along anomalous bags, a heavier sparsity
    # term less total score in them
    assert jumps[1] < 0.8 * jumps[0]
    assert mass[1] < 0.8 * mass[0]
    assert not np.allclose(smooth.decision_scores_, rows_fitted.decision_scores_)


def test_validation_loss_ranks_held_out_bags(row_bags):
    (X, _, labels), _ = row_bags
    det = MILRanking(bag_size=BAG, hidden_dims=(8,), epochs=2, n_batches=2,
                     validation_size=0.2, random_state=0).fit(X, labels)
    assert all(np.isfinite(record["val_loss"]) for record in det.history_)
