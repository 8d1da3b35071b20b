"""What is specific to IRLAD (IRL-ADU): the sample-based maximum-entropy IRL loss by hand, the
background trajectories (one contiguous perturbed segment), transitions as stretches of
``state_steps + 1`` steps, the bootstrap heads' standardisation and the uncertainty term of
the score; the learned reward prefers demonstrations to perturbed trajectories; planted
anomalies ranked on top, as windows and as a series through SeriesDetector. The
conformance suite covers the class through the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepad.data.synthetic import make_planted_series
from deepad.detectors import IRLAD
from deepad.detectors.score_learning.irlad import maxent_irl_loss, perturb_trajectories
from deepad.series import SeriesDetector

MIN_AUC = 0.9
FAST = {"hidden_dims": (32, 32), "n_heads": 5, "epochs": 8, "batch_size": 64}


# ---------------------------------------------------------------------------- objective
def test_maxent_irl_loss_by_hand():
    demos = torch.tensor([1.0, 3.0])
    samples = torch.tensor([0.0, -2.0, 2.0])
    expected = -2.0 + math.log((math.e + math.e**3 + 1 + math.e**-2 + math.e**2) / 5)
    assert float(maxent_irl_loss(demos, samples)) == pytest.approx(expected, rel=1e-6)
    # shifting every return by a constant changes nothing (Z absorbs it)
    assert float(maxent_irl_loss(demos + 7.0, samples + 7.0)) == pytest.approx(expected,
                                                                             rel=1e-5)
    # the gradient: −1/M for each demonstration plus its softmax weight; samples get their
    # softmax weight (self-normalised importance weights w_j ∝ exp R_j)
    d, s = demos.clone().requires_grad_(), samples.clone().requires_grad_()
    maxent_irl_loss(d, s).backward()
    weights = torch.softmax(torch.cat([demos, samples]), dim=0)
    torch.testing.assert_close(d.grad, -0.5 + weights[:2])
    torch.testing.assert_close(s.grad, weights[2:])
    # pushing the samples' returns down lowers the loss
    assert maxent_irl_loss(demos, samples - 10.0) < maxent_irl_loss(demos, samples)


def test_perturbations_alter_one_contiguous_segment():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 32, 3)
    out = perturb_trajectories(x, torch.ones(3), generator)
    assert out.shape == x.shape
    changed = (out != x).any(dim=2)  # (400, 32): steps altered on some channel
    assert changed.any(dim=1).float().mean() > 0.95  # (a shuffle may keep a segment as is)
    for row in changed[changed.any(dim=1)]:
        steps = torch.nonzero(row).flatten()
        assert int(steps[-1] - steps[0]) + 1 <= 16  # within one segment of at most 1/2
    # the same generator state gives the same background trajectories
    again = perturb_trajectories(x, torch.ones(3), torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, out)


def test_shuffled_segment_keeps_its_values():
    # with one channel every perturbation touches it; a shuffle keeps the multiset of values
    generator = torch.Generator().manual_seed(3)
    x = torch.arange(32.0).view(1, 32, 1).repeat(200, 1, 1)
    out = perturb_trajectories(x, torch.ones(1), generator)
    sorted_rows = out.sort(dim=1).values
    same_values = (sorted_rows == x).all(dim=2).all(dim=1)
    assert same_values.sum() > 20  # about a quarter of the draws are shuffles


# ---------------------------------------------------------------------------- detector
@pytest.fixture(scope="module")
def irlad(planted_windows):
    X, _ = planted_windows
    return IRLAD(**FAST, random_state=0).fit(X)


def test_planted_windows_rank_high(irlad, planted_windows):
    _, y = planted_windows
    assert roc_auc_score(y, irlad.decision_scores_) >= MIN_AUC


def test_rewards_are_per_transition_and_head(irlad, planted_windows):
    X, _ = planted_windows
    with torch.no_grad():
        rewards = irlad.model_(torch.from_numpy(X[:3].astype(np.float32)))
    assert rewards.shape == (3, 32 - 4, 5)  # window − state_steps transitions, K heads


def test_learned_reward_prefers_demonstrations(irlad, planted_windows):
    X, y = planted_windows
    normal = torch.from_numpy(X[y == 0][:200].astype(np.float32))
    background = perturb_trajectories(normal, irlad.model_.scale,
                                      torch.Generator().manual_seed(1))
    with torch.no_grad():
        demo_reward = irlad.model_(normal).mean(dim=(1, 2))
        background_reward = irlad.model_(background).mean(dim=(1, 2))
    assert float(demo_reward.mean()) > float(background_reward.mean())
    losses = [record["loss"] for record in irlad.history_]
    assert losses[-1] < losses[0]


def test_heads_are_standardised_on_the_training_windows(irlad, planted_windows):
    X, _ = planted_windows
    with torch.no_grad():
        per_step = irlad.model_(torch.from_numpy(X.astype(np.float32))).mean(dim=1)
    torch.testing.assert_close(irlad.model_.head_mean, per_step.mean(dim=0), rtol=1e-4,
                               atol=1e-5)
    # the score is −mean_k z_k: zero on average over the training windows
    assert abs(irlad.decision_scores_.mean()) < 1e-4
    # the heads differ (bootstrap): not one reward repeated K times
    assert per_step.std(dim=1).mean() > 0


def test_uncertainty_weight_adds_the_heads_disagreement(irlad, planted_windows):
    X, _ = planted_windows
    model = irlad.model_
    with torch.no_grad():
        per_step = model(torch.from_numpy(X[:10].astype(np.float32))).mean(dim=1)
    z = ((per_step - model.head_mean) / model.head_std).double()
    base = irlad.decision_function(X[:10])
    np.testing.assert_allclose(base, (-z.mean(dim=1)).numpy(), rtol=1e-4, atol=1e-6)
    irlad.uncertainty_weight = 2.0  # a scoring-time knob: the fitted reward is the same
    try:
        penalised = irlad.decision_function(X[:10])
    finally:
        irlad.uncertainty_weight = 0.0
    np.testing.assert_allclose(penalised - base, 2.0 * z.std(dim=1, correction=0).numpy(),
                               rtol=1e-4, atol=1e-6)


def test_sequence_backbone_reads_transitions_as_windows(planted_windows):
    X, _ = planted_windows
    det = IRLAD(hidden_dims=(8,), n_heads=2, backbone="gru", epochs=1, random_state=0)
    det.fit(X[:60])
    assert type(det.model_.trunk).__name__ == "GRUEncoder"
    assert np.isfinite(det.decision_scores_).all()


def test_refuses_windows_too_short(planted_windows):
    X, _ = planted_windows
    with pytest.raises(ValueError, match="state_steps \\+ 2 = 6 steps"):
        IRLAD(epochs=1).fit(X[:20, :5])


def test_planted_series_through_windows():
    series, y, train_end = make_planted_series(2000, n_features=2, n_anomalies=4,
                                               random_state=0)
    wrapped = SeriesDetector(IRLAD(**FAST, random_state=0), window=24, stride=2)
    scores = wrapped.fit(series[:train_end]).decision_function(series)
    assert np.isfinite(scores).all()
    assert roc_auc_score(y[train_end:], scores[train_end:]) >= MIN_AUC


def test_scores_do_not_depend_on_the_input_units(planted_windows):
    X, _ = planted_windows
    params = {**FAST, "epochs": 2, "random_state": 0}
    det = IRLAD(**params).fit(X[:150])
    rescaled = IRLAD(**params).fit(5.0 * X[:150] - 2.0)
    np.testing.assert_allclose(rescaled.decision_function(5.0 * X[150:170] - 2.0),
                               det.decision_function(X[150:170]), rtol=1e-3, atol=1e-4)
    raw = IRLAD(**params, input_scaling="none").fit(X[:150])
    assert torch.equal(raw.model_.scaler.std, torch.ones(X.shape[2]))
