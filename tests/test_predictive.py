"""What is specific to the prediction-error detectors (Forecaster = LSTM-AD, LSTMAutoEncoder =
EncDec-AD): the Gaussian error model and its Mahalanobis score, the forecast stretches and
horizon, the reverse, teacher-forced decoder, the held-out split, clear errors for windows
that are too short; planted anomalies ranked on top, as windows and as a series through
SeriesDetector. The conformance suite covers both classes through the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

import deepad
from deepad.data.synthetic import make_planted_series
from deepad.detectors import Forecaster, LSTMAutoEncoder
from deepad.detectors.generic_normality.predictive import (
    ReverseDecoder,
    fit_gaussian,
    mahalanobis,
)
from deepad.series import SeriesDetector

MIN_AUC = 0.9
FAST = {"hidden_dims": (32,), "epochs": 10, "batch_size": 64}
FAST_AE = {"hidden_dims": (32,), "code_dim": 16, "epochs": 20, "batch_size": 64}


# ---------------------------------------------------------------------------- error model
def test_fit_gaussian_is_ledoit_wolf_and_mahalanobis_by_hand():
    rng = np.random.default_rng(0)
    errors = rng.normal(size=(200, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0],
                                                   [0.0, 0.0, 0.2]])
    mean, precision = fit_gaussian(errors)
    reference = LedoitWolf().fit(errors)
    np.testing.assert_allclose(mean, errors.mean(axis=0))
    np.testing.assert_allclose(np.linalg.inv(precision), reference.covariance_, rtol=1e-4,
                               atol=1e-8)
    e = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    d = e.numpy()[0] - mean
    expected = d @ precision @ d
    got = mahalanobis(e, torch.from_numpy(mean), torch.from_numpy(precision))
    assert float(got[0]) == pytest.approx(expected)
    # the identity precision and zero mean give the squared norm
    assert float(mahalanobis(e, torch.zeros(3, dtype=torch.float64),
                             torch.eye(3, dtype=torch.float64))[0]) == pytest.approx(14.0)


def test_fit_gaussian_survives_a_constant_error():
    errors = np.c_[np.random.default_rng(0).normal(size=50), np.zeros(50)]
    mean, precision = fit_gaussian(errors)
    assert np.isfinite(precision).all() and np.isfinite(mean).all()
    mean, precision = fit_gaussian(np.zeros((10, 2)))  # all errors zero: still invertible
    assert np.isfinite(precision).all()


# ---------------------------------------------------------------------------- Forecaster
@pytest.fixture(scope="module")
def forecaster(planted_windows):
    X, _ = planted_windows
    return Forecaster(**FAST, context=8, random_state=0).fit(X)


@pytest.fixture(scope="module")
def encdec(planted_windows):
    X, _ = planted_windows
    return LSTMAutoEncoder(**FAST_AE, random_state=0).fit(X)


@pytest.mark.parametrize("name", ["forecaster", "encdec"])
def test_planted_windows_rank_high(name, request, planted_windows):
    det = request.getfixturevalue(name)
    _, y = planted_windows
    assert roc_auc_score(y, det.decision_scores_) >= MIN_AUC


def test_forecaster_errors_cover_every_stretch(forecaster, planted_windows):
    X, _ = planted_windows
    x = torch.from_numpy(X[:5].astype(np.float32))
    errors = forecaster.errors(x)
    # windows of 32 steps, context 8, horizon 1: 24 forecasts of 2 channels per window
    assert errors.shape == (5, 24, 2)
    # the j-th error is z_{8+j} minus the forecast from z_j … z_{7+j} (z: standardised x)
    z = forecaster.model_.scaler(x)
    with torch.no_grad():
        forecast = forecaster.model_(z[:, 3:11])
    torch.testing.assert_close(errors[:, 3], z[:, 11] - forecast[:, 0])


def test_forecaster_score_is_the_mean_mahalanobis_distance(forecaster, planted_windows):
    X, _ = planted_windows
    x = torch.from_numpy(X[:7].astype(np.float32))
    model = forecaster.model_
    with torch.no_grad():
        errors = forecaster.errors(x).double()
    mean, precision = model.error_mean.double(), model.error_precision.double()
    centred = errors - mean
    expected = torch.einsum("bnd,de,bne->bn", centred, precision, centred).mean(dim=1)
    np.testing.assert_allclose(forecaster.decision_function(X[:7]), expected.numpy(),
                               rtol=1e-4)
    # the Gaussian was fitted: not the initial zero mean / identity precision
    assert not torch.equal(model.error_precision, torch.eye(2))


def test_forecaster_whole_window_context_forecasts_the_last_steps(planted_windows):
    X, _ = planted_windows
    det = Forecaster(hidden_dims=(8,), horizon=3, context=29, epochs=1,
                     random_state=0).fit(X[:100])
    x = torch.from_numpy(X[:4].astype(np.float32))
    errors = det.errors(x)
    assert errors.shape == (4, 1, 6)  # one forecast of 3 steps x 2 channels per window
    z = det.model_.scaler(x)  # the forecaster reads standardised windows
    with torch.no_grad():
        forecast = det.model_(z[:, :29])
    torch.testing.assert_close(errors[:, 0], (z[:, 29:] - forecast).flatten(1))


@pytest.mark.parametrize(("window", "expected"), [(32, 16), (10, 8)])
def test_forecaster_default_context(window, expected, planted_windows):
    X, _ = planted_windows
    det = Forecaster(hidden_dims=(8,), horizon=2, epochs=1, random_state=0).fit(X[:60, :window])
    errors = det.errors(torch.from_numpy(X[:3, :window].astype(np.float32)))
    # min(16, window − horizon) steps read: window − context − horizon + 1 forecasts
    assert errors.shape == (3, window - expected - 1, 4)


def test_forecaster_mse_error_model(planted_windows):
    X, _ = planted_windows
    det = Forecaster(hidden_dims=(8,), context=8, error_model="mse", epochs=1,
                     random_state=0).fit(X[:100])
    with torch.no_grad():
        errors = det.errors(torch.from_numpy(X[:5].astype(np.float32)))
    np.testing.assert_allclose(det.decision_function(X[:5]),
                               errors.pow(2).mean(dim=(1, 2)).double().numpy(), rtol=1e-5)


@pytest.mark.parametrize("params", [{"horizon": 31}, {"context": 30, "horizon": 3},
                                    {"horizon": 40}])
def test_forecaster_refuses_windows_too_short(params, planted_windows):
    X, _ = planted_windows
    with pytest.raises(ValueError, match="context \\+ horizon <= window"):
        Forecaster(**params, epochs=1).fit(X[:50])


def test_forecaster_target_channels_are_the_only_ones_forecast(planted_windows, tmp_path):
    X, _ = planted_windows  # two channels
    det = Forecaster(hidden_dims=(8,), context=8, target_channels=(1,), epochs=2,
                     random_state=0).fit(X[:100])
    x = torch.from_numpy(X[:4].astype(np.float32))
    errors = det.errors(x)
    assert errors.shape == (4, 24, 1)  # one channel forecast, both read
    z = det.model_.scaler(x)
    with torch.no_grad():
        forecast = det.model_(z[:, :8])
    torch.testing.assert_close(errors[:, 0, 0], z[:, 8, 1] - forecast[:, 0, 0])
    assert det.model_.error_precision.shape == (1, 1)
    path = det.save(tmp_path / "forecaster")
    np.testing.assert_array_equal(deepad.load(path).decision_function(X[:20]),
                                  det.decision_function(X[:20]))
    with pytest.raises(ValueError, match="target_channels=\\[2\\] names a channel"):
        Forecaster(target_channels=(2,), epochs=1).fit(X[:50])
    with pytest.raises(ValueError, match="target_channels"):
        Forecaster(target_channels=(0, 0), epochs=1).fit(X[:50])


def test_inputs_are_standardised_with_the_training_windows(planted_windows):
    X, _ = planted_windows
    params = {"hidden_dims": (8,), "context": 8, "epochs": 2, "random_state": 0}
    det = Forecaster(**params).fit(X[:120])
    train, _ = det._holdout_split(120)  # the windows the network is trained on
    flat = X[:120][train].reshape(-1, X.shape[2])
    np.testing.assert_allclose(det.model_.scaler.mean.numpy(), flat.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(det.model_.scaler.std.numpy(), flat.std(axis=0), rtol=1e-4)
    # an affine change of the user's units leaves the scores as they were
    shifted = Forecaster(**params).fit(3.0 * X[:120] + 7.0)
    np.testing.assert_allclose(shifted.decision_function(3.0 * X[120:140] + 7.0),
                               det.decision_function(X[120:140]), rtol=1e-3, atol=1e-4)
    raw = Forecaster(**params, input_scaling="none").fit(X[:120])
    assert torch.equal(raw.model_.scaler.std, torch.ones(X.shape[2]))


def test_error_holdout_split(planted_windows):
    det = Forecaster(error_holdout=0.25, random_state=0)
    train, held = det._holdout_split(100)
    assert len(held) == 25 and len(train) == 75
    assert not set(train) & set(held)
    everything = np.arange(100)
    np.testing.assert_array_equal(np.sort(np.r_[train, held]), everything)
    train, held = Forecaster(error_holdout=0.0)._holdout_split(100)
    np.testing.assert_array_equal(train, everything)
    np.testing.assert_array_equal(held, everything)
    # too few windows to hold any out: the Gaussian is fitted on the training windows
    train, held = Forecaster(error_holdout=0.2)._holdout_split(5)
    np.testing.assert_array_equal(train, held)


def test_gaussian_is_fitted_on_the_held_out_windows(planted_windows):
    X, _ = planted_windows
    det = Forecaster(hidden_dims=(8,), context=8, error_holdout=0.3, epochs=1,
                     random_state=0).fit(X[:200])
    _, held = det._holdout_split(200)
    with torch.no_grad():
        errors = det.errors(torch.from_numpy(X[held].astype(np.float32))).flatten(0, 1)
    mean, _ = fit_gaussian(errors.double().numpy())
    np.testing.assert_allclose(det.model_.error_mean.numpy(), mean, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------- EncDec-AD
def test_reverse_decoder_order_and_teacher_forcing():
    torch.manual_seed(0)
    decoder = ReverseDecoder(code_dim=4, n_features=2, hidden=8)
    code = torch.randn(3, 4)
    x = torch.randn(3, 6, 2)
    with torch.no_grad():
        forced = decoder(code, x, teacher_forcing=True)
        free = decoder(code, x, teacher_forcing=False)
        # x_1 is never a decoder input (the last input is x_2): changing it changes nothing
        changed_first = x.clone()
        changed_first[:, 0] += 5.0
        torch.testing.assert_close(decoder(code, changed_first, teacher_forcing=True), forced)
        # x_w is the first input: it changes every earlier step but not x̂_w itself
        changed_last = x.clone()
        changed_last[:, -1] += 5.0
        again = decoder(code, changed_last, teacher_forcing=True)
        torch.testing.assert_close(again[:, -1], forced[:, -1])
        assert not torch.allclose(again[:, :-1], forced[:, :-1])
        # free running never reads x; x̂_w comes from the code alone in both modes
        torch.testing.assert_close(decoder(code, changed_last, teacher_forcing=False), free)
        torch.testing.assert_close(free[:, -1], forced[:, -1])
    assert forced.shape == free.shape == (3, 6, 2)


def test_encdec_score_is_mean_stepwise_mahalanobis(encdec, planted_windows):
    X, _ = planted_windows
    model = encdec.model_
    x = model.scaler(torch.from_numpy(X[:6].astype(np.float32)))
    with torch.no_grad():
        errors = (x - model(x, teacher_forcing=False)).abs().double()  # (6, 32, 2)
    centred = errors - model.error_mean.double()
    a = torch.einsum("btd,de,bte->bt", centred, model.error_precision.double(), centred)
    np.testing.assert_allclose(encdec.decision_function(X[:6]), a.mean(dim=1).numpy(),
                               rtol=1e-4)
    assert (encdec.model_.error_mean > 0).all()  # absolute errors


def test_encdec_teacher_forcing_always_scores_with_the_true_inputs(encdec, planted_windows):
    X, _ = planted_windows
    raw = torch.from_numpy(X[:6].astype(np.float32))
    model = encdec.model_
    x = model.scaler(raw)
    with torch.no_grad():
        forced = (x - model(x, teacher_forcing=True)).abs()
    # errors() only (the Gaussian must be fitted in the mode it scores in: fit sets it)
    encdec.teacher_forcing = "always"
    try:
        errors = encdec.errors(raw)
    finally:
        encdec.teacher_forcing = "train"
    torch.testing.assert_close(errors, forced)
    with torch.no_grad():
        assert not torch.allclose(encdec.errors(raw), forced)


def test_encdec_gaussian_is_fitted_in_the_scoring_mode(planted_windows):
    X, _ = planted_windows
    det = LSTMAutoEncoder(hidden_dims=(8,), code_dim=4, teacher_forcing="always", epochs=1,
                          random_state=0).fit(X[:100])
    _, held = det._holdout_split(100)
    x = det.model_.scaler(torch.from_numpy(X[held].astype(np.float32)))
    with torch.no_grad():
        forced = (x - det.model_(x, teacher_forcing=True)).abs().flatten(0, 1)
    mean, _ = fit_gaussian(forced.double().numpy())
    np.testing.assert_allclose(det.model_.error_mean.numpy(), mean, rtol=1e-4, atol=1e-6)


def test_encdec_training_reduces_the_reconstruction_error(encdec):
    losses = [record["loss"] for record in encdec.history_]
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------------------- series
@pytest.fixture(scope="module")
def planted_series():
    return make_planted_series(2000, n_features=2, n_anomalies=4, random_state=0)


@pytest.mark.parametrize("detector", [
    Forecaster(**FAST, random_state=0),
    LSTMAutoEncoder(**FAST_AE, random_state=0),
], ids=["Forecaster", "LSTMAutoEncoder"])
def test_planted_series_through_windows(detector, planted_series):
    series, y, train_end = planted_series
    wrapped = SeriesDetector(detector, window=24, stride=2, reduce="mean")
    scores = wrapped.fit(series[:train_end]).decision_function(series)
    assert np.isfinite(scores).all()
    assert roc_auc_score(y[train_end:], scores[train_end:]) >= MIN_AUC
