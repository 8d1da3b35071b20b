"""The GANs and ALOCC on images (issue 23): DCGAN networks chosen by ``build_backbone`` for
image input, planted images ranked on top, save / load, GANomaly's anomaly map; the DCGAN
and Wide-ResNet backbones themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad import ALOCC, AnoGAN, GANomaly
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder
from deepad.nets.adversarial import Discriminator, real_and_fake
from deepad.nets.dcgan import DCGANDecoder, DCGANEncoder, dcgan_plan
from deepad.nets.wrn import WideResNet

CASES = {"AnoGAN": AnoGAN, "GANomaly": GANomaly, "ALOCC": ALOCC}


@pytest.fixture(scope="module")
def image_fits(fitted):
    """Each detector fitted on the planted images at its image test parameters (seed 0; the
    session's fit, shared with the conformance suite)."""
    return {name: fitted(cls, "image") for name, cls in CASES.items()}


# ---------------------------------------------------------------------------- backbones
@pytest.mark.parametrize("side", [28, 32, 16, 8, 7, 5])
def test_dcgan_decoder_undoes_the_encoders_sizes(side):
    spec = InputSpec("image", 3, height=side, width=side + 4)
    encoder = build_backbone(spec, hidden_dims=(8, 16, 32), out_dim=6, kind="dcgan")
    decoder = build_decoder(spec, latent_dim=6, hidden_dims=(8, 16, 32), kind="dcgan")
    assert isinstance(encoder, DCGANEncoder) and isinstance(decoder, DCGANDecoder)
    x = torch.rand(2, 3, side, side + 4)
    assert encoder(x).shape == (2, 6)
    assert decoder(encoder(x)).shape == x.shape


def test_dcgan_layers_follow_radford():
    encoder = DCGANEncoder(1, 28, 28, (8, 16, 32), None)
    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [c.stride for c in convs] == [(2, 2), (2, 2), (1, 1)]  # 28 → 14 → 7, then 7 x 7
    assert len(norms) == 2  # none on the input layer
    assert all(m.negative_slope == 0.2 for m in encoder.modules()
               if isinstance(m, torch.nn.LeakyReLU))
    assert encoder.out_dim == 32 * 7 * 7
    assert dcgan_plan(28, 28, 3)[-1] == (False, (7, 7))


def test_wrn_widths_and_no_decoder():
    net = build_backbone(InputSpec("image", 1, height=16, width=16), hidden_dims=(8, 16, 32),
                         out_dim=5, kind="wrn")
    assert isinstance(net, WideResNet)
    assert net(torch.rand(3, 1, 16, 16)).shape == (3, 5)
    with pytest.raises(ValueError, match="no decoder"):
        build_decoder(InputSpec("image", 1, height=16, width=16), latent_dim=4,
                      hidden_dims=(8,), kind="wrn")
    with pytest.raises(ValueError, match="does not take tabular"):
        build_backbone(InputSpec("tabular", 4), hidden_dims=(8,), out_dim=2, kind="dcgan")


def test_batch_normalised_discriminators_see_real_and_fake_apart():
    torch.manual_seed(0)
    disc = Discriminator(DCGANEncoder(1, 16, 16, (4, 8), None))
    real, fake = torch.rand(5, 1, 16, 16), torch.rand(5, 1, 16, 16) + 3.0
    (r, _), (f, _) = real_and_fake(disc, real, fake)
    torch.testing.assert_close(r, disc(real)[0])  # its own batch statistics
    assert not torch.allclose(r, disc(torch.cat([real, fake]))[0][:5])


# ---------------------------------------------------------------------------- detectors
@pytest.mark.parametrize("name", list(CASES))
def test_image_gans_use_dcgan_networks(name, image_fits):
    model = image_fits[name].model_
    assert any(isinstance(m, DCGANEncoder) for m in model.modules())
    assert any(isinstance(m, DCGANDecoder) for m in model.modules())
    assert "image" in type(image_fits[name]).modalities
    assert name in [d["name"] for d in deepad.list_detectors(modalities="image")]


@pytest.mark.parametrize("name", list(CASES))
def test_planted_images_rank_on_top(name, image_fits, planted_images):
    _, y = planted_images
    assert roc_auc_score(y, image_fits[name].decision_scores_) >= 0.8


@pytest.mark.parametrize("name", list(CASES))
def test_image_gans_save_and_load(name, image_fits, planted_images, tmp_path):
    X, _ = planted_images
    detector = image_fits[name]
    detector.save(tmp_path / name)
    loaded = deepad.load(tmp_path / name)
    np.testing.assert_array_equal(loaded.decision_function(X[:40]),
                                  detector.decision_function(X[:40]))


def test_ganomaly_anomaly_map_is_the_contextual_error(image_fits, planted_images):
    X, y = planted_images
    detector = image_fits["GANomaly"]
    maps = detector.anomaly_map(X)
    assert maps.shape == (len(X), 16, 16) and np.isfinite(maps).all()
    net = detector.model_.eval()
    with torch.no_grad():
        x = torch.from_numpy(X[:4])
        expected = (x - net.decoder(net.encoder(x))).abs().sum(dim=1).double().numpy()
    np.testing.assert_allclose(maps[:4], expected, rtol=1e-6)
    assert roc_auc_score(y, maps.sum(axis=(1, 2))) >= 0.9


def test_image_gans_refuse_other_image_sizes(image_fits, planted_images):
    with pytest.raises(ValueError):
        image_fits["GANomaly"].decision_function(np.zeros((2, 1, 12, 12), dtype=np.float32))


def test_anogan_anomaly_map_is_the_residual_image(image_fits, planted_images):
    """Schlegl et al.'s residual |x − G(z_Γ)| after the latent search: finite, one map per
    image, the same on a second call (the search's starting codes are seeded per call), and
    larger on the planted images than on the normal ones."""
    X, y = planted_images
    detector = image_fits["AnoGAN"]
    picked = np.concatenate([np.flatnonzero(y == 1)[:5], np.flatnonzero(y == 0)[:5]])
    maps = detector.anomaly_map(X[picked])
    assert maps.shape == (10, 16, 16) and np.isfinite(maps).all()
    np.testing.assert_array_equal(maps, detector.anomaly_map(X[picked]))
    assert maps[:5].sum(axis=(1, 2)).mean() > maps[5:].sum(axis=(1, 2)).mean()
