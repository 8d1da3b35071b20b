"""What is specific to the one-class hypersphere methods (Deep SVDD, Deep SAD): their losses
on hand-checkable cases, the soft-boundary radius, autoencoder pre-training, the use of
labelled anomalies and normals, and planted anomalies ranked on top. The conformance suite
covers both classes through the registry."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad.data.synthetic import make_planted_rows
from deepad.detectors import DeepSAD, DeepSVDD
from deepad.detectors.measure_normality import one_class
from deepad.detectors.measure_normality.one_class import deep_sad_loss, soft_boundary_loss

SMALL = {"hidden_dims": (32,), "rep_dim": 8, "batch_size": 64}


# ---------------------------------------------------------------------------- losses by hand
def test_soft_boundary_loss_by_hand():
    dist = torch.tensor([1.0, 4.0, 0.25])  # squared distances
    # R = 1, ν = 0.5: R² + max(0, d − R²) / ν per sample
    loss = soft_boundary_loss(dist, torch.tensor(1.0), nu=0.5)
    torch.testing.assert_close(loss, torch.tensor([1.0, 7.0, 1.0]))
    # the batch mean is Eq. 3: R² + 1/(νn) Σ max(0, d_i − R²) = 1 + (0 + 3 + 0) / 1.5
    torch.testing.assert_close(loss.mean(), torch.tensor(3.0))
    # R = 0 (warm-up): every point is outside, the loss is d / ν
    torch.testing.assert_close(soft_boundary_loss(dist, 0.0, nu=0.5), 2 * dist)


def test_deep_sad_loss_by_hand():
    dist = torch.tensor([4.0, 4.0, 4.0, 0.0])
    semi = torch.tensor([0, 1, -1, -1])  # unlabelled, labelled normal, two labelled anomalies
    loss = deep_sad_loss(dist, semi, eta=2.0, eps=1e-6)
    expected = torch.tensor([4.0, 2.0 * (4.0 + 1e-6), 2.0 / (4.0 + 1e-6), 2.0 / 1e-6])
    torch.testing.assert_close(loss, expected)
    # n = 1 unlabelled, m = 3 labelled: Eq. 3 is 1/(n+m) Σ_unl d + η/(n+m) Σ_lab (d + ε)^ỹ
    eq3 = (4.0 + 2.0 * ((4.0 + 1e-6) + 1 / (4.0 + 1e-6) + 1 / 1e-6)) / 4
    torch.testing.assert_close(loss.mean(), torch.tensor(eq3))
    # a labelled anomaly's loss falls as it moves away from c; a labelled normal's rises
    far = deep_sad_loss(dist + 1.0, semi, eta=2.0)
    assert far[2] < loss[2] and far[1] > loss[1]


# ---------------------------------------------------------------------------- soft boundary
NU = 0.1
WARM_UP = 3


@pytest.fixture(scope="module")
def soft_boundary(planted_rows):
    X, _ = planted_rows
    det = DeepSVDD(**SMALL, objective="soft-boundary", nu=NU, warm_up_epochs=WARM_UP, epochs=6,
                   random_state=0)
    return det.fit(X)


def test_radius_is_the_quantile_after_warm_up(soft_boundary, planted_rows):
    X, _ = planted_rows
    history = soft_boundary.history_
    # R stays 0 (not logged) during the warm-up epochs, then is set after every epoch
    assert all("radius" not in record for record in history[:WARM_UP])
    assert all(record["radius"] > 0 for record in history[WARM_UP:])
    radius = soft_boundary.model_.radius
    assert float(radius) == pytest.approx(history[-1]["radius"])
    # R is the (1 − ν)-quantile of ||φ(x) − c|| over the training data
    with torch.no_grad():
        dist = soft_boundary.model_(torch.from_numpy(X.astype(np.float32)))
    assert float(radius) == pytest.approx(float(torch.quantile(dist.sqrt(), 1 - NU)), rel=1e-5)
    # the score is ||φ(x) − c||² − R²: positive for the ν share of points outside the sphere
    np.testing.assert_allclose(soft_boundary.decision_scores_,
                               (dist - radius**2).double().numpy(), rtol=1e-5, atol=1e-7)
    assert abs((soft_boundary.decision_scores_ > 0).mean() - NU) <= 1 / len(X) + 1e-9


def test_radius_survives_save_and_load(soft_boundary, planted_rows, tmp_path):
    X, _ = planted_rows
    loaded = deepad.load(soft_boundary.save(tmp_path / "svdd"))
    assert float(loaded.model_.radius) == float(soft_boundary.model_.radius) > 0
    scale = soft_boundary.model_.encoder.scale
    assert torch.equal(loaded.model_.encoder.scale, scale) and not bool((scale == 1).all())
    assert np.array_equal(loaded.decision_function(X), soft_boundary.decision_function(X))


def test_radius_stays_zero_without_warm_up_end(planted_rows, caplog):
    X, _ = planted_rows
    det = DeepSVDD(**SMALL, objective="soft-boundary", epochs=2, warm_up_epochs=10,
                   random_state=0)
    with caplog.at_level(logging.WARNING, logger=one_class.__name__):
        det.fit(X)
    assert "radius R is never set" in caplog.text
    assert float(det.model_.radius) == 0.0


def test_one_class_objective_keeps_radius_zero_and_scores_the_distance(planted_rows):
    X, _ = planted_rows
    det = DeepSVDD(**SMALL, epochs=2, random_state=0).fit(X)
    assert float(det.model_.radius) == 0.0
    with torch.no_grad():
        dist = det.model_(torch.from_numpy(X.astype(np.float32)))
    np.testing.assert_array_equal(det.decision_scores_, dist.double().numpy())


# ---------------------------------------------------------------------------- input scaling
def test_input_scale_is_the_training_std_so_units_do_not_matter(planted_rows):
    X, _ = planted_rows
    X = np.c_[X, np.full(len(X), 0.5)]  # a constant feature keeps the scale 1
    params = {**SMALL, "epochs": 2, "random_state": 0}
    det = DeepSVDD(**params).fit(X)
    scale = det.model_.encoder.scale.numpy()
    np.testing.assert_allclose(scale[:-1], X[:, :-1].std(axis=0), rtol=1e-5)
    assert scale[-1] == 1.0
    # the bias-free network sees x / s: features in other units give the same detector
    units = np.r_[np.geomspace(0.01, 100.0, X.shape[1] - 1), 1.0]
    rescaled = DeepSVDD(**params).fit(X * units)
    np.testing.assert_allclose(rescaled.decision_scores_, det.decision_scores_, rtol=1e-3)
    # without the scaling the units change the scores
    raw = DeepSVDD(**params, input_scaling="none").fit(X * units)
    assert bool((raw.model_.encoder.scale == 1).all())
    assert not np.allclose(raw.decision_scores_, det.decision_scores_, rtol=0.1)


def test_window_scale_is_per_channel_over_windows_and_steps(planted_windows):
    X, _ = planted_windows
    det = DeepSVDD(**SMALL, epochs=1, random_state=0).fit(X)
    np.testing.assert_allclose(det.model_.encoder.scale.numpy(),
                               X.reshape(-1, X.shape[2]).std(axis=0), rtol=1e-5)


@pytest.mark.parametrize("output_activation", ["relu", "linear"])
def test_output_activation_of_the_representation(planted_rows, output_activation):
    X, _ = planted_rows
    det = DeepSVDD(**SMALL, epochs=2, output_activation=output_activation,
                   random_state=0).fit(X)
    with torch.no_grad():
        z = det.model_.encoder(torch.from_numpy(X.astype(np.float32)))
    if output_activation == "relu":
        assert bool((z >= 0).all()) and bool((z == 0).any())
        assert bool((det.model_.center > 0).all())  # ≥ eps after the push away from 0
    else:
        assert bool((z < 0).any())


# ---------------------------------------------------------------------------- pre-training
def _fit_capturing_centre_init(cls, X, y, **params):
    """Fit ``cls`` and return it with the encoder weights and encoder mean seen when the
    centre is initialised (after pre-training, before the main objective)."""
    captured = {}
    original = one_class._Hypersphere._init_center

    def spy(self, rows):
        captured["weights"] = {k: v.clone() for k, v in self.model_.encoder.state_dict().items()}
        with torch.no_grad():
            captured["mean"] = self.model_.encoder.eval()(rows).mean(dim=0)
        self.model_.encoder.train()
        original(self, rows)
        captured["center"] = self.model_.center.clone()

    one_class._Hypersphere._init_center = spy
    try:
        det = cls(**params).fit(X, y)
    finally:
        one_class._Hypersphere._init_center = original
    return det, captured


@pytest.mark.parametrize("cls", [DeepSVDD, DeepSAD])
def test_pretraining_changes_the_initial_encoder_and_lowers_reconstruction(cls, planted_rows,
                                                                          fit_labels):
    X, _ = planted_rows
    y = fit_labels(cls, "tabular")
    # lr 1e-3 (Deep SAD's default; Deep SVDD's is 1e-4) so that 10 epochs halve the error
    params = {**SMALL, "epochs": 1, "eps": 0.0, "lr": 1e-3, "random_state": 0}
    plain, fresh = _fit_capturing_centre_init(cls, X, y, **params, pretrain_epochs=0)
    pre, pretrained = _fit_capturing_centre_init(cls, X, y, **params, pretrain_epochs=10)
    assert plain.pretrain_history_ == []
    # same seed, same freshly built encoder; pre-training moved every weight matrix
    assert fresh["weights"].keys() == pretrained["weights"].keys()
    matrices = [key for key in fresh["weights"] if key.endswith("weight")]
    assert matrices
    for key in matrices:
        assert not torch.allclose(fresh["weights"][key], pretrained["weights"][key]), key
    # the autoencoder's reconstruction error fell during pre-training
    losses = [record["loss"] for record in pre.pretrain_history_]
    assert len(losses) == 10
    assert losses[-1] < 0.5 * losses[0]
    # the centre is the mean of the pre-trained encoder (labelled anomalies excluded for SAD)
    torch.testing.assert_close(pretrained["center"], pretrained["mean"])
    # no decoder is left in the saved network
    assert not any(name.startswith("decoder") for name in pre.model_.state_dict())


def test_pretraining_history_survives_save_and_load(planted_rows, tmp_path):
    X, _ = planted_rows
    det = DeepSVDD(**SMALL, epochs=1, pretrain_epochs=2, random_state=0).fit(X)
    loaded = deepad.load(det.save(tmp_path / "svdd"))
    assert loaded.pretrain_history_ == det.pretrain_history_
    assert len(loaded.pretrain_history_) == 2


# ---------------------------------------------------------------------------- Deep SAD labels
@pytest.fixture(scope="module")
def deep_sad(planted_rows, fit_labels):
    X, _ = planted_rows
    y = fit_labels(DeepSAD, "tabular")
    return DeepSAD(**SMALL, epochs=15, pretrain_epochs=5, random_state=0).fit(X, y), y


def test_deep_sad_pushes_labelled_anomalies_away_from_the_centre(deep_sad):
    det, y = deep_sad
    scores = det.decision_scores_  # ||φ(x) − c||²
    assert np.median(scores[y == 1]) > np.quantile(scores[y == 0], 0.95)


def test_deep_sad_centre_ignores_labelled_anomalies(planted_rows, fit_labels):
    X, _ = planted_rows
    y = fit_labels(DeepSAD, "tabular")
    det, captured = _fit_capturing_centre_init(DeepSAD, X, y, **SMALL, epochs=1, eps=0.0,
                                               pretrain_epochs=0, random_state=0)
    with torch.no_grad():
        encoder = det.build(det.spec_).encoder  # same seed → the same fresh encoder
    encoder.load_state_dict(captured["weights"])
    with torch.no_grad():
        unlabelled = encoder.eval()(torch.from_numpy(X[y == 0].astype(np.float32))).mean(dim=0)
    torch.testing.assert_close(captured["center"], unlabelled)


def test_labelled_normals_reach_the_loss(planted_rows, fit_labels, monkeypatch):
    X, _ = planted_rows
    y = fit_labels(DeepSAD, "tabular")
    normal = np.zeros(len(X), dtype=bool)
    normal[np.flatnonzero(y == 0)[:50]] = True
    seen = {}
    original = one_class.deep_sad_loss

    def spy(dist, semi_targets, eta, eps=one_class.SAD_EPS):
        seen.setdefault("semi", []).append(semi_targets.clone())
        return original(dist, semi_targets, eta, eps)

    monkeypatch.setattr(one_class, "deep_sad_loss", spy)
    # one full-data batch: the targets the loss sees are the rows' own, in order
    det = DeepSAD(**{**SMALL, "batch_size": len(X)}, epochs=1, pretrain_epochs=0,
                  random_state=0)
    det.fit(X, y, labelled_normal=normal)
    semi = seen["semi"][0]
    assert len(semi) == len(X)
    counts = {int(v): int((semi == v).sum()) for v in (-1, 0, 1)}
    # the paper's ỹ: +1 labelled normal, −1 labelled anomaly, 0 unlabelled
    assert counts == {1: 50, -1: int(y.sum()), 0: len(X) - 50 - int(y.sum())}
    assert not hasattr(det, "_labelled_normal")


def test_labelled_normals_are_pulled_towards_the_centre():
    # a rare normal mode far from the normal clusters: unlabelled, it scores like an
    # anomaly; labelled normal with a large η, it is drawn towards c
    X, y = make_planted_rows(500, 25, n_features=8, random_state=0)
    rare = np.clip(np.random.default_rng(1).normal(0.9, 0.03, size=(20, 8)), 0.0, 1.0)
    X = np.vstack([X, rare])
    y = np.r_[y, np.zeros(20, dtype=np.int64)]
    y_semi = np.zeros_like(y)
    y_semi[np.flatnonzero(y == 1)[:5]] = 1
    normal = np.r_[np.zeros(525, dtype=bool), np.ones(20, dtype=bool)]
    typical = np.flatnonzero(y[:525] == 0)
    params = {**SMALL, "epochs": 30, "eta": 50.0, "pretrain_epochs": 0, "random_state": 0}
    ratios = []
    for mask in (None, normal):
        scores = DeepSAD(**params).fit(X, y_semi, labelled_normal=mask).decision_scores_
        ratios.append(scores[normal].mean() / np.median(scores[typical]))
    unlabelled, labelled = ratios
    assert labelled < 0.8 * unlabelled


def test_labelled_normal_errors(planted_rows, fit_labels):
    X, _ = planted_rows
    y = fit_labels(DeepSAD, "tabular")
    det = DeepSAD(**DeepSAD.test_params, random_state=0)
    with pytest.raises(ValueError, match="one entry per sample"):
        det.fit(X, y, labelled_normal=np.zeros(len(X) - 1, dtype=bool))
    with pytest.raises(ValueError, match="True/1 for the labelled normal rows"):
        det.fit(X, y, labelled_normal=np.full(len(X), 2))
    overlap = y.astype(bool)
    with pytest.raises(ValueError, match="both as labelled anomalies"):
        det.fit(X, y, labelled_normal=overlap)
    with pytest.raises(ValueError, match=r"all 10 samples as anomalies.*needs unlabelled rows"):
        det.fit(X[:10], np.ones(10, dtype=int))


# ---------------------------------------------------------------------------- planted anomalies
METHODS = {
    "DeepSVDD": (DeepSVDD, {}),
    "DeepSVDD-soft-boundary": (DeepSVDD, {"objective": "soft-boundary", "warm_up_epochs": 5,
                                          "pretrain_epochs": 5}),
    "DeepSAD": (DeepSAD, {"pretrain_epochs": 5}),
}


@pytest.mark.parametrize("modality", ["tabular", "sequence"])
@pytest.mark.parametrize("method", list(METHODS))
def test_planted_anomalies_rank_on_top(method, modality, planted, fit_labels):
    cls, params = METHODS[method]
    X, y = planted[modality]
    y_semi = fit_labels(cls, modality)
    det = cls(**SMALL, epochs=15, random_state=0, **params).fit(X, y_semi)
    unseen = np.ones(len(y), dtype=bool) if y_semi is None else y_semi == 0
    auc = roc_auc_score(y[unseen], det.decision_scores_[unseen])
    assert auc >= 0.9, f"{method} on {modality}: AUC-ROC {auc:.3f}"


def test_deep_svdd_epochs_over_windows(monkeypatch):
    # by default an epoch passes over every window, as over rows (the former training, which
    # the measured shorter epochs did not match on every series); the benchmark's knob
    # WINDOW_EPOCH_SHARE = k makes an epoch a random 1/k of the windows, rows unaffected
    steps = []
    original = DeepSVDD.training_step

    def counting(self, batch, optimizers):
        steps.append(len(batch.x))
        return original(self, batch, optimizers)

    monkeypatch.setattr(DeepSVDD, "training_step", counting)
    windows = np.random.default_rng(0).normal(size=(640, 8, 2)).astype(np.float32)
    params = {"epochs": 2, "batch_size": 32, "hidden_dims": (8,), "rep_dim": 4,
              "random_state": 0}
    DeepSVDD(**params).fit(windows)
    assert len(steps) == 2 * 20
    monkeypatch.setattr(one_class, "WINDOW_EPOCH_SHARE", 10)
    steps.clear()
    DeepSVDD(**params).fit(windows)
    assert len(steps) == 2 * 2 and set(steps) == {32}  # ceil(640 / 32 / 10) per epoch
    steps.clear()
    DeepSVDD(**params).fit(windows[:, 0, :])
    assert len(steps) == 2 * 20
