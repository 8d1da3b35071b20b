"""The image MLP backbones (``"mlp"``, ``"zscore_mlp"``): PyOD's model family on
``(n, C, H, W)`` input, the per-pixel standardisation the training loop learns, and that the
convolutional image default does not change."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import deepad
from deepad import AutoEncoder, DeepSVDD
from deepad.core import trainer as trainer_module
from deepad.data.spec import InputSpec
from deepad.detectors import VAE
from deepad.metrics import auc_roc
from deepad.nets import build_backbone, build_decoder
from deepad.nets.image_mlp import ImageMLPEncoder, PixelStandardize, adapt_inputs

FAST = {"epochs": 8, "hidden_dims": (32, 8), "batch_size": 32, "random_state": 0}


@pytest.fixture(scope="module")
def images(planted_images):
    """The planted images with one pixel constant over the whole training set."""
    X, y = planted_images
    X = X.copy()
    X[:, 0, 15, 15] = 0.25
    return X, y


@pytest.fixture(scope="module")
def fitted(images):
    return {kind: AutoEncoder(backbone=kind, **FAST).fit(images[0])
            for kind in ("mlp", "zscore_mlp")}


@pytest.mark.parametrize("kind", ["mlp", "zscore_mlp"])
def test_planted_images_are_ranked_first(images, fitted, kind):
    X, y = images
    scores = fitted[kind].decision_function(X)
    assert auc_roc(y, scores) > 0.95
    assert y[np.argsort(-scores)[:10]].mean() >= 0.9  # the ten highest: planted ones
    # the network is the flattened-pixel MLP, not a convolution
    assert isinstance(fitted[kind].model_.encoder, ImageMLPEncoder)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in fitted[kind].model_.modules())


def test_standardisation_is_learnt_from_the_training_images(images, fitted):
    X = images[0]
    net = fitted["zscore_mlp"].model_
    for layer in (net.encoder.scale, net.decoder.scale):
        assert isinstance(layer, PixelStandardize) and bool(layer.adapted)
        np.testing.assert_allclose(layer.mean.numpy(), X.mean(axis=0), atol=1e-6)
        expected = X.std(axis=0)
        expected[0, 15, 15] = 1.0  # a constant pixel is only centred
        np.testing.assert_allclose(layer.std.numpy(), expected, rtol=1e-5)
    assert net.decoder.scale.inverse and not net.encoder.scale.inverse
    # the encoder sees z-scores: the training images' mean maps to 0, the mean + σ to 1
    mean = torch.from_numpy(X.mean(axis=0, keepdims=True))
    assert torch.allclose(net.encoder.scale(mean), torch.zeros_like(mean), atol=1e-6)
    # the plain MLP has no standardisation
    assert not any(isinstance(m, PixelStandardize) for m in fitted["mlp"].model_.modules())


def test_validation_rows_are_not_in_the_statistics(images):
    X = images[0][:100]
    det = AutoEncoder(backbone="zscore_mlp", validation_size=0.4, **{**FAST, "epochs": 1})
    det.fit(X)
    assert not np.allclose(det.model_.encoder.scale.mean.numpy(), X.mean(axis=0), atol=1e-4)


@pytest.mark.parametrize("kind", ["mlp", "zscore_mlp"])
def test_save_load_gives_identical_scores_and_statistics(images, fitted, kind, tmp_path):
    X = images[0]
    det = fitted[kind]
    det.save(tmp_path / kind)
    loaded = deepad.load(tmp_path / kind)
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
    np.testing.assert_array_equal(loaded.anomaly_map(X[:4]), det.anomaly_map(X[:4]))
    if kind == "zscore_mlp":
        for a, b in zip(loaded.model_.buffers(), det.model_.buffers(), strict=True):
            assert torch.equal(a, b)
        assert bool(loaded.model_.encoder.scale.adapted)


def test_same_seed_same_scores(images, fitted):
    again = AutoEncoder(backbone="zscore_mlp", **FAST).fit(images[0])
    np.testing.assert_array_equal(again.decision_function(images[0]),
                                  fitted["zscore_mlp"].decision_function(images[0]))


def test_conv_default_untouched_by_the_adapting_loop(images, monkeypatch):
    """The default (LeNet-type convolutional) AutoEncoder never reaches the adapting code
    and gives bitwise the same scores with it disabled."""
    X = images[0][:120]
    params = {"epochs": 2, "batch_size": 32, "random_state": 0}
    reference = AutoEncoder(**params).fit(X).decision_function(X)

    def forbidden(*args, **kwargs):
        raise AssertionError("adapt_inputs called for a network without adapting layers")

    monkeypatch.setattr(trainer_module, "adapt_inputs", forbidden)
    det = AutoEncoder(**params).fit(X)
    assert type(det.model_.encoder).__name__ == "LeNetEncoder"
    np.testing.assert_array_equal(det.decision_function(X), reference)


def test_build_backbone_shapes_for_colour_images():
    spec = InputSpec("image", n_features=3, height=6, width=5)
    for kind in ("mlp", "zscore_mlp"):
        encoder = build_backbone(spec, hidden_dims=(16,), out_dim=4, kind=kind)
        decoder = build_decoder(spec, latent_dim=4, hidden_dims=(16,), kind=kind)
        x = torch.rand(7, 3, 6, 5)
        adapt_inputs(torch.nn.ModuleList([encoder, decoder]), x)
        assert encoder(x).shape == (7, 4) and encoder.out_dim == 4
        assert decoder(encoder(x)).shape == (7, 3, 6, 5)
    # a plain MLP decoder may give other channels (a VAE's mean and log-variance)
    assert build_decoder(spec, latent_dim=4, hidden_dims=(16,), kind="mlp",
                         out_channels=6)(torch.rand(2, 4)).shape == (2, 6, 6, 5)


def test_vae_takes_the_plain_image_mlp(images):
    X, y = images
    det = VAE(backbone="mlp", epochs=5, hidden_dims=(32,), latent_dim=4, batch_size=32,
              random_state=0).fit(X)
    assert auc_roc(y, det.decision_function(X)) > 0.9


def test_bad_inputs_raise_the_documented_errors(images, fitted):
    X = images[0]
    det = fitted["zscore_mlp"]
    with pytest.raises(ValueError, match="images of 8 x 8 pixels.*16 x 16"):
        det.decision_function(X[:, :, :8, :8])
    with pytest.raises(ValueError, match="channels-last"):
        AutoEncoder(backbone="zscore_mlp", **FAST).fit(np.zeros((5, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"backbone='zscore_mlp' does not take tabular"):
        AutoEncoder(backbone="zscore_mlp", **FAST).fit(X.reshape(len(X), -1))
    with pytest.raises(ValueError, match="zscore_mlp.*VAE"):
        VAE(backbone="zscore_mlp", epochs=1, random_state=0).fit(X)
    with pytest.raises(RuntimeError, match="not been adapted"):
        ImageMLPEncoder(1, 4, 4, (8,), 2, standardize=True)(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"samples of shape \(1, 4, 4\)"):
        PixelStandardize((1, 4, 4)).adapt_(torch.zeros(3, 1, 4, 5))


def test_a_detector_that_runs_its_network_before_training_is_told_why(images):
    with pytest.raises(RuntimeError, match="before training"):
        DeepSVDD(backbone="zscore_mlp", epochs=1, pretrain_epochs=0,
                 random_state=0).fit(images[0])


def test_the_streaming_loop_refuses_a_network_still_to_adapt():
    """Streaming sources are 2-D rows today, so no image reaches it; the loop guards anyway."""
    stub = SimpleNamespace(model_=ImageMLPEncoder(1, 4, 4, (8,), 2, standardize=True))
    loop = trainer_module.Trainer(epochs=1, batch_size=4, generator=torch.Generator())
    with pytest.raises(ValueError, match="in-memory training data"):
        loop.fit_stream(stub, None, device=torch.device("cpu"), seed=0, n_rows=8,
                        buffer_rows=8)
