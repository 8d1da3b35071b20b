"""Self-supervised classification (GOAD, NeuTraL, ICL): the losses and scores by hand on tiny
tensors, GOAD's fixed and saved transformations, NeuTraL's learned ones, ICL's windows, and
planted anomalies ranked on top on every modality each method supports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad.core.runtime import seeded
from deepad.data.spec import InputSpec
from deepad.detectors import GOAD, ICL, NeuTraL
from deepad.detectors.generic_normality.self_supervised import (
    StackedMLP,
    dcl_loss,
    goad_log_probs,
    goad_loss,
    goad_score,
    icl_kernel_size,
    icl_loss,
    triplet_center_loss,
    window_indices,
)

MIN_AUC = 0.9


# ---------------------------------------------------------------------------- GOAD by hand
def test_goad_probabilities_are_a_softmax_over_negative_distances():
    # one sample, M = 2 views with 1-d features; centres 0 and 2
    z = torch.tensor([[[0.5], [1.0]]])
    centers = torch.tensor([[0.0], [2.0]])
    # view 0: distances 0.25, 2.25; view 1: 1, 1
    p0 = math.exp(-0.25) / (math.exp(-0.25) + math.exp(-2.25))
    expected = torch.tensor([[math.log(p0), math.log(0.5)]])
    torch.testing.assert_close(goad_log_probs(z, centers), expected)
    # Eq. 4: the score sums −log P(m | T_m(x)) over the views
    torch.testing.assert_close(goad_score(z, centers),
                               torch.tensor([-math.log(p0) - math.log(0.5)]))


def test_triplet_center_loss_by_hand():
    z = torch.tensor([[[0.5], [1.0]]])
    centers = torch.tensor([[0.0], [2.0]])
    # view 0: max(0, 0.25 + 1 − 2.25) = 0; view 1: max(0, 1 + 1 − 1) = 1; mean 0.5
    torch.testing.assert_close(triplet_center_loss(z, centers, margin=1.0), torch.tensor([0.5]))
    torch.testing.assert_close(triplet_center_loss(z, centers, margin=0.0), torch.tensor([0.0]))


def test_goad_loss_uses_batch_centres():
    # two samples, M = 2: batch centres are the per-view means [[1, 0], [0, 1]]
    z = torch.tensor([[[0.0, 0.0], [0.0, 2.0]],
                      [[2.0, 0.0], [0.0, 0.0]]])
    centers = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ce = -goad_log_probs(z, centers).mean(dim=1)
    tc = triplet_center_loss(z, centers, 1.0)
    torch.testing.assert_close(goad_loss(z, lambda_tc=0.1, margin=1.0), ce + 0.1 * tc)
    torch.testing.assert_close(goad_loss(z, lambda_tc=0.0, margin=1.0), ce)
    # sample 0, view 0: distances 1 (own centre) and 1 → P = 1/2
    assert float(goad_log_probs(z, centers)[0, 0]) == pytest.approx(math.log(0.5))


# ---------------------------------------------------------------------------- NeuTraL by hand
def test_dcl_by_hand():
    # original and K = 2 views in 2-d; cosines: c(1,0) = cos(x1, x), c(2,0), c(1,2)
    z = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, 3.0]]])
    tau = 0.5
    c10, c20, c12 = 1 / math.sqrt(2), 0.0, 1 / math.sqrt(2)
    h = lambda c: math.exp(c / tau)  # noqa: E731
    loss_1 = -math.log(h(c10) / (h(c10) + h(c12)))
    loss_2 = -math.log(h(c20) / (h(c20) + h(c12)))
    torch.testing.assert_close(dcl_loss(z, tau), torch.tensor([loss_1 + loss_2]))
    # norms do not matter: the similarity is a cosine
    torch.testing.assert_close(dcl_loss(3.0 * z, tau), dcl_loss(z, tau))


def test_stacked_mlp_is_k_independent_mlps():
    torch.manual_seed(0)
    stack = StackedMLP(3, 4, (5,), 4, activation="relu", bias=True)
    x = torch.randn(6, 4)
    out = stack(x)
    assert out.shape == (6, 3, 4)
    for k in range(3):
        hidden = torch.relu(x @ stack.weights[0][k] + stack.biases[0][k])
        torch.testing.assert_close(out[:, k], hidden @ stack.weights[1][k] + stack.biases[1][k])
    # windows: the same MLP on every time step
    windows = torch.randn(2, 7, 4)
    torch.testing.assert_close(stack(windows)[1, 2, 5], stack(windows[1, 5][None])[0, 2])


# ---------------------------------------------------------------------------- ICL by hand
def test_window_indices_cover_every_position():
    windows, complements = window_indices(5, 2)
    assert windows.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4]]  # d − k + 1 = 4 windows
    assert complements.tolist() == [[2, 3, 4], [0, 3, 4], [0, 1, 4], [0, 1, 2]]
    for d, k in [(3, 2), (10, 1), (41, 10), (200, 50)]:
        windows, complements = window_indices(d, k)
        assert windows.shape == (d - k + 1, k) and complements.shape == (d - k + 1, d - k)
        both = torch.sort(torch.cat([windows, complements], dim=1), dim=1).values
        assert torch.equal(both, torch.arange(d).expand(d - k + 1, d))


def test_icl_kernel_rule():
    assert [icl_kernel_size(d) for d in (3, 40, 41, 160, 161, 240, 241, 480, 481, 500)] == \
        [2, 2, 10, 10, 11, 90, 41, 280, 81, 100]


def test_icl_infonce_by_hand():
    # J = 2 windows; unit embeddings; τ = 1
    a = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    b = torch.tensor([[[1.0, 0.0], [0.6, 0.8]]])
    # complement 0 against windows: logits 1, 0 → −log(e / (e + 1));
    # complement 1: logits 0.6, 0.8, its own window is the second → −log(e^.8 / (e^.6 + e^.8))
    expected = (-math.log(math.e / (math.e + 1))
                - math.log(math.exp(0.8) / (math.exp(0.6) + math.exp(0.8)))) / 2
    torch.testing.assert_close(icl_loss(a, b, 1.0), torch.tensor([expected]))
    # a lower temperature sharpens the softmax: the matched case's loss falls
    assert float(icl_loss(a, b, 0.1)) < float(icl_loss(a, b, 1.0))


# ---------------------------------------------------------------------------- fitted models
@pytest.fixture(scope="module")
def goad_rows(planted_rows):
    return GOAD(n_transforms=16, epochs=5, random_state=0).fit(planted_rows[0])


def test_goad_transformations_fixed_and_saved(goad_rows, planted_rows, tmp_path):
    transforms = goad_rows.model_.transforms
    assert transforms.shape == (16, 8, 4)  # transform_dim="auto": 4 for rows
    assert goad_rows.transform_dim_ == 4
    assert float(transforms.std()) == pytest.approx(1.0, abs=0.1)  # standard normal entries
    # a buffer, not a parameter: training never changes it
    assert all(p is not transforms for p in goad_rows.model_.parameters())
    # drawn from the fit's seed: the same seed gives the same maps, another seed others
    again = GOAD(n_transforms=16, epochs=1, random_state=0).fit(planted_rows[0][:100])
    other = GOAD(n_transforms=16, epochs=1, random_state=1).fit(planted_rows[0][:100])
    assert torch.equal(again.model_.transforms, transforms)
    assert not torch.equal(other.model_.transforms, transforms)
    loaded = deepad.load(goad_rows.save(tmp_path / "goad"))
    assert torch.equal(loaded.model_.transforms, transforms)
    assert torch.equal(loaded.model_.centers, goad_rows.model_.centers)


def test_goad_centres_are_mean_features_and_score_is_eq_4(goad_rows, planted_rows):
    X = torch.from_numpy(planted_rows[0].astype(np.float32))
    with torch.no_grad():
        z = goad_rows.model_(X)
    torch.testing.assert_close(goad_rows.model_.centers, z.mean(dim=0), rtol=1e-4, atol=1e-5)
    expected = -goad_log_probs(z, goad_rows.model_.centers).sum(dim=1)
    np.testing.assert_allclose(goad_rows.decision_scores_, expected.double().numpy(), rtol=1e-5)


@pytest.mark.parametrize("transform_type", ["residual", "mul"])
def test_neutral_transformations_are_learned(planted_rows, transform_type):
    X = planted_rows[0]
    det = NeuTraL(transform_type=transform_type, epochs=2, random_state=0).fit(X)
    with seeded(det.seed_, torch.device("cpu")):
        initial = det.build(InputSpec.of(X))  # the same draw as fit's initialisation
    for before, after in zip(initial.transforms.parameters(),
                             det.model_.transforms.parameters(), strict=True):
        assert after.requires_grad
        assert not torch.equal(before, after)
    x = torch.from_numpy(X[:4].astype(np.float32))
    with torch.no_grad():
        views, masks = det.model_.views(x), det.model_.transforms(x)
    assert views.shape == (4, det.n_transforms, X.shape[1])
    if transform_type == "residual":  # T_k(x) = M_k(x) + x
        torch.testing.assert_close(views, masks + x.unsqueeze(1))
    else:  # T_k(x) = sigmoid(M_k(x)) ⊙ x: x scaled feature-wise by values in (0, 1)
        torch.testing.assert_close(views, torch.sigmoid(masks) * x.unsqueeze(1))
        ratio = views / x.unsqueeze(1)
        assert bool(((ratio > 0) & (ratio < 1)).all())


def test_neutral_and_icl_score_is_the_per_sample_loss(planted_rows):
    X = planted_rows[0]
    neutral = NeuTraL(epochs=2, random_state=0).fit(X)
    icl = ICL(epochs=2, random_state=0).fit(X)
    x = torch.from_numpy(X[:20].astype(np.float32))
    with torch.no_grad():
        expected_n = dcl_loss(neutral.model_(x), neutral.temperature).double().numpy()
        expected_i = icl_loss(*icl.model_(x), icl.temperature).double().numpy()
    np.testing.assert_allclose(neutral.decision_function(X[:20]), expected_n, rtol=1e-6)
    np.testing.assert_allclose(icl.decision_function(X[:20]), expected_i, rtol=1e-6)
    assert icl.kernel_size_ == 2 and len(icl.model_.windows) == X.shape[1] - 1


def test_icl_refuses_windows_and_too_few_features(planted_windows, planted_rows):
    with pytest.raises(ValueError, match="supports \\['tabular'\\]"):
        ICL(epochs=1).fit(planted_windows[0])
    with pytest.raises(ValueError, match="at least 3 features"):
        ICL(epochs=1).fit(planted_rows[0][:, :2])
    with pytest.raises(ValueError, match="kernel_size=8 leaves no complement"):
        ICL(kernel_size=8, epochs=1).fit(planted_rows[0])


def test_icl_explicit_kernel_size(planted_rows):
    det = ICL(kernel_size=3, epochs=1, random_state=0).fit(planted_rows[0])
    assert det.kernel_size_ == 3 and det.model_.windows.shape == (6, 3)


# ---------------------------------------------------------------------------- planted anomalies
PLANTED = [
    ("tabular", GOAD, {"n_transforms": 16, "epochs": 5}),
    ("tabular", NeuTraL, {"epochs": 10}),
    ("tabular", ICL, {"epochs": 10, "lr": 1e-3}),
    ("sequence", GOAD, {"n_transforms": 8, "hidden_dims": (32,), "epochs": 5}),
    ("sequence", NeuTraL, {"n_transforms": 4, "hidden_dims": (16,), "rep_dim": 16,
                           "epochs": 5}),
    ("image", GOAD, {"transformations": "rotations", "hidden_dims": (8, 16), "rep_dim": 8,
                     "epochs": 3, "batch_size": 16}),
]


@pytest.mark.parametrize(("modality", "cls", "params"), PLANTED,
                         ids=[f"{c.name}-{m}" for m, c, _ in PLANTED])
def test_planted_anomalies_rank_on_top(planted, modality, cls, params, record_property):
    X, y = planted[modality]
    det = cls(**params, random_state=0).fit(X)
    auc = roc_auc_score(y, det.decision_scores_)
    record_property("planted_auc", round(float(auc), 4))
    assert auc >= MIN_AUC, f"{cls.name} on {modality}: AUC {auc:.3f}"


# ---------------------------------------------------------------------------- GOAD on images
def test_goad_images_use_geoms_transformations(planted_images, tmp_path):
    from deepad.detectors.generic_normality.geom import (
        transformation_parameters,
        transformation_sources,
    )
    X, y = planted_images
    keep = np.r_[np.flatnonzero(y == 0)[:120], np.flatnonzero(y == 1)]
    det = GOAD(hidden_dims=(8, 16), rep_dim=8, epochs=2, batch_size=16, random_state=0)
    det.fit(X[keep])
    assert det.n_transforms_ == 72 and det.shift_ == 4  # GEOM's set, round(16 / 4)
    expected = transformation_sources(transformation_parameters("all", 4), 16)
    np.testing.assert_array_equal(det.model_.sources.numpy(), expected)
    assert det.model_.centers.shape == (72, 8) and not hasattr(det.model_, "transforms")
    assert roc_auc_score(y[keep], det.decision_scores_) >= MIN_AUC
    loaded = deepad.load(det.save(tmp_path / "goad"))
    assert loaded.n_transforms_ == 72
    np.testing.assert_array_equal(loaded.decision_function(X[:30]), det.decision_function(X[:30]))


def test_goad_refuses_non_square_images(planted_images):
    with pytest.raises(ValueError, match="GOAD needs square images"):
        GOAD(transformations="rotations", epochs=1).fit(planted_images[0][:20, :, :, :12])
