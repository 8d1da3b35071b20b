"""The temporal backbones (GRU, LSTM, TCN, Transformer) behind ``backbone=`` of every detector
that takes sequence windows: shapes, what each architecture promises (the TCN is causal and
sees the whole window; the Transformer uses positions; bias-free networks map zero to zero),
the documented errors, and that each backbone trains a representative set of detectors to
rank planted windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad.core.deep import DeepDetector
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder, resolve_backbone
from deepad.nets.factory import BACKBONES, DEFAULT_BACKBONE
from deepad.nets.temporal import (
    GRUDecoder,
    LSTMDecoder,
    StepConv,
    TCNEncoder,
    TransformerEncoder,
    pool_steps,
    sinusoidal_positions,
)

SEQUENCE = BACKBONES["sequence"]
SPEC = InputSpec("sequence", n_features=3, window=20)
# Conformance suite's bar (4 standard deviations of a random ranking above chance with 20
# anomalies among 420 windows); the backbones reach 0.83-1.0 here (docs/decisions.md).
MIN_AUC = 0.75


def windows(n: int = 5, spec: InputSpec = SPEC, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, spec.window, spec.n_features, generator=generator)


# ---------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("kind", SEQUENCE)
@pytest.mark.parametrize(("hidden_dims", "out_dim", "expected"),
                         [((8,), 4, 4), ((8, 6), 4, 4), ((8, 6), None, 6), ((8,), None, 16)])
def test_encoder_shapes(kind, hidden_dims, out_dim, expected):
    net = build_backbone(SPEC, hidden_dims=hidden_dims, out_dim=out_dim, kind=kind)
    out = net(windows())
    assert out.shape == (5, expected) and net.out_dim == expected
    assert torch.isfinite(out).all()


def test_pool_last_readout_adds_the_last_step():
    steps = torch.randn(4, 7, 3)
    pooled = pool_steps(steps, "pool_last")
    torch.testing.assert_close(pooled, torch.cat([steps.mean(1), steps.amax(1), steps[:, -1]], 1))
    torch.testing.assert_close(pool_steps(steps), pooled[:, :6])


@pytest.mark.parametrize("kind", SEQUENCE)
def test_pool_last_encoders_feed_the_last_step_to_their_head(kind):
    torch.manual_seed(0)
    net = build_backbone(SPEC, hidden_dims=(8,), out_dim=4, kind=kind, readout="pool_last")
    pooled_only = build_backbone(SPEC, hidden_dims=(8,), out_dim=4, kind=kind)
    first = next(m for m in net.head.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 3 * 8
    assert next(m for m in pooled_only.head.modules()
                if isinstance(m, torch.nn.Linear)).in_features == 2 * 8
    x = windows(3)
    before = net(x)
    with torch.no_grad():
        first.weight[:, 16:] = 0  # cut the head off the last step's features
    assert before.shape == (3, 4) and not torch.allclose(net(x), before)


def test_unknown_readout_is_refused():
    with pytest.raises(ValueError, match="Unknown readout='last'.*'pool', 'pool_last'"):
        build_backbone(SPEC, hidden_dims=(8,), out_dim=4, kind="gru", readout="last")


def test_ganomaly_window_encoders_keep_the_last_step(planted_windows):
    X = planted_windows[0][:64]
    det = deepad.GANomaly(hidden_dims=(8,), disc_hidden_dims=(8,), latent_dim=4, epochs=1,
                          n_batches=1, random_state=0).fit(X)
    for encoder in (det.model_.encoder, det.model_.reencoder):
        assert encoder.readout == "pool_last"
    assert det.model_.discriminator.features.readout == "pool"  # scoring heads pool only


@pytest.mark.parametrize("kind", SEQUENCE)
def test_decoder_shapes_and_kind(kind):
    decoder = build_decoder(SPEC, latent_dim=4, hidden_dims=(8,), kind=kind)
    assert isinstance(decoder, LSTMDecoder if kind == "lstm" else GRUDecoder)
    out = decoder(torch.randn(5, 4))
    assert out.shape == (5, SPEC.window, SPEC.n_features)


def test_auto_is_the_tcn_for_windows_and_every_name_is_a_detector_option():
    assert resolve_backbone(SPEC, "auto") == DEFAULT_BACKBONE["sequence"] == "tcn"
    assert isinstance(build_backbone(SPEC, hidden_dims=(8,), out_dim=2), TCNEncoder)
    allowed = DeepDetector._parameter_constraints["backbone"][0].values
    assert set(allowed) == {"auto", *(k for kinds in BACKBONES.values() for k in kinds)}


# ---------------------------------------------------------------------------- errors
def test_unknown_backbone_is_refused_at_fit(planted_windows):
    X, _ = planted_windows
    with pytest.raises(ValueError, match=r"'backbone' parameter of DeepSVDD must be one of"):
        deepad.DeepSVDD(backbone="lstmm").fit(X)


def test_factory_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"Unknown backbone='rnn'.*'transformer'"):
        build_backbone(SPEC, hidden_dims=(8,), out_dim=2, kind="rnn")
    with pytest.raises(ValueError, match=r"backbone='lstm' does not take tabular input"):
        build_backbone(InputSpec("tabular", 3), hidden_dims=(8,), out_dim=2, kind="lstm")


def test_sequence_backbone_on_rows_is_a_clear_error(planted_rows):
    X, _ = planted_rows
    with pytest.raises(ValueError, match="does not take tabular input"):
        deepad.DeepSVDD(backbone="transformer", epochs=1).fit(X)


# ---------------------------------------------------------------------------- architecture
@pytest.mark.parametrize("window", [8, 32, 100])
def test_tcn_is_causal_and_sees_the_whole_window(window):
    """Dilated causal convolutions: a step's features depend on that step and earlier ones
    only, and the receptive field covers the window (the first step reaches the last)."""
    spec = InputSpec("sequence", n_features=2, window=window)
    torch.manual_seed(0)
    net = TCNEncoder(2, window, (8,), None)
    x = windows(1, spec)
    for t in (0, window // 2, window - 1):
        changed = x.clone()
        changed[:, t] += 1.0
        before = net.blocks(x.transpose(1, 2))[0]  # (channels, window)
        after = net.blocks(changed.transpose(1, 2))[0]
        differs = (before - after).abs().amax(dim=0) > 1e-6
        assert not differs[:t].any(), "a step depends on a later one"
        assert differs[t]
        assert differs[-1], f"the last step does not see step {t}"


@pytest.mark.parametrize(("kernel_size", "dilations"), [(5, (1, 2, 4)), (3, (1,))])
def test_step_conv_keeps_the_length_and_sees_its_receptive_field(kernel_size, dilations):
    """Per-step codes: same length out as in; a change at step t moves the outputs within
    ``(kernel_size - 1) / 2 · Σ dilations`` steps of t on both sides, and no others."""
    torch.manual_seed(0)
    net = StepConv(2, 8, 3, kernel_size=kernel_size, dilations=dilations)
    x = torch.randn(1, 40, 2)
    assert net(x).shape == (1, 40, 3)
    reach = (kernel_size - 1) // 2 * sum(dilations)
    t = 20
    changed = x.clone()
    changed[:, t] += 1.0
    differs = (net(x) - net(changed)).abs().amax(dim=-1)[0] > 1e-6
    assert differs[t - reach] and differs[t + reach]
    assert not differs[: t - reach].any() and not differs[t + reach + 1:].any()


def test_step_conv_refuses_an_even_kernel():
    with pytest.raises(ValueError, match="odd kernel_size"):
        StepConv(2, 8, 3, kernel_size=4)


def test_sinusoidal_positions_follow_vaswani():
    code = sinusoidal_positions(10, 6)
    t, i = 7, 1
    assert code[t, 2 * i] == pytest.approx(np.sin(t / 10000 ** (2 * i / 6)), abs=1e-6)
    assert code[t, 2 * i + 1] == pytest.approx(np.cos(t / 10000 ** (2 * i / 6)), abs=1e-6)
    np.testing.assert_allclose(code[0].numpy(), [0, 1, 0, 1, 0, 1], atol=1e-7)


@pytest.mark.parametrize("bias", [True, False])
def test_transformer_uses_positions(bias):
    """Self-attention alone is permutation-equivariant and pooling permutation-invariant: only
    the position code makes a reordered window look different."""
    torch.manual_seed(0)
    net = TransformerEncoder(3, SPEC.window, (8,), 4, bias=bias).eval()
    x = windows(2)
    reordered = x[:, torch.randperm(SPEC.window, generator=torch.Generator().manual_seed(1))]
    assert not torch.allclose(net(x), net(reordered), atol=1e-4)


@pytest.mark.parametrize("kind", SEQUENCE)
def test_bias_free_backbones_have_no_constant_path(kind):
    """``bias=False`` (Deep SVDD, Ruff et al. 2018, Prop. 2): no bias parameter, no fixed
    additive code, so the zero window maps to the zero vector."""
    net = build_backbone(SPEC, hidden_dims=(8, 6), out_dim=4, kind=kind, bias=False)
    assert not [n for n, _ in net.named_parameters() if "bias" in n]
    assert torch.equal(net(torch.zeros(2, SPEC.window, SPEC.n_features)), torch.zeros(2, 4))
    decoder = build_decoder(SPEC, latent_dim=4, hidden_dims=(8,), kind=kind, bias=False)
    assert torch.equal(decoder(torch.zeros(2, 4)), torch.zeros(2, SPEC.window, SPEC.n_features))


# ---------------------------------------------------------------------------- detectors
# reconstruction (through the decoder) and one-class (bias-free networks), with their training
# budget pinned here so that retuning a detector's defaults does not change this test
REPRESENTATIVE = {
    "AutoEncoder": {"epochs": 2, "lr": 1e-3, "hidden_dims": (16, 4), "batch_size": 32},
    "DeepSVDD": {"epochs": 5, "lr": 3e-3, "hidden_dims": (16,), "rep_dim": 8, "batch_size": 32},
}


@pytest.mark.parametrize("kind", SEQUENCE)
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_backbone_trains_detector_to_rank_planted_windows(name, kind, planted_windows):
    X, y = planted_windows
    cls = deepad.get_detector(name)
    detector = cls(**REPRESENTATIVE[name], backbone=kind, random_state=0).fit(X)
    scores = detector.decision_function(X)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    assert roc_auc_score(y, scores) >= MIN_AUC


@pytest.mark.parametrize("kind", SEQUENCE)
def test_backbone_learns_devnets_labelled_anomalies(kind, planted_windows):
    """Weak supervision: DevNet pushes the labelled windows above the unlabelled ones."""
    X, y = planted_windows
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:5]] = 1
    detector = deepad.DevNet(epochs=10, n_batches=8, batch_size=32, lr=1e-2, backbone=kind,
                             random_state=0).fit(X, labels)
    scores = detector.decision_function(X)
    assert np.isfinite(scores).all()
    assert roc_auc_score(labels, scores) >= MIN_AUC


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_new_backbones_save_and_load(kind, planted_windows, tmp_path):
    X, _ = planted_windows
    detector = deepad.AutoEncoder(**{**deepad.AutoEncoder.test_params, "epochs": 1,
                                     "backbone": kind, "random_state": 0}).fit(X[:64])
    loaded = deepad.load(detector.save(tmp_path / kind))
    np.testing.assert_array_equal(loaded.decision_function(X[:64]),
                                  detector.decision_function(X[:64]))
