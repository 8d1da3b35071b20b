"""RND on images with Burda et al.'s network (``deepad.nets.rnd``): the layers and their
adaptation to small images, planted images ranked first, save → load, and the rows' and
windows' paths unchanged by the image network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad.data.spec import InputSpec
from deepad.data.synthetic import make_planted_rows, make_planted_windows
from deepad.detectors import RND
from deepad.nets import build_backbone, build_decoder
from deepad.nets.rnd import RNDConvEncoder, rnd_plan


def _convs(net: torch.nn.Module) -> list[tuple]:
    return [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0])
            for m in net.modules() if isinstance(m, torch.nn.Conv2d)]


def test_release_layers_on_atari_frames_and_the_small_image_adaptation():
    atari = RNDConvEncoder(1, 84, 84, 512)
    assert _convs(atari) == [(1, 32, 8, 4, 0), (32, 64, 4, 2, 0), (64, 64, 3, 1, 0)]
    assert atari.map_size == (7, 7) and atari.net[-1].in_features == 7 * 7 * 64
    assert [m.negative_slope for m in atari.modules()
            if isinstance(m, torch.nn.LeakyReLU)] == [0.2, 0.2, 0.2]
    assert atari(torch.rand(2, 1, 84, 84)).shape == (2, 512)
    fashion = RNDConvEncoder(1, 28, 28, 512)  # the same 7 x 7 x 64 map as on Atari frames
    assert _convs(fashion) == [(1, 32, 4, 2, 1), (32, 64, 4, 2, 1), (64, 64, 3, 1, 1)]
    assert fashion.map_size == (7, 7) and fashion.net[-1].in_features == 3136
    assert fashion(torch.rand(3, 1, 28, 28)).shape == (3, 512)
    assert rnd_plan(16, 16)[1] == (4, 4)
    assert rnd_plan(3, 5) == ([(3, 1, 1)] * 3, (3, 5))  # too small to halve: sizes kept
    large = RNDConvEncoder(3, 120, 100, 16)  # 120 x 100 → 28 x 23 → 13 x 10 → 11 x 8
    assert large.map_size == (7, 7) and large(torch.rand(1, 3, 120, 100)).shape == (1, 16)


def test_factory_builds_it_and_rnd_asks_for_it():
    spec = InputSpec("image", 1, height=16, width=16)
    assert isinstance(build_backbone(spec, hidden_dims=(8,), out_dim=4, kind="rnd"),
                      RNDConvEncoder)
    assert isinstance(build_backbone(spec, hidden_dims=(8,), out_dim=4,
                                     prefer=RND.preferred_backbones), RNDConvEncoder)
    with pytest.raises(ValueError, match="no decoder"):
        build_decoder(spec, latent_dim=4, hidden_dims=(8,), kind="rnd")
    with pytest.raises(ValueError, match="does not take tabular"):
        build_backbone(InputSpec("tabular", 4), hidden_dims=(8,), out_dim=2, kind="rnd")


@pytest.fixture(scope="module")
def fitted(planted):
    X, y = planted["image"]
    det = RND(**RND.test_params, random_state=0).fit(X)
    return det, X, y


def test_image_network_is_the_release_pair(fitted):
    det, _, _ = fitted
    target, predictor = det.model_.target, det.model_.predictor
    assert isinstance(target, RNDConvEncoder) and isinstance(predictor[0], RNDConvEncoder)
    # predictor: the same convolutional stack, then ReLU → dense → ReLU → dense
    assert [type(m).__name__ for m in predictor[1:]] == ["ReLU", "Linear", "ReLU", "Linear"]
    assert not any(p.requires_grad for p in target.parameters())
    # orthogonal initialisation (gain √2) of the target's 3,136 → k dense layer: rows orthogonal
    w = target.net[-1].weight.detach().double()
    torch.testing.assert_close(w @ w.T, 2.0 * torch.eye(len(w), dtype=torch.float64),
                               atol=1e-4, rtol=0)


def test_planted_images_rank_first(fitted):
    det, X, y = fitted
    assert roc_auc_score(y, det.decision_scores_) >= 0.9
    top = np.argsort(det.decision_scores_)[::-1][: int(y.sum())]
    assert y[top].mean() >= 0.6


def test_image_settings_fit_and_rank(planted):
    X, y = planted["image"]
    settings = {**RND.modality_defaults["image"], "epochs": 3, "batch_size": 32}
    det = RND(**settings, random_state=0).fit(X)
    assert det.model_.target.out_dim == RND.modality_defaults["image"]["rep_dim"]
    assert roc_auc_score(y, det.decision_scores_) >= 0.9


def test_save_load_identical_image_scores(fitted, tmp_path):
    det, X, _ = fitted
    det.save(tmp_path / "rnd")
    again = deepad.load(tmp_path / "rnd")
    np.testing.assert_array_equal(again.decision_function(X[:40]), det.decision_function(X[:40]))
    with pytest.raises(ValueError):
        again.decision_function(X[:5, :, :8, :8])  # not the fitted image size


# The image network must not reach rows or windows: there RND's "auto" backbone is the
# modality's default (MLP for rows, TCN for windows), score for score.
@pytest.mark.parametrize(("kind", "backbone"), [("rows", "mlp"), ("windows", "tcn")])
def test_rows_and_windows_keep_their_backbone(kind, backbone):
    if kind == "rows":
        X, _ = make_planted_rows(n_normal=500, n_anomalies=25, n_features=8, random_state=0)
    else:
        X, _ = make_planted_windows(n_normal=400, n_anomalies=20, window=32, n_features=2,
                                    random_state=0)
    params = {"epochs": 2, "hidden_dims": (16,), "rep_dim": 8, "batch_size": 32, "lr": 1e-3}
    auto = RND(**params, random_state=0).fit(X)
    named = RND(**params, backbone=backbone, random_state=0).fit(X)
    assert not any(isinstance(m, RNDConvEncoder) for m in auto.model_.modules())
    np.testing.assert_array_equal(auto.decision_function(X[:20]),
                                  named.decision_function(X[:20]))
