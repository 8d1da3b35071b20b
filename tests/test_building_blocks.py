"""The building blocks several methods share (issue 16): the chunked forward pass, the
autoencoder pre-training, the Keras-style RMSprop, the autoencoder network and GAN losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepad.core.chunks import chunk_rows, element_rows, forward_in_chunks, in_chunks
from deepad.core.optim import keras_rmsprop
from deepad.core.pretrain import pretrain_autoencoder
from deepad.detectors import DeepSVDD, DevNet, PReNet
from deepad.nets import MLP
from deepad.nets.adversarial import gan_discriminator_loss, gan_generator_loss
from deepad.nets.autoencoder import AutoEncoderNet, reconstruction_error


def test_chunk_rows_counts_steps_and_pixels():
    assert chunk_rows((5, 3)) == 8192
    assert chunk_rows((5, 100, 3)) == 81
    assert chunk_rows((5, 3, 32, 32)) == 8
    assert chunk_rows((5, 1, 512, 512)) == 1
    assert chunk_rows((5, 3), positions=10) == 10
    assert element_rows(3000, elements=10_000) == 3


def test_in_chunks_calls_in_pieces_and_concatenates_in_order():
    X = torch.arange(20.0).reshape(10, 2)
    sizes = []

    def double(x):
        sizes.append(len(x))
        return 2 * x

    torch.testing.assert_close(in_chunks(double, X, rows=3), 2 * X)
    assert sizes == [3, 3, 3, 1]
    # along another axis, and numpy in / numpy out
    out = in_chunks(lambda x: x.T, X, rows=4, dim=1)
    torch.testing.assert_close(out, X.T)
    arr = np.arange(7.0)
    np.testing.assert_array_equal(in_chunks(np.sqrt, arr, rows=2), np.sqrt(arr))
    assert in_chunks(double, X[:0], rows=3).shape == (0, 2)


def test_forward_in_chunks_is_eval_mode_without_gradients_and_restores_the_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    X = torch.randn(50, 4)
    net.train()
    out = forward_in_chunks(net, X, rows=7)
    assert net.training and not out.requires_grad
    with torch.no_grad():
        expected = net.eval()(X)
    torch.testing.assert_close(out, expected)  # no dropout: eval mode, whatever the chunks
    assert not net.training  # left as it was before this call
    windows = torch.randn(30, 16, 4)
    assert forward_in_chunks(net, windows, lambda x: net(x).mean(dim=1)).shape == (30, 1)


def test_keras_rmsprop_decays_only_the_backbone_matrices():
    backbone = MLP(4, (8,), None)
    model = nn.Sequential(backbone, nn.Linear(8, 1))
    optimizer = keras_rmsprop(model, backbone, lr=0.01, weight_decay=0.02)
    assert isinstance(optimizer, torch.optim.RMSprop)
    decayed, plain = optimizer.param_groups
    assert [p.shape for p in decayed["params"]] == [torch.Size([8, 4])]
    assert decayed["weight_decay"] == 0.02 and plain["weight_decay"] == 0.0
    assert len(plain["params"]) == 3  # the hidden bias, the output weight and bias
    assert (decayed["alpha"], decayed["eps"], decayed["lr"]) == (0.9, 1e-7, 0.01)


@pytest.mark.parametrize("detector", [DevNet(), PReNet()])
def test_devnet_and_prenet_train_with_the_shared_rmsprop(detector):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = np.r_[np.ones(4), np.zeros(56)]
    detector.set_params(epochs=1, n_batches=1, batch_size=8, random_state=0).fit(X, y)
    (optimizer,) = detector.configure_optimizers()
    assert isinstance(optimizer, torch.optim.RMSprop)
    assert optimizer.param_groups[0]["alpha"] == 0.9


class _Detector:
    """What pretrain_autoencoder needs of a detector."""

    optimizer_name = "adam"
    batch_size, verbose, lr, weight_decay = 16, False, 1e-2, 0.0
    device_ = torch.device("cpu")
    clipped = 0

    def __init__(self) -> None:
        self._generator = torch.Generator().manual_seed(0)

    def clip_gradients(self, parameters) -> None:
        self.clipped += 1


def test_pretrain_autoencoder_trains_the_encoder_in_place():
    torch.manual_seed(0)
    X = torch.randn(64, 5)
    encoder, decoder = MLP(5, (8,), 3), MLP(3, (8,), 5)
    before = [p.detach().clone() for p in encoder.parameters()]
    detector = _Detector()
    history = pretrain_autoencoder(detector, encoder, decoder, X, epochs=20)
    assert [record["epoch"] for record in history] == list(range(1, 21))
    assert history[-1]["loss"] < history[0]["loss"]
    assert any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))
    assert detector.clipped == 20 * 4  # every step of the phase clips through the detector
    assert not encoder.training  # left in eval mode, as the Trainer leaves a trained model


def test_pretrain_autoencoder_uses_the_given_optimizer():
    made = []

    def sgd(params):
        made.append(torch.optim.SGD(params, lr=0.0))
        return made[-1]

    encoder = MLP(5, (), 3)
    before = [p.detach().clone() for p in encoder.parameters()]
    pretrain_autoencoder(_Detector(), encoder, MLP(3, (), 5), torch.randn(32, 5), epochs=2,
                         optimizer=sgd)
    assert len(made) == 1 and len(made[0].param_groups[0]["params"]) == 4
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))


def test_deep_svdd_pretraining_leaves_no_phase_state_behind():
    X = np.random.default_rng(0).normal(size=(80, 4)).astype(np.float32)
    det = DeepSVDD(hidden_dims=(8,), rep_dim=4, epochs=1, pretrain_epochs=3,
                   random_state=0).fit(X)
    assert len(det.pretrain_history_) == 3
    assert not any(name.startswith("_pretrain") for name in vars(det))
    assert not any("decoder" in key for key in det.model_.state_dict())  # discarded


def test_autoencoder_net_and_gan_losses_by_hand():
    net = AutoEncoderNet(nn.Identity(), nn.Identity())
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    torch.testing.assert_close(reconstruction_error(x, net(x)), torch.zeros(2))
    torch.testing.assert_close(reconstruction_error(x, torch.zeros(2, 2)), torch.tensor([2.5, 0]))
    zero = torch.zeros(3)
    log2 = torch.full((3,), float(np.log(2.0)))
    torch.testing.assert_close(gan_discriminator_loss(zero, zero), 2 * log2)
    torch.testing.assert_close(gan_generator_loss(zero), log2)
