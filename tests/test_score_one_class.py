"""What is specific to the end-to-end one-class detectors (ALOCC, OCAN): their losses on
hand-checkable cases, the kernel density estimate and its threshold, the reconstructor's
update ratio, OCAN's representations and frozen encoder, planted anomalies ranked on top on
rows and windows and finite losses on real data. The conformance suite covers both classes
through the registry."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad.data.adbench import adbench_split, load_adbench
from deepad.detectors import ALOCC, OCAN
from deepad.detectors.score_learning.one_class import (
    alocc_reconstructor_loss,
    binary_entropy,
    feature_matching,
    kde_log_density,
    low_density_penalty,
    ocan_discriminator_loss,
    pull_away_term,
)
from deepad.nets import GRUDecoder, StepConv

LOG2 = math.log(2.0)


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


# ---------------------------------------------------------------------------- losses by hand
def test_alocc_reconstructor_loss_by_hand():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    x_rec = torch.tensor([[0.0, 4.0], [0.0, 0.0]])  # squared errors 1 + 4, 0
    logit = torch.tensor([0.0, 2.0])  # −log D(R(x̃)) = softplus(−logit)
    loss = alocc_reconstructor_loss(logit, x, x_rec, rec_weight=0.4)
    torch.testing.assert_close(loss, torch.tensor([LOG2 + 0.4 * 5.0, softplus(-2.0)]))
    # windows: the squared norm runs over time steps and features
    windows = alocc_reconstructor_loss(logit[:1], x.reshape(1, 2, 2), x_rec.reshape(1, 2, 2))
    torch.testing.assert_close(windows, torch.tensor([LOG2 + 0.4 * 5.0]))


def test_binary_entropy_and_ocan_discriminator_loss_by_hand():
    logits = torch.tensor([0.0, 3.0, -3.0, 200.0])
    p = 1 / (1 + math.exp(-3.0))
    h3 = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    torch.testing.assert_close(binary_entropy(logits), torch.tensor([LOG2, h3, h3, 0.0]))
    real, fake = torch.tensor([0.0, 3.0]), torch.tensor([0.0, -1.0])
    # −log D(x) − log(1 − D(x̃)) + w · H(D(x))
    expected = torch.tensor([2 * LOG2 + 1.85 * LOG2, softplus(-3.0) + softplus(-1.0) + 1.85 * h3])
    torch.testing.assert_close(ocan_discriminator_loss(real, fake), expected)
    torch.testing.assert_close(ocan_discriminator_loss(real, fake, entropy_weight=0.0),
                               expected - 1.85 * torch.tensor([LOG2, h3]))


def test_pull_away_term_by_hand():
    orthogonal = torch.eye(3)
    assert float(pull_away_term(orthogonal)) == pytest.approx(0.0)
    same = torch.tensor([[1.0, 2.0], [2.0, 4.0]])  # parallel: cosine 1
    assert float(pull_away_term(same)) == pytest.approx(1.0)
    # cosines (1,0)·(1,1)/√2 = 1/√2 → ½; (1,0)·(0,1) = 0; (1,1)·(0,1)/√2 → ½; mean over the
    # 6 ordered pairs = (½ + 0 + ½) · 2 / 6
    mixed = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert float(pull_away_term(mixed)) == pytest.approx(1 / 3)
    # a zero feature vector counts as orthogonal, one sample gives 0, both with gradients
    zero = torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    value = pull_away_term(zero)
    value.backward()
    assert float(value.detach()) == 0.0 and torch.isfinite(zero.grad).all()
    assert float(pull_away_term(torch.ones(1, 4))) == 0.0


def test_feature_matching_and_low_density_penalty_by_hand():
    real = torch.tensor([[1.0, 0.0], [3.0, 2.0]])  # mean (2, 1)
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    assert float(feature_matching(real, fake)) == pytest.approx(5.0)
    log_p = torch.tensor([-3.0, -1.0, 2.0])
    torch.testing.assert_close(low_density_penalty(log_p, -1.5), torch.tensor([0.0, 0.5, 3.5]))


def test_kde_log_density_by_hand():
    reference = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    h = 0.5

    def log_normal(sq):  # log N(·; r, h² I) in 2-D at squared distance sq
        return -sq / (2 * h**2) - math.log(2 * math.pi * h**2)

    expected = [math.log((math.exp(log_normal(0.0)) + math.exp(log_normal(4.0))) / 2),
                math.log(math.exp(log_normal(2.0)))]
    torch.testing.assert_close(kde_log_density(x, reference, h),
                               torch.tensor(expected), rtol=1e-5, atol=1e-5)
    # leave-one-out: each reference row sees only the other one
    loo = kde_log_density(reference, reference, h, leave_one_out=True)
    torch.testing.assert_close(loo, torch.full((2,), log_normal(4.0)), rtol=1e-5, atol=1e-5)
    # differentiable at distance 0 (cdist is not)
    point = reference[:1].clone().requires_grad_(True)
    kde_log_density(point, reference, h).sum().backward()
    assert torch.isfinite(point.grad).all()


# ---------------------------------------------------------------------------- fitted models
@pytest.fixture(scope="module")
def alocc(planted_rows):
    return ALOCC(random_state=0).fit(planted_rows[0])


@pytest.fixture(scope="module")
def ocan(planted_rows):
    return OCAN(random_state=0).fit(planted_rows[0])


def test_planted_rows_rank_on_top(alocc, ocan, planted_rows):
    y = planted_rows[1]
    for detector in (alocc, ocan):
        auc = roc_auc_score(y, detector.decision_scores_)
        assert auc >= 0.9, f"{detector.name}: planted-row AUC {auc:.3f}"


def test_scores_are_one_minus_the_discriminator(alocc, ocan, planted_rows):
    x = torch.from_numpy(planted_rows[0][:20].astype(np.float32))
    with torch.no_grad():
        logit = alocc.model_.discriminator(alocc.model_.reconstruct(x))[0]
        np.testing.assert_allclose(alocc.decision_function(x.numpy()),
                                   1 - torch.sigmoid(logit.double()).numpy(), rtol=1e-9)
        logit = ocan.model_.discriminator(ocan.model_.represent(x))[0]
        np.testing.assert_allclose(ocan.decision_function(x.numpy()),
                                   1 - torch.sigmoid(logit.double()).numpy(), rtol=1e-9)
    for detector in (alocc, ocan):
        assert ((detector.decision_scores_ >= 0) & (detector.decision_scores_ <= 1)).all()


def test_two_optimisers_and_the_update_ratio():
    X = np.random.default_rng(0).random((64, 3))
    detector = ALOCC(hidden_dims=(8,), latent_dim=4, disc_hidden_dims=(8,), batch_size=32,
                     epochs=2, n_batches=3, r_steps=3, beta1=0.3, random_state=0).fit(X)
    opt_d, opt_r = detector.configure_optimizers()
    discriminator, reconstructor = detector.model_.players()
    ids = [{id(p) for group in opt.param_groups for p in group["params"]}
           for opt in (opt_d, opt_r)]
    assert ids[0] == {id(p) for p in discriminator.parameters()}
    assert ids[1] == {id(p) for p in reconstructor.parameters()}
    assert ids[0] | ids[1] == {id(p) for p in detector.model_.parameters()}
    assert opt_d.param_groups[0]["betas"] == (0.3, 0.999)
    # the optimisers of the fit are gone; count steps on a fresh one-epoch run instead
    steps = {}
    original = torch.optim.Adam.step

    def counting(self, *args, **kwargs):
        steps[id(self)] = steps.get(id(self), 0) + 1
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = counting
    try:
        ALOCC(**{**detector.get_params(), "epochs": 1}).fit(X)
    finally:
        torch.optim.Adam.step = original
    assert sorted(steps.values()) == [3, 9]  # 3 batches: D once, R three times each


def test_alocc_reconstructor_kinds(planted_rows, planted_windows):
    """"auto": an MLP through a code vector on rows, per-step convolutions on windows;
    "vector" keeps the backbone encoder / decoder on windows; "steps" needs windows."""
    small = {"hidden_dims": (8,), "latent_dim": 4, "disc_hidden_dims": (8,), "epochs": 1,
             "n_batches": 1, "random_state": 0}
    windows = planted_windows[0][:64]
    steps = ALOCC(**small).fit(windows).model_
    assert isinstance(steps.encoder, StepConv) and isinstance(steps.decoder, StepConv)
    x = torch.as_tensor(windows[:3], dtype=torch.float32)
    assert steps.encoder(x).shape == (3, windows.shape[1], 4)  # a code per step
    vector = ALOCC(**small, reconstructor="vector").fit(windows).model_
    assert isinstance(vector.decoder, GRUDecoder)
    rows = ALOCC(**small).fit(planted_rows[0][:64]).model_
    assert not isinstance(rows.encoder, StepConv)
    with pytest.raises(ValueError, match="needs sequence windows"):
        ALOCC(**small, reconstructor="steps").fit(planted_rows[0][:64])


def test_alocc_saved_before_the_reconstructor_option_loads(planted_windows, tmp_path):
    """A configuration without ``reconstructor`` (saved before it existed) rebuilds the code-
    vector reconstructor those models had (``params_added``), with identical scores."""
    X = planted_windows[0][:64]
    detector = ALOCC(hidden_dims=(8,), latent_dim=4, disc_hidden_dims=(8,), epochs=1,
                     n_batches=2, reconstructor="vector", random_state=0).fit(X)
    path = detector.save(tmp_path / "alocc")
    config = json.loads((path / "config.json").read_text())
    del config["params"]["reconstructor"]
    (path / "config.json").write_text(json.dumps(config))
    loaded = deepad.load(path)
    assert loaded.reconstructor == "vector"
    np.testing.assert_array_equal(loaded.decision_function(X), detector.decision_function(X))


def test_alocc_noise_comes_from_the_fit_generator(planted_rows):
    X = planted_rows[0][:200]
    params = {"hidden_dims": (8,), "latent_dim": 4, "disc_hidden_dims": (8,), "epochs": 2}
    quiet = ALOCC(**params, noise_std=0.0, random_state=0).fit(X)
    noisy = ALOCC(**params, random_state=0).fit(X)
    again = ALOCC(**params, random_state=0).fit(X)
    np.testing.assert_array_equal(noisy.decision_scores_, again.decision_scores_)
    assert not np.array_equal(quiet.decision_scores_, noisy.decision_scores_)


def test_ocan_density_threshold_and_generated_samples(ocan, planted_rows):
    net = ocan.model_
    with torch.no_grad():
        z = torch.rand(500, ocan.noise_dim, generator=torch.Generator().manual_seed(0)) * 2 - 1
        fake = net.generate(z)
        codes = net.represent(torch.from_numpy(planted_rows[0].astype(np.float32)))
        data_density = kde_log_density(codes, codes, ocan.bandwidth_, leave_one_out=True)
        fake_density = kde_log_density(fake, codes, ocan.bandwidth_)
    # rows: the representation is the min-max scaled rows themselves
    assert codes.min() == 0 and codes.max() == 1 and codes.shape == planted_rows[0].shape
    # ε is the density_quantile-quantile of the training data's leave-one-out density
    below = float((data_density <= ocan.log_density_threshold_).float().mean())
    assert below == pytest.approx(ocan.density_quantile, abs=0.01)
    # generated samples live in (−½, 3/2)^k, and in the low-density regions
    assert fake.min() > -0.5 and fake.max() < 1.5
    assert float((fake_density <= ocan.log_density_threshold_).float().mean()) >= 0.8


def test_ocan_representations(planted_windows):
    X = planted_windows[0][:120]
    small = {"hidden_dims": (8,), "latent_dim": 3, "noise_dim": 4, "gen_hidden_dims": (8,),
             "disc_hidden_dims": (8,), "epochs": 2, "pretrain_epochs": 3, "random_state": 0}
    with pytest.raises(ValueError, match=r"representation='input'\) takes rows"):
        OCAN(**small, representation="input").fit(X)
    detector = OCAN(**small).fit(X)  # "auto": an autoencoder's code for windows
    assert len(detector.pretrain_history_) == 3
    assert detector.model_.shift.shape == (3,)
    # the encoder is trained by the autoencoder phase only: the GAN leaves it as it was
    frozen = OCAN(**{**small, "epochs": 6}).fit(X)
    for (name, a), b in zip(detector.model_.encoder.state_dict().items(),
                            frozen.model_.encoder.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    rows = np.random.default_rng(0).random((80, 4))
    direct = OCAN(**small).fit(rows)  # "auto": the rows themselves
    assert isinstance(direct.model_.encoder, torch.nn.Identity)
    assert direct.pretrain_history_ == []
    coded = OCAN(**small, representation="autoencoder").fit(rows)
    assert coded.model_.shift.shape == (3,) and len(coded.pretrain_history_) == 3


def test_ocan_state_survives_save_and_load(ocan, planted_rows, tmp_path):
    loaded = deepad.load(ocan.save(tmp_path / "ocan"), device="cpu")
    assert loaded.bandwidth_ == ocan.bandwidth_
    assert loaded.log_density_threshold_ == ocan.log_density_threshold_
    torch.testing.assert_close(loaded.model_.scale, ocan.model_.scale)
    X = planted_rows[0][:40]
    np.testing.assert_array_equal(loaded.decision_function(X), ocan.decision_function(X))


# ---------------------------------------------------------------------------- windows
# ALOCC: per-step reconstructor (the default on windows), small networks, 300 iterations
WINDOWS = {
    ALOCC: ({"hidden_dims": (16,), "disc_hidden_dims": (16,), "latent_dim": 8,
             "batch_size": 64, "lr": 2e-3, "epochs": 30}, 0.9),
    OCAN: ({}, 0.9),  # the defaults: autoencoder 16 wide, codes of 8, 300 iterations
}


@pytest.mark.slow
@pytest.mark.parametrize("cls", [ALOCC, OCAN], ids=["ALOCC", "OCAN"])
def test_planted_windows_rank_on_top(cls, planted_windows):
    X, y = planted_windows
    params, floor = WINDOWS[cls]
    detector = cls(**params, random_state=0).fit(X)
    auc = roc_auc_score(y, detector.decision_scores_)
    assert auc >= floor, f"{cls.name}: planted-window AUC {auc:.3f}"
    assert all(math.isfinite(v) for record in detector.history_ for v in record.values())


@pytest.mark.heavy
def test_alocc_defaults_rank_planted_windows(planted_windows):
    """The defaults on windows (widths 64, per-step codes of 16, σ 0.3): about a minute."""
    X, y = planted_windows
    detector = ALOCC(random_state=0).fit(X)
    assert roc_auc_score(y, detector.decision_scores_) >= 0.9


# ---------------------------------------------------------------------------- real data
@pytest.mark.parametrize("name", ["6_cardio", "38_thyroid", "29_Pima"])
@pytest.mark.parametrize("cls", [ALOCC, OCAN], ids=["ALOCC", "OCAN"])
def test_finite_losses_on_real_data(cls, name, shared_datasets):
    split = adbench_split(*load_adbench(shared_datasets / "adbench" / "classical" / f"{name}.npz"),
                          0)
    detector = cls(epochs=5, random_state=0).fit(split.X_train)  # defaults, 50 iterations
    assert len(detector.history_) == 5
    assert all(math.isfinite(v) for record in detector.history_ for v in record.values())
    assert np.isfinite(detector.decision_function(split.X_test)).all()
