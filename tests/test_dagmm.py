"""DAGMM (Zong et al., ICLR 2018): the energy, the mixture, the covariance penalty and the
reconstruction features by hand; the training mixture as saved state; planted anomalies; no
NaN on the quick real datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.metrics import roc_auc_score

import deepad
from deepad.core.trainer import Batch
from deepad.data.adbench import adbench_split, load_adbench
from deepad.detectors import DAGMM
from deepad.detectors.measure_normality.clustering import (
    JITTER,
    covariance_penalty,
    gmm_parameters,
    reconstruction_features,
    sample_energy,
    stable_cholesky,
)

QUICK = ("6_cardio", "38_thyroid", "29_Pima", "18_Ionosphere", "24_mnist", "5_campaign",
         "11_donors", "8_celeba")


# ---------------------------------------------------------------------------- by hand
def test_energy_matches_scipy_on_a_tiny_mixture():
    phi = np.array([0.3, 0.7])
    mu = np.array([[0.0, 1.0], [2.0, -1.0]])
    cov = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.2, -0.05], [-0.05, 0.4]]])
    z = np.array([[0.1, 0.9], [2.0, -1.2], [10.0, 10.0], [1.0, 0.0]])
    density = sum(phi[k] * multivariate_normal(mu[k], cov[k]).pdf(z) for k in range(2))
    expected = -np.log(density)
    energy = sample_energy(*(torch.tensor(a) for a in (z, phi, mu, cov)), jitter=0.0)
    np.testing.assert_allclose(energy.numpy(), expected, rtol=1e-10)
    # the default jitter (1e-6 on the diagonal) moves the energy only slightly
    jittered = sample_energy(*(torch.tensor(a) for a in (z, phi, mu, cov)))
    np.testing.assert_allclose(jittered.numpy(), expected, rtol=1e-4)


def test_far_point_energy_is_finite_by_log_sum_exp():
    # exp(-E) underflows to 0 in float64 here; log-sum-exp keeps the energy exact and finite
    f64 = {"dtype": torch.float64}
    phi, mu = torch.ones(1, **f64), torch.zeros(1, 1, **f64)
    cov = torch.full((1, 1, 1), 1e-2, **f64)
    energy = sample_energy(torch.tensor([[100.0]], **f64), phi, mu, cov, jitter=0.0)
    expected = 0.5 * np.log(2 * np.pi * 1e-2) + 0.5 * 100.0**2 / 1e-2
    assert np.isfinite(float(energy)) and float(energy) == pytest.approx(expected, rel=1e-12)


def test_mixture_parameters_with_hard_memberships_are_cluster_statistics():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(10, 3))
    member = np.array([0, 1, 0, 0, 1, 1, 1, 0, 1, 1])
    gamma = np.eye(2)[member]
    phi, mu, cov = gmm_parameters(torch.tensor(z), torch.tensor(gamma))
    np.testing.assert_allclose(phi.numpy(), [0.4, 0.6])
    for k in range(2):
        rows = z[member == k]
        np.testing.assert_allclose(mu[k].numpy(), rows.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(cov[k].numpy(), np.cov(rows.T, bias=True), rtol=1e-10,
                                   atol=1e-14)


def test_soft_memberships_follow_eq_5():
    z = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    gamma = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], dtype=torch.float64)
    phi, mu, cov = gmm_parameters(z, gamma)
    torch.testing.assert_close(phi, torch.tensor([0.5, 0.5], dtype=torch.float64))
    # component 0: weights 1, 0.5 on z = 0, 1 -> mean 1/3, variance (1/9 + 0.5 * 4/9) / 1.5
    torch.testing.assert_close(mu[:, 0], torch.tensor([1 / 3, 7 / 3], dtype=torch.float64))
    torch.testing.assert_close(cov[0, 0, 0], torch.tensor((1 / 9 + 0.5 * 4 / 9) / 1.5,
                                                          dtype=torch.float64))


def test_covariance_penalty_by_hand():
    cov = torch.tensor([[[2.0, 0.7], [0.7, 4.0]], [[0.5, 0.0], [0.0, 0.25]]])
    # sum over components and dimensions of 1 / diagonal: 1/2 + 1/4 + 2 + 4
    assert float(covariance_penalty(cov)) == pytest.approx(6.75)


def test_reconstruction_features_by_hand():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])
    x_hat = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    features = reconstruction_features(x, x_hat)
    # row 0: ||x - x'|| = 4, ||x|| = 5, cos = 9 / (5 * 3); row 1: sqrt(2) / 1, cos = 0
    # row 2: ||x|| = 0 -> the absolute distance ||x - x'|| = 1 and cosine 0, no NaN / inf
    expected = torch.tensor([[0.8, 0.6], [2.0**0.5, 0.0], [1.0, 0.0]])
    torch.testing.assert_close(features, expected)


def test_reconstruction_features_of_windows_use_the_flattened_window():
    x = torch.tensor([[[3.0], [4.0]]])
    x_hat = torch.tensor([[[3.0], [0.0]]])
    torch.testing.assert_close(reconstruction_features(x, x_hat), torch.tensor([[0.8, 0.6]]))


def test_gradients_stay_finite_for_a_zero_row():
    x = torch.zeros(2, 3)
    x_hat = torch.zeros(2, 3, requires_grad=True)
    reconstruction_features(x, x_hat).sum().backward()
    assert torch.isfinite(x_hat.grad).all()


def test_cholesky_retries_with_a_larger_jitter():
    # eigenvalues 2.0001 and -1e-4: the first jitter (1e-6) cannot make it positive definite
    cov = torch.tensor([[[1.0, 1.0001], [1.0001, 1.0]]], dtype=torch.float64)
    factor, jitter = stable_cholesky(cov)
    assert jitter == pytest.approx(1e-3) and torch.isfinite(factor).all()
    assert stable_cholesky(torch.eye(2, dtype=torch.float64)[None])[1] == JITTER
    singular = torch.zeros(3, 2, 2, dtype=torch.float64)
    energy = sample_energy(torch.zeros(4, 2, dtype=torch.float64), torch.ones(3) / 3,
                           torch.zeros(3, 2, dtype=torch.float64), singular)
    assert torch.isfinite(energy).all()
    with pytest.raises(FloatingPointError, match="not positive definite"):
        stable_cholesky(torch.full((1, 2, 2), float("nan"), dtype=torch.float64))


# ---------------------------------------------------------------------------- the detector
@pytest.fixture(scope="module")
def fitted_rows(planted_rows):
    X, _ = planted_rows
    return DAGMM(**DAGMM.test_params, random_state=0).fit(X)


def test_loss_is_eq_7(fitted_rows, planted_rows):
    det = fitted_rows
    x = torch.from_numpy(planted_rows[0][:64]).float()
    assert not det.model_.training  # no dropout: the forward passes below agree
    with torch.no_grad():
        loss = det.loss(Batch(x, None, torch.arange(64)))
        x_hat, z, gamma = det.model_(x)
        phi, mu, cov = gmm_parameters(z.double(), gamma.double())
        factor, jitter = stable_cholesky(cov)
        energy = sample_energy(z.double(), phi, mu, cov, jitter)
        penalty = covariance_penalty(cov + jitter * torch.eye(cov.shape[-1]))
        expected = ((x - x_hat).pow(2).sum(dim=1) + det.lambda_energy * energy
                    + det.lambda_cov * penalty)
    torch.testing.assert_close(loss, expected.to(loss.dtype))


def test_score_is_the_energy_under_the_training_mixture(fitted_rows, planted_rows):
    det = fitted_rows
    X = torch.from_numpy(planted_rows[0]).float()
    with torch.no_grad():
        _, z, gamma = det.model_(X)
        phi, mu, cov = gmm_parameters(z.double(), gamma.double())
    # the saved mixture is Eq. 5 over the whole training set, in evaluation mode
    torch.testing.assert_close(det.model_.phi, phi)
    torch.testing.assert_close(det.model_.mu, mu)
    torch.testing.assert_close(det.model_.cov, cov)
    np.testing.assert_allclose(det.decision_scores_,
                               sample_energy(z.double(), phi, mu, cov).numpy(), rtol=1e-9)


def test_mixture_survives_save_and_load(fitted_rows, tmp_path):
    loaded = deepad.load(fitted_rows.save(tmp_path / "dagmm"), device="cpu")
    for name in ("phi", "mu", "cov"):
        buffer = getattr(loaded.model_, name)
        assert buffer.dtype == torch.float64
        assert torch.equal(buffer, getattr(fitted_rows.model_, name).cpu())


def test_defaults_follow_the_paper_where_stated():
    params = DAGMM().get_params()
    assert (params["lambda_energy"], params["lambda_cov"]) == (0.1, 0.005)
    assert params["n_components"] == 4 and params["estimation_dims"] == (10,)
    assert params["dropout"] == 0.5 and params["activation"] == "tanh"


@pytest.mark.parametrize("modality", ["tabular", "sequence"])
def test_planted_anomalies_rank_on_top(planted, modality):
    X, y = planted[modality]
    params = {"tabular": {"epochs": 50},
              "sequence": {"epochs": 30, "batch_size": 64, "lr": 1e-3, "hidden_dims": (32, 16),
                           "latent_dim": 4}}
    det = DAGMM(**params[modality], random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= 0.9


@pytest.mark.slow
@pytest.mark.needs_shared
def test_no_nan_score_on_the_quick_datasets(shared_datasets):
    folder = shared_datasets / "adbench" / "classical"
    for name in QUICK:
        split = adbench_split(*load_adbench(folder / f"{name}.npz"), 0)
        det = DAGMM(epochs=2, random_state=0).fit(split.X_train)
        scores = det.decision_function(split.X_test)
        assert np.isfinite(scores).all(), name
        assert np.isfinite(det.decision_scores_).all(), name
