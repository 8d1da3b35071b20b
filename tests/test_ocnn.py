"""OC-NN (Chalapathy, Menon & Chawla 2018): the objective and the network by hand, the
alternating r-step (ν-quantile after every epoch, kept through save / load), the frozen
pre-trained encoder, and the ranking of planted anomalies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from torch import nn

import deepad
from deepad.detectors import OCNN
from deepad.detectors.measure_normality.ocnn import OCNNNet, ocnn_objective, quantile


# ---------------------------------------------------------------------------- by hand
def test_objective_matches_eq_4_by_hand():
    w = torch.tensor([[1.0, -1.0]])  # ||w||² = 2
    V = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])  # ||V||_F² = 5
    outputs = torch.tensor([0.5, 2.0, -1.0])
    per_sample = ocnn_objective(outputs, w, V, torch.tensor(1.0), nu=0.5)
    # 1/2·2 + 1/2·5 − r = 2.5, plus max(0, r − ŷ) / ν = 1, 0, 4
    torch.testing.assert_close(per_sample, torch.tensor([3.5, 2.5, 6.5]))
    # the batch mean is Eq. 4: 3.5 + 1/ν · mean(0.5, 0, 2) − 1
    assert float(per_sample.mean()) == pytest.approx(3.5 + 2.0 * 2.5 / 3 - 1.0)


@pytest.mark.parametrize(("activation", "g"), [("linear", lambda a: a),
                                               ("sigmoid", torch.sigmoid)])
def test_network_output_is_w_g_of_V_x(activation, g):
    encoder = nn.Identity()
    encoder.out_dim = 3
    net = OCNNNet(encoder, hidden_units=2, hidden_activation=activation)
    with torch.no_grad():
        net.V.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]]))
        net.w.weight.copy_(torch.tensor([[2.0, -1.0]]))
    x = torch.tensor([[1.0, 0.5, 2.0], [-1.0, 0.0, 3.0]])
    hidden = x @ net.V.weight.T
    expected = g(hidden) @ torch.tensor([2.0, -1.0])
    torch.testing.assert_close(net(x), expected)
    assert net.V.bias is None and net.w.bias is None  # ⟨w, g(Vx)⟩ has no bias terms


def test_cosine_network_output_is_w_cos_of_V_x_plus_phase_over_sqrt_h():
    encoder = nn.Identity()
    encoder.out_dim = 3
    net = OCNNNet(encoder, hidden_units=2, hidden_activation="cos")
    with torch.no_grad():
        net.V.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]]))
        net.V.bias.copy_(torch.tensor([0.3, 2.0]))  # the phase b
        net.w.weight.copy_(torch.tensor([[2.0, -1.0]]))
    x = torch.tensor([[1.0, 0.5, 2.0], [-1.0, 0.0, 3.0]])
    hidden = x @ net.V.weight.T + torch.tensor([0.3, 2.0])
    expected = torch.cos(hidden) @ torch.tensor([2.0, -1.0]) / np.sqrt(2)
    torch.testing.assert_close(net(x), expected)
    assert net.w.bias is None


def test_fourier_features_start_from_the_bandwidth_of_the_codes(planted_rows, tmp_path):
    X, _ = planted_rows  # 525 rows < MEDIAN_ROWS: the median is over every pair of codes
    params = {**OCNN.test_params, "hidden_units": 2000, "bandwidth": 0.5, "epochs": 1}
    det = OCNN(**params, lr=1e-12, random_state=0).fit(X)  # lr ~ 0: V stays as initialised
    with torch.no_grad():
        codes = det.model_.encoder(torch.from_numpy(X.astype(np.float32)))
    median = float(torch.pdist(codes).median())
    assert det.bandwidth_ == pytest.approx(0.5 * median, rel=1e-5)
    V, phase = det.model_.V.weight.detach(), det.model_.V.bias.detach()
    # V ~ N(0, σ⁻²): standardised by σ its entries are standard normal
    assert float((V * det.bandwidth_).std()) == pytest.approx(1.0, abs=0.05)
    assert abs(float(V.mean() * det.bandwidth_)) < 0.05
    assert 0.0 <= float(phase.min()) and float(phase.max()) < 2 * np.pi
    assert float(phase.std()) == pytest.approx(2 * np.pi / np.sqrt(12), rel=0.1)  # uniform
    loaded = deepad.load(det.save(tmp_path / "ocnn"), device="cpu")
    assert loaded.bandwidth_ == det.bandwidth_
    # other activations have no Fourier features and no bandwidth_
    sigmoid = OCNN(**{**params, "hidden_activation": "sigmoid"}, random_state=0).fit(X)
    assert not hasattr(sigmoid, "bandwidth_") and sigmoid.model_.V.bias is None


def test_quantile_matches_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000):
        values = rng.normal(size=n)
        for q in (0.01, 0.1, 0.5, 1.0):
            expected = np.quantile(values, q)
            assert float(quantile(torch.tensor(values), q)) == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------------------- the r-step
@pytest.fixture(scope="module")
def one_epoch(planted_rows):
    X, _ = planted_rows
    return OCNN(**{**OCNN.test_params, "epochs": 1}, random_state=0).fit(X)


def _outputs(det, X):
    with torch.no_grad():
        return det.model_(torch.from_numpy(X).float()).double().numpy()


def test_r_is_the_nu_quantile_of_the_outputs_after_an_epoch(one_epoch, planted_rows):
    X, _ = planted_rows
    r = float(one_epoch.model_.r)
    assert r == pytest.approx(np.quantile(_outputs(one_epoch, X), one_epoch.nu), abs=1e-6)
    assert one_epoch.history_[0]["r"] == pytest.approx(r)
    # score r − ŷ: about a fraction ν of the training data lies outside (score > 0)
    outside = np.mean(one_epoch.decision_scores_ > 0)
    assert outside == pytest.approx(one_epoch.nu, abs=2 / len(X))
    np.testing.assert_allclose(one_epoch.decision_scores_, r - _outputs(one_epoch, X),
                               rtol=1e-5, atol=1e-6)


def test_r_is_updated_every_epoch(planted_rows):
    X, _ = planted_rows
    det = OCNN(**{**OCNN.test_params, "epochs": 4}, random_state=0).fit(X)
    radii = [record["r"] for record in det.history_]
    assert len(set(radii)) == 4
    assert float(det.model_.r) == pytest.approx(radii[-1])


def test_r_survives_save_and_load(one_epoch, planted_rows, tmp_path):
    X, _ = planted_rows
    loaded = deepad.load(one_epoch.save(tmp_path / "ocnn"), device="cpu")
    assert "r" in dict(loaded.model_.named_buffers())
    assert torch.equal(loaded.model_.r, one_epoch.model_.r.cpu())
    np.testing.assert_array_equal(loaded.decision_function(X), one_epoch.decision_function(X))
    assert loaded.pretrain_history_ == one_epoch.pretrain_history_


# ---------------------------------------------------------------------------- pre-training
def test_pretrained_encoder_is_frozen(planted_rows):
    X, _ = planted_rows
    short = OCNN(**{**OCNN.test_params, "epochs": 1}, random_state=0).fit(X)
    longer = clone(short).set_params(epochs=4).fit(X)
    assert len(short.pretrain_history_) == OCNN.test_params["pretrain_epochs"]
    # the same pre-training, then only V and w move: identical encoders, different heads
    for a, b in zip(short.model_.encoder.parameters(), longer.model_.encoder.parameters(),
                    strict=True):
        assert not a.requires_grad and torch.equal(a, b)
    assert not torch.equal(short.model_.V.weight, longer.model_.V.weight)


def test_without_pretraining_the_encoder_trains_jointly(planted_rows):
    X, _ = planted_rows
    params = {**OCNN.test_params, "pretrain_epochs": 0}
    short = OCNN(**{**params, "epochs": 1}, random_state=0).fit(X)
    longer = OCNN(**{**params, "epochs": 3}, random_state=0).fit(X)
    assert short.pretrain_history_ == []
    first = next(short.model_.encoder.parameters())
    assert first.requires_grad
    assert not torch.equal(first, next(longer.model_.encoder.parameters()))


# ---------------------------------------------------------------------------- planted anomalies
PAPER_SIGMOID = {"hidden_activation": "sigmoid", "hidden_units": 32, "nu": 0.1,
                 "hidden_dims": (64, 32), "rep_dim": 16, "pretrain_epochs": 20}


# windows with the default 2048 hidden units and 50 + 50 epochs take about 10-30 s here
@pytest.mark.parametrize("modality", ["tabular",
                                      pytest.param("sequence", marks=pytest.mark.slow)])
def test_planted_anomalies_rank_on_top(planted, modality):
    X, y = planted[modality]
    det = OCNN(random_state=0).fit(X)
    auc = roc_auc_score(y, det.decision_scores_)
    assert auc >= 0.9, f"OCNN on {modality}: AUC-ROC {auc:.3f}"
    assert np.isfinite(det.decision_scores_).all()


def test_cosine_boundary_encloses_the_data_where_the_sigmoid_is_one_sided():
    # The paper's sigmoid g separates the data from the origin of its hidden space by the
    # sigmoid image of a hyperplane: along a line through the normal cluster it ranks the
    # anomalies of one side on top and misses those of the other side. The cosine features
    # (a Gaussian kernel's) enclose the data, as a kernel one-class SVM (docs/decisions.md).
    rng = np.random.default_rng(0)
    normal = rng.normal(0.6, 0.05, size=(500, 4))
    near = rng.normal(0.1, 0.05, size=(25, 4))  # between the origin and the data
    far = rng.normal(1.1, 0.05, size=(25, 4))  # beyond the data
    X = np.vstack([normal, near, far])
    zeros, ones = np.zeros(500), np.ones(25)

    def aucs(det):
        scores = det.fit(X).decision_scores_
        return (roc_auc_score(np.r_[zeros, ones], np.r_[scores[:500], scores[500:525]]),
                roc_auc_score(np.r_[zeros, ones], np.r_[scores[:500], scores[525:]]))

    auc_near, auc_far = aucs(OCNN(**PAPER_SIGMOID, random_state=0))
    assert max(auc_near, auc_far) >= 0.9 and min(auc_near, auc_far) <= 0.1
    # cosine: both sides rank high (measured 0.95 near, 0.88 far, with the anomalies 9% of
    # the training data; a 5-NN distance on the same codes gives 0.98 / 0.96)
    assert min(aucs(OCNN(random_state=0))) >= 0.8
