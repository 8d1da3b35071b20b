"""What is specific to each foundation method: its loss and score on hand-checkable cases,
the paper's structural requirements, and its real-data floors (issue 2's acceptance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepad import AutoEncoder, DeepSVDD, DevNet
from deepad.data.adbench import adbench_split, load_adbench
from deepad.detectors.generic_normality.autoencoders import reconstruction_error
from deepad.detectors.measure_normality.one_class import squared_distance
from deepad.detectors.score_learning.prior import deviation_loss
from deepad.metrics import auc_roc


# ---------------------------------------------------------------------------- losses by hand
def test_deviation_loss_matches_the_paper_by_hand():
    reference = torch.tensor([-1.0, 1.0])  # mean 0, std (unbiased) sqrt(2)
    scores = torch.tensor([np.sqrt(2.0), -np.sqrt(2.0), np.sqrt(2.0), 10 * np.sqrt(2.0)],
                          dtype=torch.float32)
    y = torch.tensor([0.0, 0.0, 1.0, 1.0])
    loss = deviation_loss(scores, y, reference, margin=5.0)
    # normal: |dev| = 1; anomaly with dev 1: max(0, 5 - 1) = 4; anomaly with dev 10: 0
    torch.testing.assert_close(loss, torch.tensor([1.0, 1.0, 4.0, 0.0]))


def test_squared_distance_and_reconstruction_error_by_hand():
    z = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    c = torch.tensor([1.0, 0.0])
    torch.testing.assert_close(squared_distance(z, c), torch.tensor([4.0, 1.0]))
    x = torch.tensor([[1.0, 1.0], [0.0, 2.0]])
    torch.testing.assert_close(reconstruction_error(x, torch.zeros(2, 2)),
                               torch.tensor([1.0, 2.0]))


# ---------------------------------------------------------------------------- structure
@pytest.mark.parametrize("modality", ["tabular", "sequence"])
def test_deep_svdd_network_has_no_bias_and_a_fixed_centre(planted, modality):
    X, _ = planted[modality]
    det = DeepSVDD(**DeepSVDD.test_params, random_state=0).fit(X)
    names = [name for name, _ in det.model_.named_parameters()]
    assert names and not any("bias" in name for name in names)
    center = det.model_.center
    # every coordinate at least eps away from 0 (Ruff et al.'s release)
    assert bool((center.abs() >= det.eps - 1e-7).all())
    assert "center" not in names  # a buffer, never trained


def test_deep_svdd_centre_is_the_initial_mean(planted):
    X, _ = planted["tabular"]
    det = DeepSVDD(**{**DeepSVDD.test_params, "epochs": 1}, eps=0.0, random_state=0)
    # the centre is computed before the first step from the freshly built network
    captured = {}
    original = DeepSVDD.on_train_start

    def spy(self, X_t, y_t):
        original(self, X_t, y_t)
        with torch.no_grad():
            captured["mean"] = self.model_.encoder(X_t).mean(dim=0).clone()
        captured["center"] = self.model_.center.clone()

    DeepSVDD.on_train_start = spy
    try:
        det.fit(X)
    finally:
        DeepSVDD.on_train_start = original
    torch.testing.assert_close(captured["center"], captured["mean"])
    torch.testing.assert_close(det.model_.center, captured["center"])


def test_devnet_reference_scores_are_a_standard_normal_buffer(planted, fit_labels):
    X, _ = planted["tabular"]
    det = DevNet(**DevNet.test_params, random_state=0).fit(X, fit_labels(DevNet, "tabular"))
    reference = det.model_.reference
    assert reference.shape == (5000,)
    assert abs(float(reference.mean())) < 0.1 and abs(float(reference.std()) - 1.0) < 0.05
    assert "reference" in det.model_.state_dict()


def test_devnet_pushes_labelled_anomalies_past_the_margin(planted, fit_labels):
    X, _ = planted["tabular"]
    y = fit_labels(DevNet, "tabular")
    det = DevNet(random_state=0).fit(X, y)
    reference = det.model_.reference
    dev = (det.decision_scores_ - float(reference.mean())) / float(reference.std())
    # labelled anomalies deviate by sigmas towards the margin, unlabelled rows stay near the
    # prior mean (the L2 penalty keeps the scattered labelled rows short of a = 5 here)
    assert np.median(dev[y == 1]) > 2.0
    assert abs(np.median(dev[y == 0])) < 0.5


def test_devnet_uses_balanced_batches_and_rmsprop():
    assert DevNet.sampling == "balanced" and DevNet.optimizer_name == "rmsprop"
    params = DevNet().get_params()
    assert (params["batch_size"], params["n_batches"], params["epochs"]) == (512, 20, 50)
    assert params["margin"] == 5.0 and params["n_reference"] == 5000


# ---------------------------------------------------------------------------- real data floors
@pytest.fixture(scope="module")
def adbench_splits(shared_datasets):
    folder = shared_datasets / "adbench" / "classical"
    return {name: adbench_split(*load_adbench(folder / f"{name}.npz"), 0, labeled_anomalies=0.1)
            for name in ("6_cardio", "38_thyroid")}


# Issue 2's acceptance floors (seed 0, default hyperparameters, ADBench protocol).
FLOORS = [(AutoEncoder, "6_cardio", 0.75), (AutoEncoder, "38_thyroid", 0.95),
          (DeepSVDD, "6_cardio", 0.70), (DeepSVDD, "38_thyroid", 0.93),
          (DevNet, "6_cardio", 0.95)]


@pytest.mark.slow
@pytest.mark.parametrize(("cls", "dataset", "floor"), FLOORS,
                         ids=[f"{c.name}-{d}" for c, d, _ in FLOORS])
def test_default_detectors_reach_the_adbench_floors(adbench_splits, cls, dataset, floor):
    split = adbench_splits[dataset]
    det = cls(random_state=0)
    if "unsupervised" in cls.supervision:
        det.fit(split.X_train)
    else:
        det.fit(split.X_train, split.y_semi)
    auc = auc_roc(split.y_test, det.decision_function(split.X_test))
    assert auc >= floor, f"{cls.name} on {dataset}: AUC-ROC {auc:.3f} < {floor}"
