"""The image modality end to end below the detectors: ``InputSpec`` of images, validation of
4-D input, and the convolutional encoder / decoder chosen by the factory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepad.core.validation import check_input, check_matches_spec
from deepad.data.spec import InputSpec
from deepad.detectors import OCNN
from deepad.nets.conv import ConvDecoder, ConvEncoder, conv_plan
from deepad.nets.factory import build_backbone, build_decoder, resolve_backbone

SIZES = [(1, 8, 8), (3, 9, 13), (1, 28, 28), (2, 32, 32), (1, 16, 16)]


def image_spec(channels: int, height: int, width: int) -> InputSpec:
    return InputSpec("image", channels, height=height, width=width)


# ---------------------------------------------------------------------------- InputSpec
def test_spec_of_images_and_round_trip():
    spec = InputSpec.of(np.zeros((5, 3, 9, 13), dtype=np.float32))
    assert spec == image_spec(3, 9, 13)
    assert (spec.channels, spec.sample_shape) == (3, (3, 9, 13))
    assert spec.to_dict() == {"modality": "image", "n_features": 3, "window": None,
                              "height": 9, "width": 13}
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_old_specs_still_load_and_read_as_before():
    rows = {"modality": "tabular", "n_features": 8, "window": None}
    windows = {"modality": "sequence", "n_features": 2, "window": 32}
    assert InputSpec.from_dict(rows) == InputSpec("tabular", 8)
    assert InputSpec.from_dict(windows) == InputSpec("sequence", 2, 32)
    assert InputSpec.from_dict(rows).to_dict() == rows
    assert InputSpec.from_dict(windows).to_dict() == windows


# ---------------------------------------------------------------------------- validation
def test_four_dimensional_input_only_for_image_detectors():
    images = np.random.default_rng(0).uniform(size=(4, 1, 8, 8))
    checked = check_input(images, ("image",))
    assert checked.dtype == np.float32 and checked.shape == (4, 1, 8, 8)
    for modalities in [("tabular",), ("tabular", "sequence"), ("categorical",), ("event",)]:
        with pytest.raises(ValueError, match=r"4 dimension\(s\) with shape \(4, 1, 8, 8\).*"
                                             r"detectors of the image modality"):
            check_input(images, modalities)
    # an image-only detector names both image layouts it reads (4-D, and 3-D grayscale)
    with pytest.raises(ValueError, match=r"5 dimension\(s\).*expected 4-D images.*3-D grayscale"):
        check_input(images[None], ("image",))


def test_tabular_detector_refuses_images(planted_images):
    with pytest.raises(ValueError, match=r"4 dimension\(s\).*image modality"):
        OCNN(**OCNN.test_params, random_state=0).fit(planted_images[0])


def test_nan_in_an_image_names_the_pixel():
    images = np.zeros((3, 1, 8, 8))
    images[2, 0, 5, 1] = np.nan
    with pytest.raises(ValueError, match=r"the first at index \(2, 0, 5, 1\)"):
        check_input(images, ("image",))


def test_image_shape_must_match_fit():
    spec = image_spec(1, 16, 16)
    check_matches_spec(np.zeros((2, 1, 16, 16), np.float32), spec)
    with pytest.raises(ValueError, match="images of 3 channel.*fitted on images of 1 channel"):
        check_matches_spec(np.zeros((2, 3, 16, 16), np.float32), spec)
    with pytest.raises(ValueError, match="images of 16 x 15 pixels, but the detector was fitted "
                                         "on images of 16 x 16 pixels"):
        check_matches_spec(np.zeros((2, 1, 16, 15), np.float32), spec)
    with pytest.raises(ValueError, match="is tabular data .* fitted on image data"):
        check_matches_spec(np.zeros((2, 256), np.float32), spec)


# ---------------------------------------------------------------------------- networks
@pytest.mark.parametrize("shape", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_encoder_and_decoder_shapes(shape):
    spec = image_spec(*shape)
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(0))
    encoder = build_backbone(spec, hidden_dims=(4, 8, 8), out_dim=5, batch_norm=True)
    decoder = build_decoder(spec, latent_dim=5, hidden_dims=(4, 8, 8), batch_norm=True)
    assert isinstance(encoder, ConvEncoder) and isinstance(decoder, ConvDecoder)
    z = encoder(x)
    assert z.shape == (3, 5) and encoder.out_dim == 5
    assert decoder(z).shape == (3, *shape)
    features = build_backbone(spec, hidden_dims=(4, 8), out_dim=None)
    assert features(x).shape == (3, features.out_dim) == (3, 8 * 4 * 4)


def test_pooling_keeps_a_grid_of_at_least_four_cells():
    assert conv_plan(32, 32, 4) == ([True, True, True, False], (4, 4))
    assert conv_plan(8, 20, 2) == ([True, False], (4, 10))
    assert conv_plan(6, 6, 2) == ([False, False], (6, 6))


def test_factory_chooses_conv_for_images_only():
    spec = image_spec(1, 8, 8)
    assert resolve_backbone(spec) == "conv" == resolve_backbone(spec, "conv")
    with pytest.raises(ValueError, match="backbone='tcn' does not take image input"):
        build_backbone(spec, hidden_dims=(4,), out_dim=2, kind="tcn")
    with pytest.raises(ValueError, match="backbone='conv' does not take tabular input"):
        build_backbone(InputSpec("tabular", 4), hidden_dims=(4,), out_dim=2, kind="conv")


def test_bias_free_encoder_has_no_bias_and_plain_batch_norm():
    encoder = build_backbone(image_spec(1, 16, 16), hidden_dims=(4, 8), out_dim=3,
                             batch_norm=True, bias=False)
    names = [name for name, _ in encoder.named_parameters()]
    assert names and not any(name.endswith("bias") for name in names)
    assert all(not m.affine for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_conv_autoencoder_finds_planted_images(planted_images):
    """The factory's encoder and decoder, trained briefly as an autoencoder on the planted
    images: the symmetric "+" images are reconstructed worse than the "Γ" they never saw."""
    X, y = planted_images
    spec = InputSpec.of(X)
    with torch.random.fork_rng():  # seeded initialisation, the global generator left alone
        torch.manual_seed(0)
        net = torch.nn.Sequential(build_backbone(spec, hidden_dims=(8, 16), out_dim=8),
                                  build_decoder(spec, latent_dim=8, hidden_dims=(8, 16)))
    x = torch.from_numpy(X)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    for _ in range(6):
        for start in range(0, len(x), 32):
            batch = x[order[start:start + 32]]
            optimizer.zero_grad()
            loss = (net(batch) - batch).pow(2).mean()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        errors = (net(x) - x).pow(2).flatten(1).mean(1).numpy()
    assert np.isfinite(errors).all()
    assert roc_auc_score(y, errors) >= 0.9
