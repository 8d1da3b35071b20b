"""The initialisation of the DCGAN networks. PyTorch draws a transposed convolution's weights with
a fan-in computed from its output channels; for the generator's output layer (one grey channel,
no batch normalisation after it) that made its weights four times too large. With it, GANomaly
at the paper's size (widths 64, 128, 256, a code of 100, lr 2e-4, one epoch) scored
Fashion-MNIST's class 0 at chance (AUC-ROC 0.49 on the 10,000 test images); with the output layer
drawn with its true fan-in, 0.80. That run takes minutes, so it is the benchmark's
(benchmarks/anomalib_fashion.py); these tests pin the initialisation itself. Radford et al.'s
N(0, 0.02) is available as ``init="dcgan"``; the encoders keep PyTorch's (the classifiers of
GEOM and GOAD are DCGAN encoders).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from deepad import GANomaly
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder
from deepad.nets.dcgan import INIT_STD, DCGANDecoder, DCGANEncoder, true_fan_in_


def _convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def _norms(module: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


def _assert_dcgan_init(module: nn.Module) -> None:
    weights = torch.cat([c.weight.detach().flatten() for c in _convs(module)])
    assert abs(float(weights.std()) - INIT_STD) < 0.002
    assert abs(float(weights.mean())) < 0.002
    assert all(c.bias is None or not c.bias.any() for c in _convs(module))
    assert _norms(module), "no batch normalisation to check"
    scales = torch.cat([n.weight.detach() for n in _norms(module)])
    assert abs(float(scales.mean()) - 1.0) < 0.01 and 0.0 < float(scales.std()) < 0.03
    assert all(not n.bias.any() for n in _norms(module))


def test_generator_output_layer_uses_its_true_fan_in():
    """64 channels x (4 / 2)² reach each output pixel: bound 1/16, not PyTorch's 1/4."""
    torch.manual_seed(0)
    decoder = build_decoder(InputSpec("image", 1, height=28, width=28), latent_dim=100,
                            hidden_dims=(64, 128, 256), kind="dcgan", batch_norm=True)
    assert isinstance(decoder, DCGANDecoder)
    head = _convs(decoder)[-1]
    assert isinstance(head, nn.ConvTranspose2d) and head.in_channels == 64
    bound = 1 / math.sqrt(64 * 4)
    weights = head.weight.detach().abs()
    assert float(weights.max()) <= bound and float(weights.max()) > 0.9 * bound
    assert float(head.bias.detach().abs().max()) <= bound
    # the layers followed by batch normalisation keep PyTorch's initialisation
    assert all(float(n.weight.std()) == 0.0 for n in _norms(decoder))
    # and the output of the untrained generator is on the scale of its input images
    with torch.no_grad():
        out = decoder.train()(torch.randn(64, 100))
    assert float(out.std()) < 0.5


def test_true_fan_in_of_a_transposed_convolution():
    torch.manual_seed(0)
    layer = true_fan_in_(nn.ConvTranspose2d(32, 3, 4, 2, 1))
    assert float(layer.weight.abs().max()) <= 1 / math.sqrt(32 * 4)
    torch.manual_seed(0)
    pytorch = nn.ConvTranspose2d(32, 3, 4, 2, 1)  # fan-in 3 x 16 = 48
    assert float(pytorch.weight.abs().max()) > 1 / math.sqrt(32 * 4)


def test_radford_initialisation_on_request():
    torch.manual_seed(0)
    _assert_dcgan_init(DCGANDecoder(100, 1, 28, 28, (64, 128, 256), init="dcgan"))
    _assert_dcgan_init(DCGANEncoder(1, 28, 28, (64, 128, 256), 10, init="dcgan"))


def test_encoders_keep_pytorchs_initialisation():
    torch.manual_seed(0)
    spec = InputSpec("image", 1, height=28, width=28)
    encoder = build_backbone(spec, hidden_dims=(64, 128, 256), out_dim=10, kind="dcgan",
                             batch_norm=True)
    assert isinstance(encoder, DCGANEncoder)
    assert float(_convs(encoder)[0].weight.std()) > 5 * INIT_STD  # 1 x 4 x 4 fan-in
    assert all(float(n.weight.std()) == 0.0 for n in _norms(encoder))


def test_unknown_initialisation_is_refused():
    with pytest.raises(ValueError, match="init must be one of"):
        DCGANDecoder(8, 1, 16, 16, (8,), init="xavier")
    with pytest.raises(ValueError, match="init must be one of"):
        DCGANEncoder(1, 16, 16, (8,), 4, init="normal")


def test_ganomaly_generator_on_images_uses_it(planted_images):
    """The image GANomaly's G_D has the corrected output layer; the fit stays reproducible
    (the initialisation draws from the fit's seeded generator)."""
    X, _ = planted_images
    params = {**GANomaly.test_params, **GANomaly.modality_test_params["image"], "epochs": 1}
    first = GANomaly(**params, random_state=0).fit(X[:64])
    second = GANomaly(**params, random_state=0).fit(X[:64])
    np.testing.assert_array_equal(first.decision_scores_, second.decision_scores_)
    torch.manual_seed(0)
    head = _convs(GANomaly(**params).build(first.spec_).decoder)[-1]
    assert isinstance(head, nn.ConvTranspose2d)
    assert float(head.weight.detach().abs().max()) <= 1 / math.sqrt(head.in_channels * 4)
