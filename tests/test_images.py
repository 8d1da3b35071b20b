"""Images through the detectors (issue 23): how arrays are read (uint8, grayscale ``(n, H, W)``,
channels-last), the LeNet backbone and the factory's per-detector preference, anomaly maps.

The contract itself (fit / score / save / load / planted ranking) runs for every image
detector in ``test_conformance.py``; this file checks what is specific to images.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepad
from deepad import AutoEncoder, DeepSVDD
from deepad.core.validation import check_input, reads_3d_as_images
from deepad.data.spec import InputSpec
from deepad.detectors import VAE, DevNet
from deepad.nets import build_backbone, build_decoder
from deepad.nets.lenet import LeNetDecoder, LeNetEncoder

SMALL = {"epochs": 2, "batch_size": 32, "random_state": 0}


@pytest.fixture(scope="module")
def pixels(planted_images) -> np.ndarray:
    """The planted images as uint8 pixels (n, 16, 16), 0..255."""
    X = planted_images[0][:, 0]
    return np.round(np.clip(X, 0.0, 1.0) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def patched() -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """Normal images: smooth horizontal gradients; test images: the same with a bright 4 x 4
    patch at a fixed place. Returns (train, test, patch)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 0.5, 16, dtype=np.float32)
    train = ramp[None, None, None, :] + rng.normal(0, 0.02, (200, 1, 16, 16)).astype(np.float32)
    test = ramp[None, None, None, :] + rng.normal(0, 0.02, (20, 1, 16, 16)).astype(np.float32)
    patch = (slice(9, 13), slice(3, 7))
    test[:, 0, patch[0], patch[1]] = 1.0
    return train, test, patch


# ---------------------------------------------------------------------------- reading arrays
def test_uint8_images_are_scaled_to_unit_interval(pixels):
    four = pixels[:, None]
    checked = check_input(four, ("image",))
    assert checked.dtype == np.float32 and checked.shape == four.shape
    np.testing.assert_array_equal(checked, four.astype(np.float32) / np.float32(255))
    assert checked.max() <= 1.0


def test_uint8_and_float_give_the_same_scores(pixels):
    pixels = pixels[:100]
    floats = pixels[:, None].astype(np.float32) / np.float32(255)
    a = DeepSVDD(**SMALL).fit(pixels[:, None])
    b = DeepSVDD(**SMALL).fit(floats)
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    np.testing.assert_array_equal(a.decision_function(pixels[:7, None]),
                                  b.decision_function(floats[:7]))


def test_three_dimensional_reading_rule():
    f, u = np.dtype(np.float32), np.dtype(np.uint8)
    assert reads_3d_as_images(f, ("image",))
    assert not reads_3d_as_images(f, ("tabular", "sequence", "image"))
    assert reads_3d_as_images(u, ("tabular", "sequence", "image"))
    assert not reads_3d_as_images(u, ("tabular", "sequence"))
    assert reads_3d_as_images(f, ("sequence", "image"), fitted="image")
    assert not reads_3d_as_images(u, ("sequence", "image"), fitted="sequence")


def test_grayscale_three_dimensional_images(pixels):
    det = DeepSVDD(**SMALL).fit(pixels)  # uint8 (n, H, W): grayscale images
    assert det.spec_ == InputSpec("image", 1, height=16, width=16)
    floats = pixels.astype(np.float32) / np.float32(255)
    # fitted on images, a 3-D float array is read as grayscale images too
    np.testing.assert_array_equal(det.decision_function(floats[:9]),
                                  det.decision_function(floats[:9, None]))
    # a detector that takes windows reads a 3-D float array as windows in fit
    assert DeepSVDD(**SMALL).fit(floats[:40]).spec_.modality == "sequence"


def test_channels_last_is_refused_with_the_transpose():
    images = np.zeros((5, 16, 16, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"channels-last.*transpose\(0, 3, 1, 2\)"):
        DeepSVDD(**SMALL).fit(images)
    with pytest.raises(ValueError, match="channels-last"):
        check_input(np.zeros((5, 28, 28, 1)), ("image",))
    # channels first with small sides and 3 channels is fine
    assert check_input(np.zeros((5, 3, 8, 3)), ("image",)).shape == (5, 3, 8, 3)


def test_wrong_rank_for_an_image_only_detector():
    geom = deepad.get_detector("GEOM")(**deepad.get_detector("GEOM").test_params)
    with pytest.raises(ValueError, match=r"5 dimension\(s\).*4-D images.*3-D grayscale"):
        geom.fit(np.zeros((4, 1, 1, 8, 8)))


# ---------------------------------------------------------------------------- LeNet
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 16, 16), (2, 9, 13)])
def test_lenet_shapes_and_mirror(shape):
    spec = InputSpec("image", shape[0], height=shape[1], width=shape[2])
    encoder = build_backbone(spec, hidden_dims=(99,), out_dim=12, kind="lenet", bias=False)
    decoder = build_decoder(spec, latent_dim=12, hidden_dims=(99,), kind="lenet", bias=False)
    assert isinstance(encoder, LeNetEncoder) and isinstance(decoder, LeNetDecoder)
    x = torch.randn(3, *shape)
    z = encoder(x)
    assert z.shape == (3, 12) and decoder(z).shape == (3, *shape)
    # Deep SVDD's network: no bias anywhere, batch normalisation without affine parameters
    assert not any(name.endswith("bias") for name, _ in encoder.named_parameters())
    norms = [m for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(not m.affine and m.eps == 1e-4 for m in norms)


def test_lenet_is_the_papers_mnist_network():
    spec = InputSpec("image", 1, height=28, width=28)
    encoder = build_backbone(spec, hidden_dims=(64,), out_dim=32, kind="lenet", bias=False)
    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(8, (5, 5)), (4, (5, 5))]
    assert encoder.grid == (7, 7) and encoder.net[-1].in_features == 4 * 7 * 7


