"""The API fixes for DeepOD (deepad.bench.peer_compat): its pre-torch-2 Transformer layers,
and REPEN's one-element draws under numpy >= 2.4."""

import importlib
import sys
import types

import numpy as np
import pytest
import torch

from deepad.bench.peer_compat import accept_is_causal, scalar_single_draws


class _OldEncoderLayer(torch.nn.Module):
    """A layer written before torch 2.0: no ``is_causal`` argument."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)
        self.self_attn = torch.nn.MultiheadAttention(4, 1)  # read by TransformerEncoder's checks

    def forward(self, src, src_mask=None, src_key_padding_mask=None):
        return self.linear(src)


class _OldDecoderLayer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)
        self.self_attn = torch.nn.MultiheadAttention(4, 1)  # read by TransformerEncoder's checks

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        return self.linear(tgt) + memory


@pytest.fixture
def old_package(monkeypatch):
    """A fake ``oldpeer.layers`` module holding the two pre-torch-2 layer classes."""
    package = types.ModuleType("oldpeer")
    module = types.ModuleType("oldpeer.layers")
    encoder = type("EncoderLayer", (_OldEncoderLayer,), {"__module__": "oldpeer.layers",
                                                         "forward": _OldEncoderLayer.forward})
    decoder = type("DecoderLayer", (_OldDecoderLayer,), {"__module__": "oldpeer.layers",
                                                         "forward": _OldDecoderLayer.forward})
    module.EncoderLayer, module.DecoderLayer = encoder, decoder
    monkeypatch.setitem(sys.modules, "oldpeer", package)
    monkeypatch.setitem(sys.modules, "oldpeer.layers", module)
    return module


def test_unpatched_layers_fail_under_current_torch(old_package):
    encoder = torch.nn.TransformerEncoder(old_package.EncoderLayer(), 1, enable_nested_tensor=False)
    with pytest.raises(TypeError, match="is_causal"):
        encoder(torch.randn(2, 3, 4))


def test_patched_layers_run_and_compute_the_same(old_package):
    assert sorted(accept_is_causal("oldpeer")) == ["oldpeer.layers.DecoderLayer",
                                                  "oldpeer.layers.EncoderLayer"]
    assert accept_is_causal("oldpeer") == []  # idempotent
    layer = old_package.EncoderLayer()
    x = torch.randn(2, 3, 4)
    encoder = torch.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    torch.testing.assert_close(encoder(x), encoder.layers[0].linear(x))
    decoder = torch.nn.TransformerDecoder(old_package.DecoderLayer(), 1)
    memory = torch.randn(2, 3, 4)
    torch.testing.assert_close(decoder(x, memory), decoder.layers[0].linear(x) + memory)


def test_layers_that_take_the_flag_are_left_alone(monkeypatch):
    module = types.ModuleType("newpeer")
    module.Layer = type("Layer", (torch.nn.TransformerEncoderLayer,), {"__module__": "newpeer"})
    monkeypatch.setitem(sys.modules, "newpeer", module)
    assert accept_is_causal("newpeer") == []


# ---------------------------------------------------------------------------- REPEN (numpy)
SAMPLER = '''
import numpy as np


def sample(ids, weights, n):
    picked = np.zeros(n).astype("int")
    for i in range(n):
        sid = np.random.choice(len(ids), 1, p=weights)
        picked[i] = ids[sid]
        other = np.random.choice(len(ids), 1)
        while other == sid:
            other = np.random.choice(len(ids), 1)
    return picked
'''


@pytest.fixture
def old_sampler(tmp_path, monkeypatch):
    """A module written like REPEN's triplet sampler (one-element draws stored as scalars)."""
    (tmp_path / "oldsampler.py").write_text(SAMPLER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("oldsampler", None)
    yield importlib.import_module("oldsampler")
    sys.modules.pop("oldsampler", None)


def _reference(ids, weights, n, seed):
    np.random.seed(seed)
    picked = []
    for _ in range(n):
        sid = np.random.choice(len(ids), 1, p=weights)[0]
        picked.append(ids[sid])
        other = np.random.choice(len(ids), 1)[0]
        while other == sid:
            other = np.random.choice(len(ids), 1)[0]
    return np.array(picked), np.random.random()


def test_single_draws_become_scalars_with_the_same_values(old_sampler):
    ids = np.arange(10, 20)
    weights = np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum()
    if np.lib.NumpyVersion(np.__version__) >= "2.4.0":
        with pytest.raises(ValueError, match="sequence"):
            old_sampler.sample(ids, weights, 5)  # the failure REPEN met on every job
    assert scalar_single_draws("oldsampler") is True
    assert scalar_single_draws("oldsampler") is False  # idempotent
    np.random.seed(7)
    picked = old_sampler.sample(ids, weights, 40)
    after = np.random.random()
    expected, expected_after = _reference(ids, weights, 40, seed=7)
    np.testing.assert_array_equal(picked, expected)  # the same triplets as before numpy 2.4
    assert after == expected_after  # and the generator is left in the same state
    assert np.random.choice is not old_sampler.np.random.choice  # only that module changed
    assert old_sampler.np.random.choice(5, 3).shape == (3,)


def test_missing_module_is_not_patched():
    assert scalar_single_draws("no_such_module_for_deepad") is False


def test_deepod_repen_trains_with_the_shim():
    """Needs deepod importable (PYTHONPATH=<folder with deepod>, docs/decisions.md)."""
    pytest.importorskip("deepod")
    from deepad.bench.peers import peer_class

    cls = peer_class("deepod", "REPEN")
    X = np.random.default_rng(0).normal(size=(200, 5))
    X[:10] += 4.0
    model = cls(epochs=1, device="cpu", verbose=0, random_state=0)
    model.fit(X)
    scores = model.decision_function(X)
    assert scores.shape == (200,) and np.isfinite(scores).all()