def test_detectors_choose_their_image_backbone(planted_images):
    X = planted_images[0][:64]
    svdd = DeepSVDD(**SMALL).fit(X)
    assert isinstance(svdd.model_.encoder.backbone, LeNetEncoder)
    assert svdd.model_.encoder.scale.shape == (1, 1, 1)  # per-channel scaling
    conv = DeepSVDD(**SMALL, backbone="conv").fit(X)
    assert type(conv.model_.encoder.backbone).__name__ == "ConvEncoder"
    ae = AutoEncoder(**SMALL, hidden_dims=(8, 4)).fit(X)
    assert isinstance(ae.model_.encoder, LeNetEncoder) and ae.model_.encoder.out_dim == 4
    vae = VAE(**SMALL, latent_dim=3).fit(X)
    # the decoder keeps the grey widths while it outputs a mean and a log-variance channel
    assert vae.model_.decoder.net[-1].out_channels == 2
    assert vae.model_.decoder.net[-1].in_channels == 8


# ---------------------------------------------------------------------------- anomaly maps
def test_reconstruction_map_is_high_on_the_patch(patched):
    train, test, (rows, cols) = patched
    det = AutoEncoder(hidden_dims=(8, 8), epochs=15, batch_size=32, random_state=0).fit(train)
    maps = det.anomaly_map(test)
    assert maps.shape == (20, 16, 16) and maps.dtype == np.float64 and np.isfinite(maps).all()
    inside = maps[:, rows, cols].mean(axis=(1, 2))
    outside = (maps.sum(axis=(1, 2)) - maps[:, rows, cols].sum(axis=(1, 2))) / (256 - 16)
    assert (inside > 5 * outside).all()
    # the map is the score's terms: its mean over pixels is the score (one channel)
    np.testing.assert_allclose(maps.mean(axis=(1, 2)), det.decision_function(test), rtol=1e-4)


def test_vae_map_adds_up_to_the_score(planted_images):
    X = planted_images[0][:80]
    det = VAE(**{**VAE.test_params, "random_state": 0}).fit(X)
    maps = det.anomaly_map(X[:10])
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), det.decision_function(X[:10]),
                               rtol=1e-4, atol=1e-3)


def test_gradient_map_is_high_on_the_patch(patched):
    train, test, (rows, cols) = patched
    X = np.concatenate([train, test[:5]])
    y = np.r_[np.zeros(len(train)), np.ones(5)]
    det = DevNet(epochs=5, n_batches=5, batch_size=32, random_state=0).fit(X, y)
    maps = det.anomaly_map(test[5:])
    assert maps.shape == (15, 16, 16) and np.isfinite(maps).all() and (maps >= 0).all()
    inside = maps[:, rows, cols].mean()
    assert inside > 2 * maps.mean()


def test_anomaly_map_needs_images_and_survives_save_load(planted_rows, planted_images,
                                                         tmp_path):
    rows = DeepSVDD(**SMALL).fit(planted_rows[0][:60])
    with pytest.raises(ValueError, match="anomaly_map needs a detector fitted on images"):
        rows.anomaly_map(planted_rows[0][:5])
    X = planted_images[0][:64]
    det = DeepSVDD(**SMALL).fit(X)
    loaded = deepad.load(det.save(tmp_path / "svdd"))
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
    np.testing.assert_array_equal(loaded.anomaly_map(X[:6]), det.anomaly_map(X[:6]))
    with pytest.raises(ValueError, match="16 x 16 pixels"):
        det.anomaly_map(X[:3, :, :8, :8])


# the maps of these detectors are the shared ones (reconstruction or gradient); the GANs and
# the self-supervised classifiers define theirs with their image support
SHARED_MAPS = {"AutoEncoder", "VAE", "RandNet", "RobustAutoEncoder", "DeepSVDD", "DeepSAD",
               "DevNet", "PReNet"}


@pytest.mark.parametrize("name", sorted(SHARED_MAPS))
def test_every_image_detector_maps_the_planted_images(name, fitted, planted):
    cls = deepad.get_detector(name)
    X = planted["image"][0][:4]
    maps = fitted(cls, "image").anomaly_map(X)  # the conformance suite's fitted model
    assert maps.shape == (4, 16, 16) and maps.dtype == np.float64
    assert np.isfinite(maps).all() and maps.std() > 0
    # VAE's per-pixel negative log-likelihoods may be negative; every other map is not
    assert name == "VAE" or (maps >= 0).all()
